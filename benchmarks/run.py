"""Time the janitor against `du -sb` and MlflowClient on synthetic stores.

    python -m benchmarks.run --sizes 1000,10000 [--with-100k] [--repeat 5] \\
        [--out benchmarks/out/results.json]

Stores come from `benchmarks.generate` and are kept between runs under
the temp folder (``$TMPDIR/janitor-bench/runs-<N>-seed-<S>``), so only
the first run pays for writing them; `--clean` removes them at the end.
Every command runs as a child process: each once to warm the page
cache, then in rounds of every command in turn, `--repeat` rounds; the
median wall time counts, and the child's peak RSS comes from
`os.wait4`. The table gives each command's time, its ratio to `du -sb`
and MLflow's time over it, peak RSS and cost per run, then PASS or FAIL
for each target; the same goes to the JSON file.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tabulate import tabulate

from benchmarks.generate import Shape

REPO = Path(__file__).resolve().parent.parent
TOP_N_POLICY = """\
version: 1
keep:
  registered: true
  top_n:
    - {metric: roc_auc, n: 3, order: max}
prune:
  deleted: true
  status: [FAILED, KILLED]
safety:
  max_delete: 100000000
  max_delete_percent: 100
  min_idle: 0s
"""
# Ratio targets: command -> the most it may take, in `du -sb` times.
DU_TARGETS = {"audit": 2.0, "gate": 1.3, "prune": 2.0}
MLFLOW_SPEEDUP = 10.0
PEAK_RSS_MB = 200.0
PER_RUN_GROWTH = 1.3


@dataclass
class Timing:
    argv: list[str]
    seconds: list[float] = field(default_factory=list)
    cpu_seconds: list[float] = field(default_factory=list)
    peak_rss_kb: int = 0
    stand_in: bool = False

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


@dataclass
class SizeResult:
    runs: int
    files: int
    bytes: int
    store: str
    timings: dict[str, Timing] = field(default_factory=dict)


# -- the stores ----------------------------------------------------------


def cached_store(cache: Path, runs: int, seed: int) -> tuple[Path, dict]:
    """A generated store of `runs` runs, written once and then reused.

    A child process writes it, so this process stays small: a child's
    peak RSS counts the parent's at the time it was spawned.
    """
    home = cache / f"runs-{runs}-seed-{seed}"
    root = home / "mlruns"
    marker = home / "written.json"
    shape = Shape(runs=runs, experiments=max(2, min(20, runs // 500)))
    shape.seed = seed
    if marker.exists():
        recorded = json.loads(marker.read_text())
        if recorded.get("shape") == asdict(shape):
            return root, recorded
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    print(f"writing a store of {runs} runs to {root}", file=sys.stderr)
    options = [
        f"--{name.replace('_', '-')}={value}"
        for name, value in asdict(shape).items()
    ]
    subprocess.run(
        [sys.executable, "-m", "benchmarks.generate", str(root), *options]
        + ["--record", str(marker)],
        check=True,
        stdout=subprocess.DEVNULL,
        cwd=REPO,
    )
    return root, json.loads(marker.read_text())


# -- the commands --------------------------------------------------------


def _child_env(store: Path) -> dict[str, str]:
    env = dict(os.environ)
    # Every child runs from cached bytecode, as an installed package
    # does: pip compiles MLflow's modules when it installs them, and
    # without this setting the janitor's are compiled on the first run.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    path = env.get("PYTHONPATH", "")
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + path if path else "")
    env["MLFLOW_ALLOW_FILE_STORE"] = "true"
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    env["MLFLOW_TRACKING_URI"] = "file:" + str(store)
    return env


def _janitor_has(command: str, env: dict[str, str]) -> bool:
    probe = subprocess.run(
        [sys.executable, "-m", "janitor", command, "--help"],
        capture_output=True,
        env=env,
    )
    return probe.returncode == 0


def commands(
    store: Path, policy: Path, env: dict[str, str], with_mlflow: bool
) -> dict[str, tuple[list[str], bool]]:
    """name -> (argv, whether a stand-in times the work instead)."""
    python = sys.executable
    janitor = [python, "-m", "janitor"]
    found = {
        "du": (["du", "-sb", str(store)], False),
        "audit": ([*janitor, "audit", str(store), "--format", "json"], False),
    }
    found["gate"] = gate_command(store, env)
    found["prune"] = prune_dry_run_command(store, policy, env)
    if with_mlflow:
        task = [python, "-m", "benchmarks.tasks", "mlflow", str(store)]
        found["mlflow"] = (task, False)
        # References, not targets: how close to MLflow's time the least
        # possible reading of the store comes, in one process and in two.
        bare = [python, "-m", "benchmarks.tasks", "bare", str(store)]
        found["bare"] = (bare, False)
        found["bare x2"] = ([*bare, "--processes", "2"], False)
    return found


def gate_command(store: Path, env: dict[str, str]) -> tuple[list[str], bool]:
    """Hook: `janitor gate` with per-file and per-run budgets once the
    command exists; until then a scan without metrics plus the size
    report."""
    if _janitor_has("gate", env):
        argv = [
            *(sys.executable, "-m", "janitor", "gate", str(store)),
            *("--max-file", "50MB", "--max-run", "500MB", "--format", "json"),
        ]
        return argv, False
    task = [sys.executable, "-m", "benchmarks.tasks", "gate", str(store)]
    return task, True


def prune_dry_run_command(
    store: Path, policy: Path, env: dict[str, str]
) -> tuple[list[str], bool]:
    """Hook: `janitor prune --dry-run` with a top-N policy once the
    command exists; until then a scan plus the top-N choice."""
    if _janitor_has("prune", env):
        argv = [
            *(sys.executable, "-m", "janitor", "prune", str(store)),
            *("--policy", str(policy), "--dry-run", "--format", "json"),
        ]
        return argv, False
    task = [sys.executable, "-m", "benchmarks.tasks", "prune", str(store)]
    return [*task, "--metric", "roc_auc", "--keep", "3"], True


def run_once(
    argv: list[str], env: dict[str, str], cwd: str
) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds, peak RSS in KiB) of one child run.

    CPU time counts the child's own workers; peak RSS is the largest of
    the child and its workers, each process on its own.
    """
    started = time.perf_counter()
    child = subprocess.Popen(
        argv,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
        cwd=cwd,
    )
    assert child.stderr is not None
    errors = child.stderr.read()
    _pid, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    child.stderr.close()
    # 1: findings or a refused plan, still a full run of the command.
    if child.returncode not in (0, 1):
        raise RuntimeError(
            f"{' '.join(argv)} exited {child.returncode}: "
            + errors.decode(errors="replace")[-2000:]
        )
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss


