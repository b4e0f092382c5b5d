"""Scale benchmark: the whole pipeline on simulated cohorts of 1,000 / 3,000 / 10,000 patients.

For each size, in benchmarks/out/scale_<n>/:
1. the simulator writes the cohort as a user's input files (``haicpred simulate``, 20 batches);
2. a config points the workflow at them (not the demo: every batch and shard is in the DAG from
   the start), with nested tuning switched off (``model.tuning.enabled: false``, the issue's
   "without nested tuning"), everything else as config/config.yaml;
3. ``snakemake --dry-run`` is timed (the DAG of every job, Python start-up included);
4. ``snakemake --cores 2`` runs it from scratch; the total resident memory of snakemake and all
   of its jobs is sampled every 0.2 s (psutil) for the run's peak; each job's own wall time and
   peak RSS come from the rule's ``benchmark:`` file (logs/benchmarks/), summed (time) and
   maximised (RSS) per rule;
5. a second dry run must find nothing to do, and is timed too.

Usage: python benchmarks/scale.py [--sizes 1000 3000 10000] [--n-batches 20] [--cores 2]
Writes benchmarks/out/scale_<n>.json and prints a Markdown table per size.
"""

import argparse
import csv
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import yaml

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "out"


def timed(command: list[str]) -> tuple[float, str]:
    """Wall seconds and the combined output of a command that must succeed."""
    start = time.perf_counter()
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return time.perf_counter() - start, done.stdout + done.stderr


def planned_jobs(dry_run_output: str) -> int:
    """The job count of a dry run's "Job stats" table (its ``total`` row)."""
    for line in dry_run_output.splitlines():
        fields = line.split()
        if len(fields) == 2 and fields[0] == "total" and fields[1].isdigit():
            return int(fields[1])
    return 0


def snakemake_command(work: Path, cores: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(work),
            "--cores", str(cores), *extra]


def run_with_peak_memory(command: list[str]) -> tuple[float, float]:
    """Wall seconds and the peak of the summed RSS (MiB) of the process and its descendants."""
    peak = 0.0
    start = time.perf_counter()
    process = psutil.Popen(command, stdout=subprocess.DEVNULL)
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            total = 0
            try:
                for proc in [process, *process.children(recursive=True)]:
                    try:
                        total += proc.memory_info().rss
                    except psutil.Error:
                        pass
            except psutil.Error:
                pass
            peak = max(peak, total / 2**20)
            done.wait(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    returncode = process.wait()
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
    if returncode != 0:
        raise SystemExit(f"{' '.join(command)} exited with {returncode}")
    return seconds, peak


def per_rule(work: Path) -> list[dict]:
    """Jobs, summed and largest wall time, largest peak RSS per rule from the benchmark files."""
    rules: dict[str, dict] = {}
    for path in sorted((work / "logs" / "benchmarks").rglob("*.tsv")):
        relative = path.relative_to(work / "logs" / "benchmarks")
        rule = relative.parts[0] if len(relative.parts) > 1 else relative.stem
        with path.open() as handle:
            row = next(csv.DictReader(handle, delimiter="\t"))
        entry = rules.setdefault(rule, {"rule": rule, "jobs": 0, "seconds_sum": 0.0,
                                        "seconds_max": 0.0, "max_rss_mib": 0.0})
        seconds = float(row["s"])
        rss = float(row["max_rss"]) if row["max_rss"] not in ("", "NA", "-") else 0.0
        entry["jobs"] += 1
        entry["seconds_sum"] += seconds
        entry["seconds_max"] = max(entry["seconds_max"], seconds)
        entry["max_rss_mib"] = max(entry["max_rss_mib"], rss)
    return [{k: round(v, 1) if isinstance(v, float) else v for k, v in entry.items()}
            for entry in sorted(rules.values(), key=lambda e: -e["seconds_sum"])]


def write_config(work: Path, cohort: Path) -> None:
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    for key in ("samples", "clinical", "biomarkers", "radiomics"):
        config[key] = str(cohort / f"{key}.tsv")
    config["panel"] = str(REPO / config["panel"])
    config["snps"] = str(REPO / config["snps"])
    config["model"]["tuning"]["enabled"] = False
    (work / "config").mkdir(parents=True, exist_ok=True)
    (work / "config" / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


def benchmark(n_patients: int, n_batches: int, cores: int, seed: int) -> dict:
    work = OUT / f"scale_{n_patients}"
    shutil.rmtree(work, ignore_errors=True)
    cohort = work / "cohort"
    simulate_seconds, _ = timed([sys.executable, "-m", "haicpred.cli", "simulate", "--n-patients",
                              str(n_patients), "--n-batches", str(n_batches), "--seed",
                              str(seed), "--out", str(cohort)])
    write_config(work, cohort)
    dry_runs = [timed(snakemake_command(work, cores, "--dry-run")) for _ in range(3)]
    wall, peak = run_with_peak_memory(snakemake_command(work, cores, "--quiet"))
    rerun_seconds, rerun_output = timed(snakemake_command(work, cores, "--dry-run"))
    result = {
        "benchmark": "scale", "n_patients": n_patients, "n_batches": n_batches,
        "cores": cores, "tuning": False, "simulate_seconds": round(simulate_seconds, 1),
        "dry_run_seconds_median_of_3": round(statistics.median(s for s, _ in dry_runs), 2),
        "dry_run_seconds": [round(s, 2) for s, _ in dry_runs],
        "n_jobs_planned": planned_jobs(dry_runs[0][1]),
        "pipeline_seconds": round(wall, 1), "peak_total_rss_mib": round(peak, 1),
        "second_dry_run_seconds": round(rerun_seconds, 2),
        "second_dry_run_nothing_to_do": "Nothing to be done" in rerun_output,
        "rules": per_rule(work),
        "machine": {"cpu": platform.processor() or platform.machine(),
                    "cpu_count": os.cpu_count(),
                    "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
                    "load_average_at_end": [round(x, 2) for x in os.getloadavg()]},
        "date": time.strftime("%Y-%m-%d"),
    }
    (OUT / f"scale_{n_patients}.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


def markdown(result: dict) -> str:
    lines = [f"n = {result['n_patients']:,} ({result['n_batches']} batches): dry run "
             f"{result['dry_run_seconds_median_of_3']} s, pipeline {result['pipeline_seconds']} s, "
             f"peak total RSS {result['peak_total_rss_mib']} MiB",
             "| rule | jobs | wall time, summed | largest job | peak RSS, largest job |",
             "|---|---|---|---|---|"]
    for rule in result["rules"]:
        # Snakemake samples a job's memory periodically: a job of under a second is over before
        # the first sample, and its figure means nothing
        rss = f"{rule['max_rss_mib']} MiB" if rule["seconds_max"] >= 1 else "(job < 1 s)"
        lines.append(f"| `{rule['rule']}` | {rule['jobs']} | {rule['seconds_sum']} s | "
                     f"{rule['seconds_max']} s | {rss} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 3000, 10000])
    parser.add_argument("--n-batches", type=int, default=20)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    for n in args.sizes:
        result = benchmark(n, args.n_batches, args.cores, args.seed)
        print(json.dumps({k: v for k, v in result.items() if k != "rules"}))
        print(markdown(result), flush=True)


if __name__ == "__main__":
    main()
