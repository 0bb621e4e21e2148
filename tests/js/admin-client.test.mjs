// @keycloak/keycloak-admin-client's auth() against the mock: auth() only asks the token endpoint
// (the admin REST API it calls afterwards is not mocked). The realm comes through the control API.
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import KcAdminClient from '@keycloak/keycloak-admin-client';
import { env } from './support.mjs';

const REALM = 'admin-client';
const SERVICE = { clientId: 'ops-automation', clientSecret: 'TEST-ONLY-ops-secret' };

async function control(method, path, body) {
  const withBody = method === 'POST' || body !== undefined;
  return fetch(`${env.url}/_mock${path}`, {
    method,
    headers: withBody ? { 'content-type': 'application/json' } : {},
    body: withBody ? JSON.stringify(body ?? {}) : undefined,
  });
}

before(async () => {
  await control('DELETE', `/realms/${REALM}`);
  const added = await control('POST', '/realms', {
    realm: REALM,
    clients: [
      // Keycloak's own admin-cli: public, direct grants, offline_access among its optional scopes.
      { clientId: 'admin-cli', publicClient: true },
      { clientId: SERVICE.clientId, secret: SERVICE.clientSecret, serviceAccountsEnabled: true },
    ],
    users: [{ username: 'admin', credentials: [{ type: 'password', value: 'admin-pw' }] }],
  });
  assert.equal(added.status, 201);
});

after(async () => {
  await control('DELETE', `/realms/${REALM}`);
});

function client() {
  return new KcAdminClient({ baseUrl: env.url, realmName: REALM });
}

function claims(token) {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());
}

test('admin-client auth() with a password', async () => {
  const kc = client();
  await kc.auth({ grantType: 'password', clientId: 'admin-cli', username: 'admin', password: 'admin-pw' });
  const access = claims(kc.accessToken);
  assert.equal(access.iss, `${env.url}/realms/${REALM}`);
  assert.equal(access.preferred_username, 'admin');
  assert.equal(claims(kc.refreshToken).typ, 'Refresh');
});

test('admin-client auth() with client credentials', async () => {
  const kc = client();
  await kc.auth({ grantType: 'client_credentials', ...SERVICE });
  const access = claims(kc.accessToken);
  assert.equal(access.azp, SERVICE.clientId);
  assert.equal(access.preferred_username, 'service-account-ops-automation');
  assert.equal(access.client_id, SERVICE.clientId);
  assert.equal(kc.refreshToken, undefined);
});

test('admin-client auth() with offlineToken: true', async () => {
  const kc = client();
  await kc.auth({
    grantType: 'password', clientId: 'admin-cli', username: 'admin', password: 'admin-pw',
    offlineToken: true,
  });
  const offline = claims(kc.refreshToken);
  assert.equal(offline.typ, 'Offline');
  assert.equal(offline.exp, undefined);
  assert.ok(offline.scope.split(' ').includes('offline_access'));
  // The offline token refreshes like any refresh token.
  await kc.auth({ grantType: 'refresh_token', clientId: 'admin-cli', refreshToken: kc.refreshToken });
  assert.equal(claims(kc.refreshToken).typ, 'Offline');
});

test('admin-client auth() reports Keycloak refusals', async () => {
  await assert.rejects(
    client().auth({ grantType: 'client_credentials', clientId: 'admin-cli', clientSecret: 'x' }),
    (error) => {
      assert.equal(error.response.status, 401);
      assert.deepEqual(error.responseData, {
        error: 'unauthorized_client',
        error_description: 'Public client not allowed to retrieve service account',
      });
      return true;
    },
  );
});
