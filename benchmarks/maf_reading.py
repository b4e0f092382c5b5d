"""Reading a cohort's somatic calls as one MAF per batch against the same calls as VCFs.

Usage: python benchmarks/maf_reading.py [--n 10000] [--n-batches 20] [--repeats 3] [--seed 1]
Writes benchmarks/out/maf_reading_<n>.json and prints a Markdown table.

Inputs (benchmarks/out/maf_reading_<n>/, built once):
- `haicpred simulate`'s cohort of `--n` patients in `--n-batches` batches: Mutect2 + VEP exome
  VCFs (bgzipped, `.tbi` beside), ~45 records each (true panel mutations, decoys the panel
  rule must reject, background calls across the genome);
- the same calls as one gzipped MAF per batch (`haicpred.simulate.maf_cohort`, vcf2maf-style
  rows, a GDC `#version` line) and as one MAF for the whole cohort.

Timed, per batch, exactly as the `panel_mutations` job of that batch calls the package
(`panel_mutations(batch rows, panel, genome_build="GRCh38", index_dir, threads=2)`; default
`genomics.shard_size` 1,000 makes one job per batch here), in one process, the VCF and MAF
forms interleaved, `--repeats` times; medians are summed over the batches. The Python start-up
and imports each job pays once (~1 s) are the same for both and excluded. Each form's features
are checked equal. Peak memory: each form's batches run again in a fresh child process, whose
resident memory (with its worker processes) is sampled every 20 ms; the imports alone take
~115 MiB of it.

The cohort-wide MAF row: every batch's job reads the whole file (a MAF is not indexed), so
its cost is the batch count times one read; timed the same way.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import pandas as pd
import psutil

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "out"
sys.path.insert(0, str(REPO / "src"))

from haicpred.genomics.maf.export import write_maf  # noqa: E402
from haicpred.genomics.mutations import panel_mutations  # noqa: E402
from haicpred.io.resources import read_panel  # noqa: E402
from haicpred.io.samples import batch_records, load_sample_sheet  # noqa: E402
from haicpred.simulate import simulate_cohort  # noqa: E402
from haicpred.simulate.maf_cohort import MAF_SHEET, write_batch_mafs  # noqa: E402

PANEL = REPO / "resources" / "panel_GRCh38.tsv"
SNPS = REPO / "resources" / "snps_GRCh38.tsv"
COHORT_MAF = "cohort.maf.gz"


def build(folder: Path, n: int, n_batches: int, seed: int) -> None:
    if (folder / MAF_SHEET).is_file() and (folder / COHORT_MAF).is_file():
        return
    start = time.perf_counter()
    simulate_cohort(n_patients=n, n_batches=n_batches, seed=seed, out_dir=folder,
                    panel_path=PANEL, snps_path=SNPS)
    print(f"simulated {n} patients in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    start = time.perf_counter()
    write_batch_mafs(folder)
    frames = [pd.read_csv(path, sep="\t", comment="#", dtype=str, keep_default_na=False)
              for path in sorted((folder / "maf").glob("*.maf.gz"))]
    whole = pd.concat(frames)
    write_maf(whole.to_dict("records"), folder / COHORT_MAF, list(whole.columns))
    print(f"wrote the MAFs in {time.perf_counter() - start:.0f} s", file=sys.stderr)


def forms(folder: Path) -> dict[str, dict[str, list[dict]]]:
    """form -> batch -> the batch's sheet rows (VCF, batch MAF, cohort-wide MAF)."""
    vcf_sheet = load_sample_sheet(folder / "samples.tsv")
    maf_sheet = load_sample_sheet(folder / MAF_SHEET)
    batches = sorted(vcf_sheet["batch"].unique())
    cohort_maf = str(folder / COHORT_MAF)
    out = {"vcf": {}, "batch MAF": {}, "cohort MAF": {}}
    for batch in batches:
        out["vcf"][batch] = batch_records(vcf_sheet, batch)
        rows = batch_records(maf_sheet, batch)
        out["batch MAF"][batch] = rows
        out["cohort MAF"][batch] = [dict(r, exome_maf=cohort_maf) if r["exome_maf"] else r
                                    for r in rows]
    return out


