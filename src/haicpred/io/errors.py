"""Input problems are collected and reported together, so a user fixes them in one pass."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input: where it is, what is wrong, and what to do."""

    file: str
    where: str  # "row 12", "sample HCC0003", "column unit", "header", ...
    message: str
    hint: str = ""

    def __str__(self) -> str:
        text = f"{self.file}: {self.where}: {self.message}"
        return f"{text} ({self.hint})" if self.hint else text


class InputError(Exception):
    """Raised with every problem found in the inputs, not just the first."""

    def __init__(self, problems: list[Problem] | Problem):
        self.problems = [problems] if isinstance(problems, Problem) else list(problems)
        lines = [f"{len(self.problems)} input problem(s) found:"]
        lines += [f"  - {p}" for p in self.problems]
        super().__init__("\n".join(lines))


def raise_if_any(problems: list[Problem]) -> None:
    if problems:
        raise InputError(problems)


class MissingExtraError(RuntimeError):
    """An optional extra a step needs (e.g. `imaging`: pyradiomics) is not installed; the
    message names the extra and its install command."""
