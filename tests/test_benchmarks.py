"""The benchmark script runs (on a tiny setting).  Its figures are never asserted: speed is
measured by ``python benchmarks/run.py`` and reported, not tested on a noisy machine."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from keycloak_mock.handle import KeycloakMock
from keycloak_mock.imitation.keys import load_signing_key

from .conftest import REPO_ROOT

BENCHMARKS = REPO_ROOT / "benchmarks"
WRK_OUTPUT = """\
Running 3s test @ http://127.0.0.1:40000/realms/customer/protocol/openid-connect/token
  1 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    20.42ms    9.81ms  95.10ms   71.02%
    Req/Sec   363.52     55.60   450.00     70.00%
  Latency Distribution
     50%  {p50}
     75%   24.06ms
     90%   31.77ms
     99%  {p99}
  1090 requests in 3.00s, 2.71MB read
  Socket errors: connect 1, read 7, write 9, timeout 2
  Non-2xx or 3xx responses: 4
Requests/sec:    363.10
Transfer/sec:      0.90MB
"""


def test_quick_run_prints_the_table_ratios_and_json(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    result = subprocess.run(
        [
            sys.executable,
            str(BENCHMARKS / "run.py"),
            "--quick",
            "--load",
            "python",
            "--connections",
            "2",
            "--json",
            str(report),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "oauth2-mock-server: skipped (--skip-node)" in out
    for heading in ("Throughput", "Cold start", "Memory", "Targets"):
        assert heading in out
    figures = json.loads(report.read_text())
    served = {(row["target"], row["grant"]) for row in figures["load"]}
    assert served == {
        ("dev", "password"),
        ("dev", "refresh"),
        ("container", "password"),
        ("container", "refresh"),
        ("ceiling-dev", "password"),
        ("ceiling-container", "password"),
    }
    assert all(row["errors"] == 0 and row["rps"] > 0 for row in figures["load"])
    assert set(figures["cold_start_s"]) == {"dev", "container"}
    assert figures["rss_idle_mib"]["dev"] > 0
    assert any("ceiling under the same server" in t["target"] for t in figures["targets"])


@pytest.mark.parametrize(
    ("p50", "p99", "p50_ms", "p99_ms"),
    [("812.00us", "1.20ms", 0.812, 1.2), ("19.88ms", "1.02s", 19.88, 1020.0)],
    ids=["microseconds", "seconds"],
)
def test_wrk_output_is_read_with_its_units(
    p50: str, p99: str, p50_ms: float, p99_ms: float
) -> None:
    sys.path.insert(0, str(BENCHMARKS))
    try:
        from load import parse_wrk
    finally:
        sys.path.remove(str(BENCHMARKS))
    result = parse_wrk(WRK_OUTPUT.format(p50=p50, p99=p99))
    assert result.requests_per_second == pytest.approx(363.10)
    assert result.p50_ms == pytest.approx(p50_ms)
    assert result.p99_ms == pytest.approx(p99_ms)
    assert result.requests == 1090
    assert result.errors == 4 + 1 + 2  # non-2xx, refused connections, timeouts


def _bench_module(name: str) -> Any:
    sys.path.insert(0, str(BENCHMARKS))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(BENCHMARKS))


def _load_row(target: str, rps: float, cpu_us: float) -> dict[str, Any]:
    return {
        "target": target,
        "grant": "password",
        "connections": 8,
        "rps": rps,
        "cpu_us": cpu_us,
        "cores_busy": rps * cpu_us / 1e6,
    }


def test_node_with_a_fixed_key_is_given_the_mocks_test_only_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The like-for-like cold start: oauth2-mock-server with ``--jwk`` and a private JWK of the
    key the mock ships, so neither generates a key at start."""
    targets = _bench_module("targets")
    monkeypatch.setattr(targets, "SCRATCH", tmp_path)
    node = targets.Target(
        "oauth2-mock-server",
        lambda port: ["oauth2-mock-server", "-a", "127.0.0.1", "-p", str(port)],
        token_path="/token",
        password_body="grant_type=password",
        ready_path="/.well-known/openid-configuration",
    )
    fixed = targets.node_with_fixed_key(node)
    *given, option, key_file = fixed.command(40000)
    assert (given, option) == (["oauth2-mock-server", "-a", "127.0.0.1", "-p", "40000"], "--jwk")
    assert (fixed.name, fixed.token_path, fixed.ready_path, fixed.password_body) == (
        "oauth2-mock-server --jwk",
        "/token",
        "/.well-known/openid-configuration",
        "grant_type=password",
    )
    jwk = json.loads(Path(key_file).read_text())
    shipped = load_signing_key()
    assert (jwk["kid"], jwk["alg"], jwk["use"]) == (shipped.kid, "RS256", "sig")
    private = RSAAlgorithm.from_jwk(jwk)
    assert isinstance(private, rsa.RSAPrivateKey)
    assert private.private_numbers() == shipped.private_key.private_numbers()


def test_ratio_to_node_splits_into_cpu_per_request_and_cores_busy() -> None:
    """req/s = cores busy / CPU per request, so the ratio is the product of the two factors."""
    run = _bench_module("run")
    report = {
        "load": [
            _load_row("container", rps=544.0, cpu_us=2693.0),
            _load_row("oauth2-mock-server", rps=441.0, cpu_us=4228.0),
            _load_row("dev", rps=393.0, cpu_us=3356.0),
        ]
    }
    (budget,) = run.cpu_budget(report)
    assert budget["ratio"] == pytest.approx(544 / 441)
    assert budget["cpu_efficiency"] == pytest.approx(4228 / 2693)
    assert budget["cores_share"] == pytest.approx((544 * 2693) / (441 * 4228))
    assert budget["cpu_efficiency"] * budget["cores_share"] == pytest.approx(budget["ratio"])
    assert run.cpu_budget({"load": report["load"][:1]}) == []  # no Node row: nothing to split


def test_server_choice_behaviour_checks_pass_on_the_development_server(
    keycloak_mock: KeycloakMock,
) -> None:
    """The checks that rule servers out must pass where the behaviour is right (werkzeug)."""
    server_choice = _bench_module("server_choice")
    targets = _bench_module("targets")
    target = targets.Target("dev", lambda port: [], targets.KC_TOKEN_PATH, targets.KC_PASSWORD)
    running = targets.Running(target, keycloak_mock.port, process=None)
    assert server_choice.chunked_login_answered(running) is True
    assert server_choice.garbage_answered(running) is True
    assert server_choice.dropped_connections(running, attempts=3) == 3


def test_instruction_count_quick_run_serves_every_app() -> None:
    """``instructions.py --quick`` starts the container's command with each of the three apps
    (without valgrind) and runs the signature loop: the plumbing the counts depend on."""
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / "instructions.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "every app served its grants and the signature loop ran" in result.stdout


def test_instruction_totals_are_read_from_callgrind_output(tmp_path: Path) -> None:
    instructions = _bench_module("instructions")
    out = tmp_path / "callgrind.123"
    out.write_text("# callgrind format\nversion: 1\ncmd: python\nevents: Ir\nsummary: 8455123\n")
    assert instructions.total_instructions(out) == 8455123
    out.write_text("events: Ir\nfn=main\n1 5\ntotals: 42\n")
    assert instructions.total_instructions(out) == 42
    out.write_text("events: Ir\n")
    with pytest.raises(RuntimeError, match="no instruction total"):
        instructions.total_instructions(out)
