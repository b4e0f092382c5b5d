"""The sample sheet: one row per patient, naming its batch and its VCFs (or MAF)."""

from __future__ import annotations

import os
import zlib
from pathlib import Path

import pandas as pd

from haicpred.io.errors import Problem, raise_if_any
from haicpred.io.tables import GZIP_MAGIC
from haicpred.io.validation import duplicate_problems, read_and_validate

SHEET_COLUMNS = ["sample_id", "batch", "exome_vcf", "exome_maf", "tumor_sample", "genotype_vcf",
                 "genotype_sample", "image", "mask"]
PATH_COLUMNS = ["exome_vcf", "exome_maf", "genotype_vcf", "image", "mask"]
# read by SimpleITK at extraction (haicpred.radiomics.extraction checks them as images)
IMAGE_COLUMNS = ["image", "mask"]


def read_sample_sheet(path: str | os.PathLike) -> tuple[pd.DataFrame | None, list[Problem]]:
    """Read and check the sheet; paths come back resolved against the sheet's folder.

    Returns every problem found (schema, duplicate IDs, missing files) rather than the first.
    """
    file = str(path)
    df, problems = read_and_validate(path, "samples", ["sample_id", "batch"])
    if df is None:
        return None, problems
    for column in SHEET_COLUMNS:
        if column not in df.columns:
            df[column] = pd.NA
    df = df[SHEET_COLUMNS].copy()

    problems += duplicate_problems(df, ["sample_id"], file,
                                   "give every patient one row with a unique sample_id")

    base = Path(path).parent
    # a joint genotype VCF or a batch MAF is named on many rows: sniffed once
    sniffed: dict[tuple[str, str], str | None] = {}
    for column in PATH_COLUMNS:
        given = df[column].notna()
        df.loc[given, column] = [os.path.normpath(base / p) for p in df.loc[given, column]]
        for row, (sample_id, resolved) in enumerate(zip(df["sample_id"], df[column]), start=1):
            if not isinstance(resolved, str):
                continue
            where = f"row {row} (sample {sample_id}), column {column}"
            if not os.path.isfile(resolved):
                what = ("is a directory, not a file" if os.path.isdir(resolved)
                        else "does not exist")
                problems.append(Problem(file, where, f"file {resolved} {what}",
                                        "fix the path (relative paths are read from the "
                                        "sheet's folder) or leave the cell empty"))
                continue
            if column in IMAGE_COLUMNS:
                continue
            is_maf = column == "exome_maf"
            if (column, resolved) not in sniffed:
                sniffed[(column, resolved)] = (not_maf_content(resolved) if is_maf
                                               else not_variant_content(resolved))
            found = sniffed[(column, resolved)]
            if found is not None and is_maf:
                problems.append(Problem(file, where, f"file {resolved} is not a MAF ({found})",
                                        "point exome_maf at a tab-separated MAF (plain or "
                                        "gzipped) whose header names Tumor_Sample_Barcode; "
                                        "a VCF goes in exome_vcf"))
            elif found is not None:
                problems.append(Problem(file, where,
                                        f"file {resolved} is not a VCF or BCF file ({found})",
                                        "point the sheet at the patient's VCF or BCF file: "
                                        "plain text, bgzipped or BCF"))
    both = df["exome_vcf"].notna() & df["exome_maf"].notna()
    for row in both.to_numpy().nonzero()[0]:
        problems.append(Problem(file, f"row {row + 1} (sample {df['sample_id'].iloc[row]})",
                                "both exome_vcf and exome_maf are set",
                                "give the tumour's calls once: a VCF or a MAF, not both"))
    orphan_tumor = df["tumor_sample"].notna() & df["exome_vcf"].isna() & df["exome_maf"].isna()
    for row in orphan_tumor.to_numpy().nonzero()[0]:
        problems.append(Problem(file, f"row {row + 1} (sample {df['sample_id'].iloc[row]})",
                                "tumor_sample is set but exome_vcf and exome_maf are empty",
                                "add the exome VCF (or MAF) or clear tumor_sample"))
    half = df["image"].notna() != df["mask"].notna()
    for row in half.to_numpy().nonzero()[0]:
        given = "image" if pd.notna(df["image"].iloc[row]) else "mask"
        problems.append(Problem(file, f"row {row + 1} (sample {df['sample_id'].iloc[row]})",
                                f"{given} is set but {'mask' if given == 'image' else 'image'} "
                                "is empty", "give the image and its lesion mask together, or "
                                "neither for a patient without images"))
    df["genotype_sample"] = df["genotype_sample"].fillna(df["sample_id"])
    return df, problems