def record(
    timing: Timing, argv: list[str], env: dict[str, str], cwd: str
) -> None:
    seconds, cpu, rss = run_once(argv, env, cwd)
    timing.seconds.append(seconds)
    timing.cpu_seconds.append(cpu)
    timing.peak_rss_kb = max(timing.peak_rss_kb, rss)


# -- targets and the report ---------------------------------------------


def targets(results: list[SizeResult], min_runs: int) -> list[dict]:
    """Each target at each size it applies to, passed or not."""
    checks = []
    for result in results:
        if result.runs < min_runs:
            continue
        timings = result.timings
        du = timings["du"].median
        for name, limit in DU_TARGETS.items():
            ratio = timings[name].median / du
            checks.append(_check(result, f"{name} / du", ratio, limit, "<="))
        if "mlflow" in timings:
            for name in DU_TARGETS:
                speedup = timings["mlflow"].median / timings[name].median
                checks.append(
                    _check(
                        result,
                        f"mlflow / {name}",
                        speedup,
                        MLFLOW_SPEEDUP,
                        ">=",
                    )
                )
        for name in DU_TARGETS:
            rss = timings[name].peak_rss_kb / 1024
            check = _check(result, f"{name} peak RSS MB", rss, PEAK_RSS_MB)
            checks.append(check)
    checks.extend(_growth_checks(results, min_runs))
    return checks


def _growth_checks(results: list[SizeResult], min_runs: int) -> list[dict]:
    """Per-run cost at the largest size against the smallest counted."""
    counted = sorted(
        (result for result in results if result.runs >= min_runs),
        key=lambda result: result.runs,
    )
    if len(counted) < 2:
        return []
    small, large = counted[0], counted[-1]
    checks = []
    for name in DU_TARGETS:
        per_small = small.timings[name].median / small.runs
        per_large = large.timings[name].median / large.runs
        label = f"{name} per-run cost {large.runs} / {small.runs}"
        growth = per_large / per_small
        checks.append(_check(large, label, growth, PER_RUN_GROWTH))
    return checks


def _check(
    result: SizeResult,
    target: str,
    value: float,
    limit: float,
    op: str = "<=",
) -> dict[str, Any]:
    passed = value <= limit if op == "<=" else value >= limit
    return {
        "runs": result.runs,
        "target": target,
        "value": round(value, 3),
        "limit": f"{op} {limit:g}",
        "pass": passed,
    }


