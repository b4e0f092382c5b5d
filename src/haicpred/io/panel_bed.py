"""A gene panel given as a BED file, as capture-kit vendors ship panels and target regions.

BED is 0-based and half-open: a line `chr1  99  200  PIK3CD` covers bases 100..200, which the
panel TSV writes as start 100, end 200 (1-based, inclusive): start = bedStart + 1, end = bedEnd.
Only the first four columns are read (chrom, start, end, name); the name is the gene, and several
lines of one gene (exon targets, say) are several regions of that gene, exactly as repeated rows
of the TSV. Further columns (score, strand, thick/block columns) are ignored: the mutation rules
never use the strand. `track` and `browser` lines, `#` comments and blank lines are skipped.
Columns are tab-separated; a line without a tab is split on runs of spaces. A gzip or bgzip file
is read as such whatever its name (`.bed.gz` is the usual one).

`read_bed_panel(path) -> (frame | None, problems)`: the frame has the panel TSV's columns
(`haicpred.io.resources.PANEL_COLUMNS`, strand and source empty) in file order; every bad line
is reported with its line number (as an editor counts it, header lines included).
"""

from __future__ import annotations

import os
import re
import zlib

import pandas as pd

from haicpred.io.errors import Problem
from haicpred.io.tables import open_text

BED_SUFFIXES = (".bed", ".bed.gz")
MAX_POSITION = 2**31 - 1  # VCF positions are 32-bit; as the panel schema's maximum
# a gene symbol, as the panel schema's `gene` pattern: it names the <gene>_mutated features
GENE_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_HEADER_WORDS = ("track", "browser")


def is_bed(path: str | os.PathLike) -> bool:
    """Whether `path` names a BED panel (by extension: .bed or .bed.gz, any case)."""
    return str(path).lower().endswith(BED_SUFFIXES)


def read_bed_panel(path: str | os.PathLike, columns: list[str]
                   ) -> tuple[pd.DataFrame | None, list[Problem]]:
    """The BED panel as a frame of `columns` (gene, chrom, start, end, strand, source; start/end
    Int64 and 1-based inclusive, missing on a bad line) and every problem; (None, problems)
    when the file cannot be read."""
    file = str(path)
    try:
        lines = _lines(path)
    except FileNotFoundError:
        return None, [Problem(file, "file", "does not exist",
                              "check the path in config/config.yaml")]
    except IsADirectoryError:
        return None, [Problem(file, "file", "is a directory, not a file",
                              "check the path in config/config.yaml")]
    except (OSError, EOFError, UnicodeDecodeError, zlib.error) as exc:
        return None, [Problem(file, "file", f"is not a readable BED file ({exc})",
                              "save it as tab-separated text (gzip-compressed if it ends "
                              "in .bed.gz)")]
    rows: list[tuple] = []
    problems: list[Problem] = []
    for number, line in enumerate(lines, start=1):
        text = line.rstrip("\r\n")
        fields = text.split("\t") if "\t" in text else text.split()
        if not text.strip() or _is_header(text, fields):
            continue
        row, found = _region(fields, file, f"line {number}")
        problems += found
        rows.append(row)
    frame = pd.DataFrame(rows, columns=["gene", "chrom", "start", "end"])
    frame = frame.reindex(columns=columns, fill_value="")
    frame[["start", "end"]] = frame[["start", "end"]].astype("Int64")
    if not rows and not problems:
        problems.append(Problem(file, "file", "the panel lists no regions",
                                "add one line per region: chrom, start, end, gene name"))
    return frame, problems


def _lines(path: str | os.PathLike) -> list[str]:
    """The file's lines (`haicpred.io.tables.open_text`: gzip/bgzip by content, no BOM)."""
    with open_text(path) as handle:
        return handle.readlines()


def _is_header(text: str, fields: list[str]) -> bool:
    """A `#` comment, or a UCSC `track`/`browser` line."""
    return text.lstrip().startswith("#") or fields[0].strip().split(" ")[0] in _HEADER_WORDS


def _region(fields: list[str], file: str, where: str) -> tuple[tuple, list[Problem]]:
    """(gene, chrom, start, end) of one BED line, 1-based inclusive (None where bad), and its
    problems."""
    fields = [f.strip() for f in fields]
    if len(fields) < 4:
        return (None, None, None, None), [Problem(
            file, where, f"has {len(fields)} column(s); a panel BED needs chrom, start, end and "
            "name", "add the gene symbol as the 4th column (tab-separated)")]
    chrom, start_text, end_text, name = fields[:4]
    problems = []
    if not chrom:
        problems.append(Problem(file, f"{where}, column 1 (chrom)", "chrom is empty",
                                "give the contig as in your VCFs (chr1 or 1)"))
    start, end = _integer(start_text), _integer(end_text)
    for value, text, column in ((start, start_text, "2 (start)"), (end, end_text, "3 (end)")):
        if value is None:
            problems.append(Problem(file, f"{where}, column {column}",
                                    f"{text!r} is not a whole number",
                                    "BED coordinates are 0-based integers"))
    if start is not None and start < 0:
        problems.append(Problem(file, f"{where}, column 2 (start)", f"start {start} is negative",
                                "BED starts are 0-based: the first base of a contig is 0"))
        start = None
    if end is not None and end > MAX_POSITION:
        problems.append(Problem(file, f"{where}, column 3 (end)",
                                f"end {end} is beyond {MAX_POSITION}",
                                "give a position within the contig"))
        end = None
    if start is not None and end is not None and end <= start:
        problems.append(Problem(file, f"{where}, columns 2-3 (start, end)",
                                f"end {end} is not after start {start}",
                                "BED intervals are half-open: end > start (a single base "
                                "at 1-based position p is p-1, p)"))
        start = end = None
    gene = name if GENE_PATTERN.fullmatch(name) else None
    if not name or name == ".":
        problems.append(Problem(file, f"{where}, column 4 (name)", "the name is missing",
                                "put the gene symbol in column 4: it names the gene's "
                                "features (lines of one gene share the name)"))
    elif gene is None:
        problems.append(Problem(file, f"{where}, column 4 (name)",
                                f"{name!r} is not a gene symbol (letters, digits, . _ -)",
                                "put the gene symbol in column 4; lines of one gene (exon "
                                "targets) share the name"))
    return ((gene, chrom or None, None if start is None else start + 1,
             None if end is None else end), problems)


def _integer(text: str) -> int | None:
    return int(text) if re.fullmatch(r"[+-]?\d+", text) else None
