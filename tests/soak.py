"""Soak: the fuzz, kill and reader tests, run longer than CI waits for.

    python -m tests.soak              # one round: about 15 minutes on two cores
    python -m tests.soak --examples 2000 --kills 200 --rounds 5

Each round runs the fuzzed staging tests with `--examples` cases per format,
`--kills` runs SIGKILLed at random moments, and the readers-under-load test,
with fresh random seeds (printed, so a failure can be replayed with
`--seed`). The first failing round stops the soak with pytest's exit code.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import time

TESTS = (
    "tests/stages/test_fuzz_staging.py",
    "tests/test_runs.py",
    "tests/warehouse/test_readers.py",
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.soak", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--examples", type=int, default=500, help="fuzz cases per test")
    parser.add_argument("--kills", type=int, default=50, help="random-moment kills per round")
    parser.add_argument("--rounds", type=int, default=1, help="rounds, each with new seeds")
    parser.add_argument("--seed", type=int, help="replay one round with this seed")
    args = parser.parse_args(argv)
    seeds = (
        [args.seed]
        if args.seed is not None
        else [random.randrange(2**31) for _ in range(args.rounds)]
    )
    for number, seed in enumerate(seeds, start=1):
        env = os.environ | {
            "RETENTION_FUZZ_EXAMPLES": str(args.examples),
            "RETENTION_KILL_MOMENTS": str(args.kills),
            "RETENTION_KILL_SEED": str(seed),
        }
        # -m: the soak's tests are marked slow, which the default run leaves out
        command = [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-m",
            "not spark",
        ]
        command += [f"--hypothesis-seed={seed}", *TESTS]
        print(f"soak round {number}/{len(seeds)}: seed {seed}", flush=True)
        started = time.perf_counter()
        code = subprocess.call(command, env=env)
        seconds = time.perf_counter() - started
        print(f"soak round {number}/{len(seeds)}: exit {code} in {seconds:.0f} s", flush=True)
        if code != 0:
            print(
                f"replay: python -m tests.soak --seed {seed} --examples {args.examples} "
                f"--kills {args.kills}",
                flush=True,
            )
            return code
    return 0


if __name__ == "__main__":
    sys.exit(main())
