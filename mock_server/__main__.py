"""``python -m mock_server``: the same as ``keycloak-mock``."""

import sys

from .cli import main

sys.exit(main())
