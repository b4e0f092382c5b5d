"""Wall time and peak memory of the whole demo pipeline (`snakemake --cores 2`) from scratch.

Runs in a fresh working folder under benchmarks/out/ so the repository's results/ is untouched.
Usage: python benchmarks/demo_pipeline.py [--n-patients 300] [--n-batches 3] [--cores 2]
Prints one JSON line and writes it to benchmarks/out/demo_pipeline_<n>.json.
"""

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n-patients", type=int, default=300)
    parser.add_argument("--n-batches", type=int, default=3)
    parser.add_argument("--cores", type=int, default=2)
    args = parser.parse_args()

    work = REPO / "benchmarks" / "out" / f"demo_{args.n_patients}"
    subprocess.run(["rm", "-rf", str(work)], check=True)
    (work / "config").mkdir(parents=True)
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["panel"] = str(REPO / config["panel"])
    config["snps"] = str(REPO / config["snps"])
    config["demo"].update(n_patients=args.n_patients, n_batches=args.n_batches)
    (work / "config" / "config.yaml").write_text(yaml.safe_dump(config))

    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"),
                    "-d", str(work), "--cores", str(args.cores), "--quiet"], check=True)
    seconds = time.perf_counter() - start
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    metrics = (work / "results" / "model" / "metrics.tsv").read_text().splitlines()
    result = {
        "benchmark": "demo_pipeline", "n_patients": args.n_patients,
        "n_batches": args.n_batches, "cores": args.cores, "wall_seconds": round(seconds, 1),
        "peak_job_rss_mib": round(peak_mib, 1), "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(), "metrics": metrics,
    }
    line = json.dumps(result)
    (work.parent / f"demo_pipeline_{args.n_patients}.json").write_text(line + "\n")
    print(line)


if __name__ == "__main__":
    main()
