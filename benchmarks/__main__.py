"""Run every benchmark part (or those named), each in its own interpreter, and print its table.

Usage: ``python -m benchmarks [--quick] [part ...]`` with parts ``emulator_throughput``,
``parse_cost``, ``trigger_scale``, ``worker_slots``, ``batched_reads`` (default: all, in that
order). ``--quick`` runs small versions of each part, to check the harness in a few minutes;
its figures are not the ones to record. Exits non-zero when a part failed or missed a goal it
checks.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Sequence

from benchmarks._common import ROOT, exit_cleanly_on_signals, machine, print_table

PARTS = ("emulator_throughput", "parse_cost", "trigger_scale", "worker_slots", "batched_reads")
QUICK_ARGS = {
    "emulator_throughput": ["--seconds", "2", "--in-flight", "200"],
    "parse_cost": ["--runs", "3"],
    "trigger_scale": [
        "--counts",
        "100",
        "--min-seconds",
        "10",
        "--max-seconds",
        "20",
        "--compare-step-progress",
        "0",
        "--apis",
        "v1",
        "v2",
    ],
    "worker_slots": ["--runs", "6", "--sync-runs", "2", "--seconds", "20"],
    "batched_reads": ["--quick"],
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("parts", nargs="*", metavar="part", help=f"any of {', '.join(PARTS)}")
    parser.add_argument("--quick", action="store_true", help="small versions, to check the harness")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.parts) - set(PARTS))
    if unknown:
        parser.error(f"unknown parts {unknown}; choose from {', '.join(PARTS)}")
    exit_cleanly_on_signals()
    print("machine: " + ", ".join(f"{k}={v}" for k, v in machine().items()), flush=True)
    outcomes = []
    for part in args.parts or PARTS:
        argv_part = [sys.executable, "-m", f"benchmarks.{part}"]
        if args.quick:
            argv_part += QUICK_ARGS[part]
        print(f"\n=== {part}: {' '.join(argv_part[1:])}", flush=True)
        started = time.monotonic()
        # Each part runs in its own process group and cleans up its own children.
        code = subprocess.call(argv_part, cwd=ROOT)
        outcomes.append([part, "ok" if code == 0 else f"exit {code}", time.monotonic() - started])
    print()
    print_table("Benchmark parts", ["part", "result", "seconds"], outcomes)
    return 0 if all(row[1] == "ok" for row in outcomes) else 1


if __name__ == "__main__":
    raise SystemExit(main())
