"""A few seconds of the soak (``benchmarks/soak.py``): mixed traffic, no surprises, bounded state.

The full run is a documented command (docs/robustness.md); here the same generator runs briefly
against an in-process server, with the clock jumping past the idle timeout twice, and the test
asserts what must hold at any length: every answer is the one Keycloak gives, and sessions that
expired were purged by the server's own timer (no explicit purge is called).
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

from keycloak_mock import MockConfig, MockServer

from .conftest import REPO_ROOT

#: Growth of this whole process (server and client threads) that a few seconds may cause;
#: without the purge, sessions alone would not exceed it either, so the session count below is
#: the sharp check and this one catches gross leaks (buffers, threads).
RSS_GROWTH_LIMIT_MIB = 64


@pytest.fixture(scope="module")
def soak() -> ModuleType:
    path = REPO_ROOT / "benchmarks" / "soak.py"
    spec = importlib.util.spec_from_file_location("soak", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["soak"] = module
    spec.loader.exec_module(module)
    return module


def own_rss_mib() -> float | None:
    status = Path("/proc/self/status")
    if not status.exists():
        return None
    for line in status.read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return None


def test_short_soak_has_no_unexpected_answers_and_purges_expired_sessions(
    soak: ModuleType,
) -> None:
    config = soak.SoakConfig(duration=4.0, threads=4, jump_every=1.3, seed=7)
    with MockServer(MockConfig(port=0)) as server:
        report = soak.Soak(server.url, config, rss=own_rss_mib).run()
        held = len(server.state.sessions)
    assert report.errors_by_kind == {}
    assert report.clock_jumps >= 2
    assert set(report.by_operation) == set(soak.MIX)
    assert all(count > 0 for count in report.by_operation.values()), report.by_operation
    # Sessions from before the last jump are gone; a login in flight during the jump may be
    # counted on the client's old side, hence the slack of one per thread.
    assert report.sessions_at_end == held
    assert held <= report.logins_since_last_jump + config.threads
    if report.rss_mib_before is not None:
        assert report.rss_mib_after - report.rss_mib_before < RSS_GROWTH_LIMIT_MIB


def test_soak_refuses_a_non_loopback_target(soak: ModuleType) -> None:
    with pytest.raises(ValueError, match="loopback only"):
        soak.Soak("http://192.0.2.1:8080", soak.SoakConfig(duration=1))


def test_soak_command_reports_and_writes_json(
    soak: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "soak.json"
    with MockServer(MockConfig(port=0)) as server:
        status = soak.main(
            ["--url", server.url, "--duration", "1.5", "--threads", "2", "--jump", "0",
             "--json", str(out)]
        )  # fmt: skip
    assert status == 0
    printed = capsys.readouterr().out
    assert "errors: 0" in printed and "latency: p50" in printed
    report = json.loads(out.read_text())
    assert report["errors"] == 0 and report["requests"] > 0
    assert set(report["latency_ms"]) == {"p50", "p99", "max"}
