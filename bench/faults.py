"""The longest dead air a caller hears under each provider fault, in a freshly generated default agent.

  python3 bench/faults.py               # each fault once per serving mode (cloud, local)
  python3 bench/faults.py --runs 3      # three times over: the table shows the longest of all
  python3 bench/faults.py --template HEAD

It generates the default agent, then runs the agent's own fault tests (tests/test_provider_faults.py
and the failed hang-up tests of tests/test_call_control.py) with FAULT_DEAD_AIR_LOG set: each test
appends {"fault", "dead_air_s", "limit_s"} to that file, before it checks the limit. Dead air is the
longest stretch without bot audio on the fake caller's line (Twilio's playback clock) from the moment
the caller stopped speaking until the fallback line or goodbye began (for a hang-up, until the line
closed). Like bench/run.py it runs itself inside .venv-test; it prints the table and the tests' result.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from projects import export_template, generate_ours, inside_test_env, progress

ROOT = Path(__file__).resolve().parents[1]
FAULT_TESTS = [
    "tests/test_provider_faults.py",
    "tests/test_call_control.py::test_a_failed_hang_up_still_ends_the_call_after_the_goodbye",
]
DEAD_AIR_LOG = "FAULT_DEAD_AIR_LOG"  # the variable the agent's tests/faults.py reads


def parse_args() -> argparse.Namespace:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--runs", type=int, default=1, help="times the tests run (each: cloud and local)")
    parser.add_argument("--template", metavar="REVISION", help="measure this commit, not the working tree")
    parser.add_argument("--keep", action="store_true", help="keep the generated agent and the samples")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    inside_test_env(Path(__file__))
    from run import machine, template_revision

    workdir = Path(tempfile.mkdtemp(prefix="pipecat-faults-"))
    started = time.monotonic()
    try:
        template = export_template(args.template, workdir) if args.template else ROOT
        agent_dir, _ = generate_ours(template, workdir)
        samples_path = workdir / "dead-air.jsonl"
        failed_runs = sum(run_fault_tests(agent_dir, samples_path, run) for run in range(1, args.runs + 1))
        samples = [json.loads(line) for line in samples_path.read_text().splitlines()]
    finally:
        if args.keep:
            progress(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print(render_table(samples))
    print()
    print(f"fault tests: {args.runs - failed_runs} of {args.runs} runs passed")
    print(template_revision(args.template))
    print(f"wall time: {time.monotonic() - started:.0f} s")
    print(machine())
    sys.exit(1 if failed_runs else 0)


def run_fault_tests(agent_dir: Path, samples_path: Path, run: int) -> bool:
    """Runs the fault tests once, appending their samples; True when a test failed."""
    progress(f"fault tests, run {run}")
    # One process: each fault's dead air is measured with no other test's call beside it.
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "0", *FAULT_TESTS]
    env = {**os.environ, DEAD_AIR_LOG: str(samples_path)}
    result = subprocess.run(command, cwd=agent_dir, env=env, capture_output=True, text=True)
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else result.stderr[-500:]
    progress(f"run {run}: {summary}")
    if result.returncode != 0:
        print(result.stdout[-4000:], file=sys.stderr)
    return result.returncode != 0


def render_table(samples: list[dict]) -> str:
    by_fault: dict[str, list[dict]] = defaultdict(list)
    for sample in samples:
        by_fault[sample["fault"]].append(sample)
    header = f"{'fault':<26} | {'samples':>7} | {'longest dead air':>16} | {'median':>6} | {'limit':>5}"
    header += " | within"
    lines = [header, "-" * len(header)]
    for fault, found in by_fault.items():
        seconds = [sample["dead_air_s"] for sample in found]
        limit = min(sample["limit_s"] for sample in found)
        within = sum(value <= limit for value in seconds)
        lines.append(
            f"{fault:<26} | {len(found):>7} | {max(seconds):>14.2f} s | {statistics.median(seconds):>4.2f} s"
            f" | {limit:>3g} s | {within}/{len(found)}"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
