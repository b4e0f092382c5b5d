"""The variant audit's layout and the panel rules' verdicts, shared by the VCF and MAF readers.

Every (record or MAF row, allele, panel gene) a reader judges becomes one audit row with these
columns, in this order; `decision` is `kept` or `dropped` and `reason` says why (`pass` for a
kept allele). Both readers hand what they read to `call_reason` and `verdict`, so the rules and
their order exist once and a VCF and a MAF of the same calls give the same decisions (see
`haicpred.genomics.mutations`).
"""

from __future__ import annotations

AUDIT_COLUMNS = ["sample_id", "chrom", "pos", "ref", "alt", "gene", "consequence", "vaf",
                 "depth", "filter", "decision", "reason"]


def call_reason(filter_text: str, passes: bool, not_somatic: str | None, carries: bool | None,
                vaf: float | None, depth: int | None, min_vaf: float, min_depth: int
                ) -> str | None:
    """The first panel rule an allele of a tumour fails, or None when it passes them all (its
    consequence, per gene, is judged by `verdict`). In order: FILTER; the caller's somatic
    status (`not_somatic`: germline/loh/reference, None when somatic or unknown); the tumour
    carries the allele (`carries`: None when the tumour has no call); VAF and depth where
    known."""
    if not passes:
        return f"filter:{filter_text}"
    if not_somatic is not None:
        return f"not_somatic:{not_somatic}"
    if carries is None:
        return "no_tumour_call"
    if not carries:
        return "genotype_lacks_alt"
    if vaf is not None and vaf < min_vaf:
        return f"vaf<{min_vaf:g}"
    if depth is not None and depth < min_depth:
        return f"depth<{min_depth:d}"
    return None


def verdict(reason: str | None, altering: bool | None, consequence: str | None
            ) -> tuple[str, str]:
    """(decision, reason) for one gene: `call_reason`'s reason, else the consequence's
    (`altering`: None when the allele is unannotated, which does not count against it)."""
    if reason is None:
        reason = "pass" if altering is not False else \
            f"not_protein_altering:{consequence or 'unknown'}"
    return ("kept" if reason == "pass" else "dropped"), reason
