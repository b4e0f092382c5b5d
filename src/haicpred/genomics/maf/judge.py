"""The panel rules applied to MAF rows, giving the same audit rows as for a VCF record.

One MAF row is one allele of one tumour (`Tumor_Seq_Allele2`, or `Tumor_Seq_Allele1` when
Allele2 is the reference). For each panel gene the row overlaps, the allele is kept when, in
this order (the first failing test is the audit's reason, as for VCFs):

  2. FILTER is PASS, `.` or empty                          -> `filter:<names>`
  2b. Mutation_Status is not Germline/LOH/Wildtype         -> `not_somatic:germline`, ...
  3. a tumour allele differs from Reference_Allele         -> `genotype_lacks_alt`
  4. VAF >= min_vaf where the VAF is known                 -> `vaf<0.05`
  5. depth >= min_depth where the depth is known           -> `depth<10`
  6. it is protein-altering where annotated                -> `not_protein_altering:<terms>`

Depth is `t_depth`, else `t_ref_count + t_alt_count`; VAF is `t_alt_count / depth`. The
consequence is `Consequence` (VEP terms, `&`-, `,`- or `;`-separated) where the row has one,
else `Variant_Classification` (`classification.PROTEIN_ALTERING_CLASSES`); an empty class, one
outside the specification, or vcf2maf's `Targeted_Region` (no term could be mapped) counts as
unannotated, as an unannotated VCF record does. Judged by class alone, VEP's
`coding_sequence_variant` (a change in an incompletely annotated coding sequence), which
vcf2maf classes as Missense_Mutation, counts as protein-altering; judged by its term it does
not (`haicpred.genomics.vcf.annotation.PROTEIN_ALTERING`). MAF rows name no
symbolic alleles, so rule 1 of the VCF reader does not arise.
"""

from __future__ import annotations

import re

import pandas as pd

from haicpred.genomics.audit import (depth_reason, not_protein_altering_reason, vaf_reason)
from haicpred.genomics.maf.classification import PROTEIN_ALTERING_CLASSES, known_class
from haicpred.genomics.maf.table import EMPTY_CELLS, PanelRows, integers
from haicpred.genomics.vcf.annotation import is_protein_altering

#: Mutation_Status values that say the call is not somatic (GDC MAF), and the audit's word.
NOT_SOMATIC = {"germline": "germline", "loh": "loh", "wildtype": "reference"}
_TERM_SEPARATORS = re.compile(r"[&,;]")


def judge_rows(panel_rows: PanelRows, min_vaf: float, min_depth: int) -> list[tuple]:
    """Audit rows (`haicpred.genomics.audit.AUDIT_COLUMNS`) of every (row, sample, gene)."""
    rows = panel_rows.rows
    if len(rows) == 0:
        return []
    depth = integers(rows["t_depth"])
    ref_count, alt_count = integers(rows["t_ref_count"]), integers(rows["t_alt_count"])
    depth = depth.fillna(ref_count + alt_count)
    out: list[tuple] = []
    columns = zip(rows["Tumor_Sample_Barcode"], rows["Chromosome"],
                  integers(rows["Start_Position"]), rows["Reference_Allele"],
                  rows["Tumor_Seq_Allele1"], rows["Tumor_Seq_Allele2"], rows["FILTER"],
                  rows["Mutation_Status"], depth, alt_count, rows["Consequence"],
                  rows["Variant_Classification"], panel_rows.hits)
    for (barcode, _, start, ref, allele1, allele2, filter_cell, status, row_depth, alt_reads,
         consequence_cell, classification, hits) in columns:
        ref = ref.strip()
        alt = allele2.strip() if allele2.strip() != ref else allele1.strip()
        carries = bool(alt) and alt != ref
        if not carries:
            alt = allele2.strip()
        filter_text, passes = _filter(filter_cell)
        row_depth = None if pd.isna(row_depth) else int(row_depth)
        vaf = None
        if row_depth is not None and not pd.isna(alt_reads) and row_depth > 0:
            vaf = int(alt_reads) / row_depth
        status_word = NOT_SOMATIC.get(status.strip().lower())
        if not passes:
            base_reason = f"filter:{filter_text}"
        elif status_word is not None:
            base_reason = f"not_somatic:{status_word}"
        elif not carries:
            base_reason = "genotype_lacks_alt"
        elif vaf is not None and vaf < min_vaf:
            base_reason = vaf_reason(min_vaf)
        elif row_depth is not None and row_depth < min_depth:
            base_reason = depth_reason(min_depth)
        else:
            base_reason = None
        consequence, altering = _consequence(consequence_cell, classification)
        genes: dict[str, str] = {}  # gene -> panel contig spelling
        for _, _, gene, contig in hits:
            genes.setdefault(gene, contig)
        for sample_id in panel_rows.sample_ids[barcode]:
            for gene, contig in genes.items():
                reason = base_reason
                if reason is None:
                    reason = "pass" if altering is not False else \
                        not_protein_altering_reason(consequence)
                out.append((sample_id, contig, int(start), ref, alt, gene, consequence, vaf,
                            row_depth, filter_text, "kept" if reason == "pass" else "dropped",
                            reason))
    return out


def _filter(cell: str) -> tuple[str, bool]:
    """(FILTER as the VCF reader writes it, passes): names `;`-separated."""
    names = [n.strip() for n in re.split(r"[;,]", cell) if n.strip() and n.strip() != "."]
    if not names:
        return ".", True
    if names == ["PASS"]:
        return "PASS", True
    return ";".join(names), False


def _consequence(consequence_cell: str, classification: str) -> tuple[str | None, bool | None]:
    """(consequence as the audit shows it, protein-altering?); None when unannotated."""
    cell = consequence_cell.strip()
    if cell not in EMPTY_CELLS:
        terms = [t.strip() for t in _TERM_SEPARATORS.split(cell) if t.strip()]
        return "&".join(terms), is_protein_altering(terms)
    known = known_class(classification)
    if known is None:
        return None, None
    return known, known in PROTEIN_ALTERING_CLASSES
