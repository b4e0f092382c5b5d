"""The variant audit's layout and reason labels, shared by the VCF and the MAF readers.

Every (record or MAF row, allele, panel gene) a reader judges becomes one audit row with these
columns, in this order; `decision` is `kept` or `dropped` and `reason` says why (`pass` for a
kept allele). Both readers apply the same rules in the same order, so a VCF and a MAF of the
same calls give the same decisions (see `haicpred.genomics.mutations`).
"""

from __future__ import annotations

AUDIT_COLUMNS = ["sample_id", "chrom", "pos", "ref", "alt", "gene", "consequence", "vaf",
                 "depth", "filter", "decision", "reason"]


def vaf_reason(min_vaf: float) -> str:
    return f"vaf<{min_vaf:g}"


def depth_reason(min_depth: int) -> str:
    return f"depth<{min_depth:d}"


def not_protein_altering_reason(consequence: str | None) -> str:
    return f"not_protein_altering:{consequence or 'unknown'}"
