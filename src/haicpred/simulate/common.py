"""Pieces of the cohort simulation that several of its modules share.

The reference genome (`Reference`: build, contig names and lengths, FASTA URL, written into
both kinds of VCF and used to check resources), exact-count random masks (cohort design and the
observed tables), random bases (somatic variants and background germline SNPs) and bgzip +
tabix writing (exome and genotype VCFs). Kept here, once, so that no module copies another's helper.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pysam

from haicpred.genomics.vcf.build import CONTIG_LENGTHS as NUCLEAR_CONTIG_LENGTHS

# ---------------------------------------------------------------------------------------------
# Reference genome
# ---------------------------------------------------------------------------------------------
# The FASTA each VCF header names, by (build, chr-prefixed contig names): the usual file of each
# naming style (GATK bundle / UCSC hg19 with chr, 1000 Genomes b37 / Ensembl without).
REFERENCE_FASTA = {
    ("GRCh38", True): "file:///references/GRCh38/Homo_sapiens_assembly38.fasta",
    ("GRCh38", False): "file:///references/GRCh38/Homo_sapiens.GRCh38.dna.primary_assembly.fa",
    ("GRCh37", True): "file:///references/GRCh37/ucsc.hg19.fasta",
    ("GRCh37", False): "file:///references/GRCh37/human_g1k_v37.fasta",
}


@dataclass(frozen=True)
class Reference:
    """The genome a simulated VCF is on: its build, contigs (names in the style of the resource
    the VCF is written from: chr1 or 1) in genome order, with lengths, and FASTA URL."""

    build: str
    prefixed: bool
    contigs: dict[str, int]
    fasta: str

    def contig(self, name: str) -> str:
        """`name` (chr2 or 2) spelled in this reference's style."""
        bare = name.removeprefix("chr")
        return f"chr{bare}" if self.prefixed else bare


def reference(genome_build: str, prefixed: bool) -> Reference:
    contigs = {f"chr{name}" if prefixed else name: length
               for name, length in NUCLEAR_CONTIG_LENGTHS[genome_build].items()}
    return Reference(genome_build, prefixed, contigs, REFERENCE_FASTA[(genome_build, prefixed)])


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
