"""Reading a MAF once per job: its columns, its genome build, each sample's tumour barcode and
the rows that overlap the panel.

A MAF (GDC/TCGA, cBioPortal, vcf2maf) is a tab-separated table, one row per call, often one
file per batch or cohort. `read_panel_rows` reads the columns the panel rules need, refuses a
file that lacks a required column or whose `NCBI_Build` names another build, finds each
requested sample's `Tumor_Sample_Barcode` and returns, for those samples only, the rows that
overlap a panel region (with the panel genes they overlap). Every problem is collected.

- Leading `#` lines (`#version 2.4` in GDC files) are skipped; column names are matched
  case-insensitively (old TCGA files write `Start_position`).
- Contigs match the panel's with or without `chr` (`haicpred.genomics.vcf.regions`).
- A sample's barcode is the sheet's `tumor_sample`, else its `sample_id`; failing an exact
  match, a single barcode that starts with `<sample_id>-` (a TCGA patient ID names its
  samples' barcodes) is taken; several such barcodes (a patient's primary and recurrence)
  must be chosen in the sheet.
- The span compared with the panel is the one the calls' VCF record would have: MAF drops the
  VCF's padding base of indels, so a deletion (or another length-changing allele) reaches
  back to Start_Position - 1, and an insertion (Reference_Allele `-`) sits at its
  Start_Position, the base before it.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass

import numpy as np
import pandas as pd

from haicpred.genomics.vcf.access import samples_where
from haicpred.genomics.vcf.build import GENOME_BUILDS, builds_named
from haicpred.genomics.vcf.regions import RegionIndex, contig_key
from haicpred.io.errors import Problem
from haicpred.io.tables import is_gzipped, open_text, whole_numbers

REQUIRED_COLUMNS = ("Chromosome", "Start_Position", "End_Position", "Reference_Allele",
                    "Tumor_Seq_Allele2", "Tumor_Sample_Barcode", "Variant_Classification")
OPTIONAL_COLUMNS = ("Tumor_Seq_Allele1", "Consequence", "FILTER", "Mutation_Status",
                    "t_depth", "t_ref_count", "t_alt_count", "NCBI_Build")
COUNT_COLUMNS = ("t_depth", "t_ref_count", "t_alt_count")
#: Cells that mean "not given" in MAF files.
EMPTY_CELLS = frozenset({"", ".", "NA", "N/A", "NaN", "nan", "None", "__UNKNOWN__"})
#: Problems of one kind listed row by row before the rest are only counted.
ROWS_SHOWN = 5
MAF_HINT = ("give a tab-separated MAF whose header names the GDC MAF columns (Chromosome, "
            "Start_Position, End_Position, Reference_Allele, Tumor_Seq_Allele2, "
            "Tumor_Sample_Barcode, Variant_Classification)")


@dataclass(frozen=True)
class MafRequest:
    """One sample of the sheet whose calls are in this MAF."""

    sample_id: str
    tumour_sample: str | None  # the sheet's tumor_sample (None: use the sample_id)


@dataclass
class PanelRows:
    """What a job needs from one MAF: the requested samples' rows over the panel."""

    # the columns of REQUIRED/OPTIONAL_COLUMNS, stripped text, with the positions and
    # COUNT_COLUMNS as Int64 (missing: not given); `line` (the file's line number) and `allele`
    # (the tumour's allele: Tumor_Seq_Allele2, or Allele1 when Allele2 is the reference)
    rows: pd.DataFrame
    sample_ids: dict[str, list[str]]  # barcode -> the sheet's sample IDs it stands for
    hits: list[list[tuple[int, int, str, str]]]  # per row: overlapping panel regions


