"""The joint-called germline genotype VCF (GATK GenotypeGVCFs style).

Resource SNPs (ID = rsid) with the true dosages from `patients`, plus background common SNPs,
for every patient with genotypes; some patients are no-calls at the resource SNPs and some
columns carry a `<id>_germline` alias, as the sample sheet says.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .common import Reference, random_base, write_indexed_vcf

N_BACKGROUND_GERMLINE_SNPS = 20


def _genotype_column_names(design: pd.DataFrame) -> np.ndarray:
    sid = design["sample_id"]
    return np.where(design["genotype_alias"], sid + "_germline", sid)


def _background_germline_snps(snps, ref: Reference, rng) -> list[dict]:
    """~20 common SNPs near IL28B (chr19), GALNT14 (chr2) and elsewhere; ID '.'."""
    contigs = ref.contigs
    prefix = "chr" if ref.prefixed else ""
    regions = [(f"{prefix}19", 39_000_000, 39_500_000)] * 6 \
        + [(f"{prefix}2", 31_000_000, 31_600_000)] * 4
    others = [c for c in contigs if c not in (f"{prefix}19", f"{prefix}2", f"{prefix}Y")]
    for _ in range(N_BACKGROUND_GERMLINE_SNPS - len(regions)):
        chrom = others[rng.integers(len(others))]
        regions.append((chrom, 1_000_000, contigs[chrom] - 1_000_000))
    taken = {(s["chrom"], s["pos"]) for s in snps}
    background = []
    for chrom, start, end in regions:
        pos = int(rng.integers(start, end))
        while (chrom, pos) in taken:
            pos += 1
        taken.add((chrom, pos))
        ref = random_base(rng.random())
        background.append({"rsid": ".", "chrom": chrom, "pos": pos, "ref": ref,
                           "alt": random_base(rng.random(), ref),
                           "alt_freq": rng.uniform(0.05, 0.5)})
    return background


def _germline_header(ref: Reference, samples: list[str]) -> str:
    lines = [
        "##fileformat=VCFv4.2",
        '##FILTER=<ID=LowQual,Description="Low quality">',
        '##FILTER=<ID=PASS,Description="All filters passed">',
        '##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Allelic depths for the ref and '
        'alt alleles in the order listed">',
        '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Approximate read depth (reads '
        'with MQ=255 or with bad mates are filtered)">',
        '##FORMAT=<ID=GQ,Number=1,Type=Integer,Description="Genotype Quality">',
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        '##GATKCommandLine=<ID=GenotypeGVCFs,CommandLine="GenotypeGVCFs --variant '
        'gendb://cohort --output genotypes.vcf.gz",Version="4.4.0.0">',
        '##INFO=<ID=AC,Number=A,Type=Integer,Description="Allele count in genotypes, for '
        'each ALT allele, in the same order as listed">',
        '##INFO=<ID=AF,Number=A,Type=Float,Description="Allele Frequency, for each ALT '
        'allele, in the same order as listed">',
        '##INFO=<ID=AN,Number=1,Type=Integer,Description="Total number of alleles in called '
        'genotypes">',
        '##INFO=<ID=DP,Number=1,Type=Integer,Description="Approximate read depth; some reads '
        'may have been filtered">',
    ]
    lines += [f"##contig=<ID={c},length={n}>" for c, n in ref.contigs.items()]
    lines += [f"##reference={ref.fasta}", "##source=GenotypeGVCFs",
              "##source=HaplotypeCaller",
              "\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO",
                         "FORMAT", *samples])]
    return "\n".join(lines) + "\n"


def _genotype_line(site: dict, dosage: np.ndarray, no_call: np.ndarray, rng) -> str:
    m = len(dosage)
    dp = rng.integers(15, 61, m)
    alt_reads = np.where(dosage == 1, rng.binomial(dp, 0.5),
                         np.where(dosage == 2, dp, (rng.random(m) < 0.03).astype(int)))
    alt_reads = np.where(dosage == 1, np.clip(alt_reads, 1, dp - 1), alt_reads)
    gq = np.where(dosage == 1, np.minimum(99, 3 * np.minimum(alt_reads, dp - alt_reads) + 20),
                  np.minimum(99, 3 * dp))
    gt = np.array(["0/0", "0/1", "1/1"])[dosage]
    fields = [
        "./.:0,0:0:." if nc else f"{g}:{d - a},{a}:{d}:{q}"
        for g, d, a, q, nc in zip(gt, dp, alt_reads, gq, no_call)
    ]
    called = ~no_call
    an = 2 * int(called.sum())
    ac = int(dosage[called].sum())
    af = f"{ac / an:.4g}" if an else "0"
    qual = f"{min(30.0 * ac + 50.0, 99999.0):.2f}"
    info = f"AC={ac};AF={af};AN={an};DP={int(dp[called].sum())}"
    return "\t".join([site["chrom"], str(site["pos"]), site["rsid"], site["ref"], site["alt"],
                      qual, "PASS", info, "GT:AD:DP:GQ", *fields])


def write_genotype_vcf(path: Path, design, germline, snps, ref: Reference, rng) -> None:
    """Joint-called germline VCF on `ref` (the SNP resource's build and contig names):
    resource SNPs (ID = rsid) plus background SNPs."""
    in_vcf = design["has_genotype"].to_numpy()
    samples = list(_genotype_column_names(design)[in_vcf])
    no_call_resource = design["genotype_no_call"].to_numpy()[in_vcf]
    sites = [dict(s, dosage=germline[s["rsid"]][in_vcf], no_call=no_call_resource)
             for s in snps]
    for site in _background_germline_snps(snps, ref, rng):
        dosage = (rng.random((len(samples), 2)) < site["alt_freq"]).sum(axis=1)
        sites.append(dict(site, dosage=dosage, no_call=np.zeros(len(samples), dtype=bool)))
    order = {c: i for i, c in enumerate(ref.contigs)}
    sites.sort(key=lambda s: (order[s["chrom"]], s["pos"]))
    text = _germline_header(ref, samples)
    text += "".join(_genotype_line(s, s["dosage"], s["no_call"], rng) + "\n" for s in sites)
    write_indexed_vcf(text, path)
