// keycloak-connect (Keycloak's Node.js adapter) against the mock: its grant manager and protect()
// on an express route, as a Node back-end uses them. The realm is added through the control API,
// so it has a key of its own and does not depend on the other files' realms.
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import express from 'express';
import Keycloak from 'keycloak-connect';
import { env } from './support.mjs';

const require = createRequire(import.meta.url);
const Config = require('keycloak-connect/middleware/auth-utils/config.js');
const GrantManager = require('keycloak-connect/middleware/auth-utils/grant-manager.js');
const Grant = require('keycloak-connect/middleware/auth-utils/grant.js');
const Token = require('keycloak-connect/middleware/auth-utils/token.js');

const REALM = 'node-backend';
const CLIENT = { clientId: 'node-app', secret: 'TEST-ONLY-node-app-secret' };
const realmUrl = `${env.url}/realms/${REALM}`;
const adapterConfig = {
  realm: REALM,
  'auth-server-url': env.url,
  resource: CLIENT.clientId,
  credentials: { secret: CLIENT.secret },
};

async function control(method, path, body) {
  const withBody = method === 'POST' || body !== undefined;
  const response = await fetch(`${env.url}/_mock${path}`, {
    method,
    headers: withBody ? { 'content-type': 'application/json' } : {},
    body: withBody ? JSON.stringify(body ?? {}) : undefined,
  });
  return response;
}

before(async () => {
  await control('DELETE', `/realms/${REALM}`);
  const added = await control('POST', '/realms', {
    realm: REALM,
    clients: [
      {
        clientId: CLIENT.clientId,
        secret: CLIENT.secret,
        directAccessGrantsEnabled: true,
        serviceAccountsEnabled: true,
      },
    ],
    users: [
      {
        username: 'alice',
        email: 'Alice@Example.TEST',
        credentials: [{ type: 'password', value: 'alice-pw' }],
        clientRoles: { 'node-app': ['reader'] },
      },
    ],
  });
  assert.ok(added.status === 200 || added.status === 201, `adding the realm: ${added.status}`);
});

after(async () => {
  await control('POST', '/time/unfreeze');
  await control('DELETE', `/realms/${REALM}`);
});

function grantManager() {
  return new GrantManager(new Config(adapterConfig));
}

test('keycloak-connect obtainDirectly gets a grant whose tokens it verifies with the JWKS', async () => {
  const grant = await grantManager().obtainDirectly('alice', 'alice-pw');
  assert.equal(grant.access_token.content.iss, realmUrl);
  assert.equal(grant.access_token.content.preferred_username, 'alice');
  assert.equal(grant.access_token.content.email, 'alice@example.test');
  assert.equal(grant.id_token.content.typ, 'ID');
  assert.ok(grant.access_token.hasRole('reader'));
  assert.ok(grant.access_token.hasRole('realm:offline_access'));
  assert.ok(grant.refresh_token);
});

test('keycloak-connect validateAccessToken asks introspection and gets the token back', async () => {
  const manager = grantManager();
  const grant = await manager.obtainDirectly('alice', 'alice-pw');
  const valid = await manager.validateAccessToken(grant.access_token);
  assert.equal(valid, grant.access_token);
  const refreshed = await fetch(`${realmUrl}/protocol/openid-connect/logout`, {
    method: 'POST',
    body: new URLSearchParams({
      client_id: CLIENT.clientId,
      client_secret: CLIENT.secret,
      refresh_token: grant.refresh_token.token,
    }),
  });
  assert.equal(refreshed.status, 204);
  assert.equal(await manager.validateAccessToken(grant.access_token), false);
});