def read_panel_rows(path: str, requests: list[MafRequest], regions: RegionIndex,
                    genome_build: str | None) -> tuple[PanelRows | None, list[Problem]]:
    """The requested samples' panel rows of the MAF at `path`, or (None, problems)."""
    ids = [r.sample_id for r in requests]
    where = samples_where(ids)
    header, skipped, gzipped, problem = _header(path, where)
    if problem is not None:
        return None, [problem]
    by_lower = {}
    for name in header:
        by_lower.setdefault(name.strip().lower(), name)
    missing = [c for c in REQUIRED_COLUMNS if c.lower() not in by_lower]
    if missing:
        return None, [Problem(path, where, f"MAF lacks the column(s) {', '.join(missing)} "
                                           f"(header: {_shown_header(header)})", MAF_HINT)]
    wanted = [c for c in REQUIRED_COLUMNS + OPTIONAL_COLUMNS if c.lower() in by_lower]
    try:
        table = _read_columns(path, skipped, gzipped, [by_lower[c.lower()] for c in wanted])
    except (ValueError, OSError, EOFError, UnicodeDecodeError) as exc:
        detail = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        return None, [Problem(path, where, f"not a readable MAF ({detail})", MAF_HINT)]
    # the specification's spelling, whatever the file's case
    table = table.rename(columns={by_lower[c.lower()]: c for c in wanted})
    for column in OPTIONAL_COLUMNS:
        if column not in table.columns:
            table[column] = ""
    # the file's line numbers (1-based): the comment lines, then the header
    table["line"] = np.arange(len(table)) + skipped + 2

    problems = _build_problems(path, where, table["NCBI_Build"], genome_build)
    barcodes, barcode_problems = _barcodes(path, requests, table["Tumor_Sample_Barcode"])
    problems += barcode_problems
    if problems:
        return None, problems
    mine = table[table["Tumor_Sample_Barcode"].isin(barcodes)]
    mine = mine.assign(**{column: mine[column].str.strip() for column in wanted})
    positions = ("Start_Position", "End_Position")
    problems += _integer_problems(path, mine, positions, allow_empty=False)
    if problems:
        return None, problems
    allele2, ref = mine["Tumor_Seq_Allele2"], mine["Reference_Allele"]
    mine = mine.assign(allele=allele2.where(allele2 != ref, mine["Tumor_Seq_Allele1"]),
                       **{column: integers(mine[column]) for column in positions})
    rows, hits = _over_panel(mine, regions)
    problems += _integer_problems(path, rows, COUNT_COLUMNS, allow_empty=True)
    if problems:
        return None, problems
    rows = rows.assign(**{column: integers(rows[column]) for column in COUNT_COLUMNS})
    return PanelRows(rows.reset_index(drop=True), barcodes, hits), []


# ----------------------------------------------------------------------------------------------
# The header
# ----------------------------------------------------------------------------------------------

def _header(path: str, where: str) -> tuple[list[str], int, bool, Problem | None]:
    """(column names, number of `#` lines before them, gzip-compressed?, problem). Gzip is
    told by the content, not the name."""
    skipped = 0
    try:
        gzipped = is_gzipped(path)
        with open_text(path) as handle:
            for line in handle:
                if line.startswith("#"):
                    skipped += 1
                    continue
                return line.rstrip("\r\n").split("\t"), skipped, gzipped, None
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        return [], 0, False, Problem(path, where, f"the MAF cannot be read ({exc})", MAF_HINT)
    return [], 0, gzipped, Problem(path, where, "the MAF has no header line (it is empty or "
                                                "only # comment lines)", MAF_HINT)


#: Rows parsed at a time: every column is parsed (see `_read_columns`), only the needed kept.
CHUNK_ROWS = 100_000


def _read_columns(path: str, skipped: int, gzipped: bool, columns: list[str]) -> pd.DataFrame:
    """The named columns of every row, as text. Every column is parsed, in chunks, rather than
    with `usecols`: pandas then ignores a row's surplus cells, and a stray tab would shift a
    row's values into the wrong columns unnoticed; parsed whole, such a row is an error naming
    its line. (A row with too few cells reads as empty trailing cells.)"""
    chunks = pd.read_csv(path, sep="\t", skiprows=skipped, dtype=str, keep_default_na=False,
                         na_filter=False, quoting=csv.QUOTE_NONE, encoding="utf-8-sig",
                         compression="gzip" if gzipped else None, engine="c",
                         chunksize=CHUNK_ROWS)
    kept = []
    for chunk in chunks:
        if not isinstance(chunk.index, pd.RangeIndex):
            # pandas reads surplus cells of the first row as an index instead of failing
            raise ValueError(f"line {skipped + 2} has more cells than the header's "
                             f"{len(chunk.columns)} columns")
        kept.append(chunk[columns])
    return pd.concat(kept, ignore_index=True) if kept else pd.DataFrame(columns=columns)


def _shown_header(header: list[str]) -> str:
    shown = ", ".join(header[:8])
    return shown + (f", ... ({len(header)} columns)" if len(header) > 8 else "")


# ----------------------------------------------------------------------------------------------
# Genome build and samples
# ----------------------------------------------------------------------------------------------

def _build_problems(path: str, where: str, cells: pd.Series, genome_build: str | None
                    ) -> list[Problem]:
    """A problem for each NCBI_Build value that names another build than the panel's."""
    if genome_build is None:
        return []
    problems = []
    for value in sorted(set(cells.str.strip()) - EMPTY_CELLS):
        named = builds_named(value)
        if len(named) != 1 or named[0] == genome_build:
            continue  # the value does not say, or says the panel's build
        other = named[0]
        switch = (f"run it with genome_build: {other} and the {other} panel, or "
                  if other in GENOME_BUILDS else "")
        problems.append(Problem(path, where,
                                f"NCBI_Build is {value!r} ({other}), not {genome_build} (the "
                                f"genome_build of the panel)",
                                f"{switch}lift the calls over to {genome_build} first"))
    return problems


