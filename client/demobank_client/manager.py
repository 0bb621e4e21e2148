"""``TokenManager``: gets a valid access token and keeps it valid, for any number of threads.

The fast path reads the current ``TokenSet`` without locking.  Renewal happens under one lock and
decides again inside it (``decisions``), so fifty threads that find the token expired cause one
request: the first renews, the others wake up to a fresh token.  A refresh that Keycloak refuses
with ``invalid_grant`` (the refresh token or its session is dead) is followed by a password login.

Share one manager per user across threads and sessions; it is what holds the tokens.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any

import jwt

from . import decisions
from .decisions import CLIENT_CREDENTIALS_GRANT, PASSWORD_GRANT, REFRESH_GRANT, Action
from .errors import AuthError
from .settings import Settings
from .tokens import TokenSet
from .transport import build_session, post_form

_log = logging.getLogger(__name__)

#: How long the JWKS and its keys are cached before ``verify`` fetches them again, in seconds.
JWKS_CACHE_SECONDS = 300.0

TokenCallback = Callable[[TokenSet], None]


class TokenManager:
    """Logs in with the password grant, refreshes before expiry, logs in again when needed.

    With ``Settings.service_account(...)`` it logs in as the client's service account
    (``client_credentials``) instead; Keycloak then sends no refresh token, so each renewal is a
    new client-credentials login.

    ``on_token`` is called with every new ``TokenSet`` (login and refresh), under the manager's
    lock, so calls arrive in order (if it raises, the caller gets the exception and the new tokens
    are kept); persist ``tokens.raw`` and ``tokens.received_at_epoch`` and
    pass ``TokenSet.restore(...)`` as ``tokens`` to resume in another process.  ``clock`` is the
    monotonic clock deadlines are measured on (tests pass a fake one).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        on_token: TokenCallback | None = None,
        tokens: TokenSet | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self._on_token = on_token
        self._clock = clock
        self._tokens = tokens
        # Re-entrant so an on_token callback may ask the manager for the token it was just given.
        self._lock = threading.RLock()
        self._http = build_session(settings)
        self._jwks: jwt.PyJWKClient | None = None

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        on_token: TokenCallback | None = None,
        **overrides: Any,
    ) -> TokenManager:
        """A manager from the ``FINAPI_*`` env vars (``Settings.from_env``); overrides win."""
        return cls(Settings.from_env(environ, **overrides), on_token=on_token)

    def __repr__(self) -> str:
        s = self.settings
        who = f"service account of {s.client_id!r}" if s.is_service_account else repr(s.username)
        return (
            f"<TokenManager {who}@{s.mandator!r} at {s.base_url} "
            f"client_id={s.client_id!r} tokens={'yes' if self._tokens else 'no'}>"
        )

    # -- the token ------------------------------------------------------------------------
    @property
    def tokens(self) -> TokenSet | None:
        """The current token set as it is, possibly expired; no request is made."""
        return self._tokens

    def get_tokens(self) -> TokenSet:
        """A token set whose access token is valid for at least the (capped) leeway."""
        current = self._tokens
        if decisions.next_action(current, self._clock(), self.settings.leeway) is Action.USE:
            assert current is not None  # USE implies a token set
            return current
        with self._lock:
            return self._renew(
                lambda tokens, now: decisions.next_action(tokens, now, self.settings.leeway)
            )

    def access_token(self) -> str:
        """A valid access token (logging in or refreshing first if needed)."""
        return self.get_tokens().access_token

    def renew(self, rejected_access_token: str | None = None) -> TokenSet:
        """Replace ``rejected_access_token`` (refresh, or log in if the refresh token is dead).

        For a resource's 401: if another thread already replaced that token, its replacement is
        returned without a request.  Without an argument the current token is replaced.
        """
        with self._lock:
            rejected = rejected_access_token
            if rejected is None and self._tokens is not None:
                rejected = self._tokens.access_token
            return self._renew(
                lambda tokens, now: decisions.after_rejection(
                    tokens, rejected or "", now, self.settings.leeway
                )
            )

    def login(self) -> TokenSet:
        """Log in now (password grant, or client credentials), whatever the current tokens."""
        with self._lock:
            return self._login()

    def refresh(self) -> TokenSet:
        """Refresh now; logs in instead if there is no live refresh token or Keycloak refuses it."""
        with self._lock:
            tokens = self._tokens
            if decisions.renewal(tokens, self._clock(), self.settings.leeway) is Action.LOGIN:
                return self._login()
            assert tokens is not None  # REFRESH implies a token set
            return self._refresh_or_login(tokens)

    def _renew(self, decide: Callable[[TokenSet | None, float], Action]) -> TokenSet:
        """Under the lock: decide again (another thread may have renewed meanwhile), then act."""
        tokens = self._tokens
        action = decide(tokens, self._clock())
        if action is Action.USE and tokens is not None:
            return tokens
        if action is Action.REFRESH and tokens is not None:
            return self._refresh_or_login(tokens)
        return self._login()

    def _refresh_or_login(self, tokens: TokenSet) -> TokenSet:
        try:
            return self._refresh(tokens)
        except AuthError as error:
            if not decisions.should_login_again(error):
                raise
            _log.info(
                "refresh refused (%s); logging in again as %r",
                error.error_description or error.error,
                self.settings.username,
            )
            return self._login()

    # -- grants ---------------------------------------------------------------------------
    def _login(self) -> TokenSet:
        s = self.settings
        if s.is_service_account:
            form = {"grant_type": CLIENT_CREDENTIALS_GRANT}
        else:
            form = {"grant_type": PASSWORD_GRANT, "username": s.username, "password": s.password}
        if s.scope:
            form["scope"] = s.scope
        tokens = self._request_tokens(form, s.grant_type, previous=None)
        _log.info(
            "logged in as %r at mandator %r; access token valid for %d s",
            f"service-account-{s.client_id}" if s.is_service_account else s.username,
            s.mandator,
            tokens.expires_in,
        )
        return tokens

    def _refresh(self, tokens: TokenSet) -> TokenSet:
        assert tokens.refresh_token is not None  # callers checked via decisions.renewal
        form = {"grant_type": REFRESH_GRANT, "refresh_token": tokens.refresh_token}
        new = self._request_tokens(form, REFRESH_GRANT, previous=tokens)
        _log.info("refreshed the access token; valid for %d s", new.expires_in)
        return new

    def _request_tokens(
        self, form: dict[str, str], grant: str, previous: TokenSet | None
    ) -> TokenSet:
        sent_at, sent_at_epoch = self._clock(), time.time()
        _, body = post_form(
            self._http,
            self.settings.token_endpoint,
            self._with_client(form),
            settings=self.settings,
            grant=grant,
        )
        tokens = TokenSet.from_response(
            body, sent_at=sent_at, sent_at_epoch=sent_at_epoch, previous=previous
        )
        self._tokens = tokens
        if self._on_token is not None:
            self._on_token(tokens)
        return tokens

    def _with_client(self, form: dict[str, str]) -> dict[str, str]:
        """Client authentication as ``client_secret_post``: id always, secret if confidential."""
        form["client_id"] = self.settings.client_id
        if self.settings.client_secret is not None:
            form["client_secret"] = self.settings.client_secret
        return form

    # -- logout ---------------------------------------------------------------------------
    def logout(self) -> None:
        """End the Keycloak session (logout endpoint) and forget the tokens.

        The tokens are forgotten even if Keycloak answers with an error, which is raised.  Without
        a refresh token there is no session to end and nothing is sent.
        """
        with self._lock:
            tokens, self._tokens = self._tokens, None
            if tokens is None or not tokens.refresh_token:
                return
            form = self._with_client({"refresh_token": tokens.refresh_token})
            post_form(
                self._http,
                self.settings.logout_endpoint,
                form,
                settings=self.settings,
                grant="logout",
            )
            _log.info(
                "logged out %r at mandator %r", self.settings.username, self.settings.mandator
            )

    # -- verification ---------------------------------------------------------------------
    def verify(
        self,
        tokens: TokenSet | None = None,
        *,
        audience: str | None = None,
        leeway: float = 0.0,
    ) -> dict[str, Any]:
        """The access token's claims, verified: RS256 signature against the realm's JWKS,
        ``exp``, ``iss`` (the realm URL) and, if given, ``aud``.

        Keys are fetched with PyJWT's ``PyJWKClient`` and cached (``JWKS_CACHE_SECONDS``); a token
        signed by an unknown ``kid`` makes it fetch the JWKS again, so key rotation just works.
        Raises ``jwt.PyJWTError`` subclasses when verification fails.
        """
        token = (tokens or self.get_tokens()).access_token
        signing_key = self._jwks_client().get_signing_key_from_jwt(token)
        claims: dict[str, Any] = jwt.decode(
            token,
            signing_key.key,
            algorithms=["RS256"],
            issuer=self.settings.issuer,
            audience=audience,
            leeway=leeway,
            options={"verify_aud": audience is not None, "require": ["exp", "iat", "iss"]},
        )
        return claims

    def _jwks_client(self) -> jwt.PyJWKClient:
        with self._lock:
            if self._jwks is None:
                self._jwks = jwt.PyJWKClient(
                    self.settings.jwks_uri,
                    cache_keys=True,
                    lifespan=JWKS_CACHE_SECONDS,
                    timeout=self.settings.timeout,
                )
            return self._jwks

    # -- lifecycle ------------------------------------------------------------------------
    def close(self) -> None:
        """Release the HTTP connections (tokens are kept)."""
        self._http.close()

    def __enter__(self) -> TokenManager:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Log out and close.  A failed logout is logged, not raised: it must not hide ``exc``."""
        try:
            self.logout()
        except AuthError as error:
            _log.warning("logout failed: %s", error)
        finally:
            self.close()
