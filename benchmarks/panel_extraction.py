"""Panel extraction at scale: haicpred against a `bcftools view -R | bcftools query` loop.

Usage: python benchmarks/panel_extraction.py [--n 1000 10000] [--pool 50] [--records 40000]
                                             [--threads 1 2] [--seed 1]
Writes benchmarks/out/panel_extraction.json (JSON lines, one per N; lines of N values not run
this time are kept) and prints the same lines.

Inputs (benchmarks/out/panel_extraction/, rebuilt only when the settings change):
- a pool of `--pool` distinct exome VCFs shaped like Mutect2 + FilterMutectCalls + VEP output
  (GRCh38 `##contig` lengths, `chr` names, NORMAL/TUMOR columns, `##tumor_sample`,
  GT:AD:AF:DP, INFO DP/TLOD/CSQ, ~65% non-PASS FILTER, 8% indels, 1% multi-allelic) of
  `--records` records each (~40,000: a whole exome's worth of calls), ~0.1% of them inside the
  FOHAIC-1 panel genes of resources/panel_GRCh38.tsv with the mix of PASS/filtered, low/high
  VAF and depth and coding/non-coding consequences the panel rule has to sort. The text is
  generated column-wise with numpy (no per-record Python loop), bgzipped and tabix-indexed.
- for each N, N sample files `cohort_<N>/S<i>.vcf.gz` (+ `.tbi`) that are hard links (copies
  where the filesystem refuses links) to pool file i mod `--pool`. Generating 10,000 distinct
  40,000-record files would take hours and ~25 GB; the pool keeps generation to about a
  minute and disk use to the pool's size. Both tools read the same N paths, whose 50 distinct
  contents sit in the page cache after generation: this times parsing and process/worker
  overhead, not cold disk reads, for both sides alike.

Timed, in the same run, over the same N paths:
- haicpred: one call of `haicpred.genomics.mutations.panel_mutations` over the N samples (one
  batch), once per `--threads` value when the function has a `threads` parameter (checked at run
  time), in this process: the Python start-up and imports a batch job pays once (~1 s) are excluded.
  The files have a .tbi beside them, so haicpred fetches the panel regions through it.
- bcftools: a bash loop, one iteration per file, of
  `bcftools view -R panel.bed -f PASS,. -s TUMOR -Ou FILE | bcftools query -i 'GT~"1" &&
  FORMAT/AF>=0.05 && FORMAT/DP>=10' -f '%CHROM\\t%POS\\t%REF\\t%ALT\\n'` (the panel rule
  without the consequence test, which `view | query` cannot do).
Each JSON line gives seconds and ms per file for each, and ratio = haicpred / bcftools
(< 1: haicpred faster), plus haicpred's kept alleles and the loop's output rows (more: the
loop does not apply the consequence rule, and prints a multi-allelic record once).
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from haicpred.genomics.vcf.build import CONTIG_LENGTHS

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "out"
WORK = OUT / "panel_extraction"
PANEL = REPO / "resources" / "panel_GRCh38.tsv"

CONTIGS = {f"chr{name}": length for name, length in CONTIG_LENGTHS["GRCh38"].items()}
FILTERS = {"PASS": 0.35, "weak_evidence": 0.25, "germline": 0.08, "normal_artifact": 0.06,
           "clustered_events": 0.06, "strand_bias": 0.05, "panel_of_normals": 0.05,
           "map_qual": 0.03, "slippage": 0.03, "clustered_events;weak_evidence": 0.04}
CONSEQUENCES = {"missense_variant": 0.30, "synonymous_variant": 0.20, "intron_variant": 0.20,
                "3_prime_UTR_variant": 0.08, "stop_gained": 0.04, "frameshift_variant": 0.04,
                "splice_region_variant&intron_variant": 0.05, "upstream_gene_variant": 0.05,
                "inframe_deletion": 0.02, "splice_donor_variant": 0.02}
IMPACT = {"missense_variant": "MODERATE", "stop_gained": "HIGH", "frameshift_variant": "HIGH",
          "inframe_deletion": "MODERATE", "splice_donor_variant": "HIGH"}
CSQ_FIELDS = ("Allele|Consequence|IMPACT|SYMBOL|Gene|Feature_type|Feature|BIOTYPE|EXON|INTRON|"
              "HGVSc|HGVSp|Protein_position|Amino_acids|Codons|Existing_variation|STRAND")
PANEL_FRACTION = 0.001
BASES = np.array(list("ACGT"))


def header(seed: int) -> str:
    lines = ["##fileformat=VCFv4.2"]
    lines += [f'##FILTER=<ID={f},Description="{f}">' for f in FILTERS if ";" not in f]
    lines += [
        '##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Allelic depths for the ref and '
        'alt alleles in the order listed">',
        '##FORMAT=<ID=AF,Number=A,Type=Float,Description="Allele fractions of alternate '
        'alleles in the tumor">',
        '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Approximate read depth">',
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        f'##INFO=<ID=CSQ,Number=.,Type=String,Description="Consequence annotations from '
        f'Ensembl VEP. Format: {CSQ_FIELDS}">',
        '##INFO=<ID=DP,Number=1,Type=Integer,Description="Approximate read depth">',
        '##INFO=<ID=TLOD,Number=A,Type=Float,Description="Log 10 likelihood ratio score">',
        "##MutectVersion=2.2",
    ]
    lines += [f"##contig=<ID={c},length={n}>" for c, n in CONTIGS.items()]
    lines += ["##normal_sample=NORMAL",
              "##reference=file:///references/GRCh38/Homo_sapiens_assembly38.fasta",
              "##source=FilterMutectCalls", "##tumor_sample=TUMOR", f"##benchmark_seed={seed}",
              "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tNORMAL\tTUMOR"]
    return "\n".join(lines) + "\n"


def _pick(rng, weights: dict[str, float], n: int) -> np.ndarray:
    keys = np.array(list(weights))
    p = np.array(list(weights.values()), dtype=float)
    return keys[rng.choice(len(keys), size=n, p=p / p.sum())]


def _random_seq(rng, lengths: np.ndarray) -> np.ndarray:
    """Random bases, one string per length (vectorised over a padded base matrix)."""
    width = int(lengths.max()) if len(lengths) else 0
    mat = BASES[rng.integers(0, 4, size=(len(lengths), max(width, 1)))]
    mask = np.arange(max(width, 1))[None, :] < lengths[:, None]
    mat = np.where(mask, mat, "")
    out = mat[:, 0].astype(object)
    for j in range(1, mat.shape[1]):
        out = out + mat[:, j]
    return out.astype(str)


def _s(a) -> np.ndarray:
    return np.asarray(a).astype(str).astype(object)


def exome_vcf_text(rng, n_records: int, panel: list[tuple[str, int, int, str]], seed: int) -> str:
    """One Mutect2/VEP-like exome VCF as text; columns built with numpy, no per-record loop."""
    names = np.array(list(CONTIGS))
    lengths = np.array(list(CONTIGS.values()), dtype=np.int64)
    n_panel = max(4, int(round(PANEL_FRACTION * n_records)))
    n_bg = n_records - n_panel
    chrom_idx = rng.choice(len(names), size=n_bg, p=lengths / lengths.sum())
    pos = (rng.random(n_bg) * (lengths[chrom_idx] - 2000)).astype(np.int64) + 1000
    genes = np.array([g for _, _, _, g in panel])
    pick = rng.integers(0, len(panel), size=n_panel)
    p_chrom = np.array([np.flatnonzero(names == panel[i][0])[0] for i in pick])
    p_start = np.array([panel[i][1] for i in pick])
    p_end = np.array([panel[i][2] for i in pick])
    p_pos = p_start + (rng.random(n_panel) * (p_end - p_start)).astype(np.int64)
    chrom_idx = np.concatenate([chrom_idx, p_chrom])
    pos = np.concatenate([pos, p_pos])
    symbol = np.concatenate([np.array([f"GENE{i}" for i in rng.integers(0, 19000, n_bg)]),
                             genes[pick]])
    order = np.lexsort((pos, chrom_idx))
    chrom_idx, pos, symbol = chrom_idx[order], pos[order], symbol[order]
    keep = np.ones(len(pos), dtype=bool)
    keep[1:] = (chrom_idx[1:] != chrom_idx[:-1]) | (pos[1:] != pos[:-1])
    chrom_idx, pos, symbol = chrom_idx[keep], pos[keep], symbol[keep]
    n = len(pos)

    kind = rng.random(n)  # < 0.04 deletion, < 0.08 insertion, < 0.09 multi-allelic SNV
    first = BASES[rng.integers(0, 4, n)]
    ref = first.astype(object)
    dele = kind < 0.04
    ref[dele] = ref[dele] + _random_seq(rng, rng.integers(1, 4, dele.sum()))
    alt1 = BASES[(np.searchsorted(BASES, first) + rng.integers(1, 4, n)) % 4].astype(object)
    alt1[dele] = first[dele]
    ins = (kind >= 0.04) & (kind < 0.08)
    inserted = _random_seq(rng, rng.integers(1, 6, ins.sum()))
    alt1[ins] = first[ins] + inserted
    multi = (kind >= 0.08) & (kind < 0.09)
    alt2 = BASES[(np.searchsorted(BASES, first) + 2) % 4].astype(object)
    alt2 = np.where(alt2 == alt1, BASES[(np.searchsorted(BASES, first) + 3) % 4], alt2)
    alt = alt1.copy()
    alt[multi] = alt1[multi] + "," + alt2[multi]

    dp = rng.integers(8, 250, n)
    low_dp = rng.random(n) < 0.08
    dp[low_dp] = rng.integers(3, 10, low_dp.sum())
    af = np.clip(rng.beta(1.5, 6, n), 0.005, 0.95)
    alt_reads = np.maximum(1, np.round(af * dp)).astype(np.int64)
    alt_reads = np.minimum(alt_reads, dp - 1)
    alt_b = np.where(multi, np.maximum(1, alt_reads // 3), 0)
    ref_reads = dp - alt_reads - alt_b
    af1 = np.round(alt_reads / dp, 3)
    af2 = np.round(alt_b / dp, 3)
    n_dp = rng.integers(20, 90, n)
    n_alt = (rng.random(n) < 0.15).astype(np.int64)
    tlod = np.round(rng.gamma(2.0, 8.0, n), 2)

    cons = _pick(rng, CONSEQUENCES, n)
    impact = np.array([IMPACT.get(c, "LOW" if "synonymous" in c else "MODIFIER") for c in cons])
    csq_allele = alt1.copy()  # VEP's allele: the inserted bases, "-" for a deletion
    csq_allele[ins] = inserted
    csq_allele[dele] = "-"
    csq = (_s(csq_allele) + "|" + _s(cons) + "|" + _s(impact) + "|" + _s(symbol) + "|ENSG"
           + _s(rng.integers(10**10, 10**11, n)) + "|Transcript|ENST"
           + _s(rng.integers(10**10, 10**11, n)) + "|protein_coding|" + _s(rng.integers(1, 20, n))
           + "/20||||||||1")
    multi_csq = _s(alt2) + "|missense_variant|MODERATE|" + _s(symbol) + "||Transcript|||||||||||1"
    csq = np.where(multi, csq + "," + multi_csq, csq)
    tlod_s = np.where(multi, _s(tlod) + "," + _s(np.round(tlod / 3, 2)), _s(tlod))
    info = "DP=" + _s(dp + n_dp) + ";TLOD=" + tlod_s + ";CSQ=" + csq

    tumour = np.where(
        multi,
        "0/1/2:" + _s(ref_reads) + "," + _s(alt_reads) + "," + _s(alt_b) + ":" + _s(af1) + ","
        + _s(af2) + ":" + _s(dp),
        "0/1:" + _s(ref_reads) + "," + _s(alt_reads) + ":" + _s(af1) + ":" + _s(dp))
    normal = np.where(
        multi,
        "0/0:" + _s(n_dp - n_alt) + "," + _s(n_alt) + ",0:" + _s(np.round(n_alt / n_dp, 3))
        + ",0:" + _s(n_dp),
        "0/0:" + _s(n_dp - n_alt) + "," + _s(n_alt) + ":" + _s(np.round(n_alt / n_dp, 3)) + ":"
        + _s(n_dp))
    filt = _pick(rng, FILTERS, n)
    lines = (_s(names[chrom_idx]) + "\t" + _s(pos) + "\t.\t" + ref + "\t" + alt + "\t.\t"
             + _s(filt) + "\t" + info + "\tGT:AD:AF:DP\t" + normal + "\t" + tumour)
    return header(seed) + "\n".join(lines.tolist()) + "\n"


def read_panel_rows() -> list[tuple[str, int, int, str]]:
    rows = []
    for line in PANEL.read_text().splitlines()[1:]:
        gene, chrom, start, end = line.split("\t")[:4]
        rows.append((chrom, int(start), int(end), gene))
    return rows


def build_pool(pool: int, records: int, seed: int) -> list[Path]:
    """The pool's BGZF + .tbi files, reused when already built with the same settings."""
    target = WORK / f"pool_{pool}x{records}_seed{seed}"
    files = [target / f"exome_{i:03d}.vcf.gz" for i in range(pool)]
    if all(f.is_file() and Path(f"{f}.tbi").is_file() for f in files):
        return files
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    panel = read_panel_rows()
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    for f in files:
        text = exome_vcf_text(rng, records, panel, seed)
        subprocess.run(["bgzip", "-c"], input=text.encode(), stdout=open(f, "wb"), check=True)
        subprocess.run(["tabix", "-p", "vcf", str(f)], check=True)
    size = sum(f.stat().st_size for f in files) / 2**20
    print(json.dumps({"pool_files": pool, "records_per_file": records,
                      "generation_seconds": round(time.perf_counter() - start, 1),
                      "pool_mib": round(size, 1)}), file=sys.stderr)
    return files


