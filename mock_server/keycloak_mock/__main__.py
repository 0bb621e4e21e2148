"""``python -m keycloak_mock``: the same as ``keycloak-mock``."""

import sys

from keycloak_mock.serving.cli import main

sys.exit(main())
