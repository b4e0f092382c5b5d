"""Which file and which column hold each sample.

- `group_by_file` / `missing_path`: the sample sheet's rows grouped by the VCF they name, so
  each file is opened once.
- `choose_tumour_column` picks the tumour sample column of a somatic VCF (`header_meta` reads
  the `##tumor_sample=` / `##normal_sample=` lines it uses).
"""

from __future__ import annotations

from collections.abc import Sequence

import pysam

from haicpred.io.errors import InputError, Problem

# ----------------------------------------------------------------------------------------------
# Header helpers and the tumour column
# ----------------------------------------------------------------------------------------------

TUMOUR_NAMES = {"TUMOR", "TUMOUR"}
NORMAL_NAMES = {"NORMAL"}


def header_meta(header: pysam.VariantHeader, key: str) -> list[str]:
    """Values of generic `##key=value` header lines."""
    out = []
    for rec in header.records:
        if rec.key == key and rec.value is not None:
            out.append(str(rec.value).strip().strip('"'))
    return out


def _columns_text(columns: Sequence[str]) -> str:
    return ", ".join(columns) if columns else "(none)"


def choose_tumour_column(header: pysam.VariantHeader, requested: str | None, *, path: str,
                         sample_id: str) -> str:
    """Pick the tumour sample column of a somatic VCF; InputError when it cannot be decided.

    Order: the sheet's `tumor_sample`; `##tumor_sample=`; the single column not named by
    `##normal_sample=`; the only column; the single column named TUMOR/TUMOUR; the single column
    that is not named NORMAL.
    """
    columns = list(header.samples)
    where = f"sample {sample_id}"
    if requested:
        if requested in columns:
            return requested
        raise InputError(Problem(path, where,
                                 f"tumor_sample {requested!r} is not a column of this VCF "
                                 f"(columns: {_columns_text(columns)})",
                                 "set tumor_sample in the sample sheet to one of the columns"))
    if not columns:
        raise InputError(Problem(path, where,
                                 "has no sample columns (sites-only VCF), so the tumour's "
                                 "genotype and allele fractions are unknown",
                                 "give the caller's VCF with the tumour sample column"))
    tumour_meta = header_meta(header, "tumor_sample")
    for name in tumour_meta:
        if name in columns:
            return name
    if tumour_meta:
        raise InputError(Problem(path, where,
                                 f"##tumor_sample={tumour_meta[0]} names no column "
                                 f"(columns: {_columns_text(columns)})",
                                 "set tumor_sample in the sample sheet to one of the columns"))
    normals = set(header_meta(header, "normal_sample"))
    if normals:
        rest = [c for c in columns if c not in normals]
        if len(rest) == 1:
            return rest[0]
    if len(columns) == 1:
        return columns[0]
    named = [c for c in columns if c.upper() in TUMOUR_NAMES]
    if len(named) == 1:
        return named[0]
    not_normal = [c for c in columns if c.upper() not in NORMAL_NAMES]
    if len(not_normal) == 1 and len(not_normal) < len(columns):
        return not_normal[0]
    raise InputError(Problem(path, where,
                             f"cannot tell which column is the tumour "
                             f"(columns: {_columns_text(columns)}; no ##tumor_sample or "
                             f"##normal_sample header line)",
                             "set tumor_sample in the sample sheet to the tumour's column"))


# ----------------------------------------------------------------------------------------------
# The sample sheet's files (shared by the mutation and genotype stages)
# ----------------------------------------------------------------------------------------------

def missing_path(value) -> bool:
    """True for None / '' / NaN / pandas NA (no file given)."""
    if value is None:
        return True
    try:
        if value != value:  # NaN
            return True
    except (TypeError, ValueError):
        return True  # pandas NA raises on comparison
    return str(value).strip() == ""


def group_by_file(samples: list[dict], path_key: str
                  ) -> tuple[list[str], dict[str, list[dict]], list[Problem]]:
    """(sample IDs, samples grouped by the file named in `path_key`, problems): each VCF is
    opened once however many samples share it; a repeated sample_id is a problem."""
    sample_ids: list[str] = []
    by_file: dict[str, list[dict]] = {}
    problems: list[Problem] = []
    for sample in samples:
        sample_id = str(sample["sample_id"])
        if sample_id in sample_ids:
            problems.append(Problem("sample sheet", f"sample {sample_id}",
                                    "sample_id appears twice",
                                    "give every sample a unique sample_id"))
            continue
        sample_ids.append(sample_id)
        path = sample.get(path_key)
        if not missing_path(path):
            by_file.setdefault(str(path), []).append(sample)
    return sample_ids, by_file, problems
