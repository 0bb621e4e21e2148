// What the JavaScript tests share: the mock's URLs from tests/test_js_clients.py, and a login.
export const env = {
  url: process.env.KEYCLOAK_MOCK_URL,
  realm: process.env.KEYCLOAK_MOCK_REALM,
  issuer: process.env.KEYCLOAK_MOCK_ISSUER,
  // The same realms served over https with a test-only CA; NODE_EXTRA_CA_CERTS trusts it.
  httpsIssuer: process.env.KEYCLOAK_MOCK_HTTPS_ISSUER,
};
if (!env.url) {
  throw new Error('run these through pytest (tests/test_js_clients.py): KEYCLOAK_MOCK_URL is unset');
}

/** A password-grant login with plain fetch; the token response as JSON. */
export async function passwordLogin(clientId, { username = 'demo', password = 'demo', scope, issuer = env.issuer } = {}) {
  const body = new URLSearchParams({ grant_type: 'password', client_id: clientId, username, password });
  if (scope) body.set('scope', scope);
  const response = await fetch(`${issuer}/protocol/openid-connect/token`, { method: 'POST', body });
  const json = await response.json();
  if (response.status !== 200) throw new Error(`login failed: ${response.status} ${JSON.stringify(json)}`);
  return json;
}