def link_cohort(pool_files: list[Path], n: int) -> list[Path]:
    """N sample paths, hard links to pool file i mod len(pool) (and its .tbi)."""
    target = WORK / f"cohort_{n}"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    paths = []
    for i in range(n):
        src = pool_files[i % len(pool_files)]
        dst = target / f"S{i:05d}.vcf.gz"
        for a, b in ((src, dst), (Path(f"{src}.tbi"), Path(f"{dst}.tbi"))):
            try:
                os.link(a, b)
            except OSError:
                shutil.copyfile(a, b)
        paths.append(dst)
    return paths


def time_haicpred(paths: list[Path], threads: int) -> tuple[float, int]:
    from haicpred.genomics.mutations import panel_mutations
    from haicpred.io.resources import read_panel

    panel = read_panel(PANEL)
    samples = [dict(sample_id=p.name.split(".")[0], batch="bench", exome_vcf=str(p),
                    tumor_sample=None, genotype_vcf=None, genotype_sample=p.name.split(".")[0])
               for p in paths]
    params = inspect.signature(panel_mutations).parameters
    kwargs = {"min_vaf": 0.05, "min_depth": 10}
    if "threads" in params:
        kwargs["threads"] = threads
    if "genome_build" in params:
        kwargs["genome_build"] = "GRCh38"
    start = time.perf_counter()
    features, audit = panel_mutations(samples, panel, **kwargs)
    seconds = time.perf_counter() - start
    return seconds, int((audit["decision"] == "kept").sum())