test('keycloak-connect ensureFreshness refreshes an expired grant', async () => {
  // Tokens issued 1000 s ago: the access token (900 s) is expired, the session (1800 s) is not.
  const frozen = await control('POST', '/time/freeze', { at: Math.floor(Date.now() / 1000) - 1000 });
  assert.equal(frozen.status, 200);
  const response = await fetch(`${realmUrl}/protocol/openid-connect/token`, {
    method: 'POST',
    body: new URLSearchParams({
      grant_type: 'password',
      client_id: CLIENT.clientId,
      client_secret: CLIENT.secret,
      username: 'alice',
      password: 'alice-pw',
    }),
  });
  const raw = await response.json();
  // Back to the present (unfreezing alone would let time run on from 1000 s ago).
  const present = await control('POST', '/time/freeze', { at: Date.now() / 1000 });
  assert.equal(present.status, 200);
  assert.equal((await control('POST', '/time/unfreeze')).status, 200);
  const stale = new Grant({
    access_token: new Token(raw.access_token, CLIENT.clientId),
    refresh_token: new Token(raw.refresh_token),
    expires_in: raw.expires_in,
    token_type: raw.token_type,
  });
  assert.ok(stale.isExpired());
  const fresh = await grantManager().ensureFreshness(stale);
  assert.ok(!fresh.isExpired());
  assert.notEqual(fresh.access_token.token, raw.access_token);
  assert.equal(fresh.access_token.content.sid, raw.session_state);
});

test('keycloak-connect obtainFromClientCredentials logs in as the service account', async () => {
  const grant = await grantManager().obtainFromClientCredentials(undefined, 'profile');
  assert.equal(grant.access_token.content.preferred_username, 'service-account-node-app');
  assert.equal(grant.access_token.content.client_id, CLIENT.clientId);
  assert.equal(grant.refresh_token, undefined);
});

async function withApp(run) {
  const keycloak = new Keycloak({}, { ...adapterConfig, 'bearer-only': true });
  const app = express();
  app.use(keycloak.middleware());
  app.get('/reports', keycloak.protect('reader'), (req, res) => res.json({ ok: true }));
  app.get('/admin', keycloak.protect('realm:admin'), (req, res) => res.json({ ok: true }));
  app.get('/profile', keycloak.protect('account:view-profile'), (req, res) =>
    res.json({ user: req.kauth.grant.access_token.content.preferred_username }),
  );
  const server = await new Promise((resolve) => {
    const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
  });
  try {
    await run(`http://127.0.0.1:${server.address().port}`);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}

test('keycloak-connect protect() admits bearer tokens with the role and refuses the rest', async () => {
  const grant = await grantManager().obtainDirectly('alice', 'alice-pw');
  const bearer = { authorization: `Bearer ${grant.access_token.token}` };
  await withApp(async (base) => {
    assert.equal((await fetch(`${base}/reports`, { headers: bearer })).status, 200);
    const profile = await fetch(`${base}/profile`, { headers: bearer });
    assert.deepEqual(await profile.json(), { user: 'alice' });
    assert.equal((await fetch(`${base}/admin`, { headers: bearer })).status, 403);
    assert.equal((await fetch(`${base}/reports`)).status, 403);
    const garbage = { authorization: 'Bearer not.a.token' };
    assert.equal((await fetch(`${base}/reports`, { headers: garbage })).status, 403);
  });
});

test('keycloak-connect protect() refuses a token of another realm: keys are per realm', async () => {
  // A genuine token of the default realm: its kid is not in this realm's JWKS, as in Keycloak.
  const body = new URLSearchParams({
    grant_type: 'password', client_id: 'demobank-cli', username: 'demo', password: 'demo',
  });
  const other = await (await fetch(`${env.issuer}/protocol/openid-connect/token`, { method: 'POST', body })).json();
  const [header] = other.access_token.split('.');
  const certs = await (await fetch(`${realmUrl}/protocol/openid-connect/certs`)).json();
  const { kid } = JSON.parse(Buffer.from(header, 'base64url').toString());
  assert.ok(!certs.keys.some((key) => key.kid === kid));
  await withApp(async (base) => {
    const response = await fetch(`${base}/reports`, {
      headers: { authorization: `Bearer ${other.access_token}` },
    });
    assert.equal(response.status, 403);
  });
});
