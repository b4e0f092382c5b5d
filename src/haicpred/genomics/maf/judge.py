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

from haicpred.genomics.audit import call_reason, verdict
from haicpred.genomics.maf.classification import PROTEIN_ALTERING_CLASSES, known_class
from haicpred.genomics.maf.table import EMPTY_CELLS, PanelRows
from haicpred.genomics.vcf.annotation import is_protein_altering

#: Mutation_Status values that say the call is not somatic (GDC MAF), and the audit's word.
NOT_SOMATIC = {"germline": "germline", "loh": "loh", "wildtype": "reference"}
_TERM_SEPARATORS = re.compile(r"[&,;]")


def judge_rows(panel_rows: PanelRows, min_vaf: float, min_depth: int) -> list[tuple]:
    """Audit rows (`haicpred.genomics.audit.AUDIT_COLUMNS`) of every (row, sample, gene)."""
    rows = panel_rows.rows
    depth = rows["t_depth"].fillna(rows["t_ref_count"] + rows["t_alt_count"])
    out: list[tuple] = []
    columns = zip(rows["Tumor_Sample_Barcode"], rows["Start_Position"],
                  rows["Reference_Allele"], rows["allele"], rows["Tumor_Seq_Allele2"],
                  rows["FILTER"], rows["Mutation_Status"], depth, rows["t_alt_count"],
                  rows["Consequence"], rows["Variant_Classification"], panel_rows.hits)
    for (barcode, start, ref, allele, allele2, filter_cell, status, row_depth, alt_reads,
         consequence_cell, classification, hits) in columns:
        carries = allele not in ("", ref)
        alt = allele if carries else allele2
        filter_text, passes = _filter(filter_cell)
        row_depth = None if pd.isna(row_depth) else int(row_depth)
        vaf = None
        if row_depth is not None and not pd.isna(alt_reads) and row_depth > 0:
            vaf = int(alt_reads) / row_depth
        reason = call_reason(filter_text, passes, NOT_SOMATIC.get(status.lower()), carries,
                             vaf, row_depth, min_vaf, min_depth)
        consequence, altering = _consequence(consequence_cell, classification)
        decision = verdict(reason, altering, consequence)
        genes: dict[str, str] = {}  # gene -> panel contig spelling
        for _, _, gene, contig in hits:
            genes.setdefault(gene, contig)
        for sample_id in panel_rows.sample_ids[barcode]:
            for gene, contig in genes.items():
                out.append((sample_id, contig, int(start), ref, alt, gene, consequence, vaf,
                            row_depth, filter_text, *decision))
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
    if consequence_cell not in EMPTY_CELLS:
        terms = [t.strip() for t in _TERM_SEPARATORS.split(consequence_cell) if t.strip()]
        return "&".join(terms), is_protein_altering(terms)
    known = known_class(classification)
    if known is None:
        return None, None
    return known, known in PROTEIN_ALTERING_CLASSES
