"""Contig names and the records of a VCF that overlap a set of regions.

- `contig_key` / `file_contig` reconcile `chr1` vs `1` (and `chrM` vs `MT`).
- `RegionIndex` holds the panel's (or SNP resource's) intervals; `records` fetches them through
  an index, or streams the whole file.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import pysam

from haicpred.genomics.vcf.access import VcfHandle, read_problem
from haicpred.io.errors import InputError

# ----------------------------------------------------------------------------------------------
# Contig names
# ----------------------------------------------------------------------------------------------

def contig_key(name: str) -> str:
    """Naming-independent key for a contig: `chr1`/`1` -> `1`, `chrM`/`MT`/`M` -> `M`."""
    n = str(name).strip()
    if n[:3].lower() == "chr":
        n = n[3:]
    n = n.upper()
    return "M" if n in ("M", "MT") else n


def file_contig(name: str, file_contigs: Iterable[str]) -> str | None:
    """The file's spelling of contig `name` (exact match first, then `chr`-insensitive)."""
    contigs = list(file_contigs)
    if name in contigs:
        return name
    key = contig_key(name)
    for c in contigs:
        if contig_key(c) == key:
            return c
    return None


@dataclass
class RegionIndex:
    """Intervals (1-based, inclusive) keyed by `contig_key`, each with a label (e.g. a gene)."""

    _by_contig: dict[str, tuple[list[int], list[tuple[int, int, str, str]], int]] = field(
        default_factory=dict)

    @classmethod
    def build(cls, intervals: Iterable[tuple[str, int, int, str]]) -> RegionIndex:
        grouped: dict[str, list[tuple[int, int, str, str]]] = {}
        for contig, start, end, label in intervals:
            grouped.setdefault(contig_key(contig), []).append((int(start), int(end), label,
                                                               contig))
        out = cls()
        for key, items in grouped.items():
            items.sort()
            max_len = max(e - s + 1 for s, e, _, _ in items)
            out._by_contig[key] = ([s for s, _, _, _ in items], items, max_len)
        return out

    def contig_keys(self) -> list[str]:
        return list(self._by_contig)

    def merged(self, key: str) -> list[tuple[int, int]]:
        """The intervals of contig `key` merged into sorted, disjoint [start, end] spans."""
        entry = self._by_contig.get(key)
        spans: list[list[int]] = []
        for s, e, _, _ in (entry[1] if entry else []):
            if spans and s <= spans[-1][1] + 1:
                spans[-1][1] = max(spans[-1][1], e)
            else:
                spans.append([s, e])
        return [(s, e) for s, e in spans]

    def overlapping(self, key: str, start: int, end: int) -> list[tuple[int, int, str, str]]:
        """Intervals on contig `key` overlapping [start, end] (1-based inclusive)."""
        entry = self._by_contig.get(key)
        if entry is None:
            return []
        starts, items, max_len = entry
        hi = bisect_right(starts, end)
        out = []
        i = hi - 1
        lowest = start - max_len
        while i >= 0 and starts[i] >= lowest:
            s, e, label, contig = items[i]
            if e >= start:
                out.append(items[i])
            i -= 1
        out.reverse()
        return out

    def fetch_plan(self, file_contigs: Iterable[str]) -> list[tuple[str, int, int]]:
        """Merged 0-based half-open regions in the file's contig names, for `fetch`."""
        contigs = list(file_contigs)
        by_key = {}
        for c in contigs:
            by_key.setdefault(contig_key(c), c)
        plan = []
        for key, (_, items, _) in self._by_contig.items():
            name = None
            for _, _, _, original in items:
                if original in contigs:
                    name = original
                    break
            name = name or by_key.get(key)
            if name is None:
                continue
            plan.extend((name, s - 1, e) for s, e in self.merged(key))
        return plan


def records(handle: VcfHandle, regions: RegionIndex, samples: Sequence[str] = ()
            ) -> Iterator[tuple[pysam.VariantRecord, list[tuple[int, int, str, str]]]]:
    """Yield (record, overlapping intervals) for records overlapping any interval.

    Uses the index when one exists (one `fetch` per merged region); otherwise streams the whole
    file. A record overlapping two merged regions is yielded once. htslib read errors become an
    InputError naming the file, the samples and the last good record.
    """
    vf = handle.vf
    last_rec = None
    previous = pysam.set_verbosity(0)
    try:
        if handle.indexed:
            previous_end: dict[str, int] = {}
            for contig, start0, end in regions.fetch_plan(vf.header.contigs):
                # Regions of a contig come sorted and disjoint: a record reaching back into the
                # previous region (a long deletion or SV spanning the gap) was yielded there.
                # Identical duplicate lines are all yielded, as when streaming.
                before = previous_end.get(contig)
                previous_end[contig] = end
                for rec in vf.fetch(contig, start0, end):
                    last_rec = rec
                    if before is not None and rec.start < before:
                        continue
                    hits = regions.overlapping(contig_key(rec.chrom), rec.pos, rec.stop)
                    if hits:
                        yield rec, hits
        else:
            keys: dict[int, str] = {}
            wanted = set(regions.contig_keys())
            for rec in vf:
                last_rec = rec
                rid = rec.rid
                key = keys.get(rid)
                if key is None:
                    key = keys[rid] = contig_key(rec.chrom)
                if key not in wanted:
                    continue
                hits = regions.overlapping(key, rec.pos, rec.stop)
                if hits:
                    yield rec, hits
    except (OSError, ValueError, EOFError) as exc:
        raise InputError(read_problem(handle.path, samples, exc, after=_describe(last_rec))
                         ) from None
    finally:
        pysam.set_verbosity(previous)


def _describe(rec) -> str | None:
    if rec is None:
        return None
    try:
        return f"{rec.chrom}:{rec.pos}"
    except Exception:  # noqa: BLE001 - only used to enrich an error message
        return None
