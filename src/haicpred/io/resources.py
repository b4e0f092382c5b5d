"""The gene panel and the SNP table: the resources the mutation and genotype features read.

Each is validated against its JSON schema (`schemas/panel.schema.yaml`,
`schemas/snps.schema.yaml`), plus the few rules a per-column schema cannot express; every
problem is collected and reported together. `read_panel`/`read_snps` raise InputError or return
a typed frame (int64 positions) in file order; `check_panel`/`check_snps` return
(frame | None, problems) for callers that add checks of their own (the simulator).
"""

from __future__ import annotations

import os

import pandas as pd

from haicpred.io.errors import Problem, raise_if_any
from haicpred.io.validation import read_and_validate

PANEL_COLUMNS = ["gene", "chrom", "start", "end", "strand", "source"]
PANEL_REQUIRED = PANEL_COLUMNS[:-1]  # source is optional
SNP_COLUMNS = ["rsid", "chrom", "pos", "ref", "alt", "gene", "source"]
SNP_REQUIRED = SNP_COLUMNS[:-1]  # source is optional
IL28B_RSID = "rs8099917"
GALNT14_RSID = "rs9679162"
#: (ref, alt) on the + strand of the SNPs whose published genotype groups are features
#: (genomics.genotypes.GENOTYPE_FLAGS): a row with other alleles would silently flip a flag.
#: IL-28B rs8099917: T/T adverse for HAIC response. GALNT14 rs9679162: G/G favourable after
#: HAIC (the papers' letters are + strand; on GALNT14's minus-strand transcript it reads C>A).
#: A row may give the two alleles swapped (ref and alt exchanged).
PUBLISHED_SNP_ALLELES = {IL28B_RSID: ("T", "G"), GALNT14_RSID: ("G", "T")}


def check_panel(path: str | os.PathLike) -> tuple[pd.DataFrame | None, list[Problem]]:
    """The panel (PANEL_COLUMNS; start/end Int64, missing where the cell is invalid) and every
    problem in it; (None, problems) when the file cannot be read or lacks columns."""
    file = str(path)
    df, problems = _read(path, "panel", PANEL_REQUIRED, PANEL_COLUMNS, ["start", "end"])
    if df is None:
        return None, problems
    df["source"] = df["source"].fillna("")
    if len(df) == 0:
        problems.append(Problem(file, "file", "the panel lists no genes",
                                "add one row per gene region"))
    for row in rows_where(df["end"] < df["start"]):
        problems.append(Problem(file, f"row {row}, columns start, end",
                                f"end {df['end'].iloc[row - 1]} is before start "
                                f"{df['start'].iloc[row - 1]}", "swap start and end"))
    return df, problems


def check_snps(path: str | os.PathLike) -> tuple[pd.DataFrame | None, list[Problem]]:
    """The SNP table (SNP_COLUMNS; pos Int64, missing where the cell is invalid) and every
    problem in it; (None, problems) when the file cannot be read or lacks columns."""
    file = str(path)
    df, problems = _read(path, "snps", SNP_REQUIRED, SNP_COLUMNS, ["pos"])
    if df is None:
        return None, problems
    df["source"] = df["source"].fillna("")
    first_row: dict[str, int] = {}
    for row, rsid in enumerate(df["rsid"], start=1):
        if pd.isna(rsid):
            continue
        if rsid in first_row:
            problems.append(Problem(file, f"row {row}, column rsid",
                                    f"rsid {rsid} appears twice (first in row {first_row[rsid]})",
                                    "list each SNP once"))
        else:
            first_row[rsid] = row
    for row in rows_where(df["ref"] == df["alt"]):
        problems.append(Problem(file, f"row {row}, columns ref, alt",
                                f"ref and alt are both {df['ref'].iloc[row - 1]}",
                                "alt is the counted, non-reference allele"))
    for rsid, (want_ref, want_alt) in PUBLISHED_SNP_ALLELES.items():
        for row in rows_where((df["rsid"] == rsid) & df["ref"].notna() & df["alt"].notna()):
            ref, alt = df["ref"].iloc[row - 1], df["alt"].iloc[row - 1]
            if {ref, alt} != {want_ref, want_alt}:
                problems.append(Problem(file, f"row {row}, columns ref, alt",
                                        f"{rsid} alleles are {ref}/{alt}, not "
                                        f"{want_ref}/{want_alt}",
                                        f"give {rsid} as ref {want_ref}, alt {want_alt} on the "
                                        "+ strand"))
    return df, problems


def read_panel(path: str | os.PathLike) -> pd.DataFrame:
    """Read and validate a panel TSV (gene, chrom, start, end, strand[, source]; 1-based,
    inclusive). InputError listing every problem, else int64 start/end in file order."""
    df, problems = check_panel(path)
    raise_if_any(problems)
    return df.astype({"start": "int64", "end": "int64"})


def read_snps(path: str | os.PathLike) -> pd.DataFrame:
    """Read and validate a SNP TSV (rsid, chrom, pos, ref, alt, gene[, source]; + strand;
    a missing source is ""). InputError
    listing every problem, else int64 pos in file order."""
    df, problems = check_snps(path)
    raise_if_any(problems)
    return df.astype({"pos": "int64"})


def _read(path: str | os.PathLike, schema: str, required: list[str], columns: list[str],
          integer_columns: list[str]) -> tuple[pd.DataFrame | None, list[Problem]]:
    """`read_and_validate`, then just `columns` (absent optional ones empty) with the integer
    columns as Int64."""
    df, problems = read_and_validate(path, schema, required)
    if df is None:
        return None, problems
    df = df.reindex(columns=columns, fill_value="")
    for column in integer_columns:
        df[column] = _integers(df[column])
    return df, problems


def _integers(cells: pd.Series) -> pd.Series:
    """Int64 of the cells the schema accepts as integers; missing elsewhere (already reported)."""
    numbers = pd.to_numeric(cells.astype("string").str.strip(), errors="coerce")
    whole = (numbers % 1 == 0) & (numbers.abs() < 2**53)
    return numbers.where(whole).astype("Int64")


def rows_where(mask: pd.Series) -> list[int]:
    """1-based row numbers where `mask` is true (missing counts as false)."""
    return [int(i) + 1 for i in mask.fillna(False).to_numpy(dtype=bool).nonzero()[0]]
