"""``keycloak-mock drift``: does the mock still answer like finAPI's live Keycloak?

One fixed scenario (``scenario.py``) runs against the live server and against a mock started
in-process; each answer becomes an *observation* (``observe.py``) in which secrets are gone and
volatile values (tokens, ids, times) are replaced by their shape, so the two can be compared
field by field (``compare.py``), reported (``report.py``), and stored for a bug report or a
replay without network (``recording.py``); ``mockrealm.py`` builds the mock side's realm.

The command itself, ``keycloak_mock.serving.driftcheck``, starts the in-process mock: this
package uses only the imitation (and requests), so serving can import it without a cycle, and the
server's start-up path never loads it.
"""

from __future__ import annotations

from .compare import Difference, compare
from .recording import Recording, load_recording, save_recording
from .scenario import STEPS, Credentials, ScenarioError, Target, run_scenario

__all__ = [
    "STEPS",
    "Credentials",
    "Difference",
    "Recording",
    "ScenarioError",
    "Target",
    "compare",
    "load_recording",
    "run_scenario",
    "save_recording",
]
