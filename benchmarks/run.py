"""Speed of the mock, side by side with a minimal Flask ceiling and oauth2-mock-server.

    python benchmarks/run.py            # about 3-4 minutes on 2 cores
    python benchmarks/run.py --quick    # seconds; checks the script works, figures mean nothing

One run, loopback only, bounded in time.  It measures

- cold start: process launch to the first successful token response (median of ``--launches``);
- the pytest fixtures: session start-up and per-test reset (``fixture_cost.py``);
- password and refresh grant: req/s, p50 and p99 latency at 1 and 8 connections, for the
  development server, the container's server setup (the Dockerfile's CMD, run on the host), a
  minimal Flask app that signs one RS256 JWT per request under each of the two servers (the
  ceiling), and oauth2-mock-server from npm when node/npm exist;
- resident memory idle (after the first token) and after the load;

and prints a table, the ratios and whether each speed target is met.  Each ratio to
oauth2-mock-server is also split into its two factors, which tell different stories: how much
less CPU the container spends per request, and how much of the machine it keeps busy (its cores
busy against Node's).  The first is what the code costs; the second is what one Python process
can use of the cores while the GIL lets one thread at a time run Python.  Load runs are
interleaved (every target once per round, ``--repeats`` rounds) and medians are reported, so
noise from other work on the machine spreads over all targets alike.  ``wrk`` is used when
installed (``apt-get install wrk``), else ``pyload.py``; figures of the two are not comparable.
"""

from __future__ import annotations

import argparse
import compileall
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from load import LoadResult, run_load, wrk_path
from targets import (
    BENCH,
    NODE_FIXED_KEY,
    Running,
    Target,
    launch,
    node_missing,
    node_with_fixed_key,
    stop_all,
    targets,
)

COLD_START_TARGETS = ("dev", "container", "oauth2-mock-server")


@dataclass(frozen=True)
class Row:
    target: str
    grant: str
    connections: int
    rps: float
    rps_min: float
    rps_max: float
    p50_ms: float
    p99_ms: float
    cpu_us: float
    #: Server CPU seconds per second of load: how much of the machine it kept busy.
    cores_busy: float
    errors: int


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per load run (3)")
    parser.add_argument("--repeats", type=int, default=3, help="rounds of load runs (3)")
    parser.add_argument("--launches", type=int, default=7, help="cold starts per server (7)")
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--load", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument("--skip-node", action="store_true", help="leave out oauth2-mock-server")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="tiny setting (0.3 s runs, 1 round, 1 launch, no node): checks the script only",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.repeats, args.launches = 0.3, 1, 1
        args.skip_node = True
    if args.load == "auto":
        args.load = "wrk" if wrk_path() else "python"
    if args.load == "wrk" and args.duration < 1:
        args.duration = 1.0  # wrk's resolution
    return args


def compile_package_bytecode() -> None:
    """Write the mock's bytecode caches first, as installing the package from a wheel does.

    An editable install (``pip install -e .``) leaves them to the first import, and where
    ``PYTHONDONTWRITEBYTECODE`` is set (this benchmark's machine sets it for every process)
    Python never writes them: every launch would compile the package from source, 50 to 90 ms
    that neither the image (pip compiles the wheel's modules) nor a developer's second run pays.
    """
    spec = importlib.util.find_spec("keycloak_mock")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("keycloak_mock is not installed: pip install -e '.[test]'")
    for folder in spec.submodule_search_locations:
        compileall.compile_dir(folder, quiet=1)


def cold_starts(chosen: list[Target], launches: int) -> dict[str, list[float]]:
    """Launch each target ``launches`` times, round-robin, and time the first token."""
    compile_package_bytecode()
    times: dict[str, list[float]] = {t.name: [] for t in chosen}
    for _ in range(launches):
        for target in chosen:
            running, seconds = launch(target)
            running.stop()
            times[target.name].append(seconds)
    return times


def fixture_costs(quick: bool) -> dict[str, Any] | None:
    """Run ``fixture_cost.py`` (the pytest plugin's benchmark) and read its JSON figures."""
    script = BENCH / "fixture_cost.py"
    if not script.exists():
        return None
    argv = [sys.executable, str(script), "--json"]
    if quick:
        argv.append("--quick")
    result = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
    if result.returncode != 0:
        return {"error": (result.stderr.strip().splitlines() or ["failed"])[-1]}
    try:
        figures: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"error": "fixture_cost.py printed no JSON"}
    return figures


