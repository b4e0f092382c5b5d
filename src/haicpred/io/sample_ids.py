"""How a cohort's tables line up with its sample sheet.

A lab keeps master tables (every patient it has) and scores or trains one batch at a time, so a
table row whose patient is not in the sheet is left out and counted, not refused. What is kept
as an error is what signals a mistake: an ID that differs from a sheet sample only by case; an
ID one character from a sheet sample that has no row of its own in the table, when no other
table of the cohort knows that ID (a typo: sequential IDs of a master table's other patients
are one character apart too, but those patients appear in the other master tables); and a
table that shares no patient with the sheet (the wrong file).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from haicpred.io.errors import Problem


@dataclass(frozen=True)
class LeftOut:
    """Rows of a table whose patients are not in the sample sheet: not used, only counted."""

    file: str
    n_rows: int
    sample_ids: tuple[str, ...]

    def __str__(self) -> str:
        return (f"{self.file}: {self.n_rows} row(s) of {len(self.sample_ids)} patient(s) not "
                f"in the sample sheet left out ({listed(set(self.sample_ids))})")


def match_tables_to_sheet(sheet_ids: pd.Series, tables: dict[str, pd.Series],
                          must_cover: tuple[str, ...] = (),
                          ) -> tuple[list[Problem], list[LeftOut]]:
    """(problems, left-out rows) of every table's sample_id column against the sheet.

    `tables` maps a file (or a name for one) to its sample_id column, in file order; the tables
    in `must_cover` must have a row for every sheet sample.
    """
    sheet = set(sheet_ids.dropna())
    by_lower: dict[str, list[str]] = {}
    for sample in sorted(sheet):
        by_lower.setdefault(sample.lower(), []).append(sample)
    present = {file: set(ids.dropna()) for file, ids in tables.items()}
    problems: list[Problem] = []
    left_out: list[LeftOut] = []
    for file, ids in tables.items():
        mine = present[file]
        absent = sheet - mine
        if mine and sheet and not mine & sheet:
            problems.append(Problem(
                file, "sample_id", f"shares no patient with the sample sheet ({len(mine)} "
                f"patient(s), e.g. {listed(mine, 3)}; the sheet has e.g. {listed(sheet, 3)})",
                "check that the config names this cohort's table and that its IDs are spelled "
                "as in the sheet; if no patient of the sheet has such data, give a table with "
                "only its header line"))
            continue
        strays = mine - sheet
        elsewhere = set().union(*(ids for other, ids in present.items() if other != file))
        near = _one_edit_index(absent)
        typos = {}
        for stray in sorted(strays):
            same_but_case = [s for s in by_lower.get(stray.lower(), []) if s != stray]
            if same_but_case:
                typos[stray] = (same_but_case[0], "only by case")
            elif stray not in elsewhere and (close := _one_edit_match(stray, near)):
                typos[stray] = (close, "by one character")
        rows = _rows_of(ids, set(typos))
        for stray, (sample, how) in typos.items():
            problems.append(Problem(
                file, f"{rows[stray]}, sample_id {stray!r}",
                f"differs from sheet sample {sample!r} {how}"
                + (", which has no row in this table" if sample in absent else ""),
                f"correct the ID to {sample!r} if it is that patient"))
        if file in must_cover and absent:
            problems.append(Problem(file, f"sample(s) {listed(absent)}", "have no row",
                                    "add a row per sample (cells may be empty)"))
        others = strays - set(typos)
        if others:
            left_out.append(LeftOut(file, int(ids.isin(others).sum()), tuple(sorted(others))))
    return problems, left_out


def listed(ids: set[str], shown: int = 10) -> str:
    ordered = sorted(ids)
    more = f" and {len(ordered) - shown} more" if len(ordered) > shown else ""
    return ", ".join(ordered[:shown]) + more


def _rows_of(ids: pd.Series, values: set[str], shown: int = 10) -> dict[str, str]:
    """value -> 'row 3' / 'rows 3, 4': the data rows (1 = first after the header) holding it,
    in one pass over the table; a table indexed by its file's row numbers (radiomics) keeps
    them."""
    if not values:
        return {}
    index = ids.index
    default = isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1
    numbers = pd.Series(np.arange(1, len(ids) + 1) if default else np.asarray(index),
                        index=index)
    found = ids[ids.isin(values)]
    out = {}
    for value, group in numbers[found.index].groupby(found.to_numpy(), sort=False):
        rows = [str(n) for n in group]
        more = f" and {len(rows) - shown} more" if len(rows) > shown else ""
        out[value] = f"{'row' if len(rows) == 1 else 'rows'} {', '.join(rows[:shown])}{more}"
    return out


def _one_edit_index(samples: set[str]) -> dict[tuple, str]:
    """Keys under which a string one edit (substitution, insertion, deletion) away from a
    sample finds it, in time linear in the string's length (no pairwise comparison: a master
    table may hold tens of thousands of IDs)."""
    index: dict[tuple, str] = {}
    for sample in sorted(samples):
        index.setdefault(("same", sample), sample)  # the other ID has one character more
        for i in range(len(sample)):
            shorter = sample[:i] + sample[i + 1:]
            index.setdefault(("sub", i, shorter), sample)  # one character replaced
            index.setdefault(("del", shorter), sample)  # the other ID lacks one character
    return index


def _one_edit_match(candidate: str, index: dict[tuple, str]) -> str | None:
    if not index:
        return None
    if (found := index.get(("del", candidate))) is not None:
        return found
    for i in range(len(candidate)):
        shorter = candidate[:i] + candidate[i + 1:]
        for key in (("sub", i, shorter), ("same", shorter)):
            if (found := index.get(key)) is not None:
                return found
    return None
