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

# ---------------------------------------------------------------------------------------------
# Reference genome
# ---------------------------------------------------------------------------------------------
CONTIG_LENGTHS = {
    "GRCh38": {
        "chr1": 248956422, "chr2": 242193529, "chr3": 198295559, "chr4": 190214555,
        "chr5": 181538259, "chr6": 170805979, "chr7": 159345973, "chr8": 145138636,
        "chr9": 138394717, "chr10": 133797422, "chr11": 135086622, "chr12": 133275309,
        "chr13": 114364328, "chr14": 107043718, "chr15": 101991189, "chr16": 90338345,
        "chr17": 83257441, "chr18": 80373285, "chr19": 58617616, "chr20": 64444167,
        "chr21": 46709983, "chr22": 50818468, "chrX": 156040895, "chrY": 57227415,
    },
}
REFERENCE_FASTA = {"GRCh38": "file:///references/GRCh38/Homo_sapiens_assembly38.fasta"}

# Nucleotide alphabet for random sequences and codon changes.
_BASES = "ACGT"


def _exact_mask(rng: np.random.Generator, n: int, fraction: float,
                eligible: np.ndarray | None = None) -> np.ndarray:
    """Boolean mask with round(fraction * n) True entries, chosen among `eligible`."""
    candidates = np.arange(n) if eligible is None else np.flatnonzero(eligible)
    count = min(len(candidates), int(round(fraction * n)))
    mask = np.zeros(n, dtype=bool)
    mask[rng.choice(candidates, size=count, replace=False)] = True
    return mask


def _random_base(u: float, exclude: str = "") -> str:
    choices = [b for b in _BASES if b not in exclude]
    return choices[min(int(u * len(choices)), len(choices) - 1)]


def _write_indexed_vcf(text: str, path: Path) -> None:
    """bgzip + tabix; pysam writes no timestamps, so the output is deterministic."""
    with pysam.BGZFile(str(path), "wb") as handle:
        handle.write(text.encode())
    pysam.tabix_index(str(path), preset="vcf", force=True)
