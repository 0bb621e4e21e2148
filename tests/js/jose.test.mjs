// jose verifies the mock's access tokens against its JWKS, as a resource server in Node would.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { env, passwordLogin } from './support.mjs';

test('jose verifies an access token with the remote JWKS, issuer and audience', async () => {
  const tokens = await passwordLogin('demobank-cli');
  const jwks = createRemoteJWKSet(new URL(`${env.issuer}/protocol/openid-connect/certs`));
  const { payload, protectedHeader } = await jwtVerify(tokens.access_token, jwks, {
    issuer: env.issuer,
    audience: 'account',
  });
  assert.equal(protectedHeader.alg, 'RS256');
  assert.equal(payload.azp, 'demobank-cli');
  assert.equal(payload.preferred_username, 'demo');
});

test('jose refuses a token whose issuer is another realm', async () => {
  const tokens = await passwordLogin('demobank-cli');
  const jwks = createRemoteJWKSet(new URL(`${env.issuer}/protocol/openid-connect/certs`));
  await assert.rejects(
    jwtVerify(tokens.access_token, jwks, { issuer: `${env.url}/realms/other` }),
    { code: 'ERR_JWT_CLAIM_VALIDATION_FAILED', claim: 'iss' },
  );
});

test('jose verifies the ID token with the client as audience', async () => {
  const tokens = await passwordLogin('demobank-cli', { scope: 'openid' });
  const jwks = createRemoteJWKSet(new URL(`${env.issuer}/protocol/openid-connect/certs`));
  const { payload } = await jwtVerify(tokens.id_token, jwks, {
    issuer: env.issuer,
    audience: 'demobank-cli',
  });
  assert.equal(payload.typ, 'ID');
});