def load_plan(
    running: list[Running], connections: list[int]
) -> list[tuple[Running, str, str, int]]:
    plan = []
    for item in running:
        bodies = [("password", item.target.password_body)]
        if item.target.refresh:
            bodies.append(("refresh", item.target.refresh_body(item.refresh_token())))
        for grant, body in bodies:
            plan += [(item, grant, body, n) for n in connections]
    return plan


def measure_load(plan: list[tuple[Running, str, str, int]], args: argparse.Namespace) -> list[Row]:
    results: dict[tuple[str, str, int], list[tuple[LoadResult, float]]] = {}
    for round_number in range(args.repeats):
        print(f"  round {round_number + 1}/{args.repeats}", file=sys.stderr, flush=True)
        for item, grant, body, connections in plan:
            result, cpu_us = timed_load(item, body, connections, args.duration, args.load)
            results.setdefault((item.target.name, grant, connections), []).append((result, cpu_us))
    rows = []
    for (name, grant, connections), runs in results.items():
        rates = [r.requests_per_second for r, _ in runs]
        rows.append(
            Row(
                target=name,
                grant=grant,
                connections=connections,
                rps=statistics.median(rates),
                rps_min=min(rates),
                rps_max=max(rates),
                p50_ms=statistics.median(r.p50_ms for r, _ in runs),
                p99_ms=statistics.median(r.p99_ms for r, _ in runs),
                cpu_us=statistics.median(cpu for _, cpu in runs),
                cores_busy=statistics.median(cores_busy(r, cpu) for r, cpu in runs),
                errors=sum(r.errors for r, _ in runs),
            )
        )
    return rows


def timed_load(
    item: Running, body: str, connections: int, duration: float, tool: str
) -> tuple[LoadResult, float]:
    """One load run, and the server's CPU time per request in microseconds.

    CPU time per request is what the server spends, whoever else uses the machine: it stays
    comparable when other work on the cores makes req/s swing.
    """
    cpu_before = item.cpu_seconds()
    result = run_load(item.url, body, connections=connections, duration=duration, tool=tool)
    cpu = item.cpu_seconds() - cpu_before
    return result, cpu / max(result.requests, 1) * 1e6


def cores_busy(result: LoadResult, cpu_us: float) -> float:
    """Server CPU seconds per second of load, from one run's req/s and CPU per request."""
    return cpu_us * result.requests_per_second / 1e6


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    skip_reason = "--skip-node" if args.skip_node else node_missing()
    chosen = targets(include_node=skip_reason is None)
    print(
        f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start; "
        f"Python {platform.python_version()}; load generator: {args.load}; "
        f"{args.duration:g} s x {args.repeats} rounds"
    )
    if skip_reason:
        print(f"oauth2-mock-server: skipped ({skip_reason})")

    print("cold starts ...", file=sys.stderr, flush=True)
    cold_targets = [t for t in chosen if t.name in COLD_START_TARGETS]
    # Not a target, for comparison: Node's cold start without its per-launch key generation.
    cold_targets += [node_with_fixed_key(t) for t in chosen if t.name == "oauth2-mock-server"]
    cold = cold_starts(cold_targets, args.launches)
    print("fixture costs ...", file=sys.stderr, flush=True)
    fixtures = fixture_costs(args.quick)

    print("load ...", file=sys.stderr, flush=True)
    running: list[Running] = []
    rss_idle: dict[str, float] = {}
    rss_first: dict[str, float] = {}
    rss_loaded: dict[str, float] = {}
    pss_idle: dict[str, float] = {}
    pss_loaded: dict[str, float] = {}
    try:
        for target in chosen:
            item, _ = launch(target, token=False)
            running.append(item)
        time.sleep(0.5)
        for item in running:
            rss_idle[item.target.name] = item.rss_mib()
            pss_idle[item.target.name] = item.pss_mib()
            item.post(item.target.password_body)  # the first token: lazy caches fill
        time.sleep(0.2)
        for item in running:
            rss_first[item.target.name] = item.rss_mib()
        plan = load_plan(running, args.connections)
        for item, _, body, _ in [] if args.quick else plan:  # warm-up: caches, thread pools
            run_load(
                item.url,
                body,
                connections=max(args.connections),
                duration=min(args.duration, 1.0),
                tool=args.load,
            )
        rows = measure_load(plan, args)
        for item in running:
            rss_loaded[item.target.name] = item.rss_mib()
            pss_loaded[item.target.name] = item.pss_mib()
    finally:
        stop_all(running)

    report = {
        "settings": {
            "duration": args.duration,
            "repeats": args.repeats,
            "launches": args.launches,
            "load": args.load,
            "cores": os.cpu_count(),
            "node": skip_reason or "measured",
        },
        "cold_start_s": {name: statistics.median(v) for name, v in cold.items()},
        "cold_start_all_s": cold,
        "fixtures": fixtures,
        "rss_idle_mib": rss_idle,
        "rss_after_first_token_mib": rss_first,
        "rss_after_load_mib": rss_loaded,
        "pss_idle_mib": pss_idle,
        "pss_after_load_mib": pss_loaded,
        "load": [asdict(row) for row in rows],
    }
    report["targets"] = check_targets(report)
    report["cpu_budget"] = cpu_budget(report)
    print_report(report)
    print(f"\n(benchmark took {time.perf_counter() - started:.0f} s)")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    return 0


