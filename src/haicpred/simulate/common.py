"""Pieces of the cohort simulation that several of its modules share.

The reference genome (contig lengths and FASTA URL, written into both kinds of VCF and used to
check resources), exact-count random masks (cohort design and the observed tables), random
bases (somatic variants and background germline SNPs) and bgzip + tabix writing (exome and
genotype VCFs). Kept here, once, so that no module copies another's helper.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pysam

from haicpred.genomics.vcf.build import CONTIG_LENGTHS as NUCLEAR_CONTIG_LENGTHS

# ---------------------------------------------------------------------------------------------
# Reference genome
# ---------------------------------------------------------------------------------------------
# The simulator writes GRCh38 only (GRCh37 needs background gene coordinates it does not have),
# with UCSC-style chr names.
CONTIG_LENGTHS = {"GRCh38": {f"chr{name}": length
                             for name, length in NUCLEAR_CONTIG_LENGTHS["GRCh38"].items()}}
REFERENCE_FASTA = {"GRCh38": "file:///references/GRCh38/Homo_sapiens_assembly38.fasta"}

# Nucleotide alphabet for random sequences and codon changes.
BASES = "ACGT"


def exact_mask(rng: np.random.Generator, n: int, fraction: float,
                eligible: np.ndarray | None = None) -> np.ndarray:
    """Boolean mask with round(fraction * n) True entries, chosen among `eligible`."""
    candidates = np.arange(n) if eligible is None else np.flatnonzero(eligible)
    count = min(len(candidates), int(round(fraction * n)))
    mask = np.zeros(n, dtype=bool)
    mask[rng.choice(candidates, size=count, replace=False)] = True
    return mask


def random_base(u: float, exclude: str = "") -> str:
    choices = [b for b in BASES if b not in exclude]
    return choices[min(int(u * len(choices)), len(choices) - 1)]


def write_indexed_vcf(text: str, path: Path) -> None:
    """bgzip + tabix; pysam writes no timestamps, so the output is deterministic."""
    with pysam.BGZFile(str(path), "wb") as handle:
        handle.write(text.encode())
    pysam.tabix_index(str(path), preset="vcf", force=True)
