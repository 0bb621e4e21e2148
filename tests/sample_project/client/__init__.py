"""The sample project's own ``client`` package: a name many projects use for their API client."""

from demobank_client import TokenManager, authorized_session

OWNER = "sample-demobank-app"


def account_mandator(manager: TokenManager, demobank_url: str) -> str:
    """Calls the Demobank API with tokens from ``manager``; the code the sample project tests."""
    response = authorized_session(manager).get(f"{demobank_url}/api/v2/accounts", timeout=10)
    response.raise_for_status()
    mandator: str = response.json()["mandator"]
    return mandator


__all__ = ["OWNER", "account_mandator"]
