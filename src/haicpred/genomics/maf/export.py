"""Somatic VCF calls written as MAF rows, the way vcf2maf writes them.

Used by the simulator (a cohort's exome calls as one MAF per batch) and by the tests and the
benchmark that compare the MAF and VCF readers on the same calls. One row per (record, ALT
allele) the tumour column has a call for:

- positions and alleles lose the VCF's shared padding base (`AT>A` at 100 becomes `T>-` at
  101-101; `A>AT` at 100 becomes `->T` at 100-101), as vcf2maf writes them;
- `Consequence` is the allele's VEP/SnpEff terms (`&`-joined) and `Variant_Classification`
  vcf2maf's class of the most severe of them (`classification.variant_classification`);
- `t_depth` and `t_alt_count` are the depth and alt reads the VCF reader sees
  (`FormatSchema.evidence`); with an allele fraction but no read counts, the alt count is
  fraction x depth, rounded, as vcf2maf derives it;
- FILTER as the VCF reader reads it; Mutation_Status `Germline`/`LOH`/`Wildtype` where the
  caller's somatic status says so;
- a tumour whose genotype lacks the allele gets both tumour alleles equal to the reference;
  a record the tumour column says nothing about (no genotype, no reads) gets no row: a MAF
  lists calls.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterable
from pathlib import Path

import pysam

from haicpred.genomics.maf.classification import UNANNOTATED_CLASS, variant_classification
from haicpred.genomics.vcf.annotation import AnnotationSchema
from haicpred.genomics.vcf.evidence import (FormatSchema, is_reference_block_alt, is_symbolic,
                                            record_filter)
from haicpred.genomics.vcf.regions import RegionIndex, contig_key

MAF_COLUMNS = ["Hugo_Symbol", "NCBI_Build", "Chromosome", "Start_Position", "End_Position",
               "Variant_Classification", "Variant_Type", "Reference_Allele",
               "Tumor_Seq_Allele1", "Tumor_Seq_Allele2", "Tumor_Sample_Barcode", "FILTER",
               "Mutation_Status", "Consequence", "t_depth", "t_ref_count", "t_alt_count"]
_STATUS_WORDS = {"germline": "Germline", "loh": "LOH", "reference": "Wildtype"}


def maf_alleles(pos: int, ref: str, alt: str) -> tuple[int, int, str, str]:
    """(Start_Position, End_Position, Reference_Allele, allele) of a VCF allele."""
    if len(ref) != len(alt) and ref[:1] == alt[:1]:
        ref, alt = ref[1:] or "-", alt[1:] or "-"
        if ref == "-":
            return pos, pos + 1, ref, alt
        return pos + 1, pos + len(ref), ref, alt
    return pos, pos + len(ref) - 1, ref, alt


def variant_type(ref: str, alt: str) -> str:
    if ref == "-":
        return "INS"
    if alt == "-":
        return "DEL"
    if len(ref) == len(alt):
        return {1: "SNP", 2: "DNP", 3: "TNP"}.get(len(ref), "ONP")
    return "DEL" if len(ref) > len(alt) else "INS"


def vcf_calls_as_maf(path: str | Path, tumour_column: str, barcode: str, genome_build: str,
                     genes: RegionIndex | None = None) -> list[dict]:
    """MAF rows of every call of `tumour_column` in the VCF at `path` (see the module doc);
    `genes` names Hugo_Symbol by overlap (else `Unknown`)."""
    rows = []
    with pysam.VariantFile(str(path)) as vcf:
        fmt, ann = FormatSchema(vcf.header), AnnotationSchema(vcf.header)
        for rec in vcf:
            filter_text, _ = record_filter(rec)
            status = _STATUS_WORDS.get(fmt.not_somatic(rec, tumour_column) or "", "")
            symbol = "Unknown"
            if genes is not None:
                hits = genes.overlapping(contig_key(rec.chrom), rec.pos, rec.stop)
                symbol = hits[0][2] if hits else "Unknown"
            for alt_index, alt in enumerate(rec.alts or (), start=1):
                if is_reference_block_alt(alt) or is_symbolic(alt):
                    continue
                evidence = fmt.evidence(rec, tumour_column, alt_index)
                if evidence.carries_alt is None:
                    continue
                start, end, maf_ref, maf_alt = maf_alleles(rec.pos, rec.ref, alt)
                kind = variant_type(maf_ref, maf_alt)
                terms = ann.consequences(rec, alt_index, None) if ann else None
                inframe = abs(len(rec.ref) - len(alt)) % 3 == 0
                alt_reads = evidence.alt_reads
                if alt_reads is None and evidence.vaf is not None and evidence.depth:
                    alt_reads = round(evidence.vaf * evidence.depth)
                tumour_allele = maf_alt if evidence.carries_alt else maf_ref
                rows.append({
                    "Hugo_Symbol": symbol, "NCBI_Build": genome_build,
                    "Chromosome": rec.chrom, "Start_Position": start, "End_Position": end,
                    "Variant_Classification": (variant_classification(terms, kind, inframe)
                                               if terms else UNANNOTATED_CLASS),
                    "Variant_Type": kind, "Reference_Allele": maf_ref,
                    "Tumor_Seq_Allele1": maf_ref, "Tumor_Seq_Allele2": tumour_allele,
                    "Tumor_Sample_Barcode": barcode, "FILTER": filter_text,
                    "Mutation_Status": status,
                    "Consequence": "&".join(terms) if terms else "",
                    "t_depth": "" if evidence.depth is None else evidence.depth,
                    "t_ref_count": "",
                    "t_alt_count": "" if alt_reads is None else alt_reads,
                })
    return rows


def write_maf(rows: Iterable[dict], path: str | Path, columns: list[str] | None = None) -> None:
    """Write MAF rows (GDC style: a `#version 2.4` line, then the header); `.gz` paths are
    gzip-compressed (with a fixed timestamp, so the bytes do not depend on the day)."""
    columns = columns or MAF_COLUMNS
    path = Path(path)
    raw = open(path, "wb")
    handle = gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) \
        if path.name.endswith(".gz") else raw
    try:
        lines = ["#version 2.4", "\t".join(columns)]
        lines += ["\t".join(str(row.get(c, "")) for c in columns) for row in rows]
        handle.write(("\n".join(lines) + "\n").encode("utf-8"))
    finally:
        if handle is not raw:
            handle.close()
        raw.close()

