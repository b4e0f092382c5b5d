"""A simulated cohort's exome calls as one MAF per batch, the way core facilities deliver them.

`write_batch_mafs(cohort_dir)` reads the cohort's sample sheet, writes every exome VCF's calls
to `maf/<batch>.maf.gz` (`haicpred.genomics.maf.export`: vcf2maf-style rows, GDC
`#version` line) and a second sheet, `samples_maf.tsv`, that names those MAFs in `exome_maf`
instead of the VCFs. Tumours whose sheet row names the VCF column get that name as their
Tumor_Sample_Barcode (and the MAF sheet names it in `tumor_sample`); the others get
`<sample_id>-01A`, a TCGA-style barcode the MAF reader finds from the sample_id alone. The same
calls in both forms: the pipeline must give the same features from either sheet.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pysam

from haicpred.genomics.maf.export import vcf_calls_as_maf, write_maf
from haicpred.genomics.vcf.samples import choose_tumour_column
from haicpred.io.samples import SHEET_COLUMNS, load_sample_sheet
from haicpred.io.tables import write_tsv

MAF_SHEET = "samples_maf.tsv"
MAF_FOLDER = "maf"


def write_batch_mafs(cohort_dir: str | os.PathLike, genome_build: str = "GRCh38",
                     sheet_name: str = "samples.tsv") -> Path:
    """Write `maf/<batch>.maf.gz` and `samples_maf.tsv` into `cohort_dir`; return the sheet."""
    cohort_dir = Path(cohort_dir)
    sheet = load_sample_sheet(cohort_dir / sheet_name)
    rows_by_batch: dict[str, list[dict]] = {}
    out_rows = []
    for row in sheet.sort_values("sample_id").to_dict("records"):
        row = {k: (None if pd.isna(v) else v) for k, v in row.items()}
        out = dict(row)
        vcf = row["exome_vcf"]
        if vcf:
            with pysam.VariantFile(vcf) as handle:
                column = choose_tumour_column(handle.header, row["tumor_sample"], path=vcf,
                                              sample_id=row["sample_id"])
            barcode = row["tumor_sample"] or f"{row['sample_id']}-01A"
            rows_by_batch.setdefault(row["batch"], []).extend(
                vcf_calls_as_maf(vcf, column, barcode, genome_build))
            out["exome_vcf"] = None
            out["exome_maf"] = f"{MAF_FOLDER}/{row['batch']}.maf.gz"
        if out["genotype_vcf"]:  # the sheet's path, resolved on reading: relative again
            out["genotype_vcf"] = os.path.relpath(out["genotype_vcf"], cohort_dir)
        out_rows.append(out)
    (cohort_dir / MAF_FOLDER).mkdir(exist_ok=True)
    for batch, rows in sorted(rows_by_batch.items()):
        write_maf(rows, cohort_dir / MAF_FOLDER / f"{batch}.maf.gz")
    frame = pd.DataFrame(out_rows, columns=SHEET_COLUMNS)
    # the sheet's default genotype_sample (the sample_id) need not be written out
    frame.loc[frame["genotype_sample"] == frame["sample_id"], "genotype_sample"] = None
    path = cohort_dir / MAF_SHEET
    write_tsv(frame, path)
    return path