def table(results: list[SizeResult]) -> str:
    rows = []
    for result in results:
        timings = result.timings
        du = timings["du"].median
        mlflow = timings["mlflow"].median if "mlflow" in timings else None
        for name, timing in timings.items():
            label = name + (" (stand-in)" if timing.stand_in else "")
            rows.append(
                [
                    result.runs,
                    label,
                    f"{timing.median:.3f}",
                    f"{statistics.median(timing.cpu_seconds):.3f}",
                    f"{timing.median / du:.2f}",
                    f"{mlflow / timing.median:.1f}" if mlflow else "-",
                    f"{timing.peak_rss_kb / 1024:.0f}",
                    f"{timing.median / result.runs * 1e6:.0f}",
                ]
            )
    headers = ["runs", "command", "median s", "cpu s", "x du", "mlflow/x"]
    headers.append("RSS MB")
    return tabulate(rows, [*headers, "us/run"], disable_numparse=True)


def targets_table(checks: list[dict]) -> str:
    rows = [
        [
            check["runs"],
            check["target"],
            check["value"],
            check["limit"],
            "PASS" if check["pass"] else "FAIL",
        ]
        for check in checks
    ]
    return tabulate(rows, ["runs", "target", "value", "limit", "result"])


def machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
    }


# -- the command line ----------------------------------------------------


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description="Time janitor commands against du -sb and MLflow.",
    )
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--with-100k", action="store_true")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--mlflow-max",
        type=int,
        default=10_000,
        help="time MlflowClient only up to this many runs (default 10000)",
    )
    parser.add_argument(
        "--mlflow-repeat",
        type=int,
        default=3,
        help="repeats for MlflowClient, the slow baseline (default 3)",
    )
    parser.add_argument(
        "--target-min-runs",
        type=int,
        default=10_000,
        help="judge targets from this size up; below it interpreter "
        "start-up dominates (default 10000)",
    )
    parser.add_argument(
        "--cache",
        default=os.path.join(tempfile.gettempdir(), "janitor-bench"),
    )
    parser.add_argument("--clean", action="store_true")
    parser.add_argument("--out", default="benchmarks/out/results.json")
    return parser.parse_args(argv)


def _mlflow_importable() -> bool:
    # Found, not imported: importing it would grow this process, and
    # with it every child's peak RSS.
    return importlib.util.find_spec("mlflow") is not None


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    sizes = [int(size) for size in args.sizes.split(",") if size]
    if args.with_100k and 100_000 not in sizes:
        sizes.append(100_000)
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    policy = cache / "top-n-policy.yaml"
    policy.write_text(TOP_N_POLICY)
    has_mlflow = _mlflow_importable()
    results = []
    with tempfile.TemporaryDirectory() as cwd:
        for runs in sizes:
            results.append(
                bench_size(runs, args, cache, policy, has_mlflow, cwd)
            )
    checks = targets(results, args.target_min_runs)
    print(table(results))
    print()
    print(targets_table(checks))
    report = {
        "machine": machine(),
        "repeat": args.repeat,
        "sizes": [_result_dict(result) for result in results],
        "targets": checks,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nresults written to {out}")
    if args.clean:
        shutil.rmtree(cache, ignore_errors=True)
    return 0 if all(check["pass"] for check in checks) else 1


def bench_size(
    runs: int,
    args: argparse.Namespace,
    cache: Path,
    policy: Path,
    has_mlflow: bool,
    cwd: str,
) -> SizeResult:
    store, recorded = cached_store(cache, runs, args.seed)
    result = SizeResult(runs, recorded["files"], recorded["bytes"], str(store))
    env = _child_env(store)
    with_mlflow = has_mlflow and runs <= args.mlflow_max
    found = commands(store, policy, env, with_mlflow)
    for name, (argv, stand_in) in found.items():
        print(f"warming {name} on {runs} runs", file=sys.stderr)
        run_once(argv, env, cwd)  # the page cache and the imports
        result.timings[name] = Timing(argv, stand_in=stand_in)
    # Rounds of every command in turn: a slow spell of a shared machine
    # falls on all of them, not on one command's repeats.
    repeats = {
        name: args.mlflow_repeat if name == "mlflow" else args.repeat
        for name in found
    }
    rounds = max(repeats.values())
    for index in range(rounds):
        print(f"round {index + 1} of {rounds} on {runs} runs", file=sys.stderr)
        for name, (argv, _stand_in) in found.items():
            if index < repeats[name]:
                record(result.timings[name], argv, env, cwd)
    return result


def _result_dict(result: SizeResult) -> dict[str, Any]:
    return {
        "runs": result.runs,
        "files": result.files,
        "bytes": result.bytes,
        "store": result.store,
        "commands": {
            name: {
                "argv": timing.argv,
                "stand_in": timing.stand_in,
                "seconds": [round(value, 4) for value in timing.seconds],
                "cpu_seconds": [
                    round(value, 4) for value in timing.cpu_seconds
                ],
                "median_seconds": round(timing.median, 4),
                "peak_rss_kb": timing.peak_rss_kb,
            }
            for name, timing in result.timings.items()
        },
    }


if __name__ == "__main__":
    sys.exit(main())
