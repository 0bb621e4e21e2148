from demobank_client import Settings, TokenManager, authorized_session
from keycloak_mock import MockServer

with MockServer() as mock:  # the mock in-process on a free port; or run `keycloak-mock`
    settings = Settings(base_url=mock.url, mandator="customer", username="demo", password="demo")
    with TokenManager(settings) as manager:  # one manager per user, shared by all threads
        tokens = manager.get_tokens()  # first use: password grant
        print(tokens.expires_in, tokens.scope, tokens.mandator_name, tokens.technical_user)

        session = authorized_session(manager)  # sends Authorization: Bearer <access token>
        response = session.get(f"{mock.url}/demobank/accounts")  # the mock's Demobank stand-in
        print(response.status_code, response.json()["mandator"])

        mock.state.clock.advance(901)  # the token expires for the server, not for the client:
        response = session.get(f"{mock.url}/demobank/accounts")  # 401, refresh, resent once
        print(response.status_code, [r.status_code for r in response.history])
# leaving the `with` logged out: the Keycloak session is gone