def _barcodes(path: str, requests: list[MafRequest], cells: pd.Series
              ) -> tuple[dict[str, list[str]], list[Problem]]:
    """barcode -> sample IDs of the sheet it stands for; a problem per unmatched sample."""
    present = set(cells.unique())
    found: dict[str, list[str]] = {}
    problems = []
    for request in requests:
        wanted = request.tumour_sample or request.sample_id
        where = f"sample {request.sample_id}"
        if wanted in present:
            found.setdefault(wanted, []).append(request.sample_id)
            continue
        prefixed = sorted(b for b in present if b.startswith(f"{wanted}-"))
        if request.tumour_sample is None and len(prefixed) == 1:
            found.setdefault(prefixed[0], []).append(request.sample_id)
            continue
        if len(prefixed) > 1:
            problems.append(Problem(path, where,
                                    f"several Tumor_Sample_Barcodes start with {wanted}: "
                                    f"{', '.join(prefixed[:ROWS_SHOWN])}",
                                    "set tumor_sample in the sample sheet to the barcode of "
                                    "the tumour to use"))
            continue
        column = "tumor_sample" if request.tumour_sample else "sample_id"
        problems.append(Problem(path, where,
                                f"no row has Tumor_Sample_Barcode {wanted} (the sheet's "
                                f"{column}; the MAF has {len(present)} barcode(s), e.g. "
                                f"{', '.join(sorted(present)[:3])})",
                                "set tumor_sample in the sample sheet to the tumour's "
                                "Tumor_Sample_Barcode. A MAF has no row for a tumour without "
                                "calls: give such a tumour's (empty) VCF instead, so it is "
                                "counted as unmutated rather than unknown"))
    return found, problems


# ----------------------------------------------------------------------------------------------
# Numbers
# ----------------------------------------------------------------------------------------------

def integers(cells: pd.Series) -> pd.Series:
    """Int64 of the cells that hold whole numbers >= 0 (positions, read counts); missing for
    empty or invalid ones."""
    numbers = whole_numbers(cells)
    return numbers.where(numbers >= 0)


def _integer_problems(path: str, rows: pd.DataFrame, columns: tuple[str, ...],
                      allow_empty: bool) -> list[Problem]:
    problems = []
    for column in columns:
        cells = rows[column]
        empty = cells.isin(EMPTY_CELLS)
        bad = integers(cells).isna() & (~empty if allow_empty else True)
        lines = rows["line"][bad].tolist()
        values = cells[bad].tolist()
        for line, value in zip(lines[:ROWS_SHOWN], values[:ROWS_SHOWN]):
            what = "is empty" if value == "" else f"is {value!r}, not a whole number >= 0"
            problems.append(Problem(path, f"line {line}, column {column}", what,
                                    f"give {column} as a whole number" +
                                    (" or leave it empty" if allow_empty else "")))
        if len(lines) > ROWS_SHOWN:
            problems.append(Problem(path, f"column {column}",
                                    f"{len(lines) - ROWS_SHOWN} more line(s) like these",
                                    f"give {column} as a whole number"))
    return problems


# ----------------------------------------------------------------------------------------------
# Overlap with the panel
# ----------------------------------------------------------------------------------------------

def record_span(start: np.ndarray, end: np.ndarray, ref: pd.Series, alt: pd.Series
                ) -> tuple[np.ndarray, np.ndarray]:
    """The 1-based inclusive span of each row's VCF record (see the module docstring)."""
    ref_len = np.where(ref.to_numpy() == "-", 0, ref.str.len().to_numpy())
    alt_len = np.where(alt.to_numpy() == "-", 0, alt.str.len().to_numpy())
    insertion = ref_len == 0
    padded = ~insertion & (ref_len != alt_len)
    span_start = np.where(padded, start - 1, start)
    span_end = np.where(insertion, start, end)
    return span_start, span_end


def _over_panel(rows: pd.DataFrame, regions: RegionIndex
                ) -> tuple[pd.DataFrame, list[list[tuple[int, int, str, str]]]]:
    """The rows whose record overlaps a panel region, and per row those regions.

    A vectorised test against each contig's merged regions first, so that only the few rows
    near the panel reach the per-row lookup (a batch MAF has ~10^5 rows, the panel ~10^1)."""
    start = rows["Start_Position"].to_numpy(dtype=np.int64)
    end = rows["End_Position"].to_numpy(dtype=np.int64)
    span_start, span_end = record_span(start, end, rows["Reference_Allele"], rows["allele"])
    keys = rows["Chromosome"].map(contig_key).to_numpy()
    near = np.zeros(len(rows), dtype=bool)
    for key in regions.contig_keys():
        merged = regions.merged(key)
        starts = np.array([s for s, _ in merged], dtype=np.int64)
        ends = np.array([e for _, e in merged], dtype=np.int64)
        on_contig = keys == key
        last = np.searchsorted(starts, span_end[on_contig], side="right") - 1
        reaches = (last >= 0) & (ends[np.maximum(last, 0)] >= span_start[on_contig])
        near[np.flatnonzero(on_contig)[reaches]] = True
    hits = [regions.overlapping(key, int(s), int(e))
            for key, s, e in zip(keys[near], span_start[near], span_end[near])]
    return rows[near], hits