BCFTOOLS_LOOP = r"""
set -euo pipefail
while IFS= read -r f; do
  bcftools view -R "$1" -f PASS,. -s TUMOR -Ou "$f" \
    | bcftools query -i 'GT~"1" && FORMAT/AF>=0.05 && FORMAT/DP>=10' \
        -f '%CHROM\t%POS\t%REF\t%ALT\n'
done < "$2"
"""


def time_bcftools(paths: list[Path], n: int) -> tuple[float, int]:
    bed = WORK / "panel.bed"
    bed.write_text("".join(f"{c}\t{s - 1}\t{e}\n" for c, s, e, _ in read_panel_rows()))
    listing = WORK / f"cohort_{n}.list"
    listing.write_text("".join(f"{p}\n" for p in paths))
    start = time.perf_counter()
    out = subprocess.run(["bash", "-c", BCFTOOLS_LOOP, "loop", str(bed), str(listing)],
                         check=True, capture_output=True).stdout
    seconds = time.perf_counter() - start
    return seconds, sum(1 for line in out.splitlines() if line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--pool", type=int, default=50)
    parser.add_argument("--records", type=int, default=40000)
    parser.add_argument("--threads", type=int, nargs="+",
                        default=sorted({1, os.cpu_count() or 1}))
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    for tool in ("bcftools", "bgzip", "tabix"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} not on PATH (apt-get install bcftools tabix)")
    WORK.mkdir(parents=True, exist_ok=True)
    pool_files = build_pool(args.pool, args.records, args.seed)
    from haicpred.genomics.mutations import panel_mutations

    has_threads = "threads" in inspect.signature(panel_mutations).parameters
    thread_values = args.threads if has_threads else [1]
    machine = {"cpus": os.cpu_count(), "python": platform.python_version(),
               "bcftools": subprocess.run(["bcftools", "--version"], capture_output=True,
                                          text=True).stdout.splitlines()[0]}
    results = []
    for n in args.n:
        paths = link_cohort(pool_files, n)
        bt_seconds, bt_rows = time_bcftools(paths, n)
        entry = {"n_files": n, "records_per_file": args.records, "pool_files": args.pool,
                 "bcftools_loop": {"seconds": round(bt_seconds, 2),
                                   "ms_per_file": round(1000 * bt_seconds / n, 2),
                                   "rows": bt_rows}}
        for threads in thread_values:
            hp_seconds, kept = time_haicpred(paths, threads)
            entry[f"haicpred_threads_{threads}"] = {
                "seconds": round(hp_seconds, 2), "ms_per_file": round(1000 * hp_seconds / n, 2),
                "kept": kept, "ratio_vs_bcftools": round(hp_seconds / bt_seconds, 3)}
        entry["machine"] = machine
        results.append(entry)
        print(json.dumps(entry), flush=True)
        shutil.rmtree(WORK / f"cohort_{n}", ignore_errors=True)
        (WORK / f"cohort_{n}.list").unlink(missing_ok=True)
    # keep the lines of other N from earlier runs (e.g. --n 10000 run separately)
    target = OUT / "panel_extraction.json"
    earlier = []
    if target.is_file():
        for line in target.read_text().splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue
            if entry.get("n_files") not in args.n:
                earlier.append(entry)
    merged = sorted(earlier + results, key=lambda e: e["n_files"])
    target.write_text("".join(json.dumps(r) + "\n" for r in merged))


if __name__ == "__main__":
    main()
