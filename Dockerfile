# Mock of finAPI Demobank's Keycloak for CI pipelines and local development.
# NEVER use it to guard real data: its default signing key is public (TEST-ONLY).
#
#   docker build -t demobank-keycloak-mock .
#   docker run --rm -p 127.0.0.1:8080:8080 demobank-keycloak-mock
#
# Published on the host's loopback only: nobody else on your network needs a mock login.
# Configuration: KEYCLOAK_MOCK_* env vars (the same as keycloak-mock's flags) and a realm file
# mounted read-only, e.g. -v ./fixtures:/fixtures:ro -e KEYCLOAK_MOCK_CONFIG=/fixtures/realms.json
# The root file system may be read-only (docker run --read-only): the server writes nothing.
# More in docs/container.md.  No `# syntax=` line: BuildKit would fetch its frontend from Docker
# Hub at every build, which offline and mirrored builders cannot reach.

ARG PYTHON_IMAGE=python:3.12-slim-bookworm

# --- build the wheel (the image ships what `pip install` ships, nothing from the work tree) ---
FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY mock_server ./mock_server
COPY client ./client
RUN python -m pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

# --- runtime ---
FROM ${PYTHON_IMAGE}
# Set by the publishing workflow (.github/workflows/publish.yml); the defaults are pyproject's.
ARG VERSION=0.1.0
ARG SOURCE_URL=""
LABEL org.opencontainers.image.title="demobank-keycloak-mock" \
      org.opencontainers.image.description="Offline mock of finAPI Demobank's Keycloak token service, with a thin client and a pytest plugin." \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.source="${SOURCE_URL}"
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
# Dependencies from the lock file, every file checked against its hash; then the wheel alone.
# Refresh the lock with the command at its top (docs/container.md).
COPY requirements/container.lock /tmp/container.lock
COPY --from=build /wheels /wheels
RUN set -eu; \
    python -m pip install --require-hashes --no-deps -r /tmp/container.lock; \
    python -m pip install --no-deps /wheels/*.whl; \
    python -m pip check; \
    rm -rf /wheels /tmp/container.lock; \
    groupadd --system --gid 10001 keycloak-mock; \
    useradd --system --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin keycloak-mock

# Inside the container the mock must listen on every interface; the CLI refuses a non-loopback
# host unless told so explicitly.
ENV KEYCLOAK_MOCK_HOST=0.0.0.0 \
    KEYCLOAK_MOCK_PORT=8080 \
    KEYCLOAK_MOCK_ALLOW_REMOTE=true
ENV KEYCLOAK_MOCK_DISABLE_UI=true

USER 10001:10001
EXPOSE 8080

# No curl in a slim image: the package's own probe asks /health/ready on KEYCLOAK_MOCK_PORT.
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=3 \
    CMD ["keycloak-mock", "healthcheck"]

# gunicorn as PID 1 handles SIGTERM itself: requests in flight finish, then it exits (<= 3 s).
STOPSIGNAL SIGTERM
CMD ["gunicorn", "--config", "python:keycloak_mock.serving.gunicorn_conf", "keycloak_mock.serving.wsgi:app_from_env()"]
