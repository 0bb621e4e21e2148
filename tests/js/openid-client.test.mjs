// openid-client (v6) drives the mock the way a Node or browser app would: discovery, the
// password grant, refresh, userinfo, introspection, revocation, RP-initiated logout, https.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import { env } from './support.mjs';

const WEB = 'demobank-web';
const BACKEND = { id: 'demobank-backend', secret: 'TEST-ONLY-backend-secret' };
const LOGGED_OUT = 'http://localhost:3000/logged-out';

/** Discovery over plain http, which openid-client refuses unless told to allow it. */
async function discover(clientId = WEB, auth = client.None()) {
  return client.discovery(new URL(env.issuer), clientId, undefined, auth, {
    execute: [client.allowInsecureRequests],
  });
}

async function login(config, scope = 'openid') {
  return client.genericGrantRequest(config, 'password', { username: 'demo', password: 'demo', scope });
}

test('discovery names the endpoints the mock serves', async () => {
  const config = await discover();
  const metadata = config.serverMetadata();
  assert.equal(metadata.issuer, env.issuer);
  assert.equal(metadata.token_endpoint, `${env.issuer}/protocol/openid-connect/token`);
  assert.equal(metadata.end_session_endpoint, `${env.issuer}/protocol/openid-connect/logout`);
  assert.ok(metadata.grant_types_supported.includes('password'));
});

test('password grant, with the ID token validated by openid-client', async () => {
  const tokens = await login(await discover());
  assert.equal(tokens.token_type.toLowerCase(), 'bearer');
  const claims = tokens.claims();
  assert.equal(claims.iss, env.issuer);
  assert.equal(claims.aud, WEB);
  assert.equal(claims.preferred_username, 'demo');
});

test('refresh keeps the session and narrows the scope', async () => {
  const config = await discover();
  const first = await login(config, 'openid phone');
  const refreshed = await client.refreshTokenGrant(config, first.refresh_token, { scope: 'profile' });
  assert.equal(refreshed.session_state, first.session_state);
  assert.ok(refreshed.id_token, 'the ID token follows the login scope');
  assert.ok(first.scope.split(' ').includes('phone'));
  assert.ok(!refreshed.scope.split(' ').includes('phone'));
});

test('userinfo answers for the token subject', async () => {
  const config = await discover();
  const tokens = await login(config);
  const info = await client.fetchUserInfo(config, tokens.access_token, tokens.claims().sub);
  assert.equal(info.preferred_username, 'demo');
});

test('introspection and revocation by a confidential client', async () => {
  const web = await discover();
  const tokens = await login(web);
  const backend = await discover(BACKEND.id, client.ClientSecretPost(BACKEND.secret));
  const active = await client.tokenIntrospection(backend, tokens.refresh_token, {
    token_type_hint: 'refresh_token',
  });
  assert.equal(active.active, true);
  assert.equal(active.client_id, WEB);
  await client.tokenRevocation(web, tokens.refresh_token);
  const after = await client.tokenIntrospection(backend, tokens.refresh_token, {
    token_type_hint: 'refresh_token',
  });
  assert.equal(after.active, false);
});

test('the end-session URL, followed, ends the session', async () => {
  const config = await discover();
  const tokens = await login(config);
  const url = client.buildEndSessionUrl(config, {
    id_token_hint: tokens.id_token,
    post_logout_redirect_uri: LOGGED_OUT,
    state: 'after-logout',
  });
  const response = await fetch(url, { redirect: 'manual' });
  assert.equal(response.status, 302);
  assert.equal(response.headers.get('location'), `${LOGGED_OUT}?state=after-logout`);
  await assert.rejects(client.refreshTokenGrant(config, tokens.refresh_token), (error) => {
    assert.equal(error.error, 'invalid_grant');
    assert.equal(error.error_description, 'Session not active');
    return true;
  });
});

test('https with the generated CA, without allowing insecure requests', async () => {
  assert.ok(env.httpsIssuer?.startsWith('https://'), 'the https mock is not configured');
  const config = await client.discovery(new URL(env.httpsIssuer), WEB, undefined, client.None());
  assert.equal(config.serverMetadata().issuer, env.httpsIssuer);
  const tokens = await login(config);
  assert.equal(tokens.claims().iss, env.httpsIssuer);
});
