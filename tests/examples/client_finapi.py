import os
import sys

from demobank_client import AuthError, TokenManager, authorized_session

url = os.environ["DEMOBANK_URL"]  # a Demobank API URL you may call
try:
    # FINAPI_MANDATOR, FINAPI_USERNAME, FINAPI_PASSWORD; FINAPI_KEYCLOAK_URL defaults to finAPI's
    with TokenManager.from_env() as manager:
        response = authorized_session(manager).get(url)
        print(response.status_code)
except AuthError as error:  # InvalidCredentials, AccountDisabled, TransportError, ...
    sys.exit(f"login failed: {error}")
