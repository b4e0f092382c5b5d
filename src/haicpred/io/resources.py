"""The gene panel and the SNP table: the resources the mutation and genotype features read.

Each is validated against its JSON schema (`schemas/panel.schema.yaml`,
`schemas/snps.schema.yaml`), plus the few rules a per-column schema cannot express; every
problem is collected and reported together. `read_panel`/`read_snps` raise InputError or return
a typed frame in file order; `check_panel`/`check_snps` return (frame | None, problems) for
callers that add checks of their own (the simulator).

The panel is a TSV (gene, chrom, start, end[, strand][, source]; 1-based, inclusive) or a BED
file (`.bed`, `.bed.gz`: chrom, start, end, name; 0-based, half-open;
`haicpred.io.panel_bed`), both read into the same frame. A gene may have several rows (several
regions). A TSV row with the gene and empty chrom, start and end is a gene that is in the panel
but has no valid span on this genome build (HNRNPCL4 on GRCh37): its `source` says why. Its
features are empty (missing, not 0) for every sample (`not_assessed_genes`, `assessed_regions`).
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from haicpred.io.errors import Problem, raise_if_any
from haicpred.io.panel_bed import is_bed, read_bed_panel
from haicpred.io.tables import whole_numbers
from haicpred.io.validation import read_and_validate, row_numbers

# the checkout's resources/ (panels, SNPs, pyradiomics parameter files, the IBSI mapping)
CHECKOUT_RESOURCES = Path(__file__).resolve().parents[3] / "resources"
PANEL_COLUMNS = ["gene", "chrom", "start", "end", "strand", "source"]
PANEL_REQUIRED = PANEL_COLUMNS[:4]  # strand (never used by the mutation rules), source optional
COORDINATES = ["chrom", "start", "end"]
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
    """The panel (PANEL_COLUMNS; start/end Int64, missing where the cell is invalid or the gene
    is not assessed on this build) and every problem in it; (None, problems) when the file
    cannot be read or lacks columns. A TSV or, by its extension, a BED file."""
    file = str(path)
    if is_bed(path):
        return read_bed_panel(path, PANEL_COLUMNS)  # every line has coordinates
    raw, problems = read_and_validate(path, "panel", PANEL_REQUIRED)
    if raw is None:
        return None, problems
    df = _typed(raw, PANEL_COLUMNS, ["start", "end"])
    df["source"] = df["source"].fillna("")
    df["strand"] = df["strand"].fillna("")
    if len(df) == 0:
        problems.append(Problem(file, "file", "the panel lists no genes",
                                "add one row per gene region"))
    for row in rows_where(df["end"] < df["start"]):
        problems.append(Problem(file, f"row {row}, columns start, end",
                                f"end {df['end'].iloc[row - 1]} is before start "
                                f"{df['start'].iloc[row - 1]}", "swap start and end"))
    return df, problems + _coordinate_problems(file, raw, df)


def _coordinate_problems(file: str, raw: pd.DataFrame, df: pd.DataFrame) -> list[Problem]:
    """A TSV row gives chrom, start and end, or none of them (a gene not assessed on this build,
    whose source says why); a gene is either assessed or not. `raw`: the cells as written."""
    empty = raw.reindex(columns=COORDINATES).isna()
    partly = empty.any(axis=1) & ~empty.all(axis=1)
    problems = []
    for row in rows_where(partly):
        missing = [c for c in COORDINATES if empty[c].iloc[row - 1]]
        problems.append(Problem(file, f"row {row}, column(s) {', '.join(missing)}",
                                f"{' and '.join(missing)} empty while the other coordinates "
                                "are given", "give chrom, start and end; or leave all three "
                                "empty for a gene not assessed on this genome build (and say "
                                "why in source)"))
    without = empty.all(axis=1)
    for row in rows_where(without & (df["source"].str.strip() == "")):
        problems.append(Problem(file, f"row {row}, column source",
                                f"{df['gene'].iloc[row - 1]} has no coordinates and no reason",
                                "say in source why the gene is not assessed on this genome "
                                "build (or give its chrom, start and end)"))
    return problems + _not_assessed_problems(df, ~without, file)


def _not_assessed_problems(df: pd.DataFrame, located: pd.Series, file: str) -> list[Problem]:
    """A gene with regions and a row without coordinates contradicts itself; a panel whose
    genes all lack coordinates assesses nothing. `located`: the rows with coordinates."""
    problems = []
    for gene in dict.fromkeys(df.loc[~located & df["gene"].notna(), "gene"]):
        rows = df["gene"] == gene
        if (rows & located).any():
            problems.append(Problem(file, row_numbers(rows),
                                    f"{gene} has regions and also a row without coordinates",
                                    "drop the row without coordinates, or the regions if the "
                                    "gene has no valid span on this genome build"))
    if len(df) and not located.any():
        problems.append(Problem(file, "file", "no gene of the panel has coordinates",
                                "give chrom, start and end of at least one region"))
    return problems


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
    """Read and validate a panel: a TSV (gene, chrom, start, end[, strand][, source]; 1-based,
    inclusive) or a BED file (.bed, .bed.gz; 0-based, half-open, converted). InputError listing
    every problem, else every row in file order with Int64 start/end (missing, with chrom, for
    a gene not assessed on this build)."""
    df, problems = check_panel(path)
    raise_if_any(problems)
    return df


def assessed_regions(panel: pd.DataFrame) -> pd.DataFrame:
    """The panel's rows with coordinates (the regions mutations are looked for in), int64
    start/end."""
    regions = panel[panel["chrom"].notna()]
    return regions.astype({"start": "int64", "end": "int64"}).reset_index(drop=True)


def not_assessed_genes(panel: pd.DataFrame) -> dict[str, str]:
    """Genes in the panel without coordinates on this build -> why (their `source`), in file
    order: their features are empty (missing, not 0) for every sample."""
    rows = panel[panel["chrom"].isna()]
    return {str(g): str(s) for g, s in zip(rows["gene"], rows["source"].fillna(""))}


def read_snps(path: str | os.PathLike) -> pd.DataFrame:
    """Read and validate a SNP TSV (rsid, chrom, pos, ref, alt, gene[, source]; + strand;
    a missing source is ""). InputError
    listing every problem, else int64 pos in file order."""
    df, problems = check_snps(path)
    raise_if_any(problems)
    return df.astype({"pos": "int64"})


def _read(path: str | os.PathLike, schema: str, required: list[str], columns: list[str],
          integer_columns: list[str]) -> tuple[pd.DataFrame | None, list[Problem]]:
    """`read_and_validate`, then `_typed`."""
    df, problems = read_and_validate(path, schema, required)
    if df is None:
        return None, problems
    return _typed(df, columns, integer_columns), problems


def _typed(df: pd.DataFrame, columns: list[str], integer_columns: list[str]) -> pd.DataFrame:
    """Just `columns` (absent optional ones empty) with the integer columns as Int64."""
    df = df.reindex(columns=columns, fill_value="")
    for column in integer_columns:
        df[column] = whole_numbers(df[column])  # invalid cells: reported by the schema
    return df


def rows_where(mask: pd.Series) -> list[int]:
    """1-based row numbers where `mask` is true (missing counts as false)."""
    return [int(i) + 1 for i in mask.fillna(False).to_numpy(dtype=bool).nonzero()[0]]


def not_assessed_message(path: str | os.PathLike, genome_build: str) -> str | None:
    """The run's one note on the panel genes without coordinates on `genome_build` (None when
    every gene is assessed, or when the panel cannot be read: its problems are reported by the
    cohort check and the jobs that read it)."""
    panel, problems = check_panel(path)
    if panel is None or problems:
        return None
    genes = not_assessed_genes(panel)
    if not genes:
        return None
    listed = "; ".join(f"{gene} -- {reason}" for gene, reason in genes.items())
    return (f"not assessed on {genome_build}: {listed}. The panel {path} gives no coordinates "
            "on this build: the <gene>_mutated and <gene>_n_mutations columns are empty "
            "(missing, not 0) for every sample, and panel_mutations and "
            "fohaic1_mutation_positive count the assessed genes only.")