def has_images(sheet: pd.DataFrame) -> bool:
    """Whether radiomic features are to be extracted from the sheet's image/mask columns."""
    return bool(sheet["image"].notna().any())


#: the first bytes of a variant file: VCF text (plain or in gzip/BGZF), or BCF
VARIANT_MAGIC = (b"##fileformat=VCF", b"BCF\x02")
SNIFF_BYTES = 4096  # one small read per file, whatever its size (a sheet may name 20,000)


def not_variant_content(path: str) -> str | None:
    """None when the file starts as a VCF or BCF does; else what it starts with. A cheap
    sniff at validation (a system text file named in the sheet is refused before any job);
    the genomic jobs read and check the whole file."""
    head, problem = _file_start(path, SNIFF_BYTES, len(VARIANT_MAGIC[0]))
    if head is None:
        return problem
    if head.startswith(VARIANT_MAGIC):
        return None
    return f"{problem}, starting {_shown(head)}" if problem else f"it starts {_shown(head)}"


def not_maf_content(path: str) -> str | None:
    """None when the file's first line that is not a `#` comment is a tab-separated header
    naming Tumor_Sample_Barcode (plain or gzip); else what the file starts with. A cheap sniff,
    like `not_variant_content`; the genomic jobs check every column."""
    size = SNIFF_BYTES * 16  # GDC MAFs start with a few # lines
    head, problem = _file_start(path, size, size)
    if head is None:
        return problem
    if head.startswith(VARIANT_MAGIC):
        return "it is a VCF or BCF file"
    for line in head.split(b"\n"):
        if line.startswith(b"#"):
            continue
        names = {name.strip().lower() for name in line.rstrip(b"\r").split(b"\t")}
        if b"tumor_sample_barcode" in names:
            return None
        return f"its header line, {_shown(line)}, does not name Tumor_Sample_Barcode"
    return "no header line in its first bytes"


def _file_start(path: str, size: int, enough: int) -> tuple[bytes | None, str | None]:
    """(the first `size` bytes, decompressed to at least `enough` bytes when gzip, and
    "gzip-compressed" then; or None and what is wrong)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(size)
    except OSError as error:
        return None, f"it cannot be read: {error.strerror}"
    if not head:
        return None, "it is empty, 0 bytes"
    if head.startswith(GZIP_MAGIC):
        text = _gunzip_start(head, enough)
        if text is None:
            return None, "gzip data that does not decompress"
        return text, "gzip-compressed"
    return head, None


def _gunzip_start(data: bytes, enough: int) -> bytes | None:
    """What the first gzip members of `data` (a file's start) decompress to, as far as they
    go (at least `enough` bytes where there are); an empty BGZF block first is skipped over to
    the next member."""
    out = b""
    while data.startswith(GZIP_MAGIC) and len(out) < enough:
        member = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            out += member.decompress(data)
        except zlib.error:
            return out or None
        if not member.eof:
            break  # the member goes on beyond the bytes read
        data = member.unused_data
    return out or None  # nothing decompressed: a damaged or cut-off start


def _shown(data: bytes) -> str:
    line = data.split(b"\n", 1)[0][:40]
    return repr(line.decode("utf-8", errors="replace"))


def load_sample_sheet(path: str | os.PathLike) -> pd.DataFrame:
    df, problems = read_sample_sheet(path)
    raise_if_any(problems)
    return df


def batch_records(sheet: pd.DataFrame, batch: str) -> list[dict]:
    """The batch's rows as plain dicts (None for empty cells), in sample_id order."""
    rows = sheet[sheet["batch"] == batch].sort_values("sample_id")
    return [
        {key: (None if pd.isna(value) else str(value)) for key, value in row.items()}
        for row in rows[SHEET_COLUMNS].to_dict("records")
    ]


def batch_shards(sheet: pd.DataFrame, batch: str, shard_size: int) -> list[list[dict]]:
    """The batch's records cut into shards of at most `shard_size` consecutive samples (by
    sample_id), so a very large batch runs as several jobs."""
    records = batch_records(sheet, batch)
    return [records[i:i + shard_size] for i in range(0, len(records), shard_size)]