def _row(
    report: dict[str, Any], target: str, grant: str, connections: int
) -> dict[str, Any] | None:
    for row in report["load"]:
        if (row["target"], row["grant"], row["connections"]) == (target, grant, connections):
            found: dict[str, Any] = row
            return found
    return None


def check_targets(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The speed targets, each with the measured ratio/figure and whether it is met."""
    checks: list[dict[str, Any]] = []

    def add(name: str, value: float | None, goal: str, met: bool | None) -> None:
        checks.append({"target": name, "value": value, "goal": goal, "met": met})

    connections = sorted({row["connections"] for row in report["load"]})
    for n in connections:
        ours = _row(report, "container", "password", n)
        node = _row(report, "oauth2-mock-server", "password", n)
        if ours and node:
            ratio = ours["rps"] / node["rps"]
            add(
                f"container / oauth2-mock-server req/s, password, {n} conn",
                ratio,
                ">= 1.5",
                ratio >= 1.5,
            )
            add(
                f"container p99 vs oauth2-mock-server p99, password, {n} conn (ms)",
                ours["p99_ms"],
                f"<= {node['p99_ms']:.2f}",
                ours["p99_ms"] <= node["p99_ms"],
            )
        for server in ("container", "dev"):
            ours = _row(report, server, "password", n)
            ceiling = _row(report, f"ceiling-{server}", "password", n)
            if ours and ceiling:
                ratio = ours["rps"] / ceiling["rps"]
                add(
                    f"{server} / ceiling under the same server, password, {n} conn",
                    ratio,
                    ">= 0.70",
                    ratio >= 0.70,
                )
    cold = report["cold_start_s"]
    for server in ("dev", "container"):
        if server in cold and "oauth2-mock-server" in cold:
            add(
                f"cold start {server} (s)",
                cold[server],
                f"<= {cold['oauth2-mock-server']:.3f} (oauth2-mock-server)",
                cold[server] <= cold["oauth2-mock-server"],
            )
    fixtures = report["fixtures"] or {}
    if "session_start_ms" in fixtures:
        add(
            "pytest session start-up (ms)",
            fixtures["session_start_ms"],
            "< 100",
            fixtures["session_start_ms"] < 100,
        )
    if "reset_ms" in fixtures:
        add("pytest per-test reset (ms)", fixtures["reset_ms"], "< 1", fixtures["reset_ms"] < 1)
    if "dev" in report["rss_idle_mib"]:
        idle = report["rss_idle_mib"]["dev"]
        add("idle RSS, development server, started (MiB)", idle, "<= 45", idle <= 45)
        first = report["rss_after_first_token_mib"]["dev"]
        add("idle RSS, development server, after one token (MiB)", first, "<= 45", first <= 45)
    return checks


def cpu_budget(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Each container ÷ oauth2-mock-server ratio as (CPU per request) x (cores kept busy).

    req/s = cores busy / CPU seconds per request, so the ratio of two servers' req/s is exactly
    the product of the inverse ratio of their CPU per request and the ratio of their cores busy
    (up to taking medians).  ``cpu_efficiency`` is the ratio the container would reach if it kept
    as much of the machine busy as Node does.
    """
    budget = []
    for row in report["load"]:
        if row["target"] != "container":
            continue
        node = _row(report, "oauth2-mock-server", row["grant"], row["connections"])
        if node is None or not row["cpu_us"] or not node["cores_busy"]:
            continue
        budget.append(
            {
                "grant": row["grant"],
                "connections": row["connections"],
                "ratio": row["rps"] / node["rps"],
                "cpu_efficiency": node["cpu_us"] / row["cpu_us"],
                "cores_share": row["cores_busy"] / node["cores_busy"],
                "container_cores": row["cores_busy"],
                "node_cores": node["cores_busy"],
            }
        )
    return budget


def print_report(report: dict[str, Any]) -> None:
    print("\nThroughput (median of rounds; req/s range over rounds in brackets)")
    header = (
        f"{'server':<20} {'grant':<9} {'conn':>4} {'req/s':>8} {'range':>15} "
        f"{'p50 ms':>8} {'p99 ms':>8} {'CPU us/req':>10} {'cores':>5} {'errors':>6}"
    )
    print(header)
    print("-" * len(header))
    for row in report["load"]:
        spread = f"[{row['rps_min']:.0f}-{row['rps_max']:.0f}]"
        print(
            f"{row['target']:<20} {row['grant']:<9} {row['connections']:>4} {row['rps']:>8.0f} "
            f"{spread:>15} {row['p50_ms']:>8.2f} {row['p99_ms']:>8.2f} {row['cpu_us']:>10.0f} "
            f"{row['cores_busy']:>5.2f} {row['errors']:>6}"
        )

    print("\nCold start: launch to first token (median; all launches)")
    for name, seconds in report["cold_start_s"].items():
        every = ", ".join(f"{s:.3f}" for s in report["cold_start_all_s"][name])
        print(f"  {name:<26} {seconds:.3f} s   ({every})")
    if NODE_FIXED_KEY in report["cold_start_s"]:
        print(
            f"  ({NODE_FIXED_KEY}: given a key, as the mock ships one, instead of generating a"
            " new RSA key at every start as oauth2-mock-server does by default)"
        )

    print(
        "\nMemory of the process tree, MiB: RSS idle / after the first token / after load"
        " (PSS idle / after load)"
    )
    for name, idle in report["rss_idle_mib"].items():
        first = report["rss_after_first_token_mib"].get(name, float("nan"))
        loaded = report["rss_after_load_mib"].get(name, float("nan"))
        pss = report["pss_idle_mib"].get(name, float("nan"))
        pss_loaded = report["pss_after_load_mib"].get(name, float("nan"))
        print(
            f"  {name:<20} {idle:6.1f} / {first:6.1f} / {loaded:6.1f}"
            f"   ({pss:6.1f} / {pss_loaded:6.1f})"
        )

    fixtures = report["fixtures"]
    print("\npytest fixtures:", end=" ")
    if fixtures is None:
        print("benchmarks/fixture_cost.py not found")
    elif "error" in fixtures:
        print(f"fixture_cost.py failed: {fixtures['error']}")
    else:
        print(
            ", ".join(
                f"{key} {value:.3f}" if isinstance(value, float) else f"{key} {value}"
                for key, value in fixtures.items()
            )
        )

    if report["cpu_budget"]:
        print(
            "\nContainer ÷ oauth2-mock-server req/s = (Node's CPU per request ÷ the container's)"
            " x (the container's cores busy ÷ Node's)"
        )
        for item in report["cpu_budget"]:
            print(
                f"  {item['grant']:<9} {item['connections']:>2} conn: {item['ratio']:.2f}"
                f" = {item['cpu_efficiency']:.2f} x {item['cores_share']:.2f}"
                f"   (cores busy {item['container_cores']:.2f} vs {item['node_cores']:.2f})"
            )
    print("\nTargets")
    for check in report["targets"]:
        verdict = {True: "met", False: "MISSED", None: "n/a"}[check["met"]]
        value = f"{check['value']:.3f}" if check["value"] is not None else "-"
        print(f"  {verdict:<7} {check['target']}: {value} (goal {check['goal']})")


if __name__ == "__main__":
    sys.exit(main())
