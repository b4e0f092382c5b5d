"""Time and peak memory of the cohort simulator at demo size and at 10,000 patients.

Usage: python benchmarks/simulate_scale.py [--sizes 300 10000]
Writes benchmarks/out/simulate_scale.json.
"""

import argparse
import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[300, 10000])
    args = parser.parse_args()
    out = REPO / "benchmarks" / "out"
    results = []
    for n in args.sizes:
        target = out / f"simulated_{n}"
        shutil.rmtree(target, ignore_errors=True)
        start = time.perf_counter()
        # a child process per size, so peak RSS is that run's alone
        subprocess.run([sys.executable, "-m", "haicpred.cli", "simulate", "--n-patients", str(n),
                        "--n-batches", str(max(1, n // 100)), "--seed", "1", "--out",
                        str(target)], check=True)
        seconds = time.perf_counter() - start
        size_mib = sum(f.stat().st_size for f in target.rglob("*") if f.is_file()) / 2**20
        results.append({"n_patients": n, "wall_seconds": round(seconds, 1),
                        "peak_rss_mib_max_so_far": round(
                            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
                        "output_mib": round(size_mib, 1)})
        print(json.dumps(results[-1]))
    (out / "simulate_scale.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