def run_form(batches: dict[str, list[dict]], folder: Path) -> tuple[dict[str, float], list]:
    panel = read_panel(PANEL)
    seconds, features = {}, []
    for batch, rows in batches.items():
        start = time.perf_counter()
        table, _ = panel_mutations(rows, panel, genome_build="GRCh38",
                                   index_dir=folder / "index" / batch, threads=2)
        seconds[batch] = time.perf_counter() - start
        features.append(table)
    return seconds, features


def child_peak(folder: Path, form: str) -> float:
    """Peak resident memory (MiB) of a fresh process running one form's batches, with its
    worker processes: their summed RSS sampled every 20 ms (psutil). (getrusage's maxrss is
    no use here: a child's counter starts at the forking parent's high-water mark.)"""
    code = (f"import sys; sys.path.insert(0, {str(REPO / 'benchmarks')!r}); "
            f"import maf_reading as m; from pathlib import Path; f = Path({str(folder)!r}); "
            f"m.run_form(m.forms(f)[{form!r}], f)")
    child = psutil.Popen([sys.executable, "-c", code])
    peak = 0
    while child.poll() is None:
        try:
            processes = [child, *child.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in processes))
        except psutil.Error:
            pass  # a worker ended between listing and reading
        time.sleep(0.02)
    assert child.returncode == 0, f"{form}: the child process failed"
    return peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--n-batches", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    folder = OUT / f"maf_reading_{args.n}"
    build(folder, args.n, args.n_batches, args.seed)
    by_form = forms(folder)
    timings: dict[str, list[dict[str, float]]] = {form: [] for form in by_form}
    reference = None
    for _ in range(args.repeats):
        for form, batches in by_form.items():  # interleaved: drift hits every form alike
            seconds, features = run_form(batches, folder)
            timings[form].append(seconds)
            text = pd.concat(features).to_csv(sep="\t")
            reference = reference or text
            assert text == reference, f"{form}: features differ from the VCFs'"
    calls = sum(len(pd.read_csv(p, sep="\t", comment="#", usecols=[0]))
                for p in (folder / "maf").glob("*.maf.gz"))
    result = {"n_patients": args.n, "n_batches": args.n_batches, "repeats": args.repeats,
              "maf_rows": calls, "machine": platform.platform(), "python": sys.version.split()[0],
              "cpu_count": os.cpu_count(), "forms": {}}
    for form, runs in timings.items():
        per_batch = {b: statistics.median(run[b] for run in runs) for b in runs[0]}
        result["forms"][form] = {"seconds": round(sum(per_batch.values()), 3),
                                 "slowest_batch_s": round(max(per_batch.values()), 3),
                                 "peak_rss_mib": round(child_peak(folder, form), 1)}
    vcf_seconds = result["forms"]["vcf"]["seconds"]
    for form in result["forms"].values():
        form["ratio_to_vcf"] = round(form["seconds"] / vcf_seconds, 3)
    (OUT / f"maf_reading_{args.n}.json").write_text(json.dumps(result, indent=1) + "\n")
    print(f"| form | {args.n} patients, {args.n_batches} batch jobs: seconds (sum of medians) "
          "| slowest batch | x VCF | peak RSS |")
    print("|---|---|---|---|---|")
    for form, row in result["forms"].items():
        print(f"| {form} | {row['seconds']:.2f} | {row['slowest_batch_s']:.2f} | "
              f"{row['ratio_to_vcf']:.2f} | {row['peak_rss_mib']:.0f} MiB |")
    print(f"({calls:,} MAF rows)")


if __name__ == "__main__":
    main()
