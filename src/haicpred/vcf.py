"""Shared helpers for reading VCF/BCF files written by real variant callers.

Used by `haicpred.mutations` (somatic panel calls) and `haicpred.genotypes` (germline SNPs).
Everything that depends on one caller's conventions lives here, so both stages read files the
same way:

- `open_vcf` opens VCF, BGZF `.vcf.gz`, plain-gzip `.vcf.gz` (decompressed to a private temporary
  file: htslib cannot read those) and BCF, and turns every htslib failure into an `InputError`
  naming the file and the sample(s). `records` streams or, when an index (.tbi/.csi) already
  exists beside the file, fetches regions. Nothing is ever written beside the user's input.
- `contig_key` / `file_contig` reconcile `chr1` vs `1` (and `chrM` vs `MT`).
- `choose_tumour_column` picks the tumour sample column of a somatic VCF.
- `FormatSchema.evidence` extracts, for one sample and one ALT allele, whether the genotype
  carries the allele, the allele fraction and the depth, from whichever fields the caller wrote
  (GT; FORMAT AF/VAF/FA; VarScan FREQ and RD/AD; AD; PCGR/TCGA ADT/DPT; FreeBayes AO/RO;
  Strelka tier-1 counts; SomaticSniper BCOUNT; DP4).
- `AnnotationSchema.consequences` parses VEP `CSQ`, SnpEff `ANN` and legacy SnpEff `EFF`
  using the field list declared in the header.
"""

from __future__ import annotations

import gzip
import os
import re
import shutil
import tempfile
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pysam

from haicpred.errors import InputError, Problem

# ----------------------------------------------------------------------------------------------
# Consequences
# ----------------------------------------------------------------------------------------------

#: Consequence terms that change the protein (Sequence Ontology terms as written by VEP and
#: SnpEff `ANN`, plus the legacy SnpEff `EFF` effect names). Compared case-insensitively.
PROTEIN_ALTERING = frozenset(
    term.lower()
    for term in (
        # Sequence Ontology (VEP CSQ, SnpEff ANN)
        "missense_variant",
        "stop_gained",
        "stop_lost",
        "start_lost",
        "frameshift_variant",
        "inframe_insertion",
        "inframe_deletion",
        "protein_altering_variant",
        "splice_donor_variant",
        "splice_acceptor_variant",
        # SnpEff ANN spellings of the same classes
        "conservative_inframe_insertion",
        "conservative_inframe_deletion",
        "disruptive_inframe_insertion",
        "disruptive_inframe_deletion",
        "exon_loss_variant",
        # legacy SnpEff EFF effect names
        "NON_SYNONYMOUS_CODING",
        "STOP_GAINED",
        "STOP_LOST",
        "START_LOST",
        "FRAME_SHIFT",
        "SPLICE_SITE_DONOR",
        "SPLICE_SITE_ACCEPTOR",
        "CODON_INSERTION",
        "CODON_DELETION",
        "CODON_CHANGE_PLUS_CODON_INSERTION",
        "CODON_CHANGE_PLUS_CODON_DELETION",
        "EXON_DELETED",
    )
)


def is_protein_altering(terms: Iterable[str]) -> bool:
    return any(t.lower() in PROTEIN_ALTERING for t in terms)


# ----------------------------------------------------------------------------------------------
# Opening files
# ----------------------------------------------------------------------------------------------

READ_HINT = (
    "check it with `bcftools view` (or `gzip -t` for .gz files); re-export or re-run the caller "
    "if it is damaged, or fix the sample sheet if it points at the wrong file"
)


def _where(samples: Sequence[str]) -> str:
    samples = list(dict.fromkeys(samples))
    if not samples:
        return "file"
    if len(samples) == 1:
        return f"sample {samples[0]}"
    shown = ", ".join(samples[:5]) + (f" (+{len(samples) - 5} more)" if len(samples) > 5 else "")
    return f"samples {shown}"


def read_problem(path: str, samples: Sequence[str], exc: BaseException, after: str | None = None
                 ) -> Problem:
    """A Problem for a VCF that htslib could not read."""
    detail = str(exc).strip() or type(exc).__name__
    detail = detail.replace("\n", " ")
    where = f"after record {after}" if after else "while reading"
    return Problem(str(path), _where(samples),
                   f"not a readable VCF/BCF file ({where}: {detail})", READ_HINT)


def _is_plain_gzip(path: Path) -> bool:
    """True for gzip that is not BGZF (htslib cannot open those for reading here)."""
    with open(path, "rb") as handle:
        head = handle.read(18)
    if len(head) < 2 or head[:2] != b"\x1f\x8b":
        return False
    is_bgzf = len(head) >= 16 and bool(head[3] & 4) and head[12:14] == b"BC"
    return not is_bgzf


class VcfHandle:
    """An open VCF/BCF plus what was needed to open it. Use as a context manager."""

    def __init__(self, path: str, vf: pysam.VariantFile, tmpdir: str | None):
        self.path = path
        self.vf = vf
        self._tmpdir = tmpdir
        self.indexed = vf.index is not None

    @property
    def header(self) -> pysam.VariantHeader:
        return self.vf.header

    @property
    def samples(self) -> list[str]:
        return list(self.vf.header.samples)

    def close(self) -> None:
        try:
            self.vf.close()
        finally:
            if self._tmpdir:
                shutil.rmtree(self._tmpdir, ignore_errors=True)
                self._tmpdir = None

    def __enter__(self) -> VcfHandle:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_vcf(path: str | os.PathLike, samples: Sequence[str] = ()) -> VcfHandle:
    """Open a VCF/BCF for reading; raise InputError (naming file and samples) on failure."""
    path_str = str(path)
    p = Path(path_str)
    where = _where(samples)
    if not p.exists():
        raise InputError(Problem(path_str, where, "file not found",
                                 "check the path in the sample sheet (relative paths are "
                                 "resolved against the sheet's folder)"))
    if not p.is_file():
        raise InputError(Problem(path_str, where, "is not a regular file",
                                 "point the sample sheet at the VCF/BCF file itself"))
    tmpdir = None
    target = path_str
    previous = pysam.set_verbosity(0)
    try:
        try:
            if _is_plain_gzip(p):
                # Plain gzip (not BGZF): htslib cannot read it here, so decompress a private copy.
                tmpdir = tempfile.mkdtemp(prefix="haicpred-vcf-")
                target = os.path.join(tmpdir, "input.vcf")
                with gzip.open(p, "rb") as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
            vf = pysam.VariantFile(target, "r")
        except (OSError, ValueError, EOFError, NotImplementedError, gzip.BadGzipFile) as exc:
            if tmpdir:
                shutil.rmtree(tmpdir, ignore_errors=True)
            # name the user's file, not the private decompressed copy
            detail = str(exc).replace(target, path_str) if target != path_str else exc
            raise InputError(read_problem(path_str, samples, detail if isinstance(
                detail, BaseException) else ValueError(detail))) from None
    finally:
        pysam.set_verbosity(previous)
    return VcfHandle(path_str, vf, tmpdir)


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
            merged: list[list[int]] = []
            for s, e, _, _ in items:
                if merged and s <= merged[-1][1] + 1:
                    merged[-1][1] = max(merged[-1][1], e)
                else:
                    merged.append([s, e])
            plan.extend((name, s - 1, e) for s, e in merged)
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
            seen: set[tuple] = set()
            for contig, start0, end in regions.fetch_plan(vf.header.contigs):
                for rec in vf.fetch(contig, start0, end):
                    last_rec = rec
                    hits = regions.overlapping(contig_key(rec.chrom), rec.pos, rec.stop)
                    if not hits:
                        continue
                    ident = (rec.chrom, rec.pos, rec.ref, rec.alts)
                    if ident in seen:
                        continue
                    seen.add(ident)
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
# Alleles
# ----------------------------------------------------------------------------------------------

REFERENCE_BLOCK_ALTS = {"<NON_REF>", "<*>"}


def is_symbolic(allele: str | None) -> bool:
    """Symbolic/SV alleles: `<DEL>`, breakends, `*` (spanning deletion), missing."""
    if allele is None or allele in ("", ".", "*"):
        return True
    return allele.startswith("<") or "[" in allele or "]" in allele


def is_reference_block_alt(allele: str | None) -> bool:
    """gVCF "any other allele" placeholders (`<NON_REF>`, `<*>`): not a called variant."""
    return allele in REFERENCE_BLOCK_ALTS


def record_filter(rec: pysam.VariantRecord) -> tuple[str, bool]:
    """(FILTER as text, passes) — PASS or `.` (empty set in pysam) pass."""
    names = list(rec.filter.keys())
    if not names:
        return ".", True
    if names == ["PASS"]:
        return "PASS", True
    return ";".join(names), False


# ----------------------------------------------------------------------------------------------
# Per-allele evidence from FORMAT fields
# ----------------------------------------------------------------------------------------------

_BASES = "ACGT"
NOT_SOMATIC_STATUS = {"0": "reference", "1": "germline", "3": "loh"}


@dataclass(frozen=True)
class AlleleEvidence:
    carries_alt: bool | None  # None: the tumour column says nothing about this allele
    vaf: float | None
    depth: int | None
    alt_reads: int | None
    source: str = ""  # which field gave the VAF (for audits / debugging)


def _num(v) -> float | None:
    if v is None:
        return None
    if isinstance(v, (tuple, list)):
        return _num(v[0]) if len(v) == 1 else None
    try:
        x = float(str(v).strip().rstrip("%")) if isinstance(v, str) else float(v)
    except ValueError:
        return None
    return x if x == x else None  # drop NaN


def _as_tuple(v) -> tuple | None:
    if v is None:
        return None
    if isinstance(v, (tuple, list)):
        return tuple(v)
    if isinstance(v, str):
        if v in ("", "."):
            return None
        return tuple(None if p in ("", ".") else p for p in v.split(","))
    return (v,)


def _per_allele(value, number, alt_index: int, n_alleles: int) -> float | None:
    """The entry for ALT `alt_index` (1-based) of a Number=A/R/./1 field.

    A scalar is used only for a biallelic record. For Number=`.` the length decides whether the
    values are per ALT (A) or per allele including REF (R), as RADIA writes AF.
    """
    if value is None:
        return None
    if isinstance(value, (tuple, list)):
        vals = tuple(value)
    elif isinstance(value, str) and "," in value:
        vals = tuple(value.split(","))
    else:
        return _num(value) if n_alleles == 2 else None
    n_alt = n_alleles - 1
    if number == "A":
        idx = alt_index - 1 if len(vals) == n_alt else None
    elif number == "R":
        idx = alt_index if len(vals) == n_alleles else None
    elif len(vals) == n_alt:
        idx = alt_index - 1
    elif len(vals) == n_alleles:
        idx = alt_index
    else:
        idx = None
    return None if idx is None else _num(vals[idx])


def _counts(value) -> list[int | None] | None:
    vals = _as_tuple(value)
    if vals is None:
        return None
    out: list[int | None] = []
    for v in vals:
        x = _num(v)
        out.append(None if x is None else int(x))
    return out


def _fraction(alt: int | None, total: int | None) -> float | None:
    if alt is None or total is None or total <= 0:
        return None
    return alt / total


class FormatSchema:
    """What a file's FORMAT fields can tell, decided once from its header."""

    def __init__(self, header: pysam.VariantHeader):
        self.numbers: dict[str, object] = {k: v.number for k, v in header.formats.items()}
        f = self.numbers
        self.has_gt = "GT" in f
        # VarScan writes AD (Number=1) = alt reads and RD = ref reads.
        self.varscan_ad = "AD" in f and f.get("AD") == 1 and "RD" in f
        self.strelka_snv = all(k in f for k in ("AU", "CU", "GU", "TU"))
        self.strelka_indel = "TAR" in f and "TIR" in f
        # VarScan (INFO SS), SomaticSniper/MuSE/RADIA (FORMAT SS): 0=reference/wildtype,
        # 1=germline, 2=somatic, 3=LOH, 4=post-transcriptional, 5=unknown.
        self.info_ss = "SS" in header.info and "status" in (
            header.info["SS"].description or "").lower()
        self.format_ss = "SS" in header.formats and "status" in (
            header.formats["SS"].description or "").lower()

    def not_somatic(self, rec: pysam.VariantRecord, sample: str) -> str | None:
        """`reference`/`germline`/`loh` when the caller's somatic status says the call is not
        somatic (VarScan writes germline and LOH calls with FILTER PASS); None otherwise."""
        code = None
        if self.info_ss:
            try:
                code = rec.info.get("SS")
            except (KeyError, ValueError):
                code = None
        if code is None and self.format_ss:
            try:
                code = rec.samples[sample].get("SS")
            except (KeyError, ValueError):
                code = None
        if isinstance(code, (tuple, list)):
            code = code[0] if code else None
        if code is None:
            return None
        return NOT_SOMATIC_STATUS.get(str(code).strip())

    def evidence(self, rec: pysam.VariantRecord, sample: str, alt_index: int) -> AlleleEvidence:
        """Genotype / VAF / depth of ALT `alt_index` (1-based) in `sample`."""
        f = self.numbers
        call = rec.samples[sample]
        alleles = rec.alleles
        n_alleles = len(alleles)
        alt = alleles[alt_index]
        ref = alleles[0]

        def get(key):
            if key not in f:
                return None
            try:
                return call.get(key)
            except (KeyError, ValueError, TypeError):
                return None

        # --- depth -----------------------------------------------------------------------
        depth = None
        for key in ("DP", "DPT"):
            d = _num(get(key))
            if d is not None:
                depth = int(d)
                break

        # --- read counts -----------------------------------------------------------------
        alt_reads = total = None
        count_source = ""
        if self.varscan_ad:
            a, r = _num(get("AD")), _num(get("RD"))
            if a is not None and n_alleles == 2:
                alt_reads = int(a)
                total = int(a + r) if r is not None else depth
                count_source = "RD/AD"
        elif "AD" in f or "ADT" in f:
            for key in ("AD", "ADT"):
                ad = _counts(get(key))
                if ad is None or len(ad) != n_alleles or all(x is None for x in ad):
                    continue
                alt_reads = ad[alt_index]
                if all(x is not None for x in ad):
                    total = sum(ad)  # type: ignore[arg-type]
                else:
                    total = depth
                count_source = key
                if depth is None and all(x is not None for x in ad):
                    depth = total
                break
        if count_source == "" and "AO" in f and "RO" in f:
            ao, ro = _counts(get("AO")), _num(get("RO"))
            if ao is not None and len(ao) == n_alleles - 1 and ro is not None:
                alt_reads = ao[alt_index - 1]
                if all(x is not None for x in ao):
                    total = int(ro) + sum(ao)  # type: ignore[arg-type]
                count_source = "AO/RO"
        if count_source == "" and self.strelka_snv and len(ref) == 1 and len(alt) == 1 \
                and alt.upper() in _BASES:
            tiers = [_counts(get(b + "U")) for b in _BASES]
            if all(t and t[0] is not None for t in tiers):
                tier1 = [t[0] for t in tiers]  # type: ignore[index]
                alt_reads = tier1[_BASES.index(alt.upper())]
                total = sum(tier1)
                count_source = "strelka_tier1"
        if count_source == "" and self.strelka_indel and n_alleles == 2:
            tar, tir = _counts(get("TAR")), _counts(get("TIR"))
            if tar and tir and tar[0] is not None and tir[0] is not None:
                alt_reads = tir[0]
                total = tar[0] + tir[0]
                count_source = "strelka_tier1"
        if count_source == "" and "BCOUNT" in f and len(ref) == 1 and len(alt) == 1 \
                and alt.upper() in _BASES:
            bc = _counts(get("BCOUNT"))
            if bc and len(bc) == 4 and all(x is not None for x in bc):
                alt_reads = bc[_BASES.index(alt.upper())]
                total = sum(bc)  # type: ignore[arg-type]
                count_source = "BCOUNT"
        if count_source == "" and "DP4" in f and n_alleles == 2:
            dp4 = _counts(get("DP4"))
            if dp4 and len(dp4) == 4 and all(x is not None for x in dp4):
                alt_reads = dp4[2] + dp4[3]  # type: ignore[operator]
                total = sum(dp4)  # type: ignore[arg-type]
                count_source = "DP4"
        if depth is None and total is not None:
            depth = total

        # --- allele fraction -------------------------------------------------------------
        vaf = None
        source = ""
        for key in ("AF", "VAF", "FA"):
            if key in f:
                v = _per_allele(get(key), f[key], alt_index, n_alleles)
                if v is not None:
                    vaf, source = v, key
                    break
        if vaf is None and "FREQ" in f:
            v = _per_allele(get("FREQ"), "A", alt_index, n_alleles)  # VarScan: "12.5%"
            if v is not None:
                vaf, source = v / 100.0, "FREQ"
        if vaf is None and count_source:
            vaf = _fraction(alt_reads, total)
            source = count_source if vaf is not None else ""

        # --- genotype --------------------------------------------------------------------
        carries: bool | None = None
        if self.has_gt:
            gt = get("GT")
            if gt is not None:
                called = [a for a in gt if a is not None]
                if called:
                    carries = alt_index in called
        if carries is None:
            if alt_reads is not None and (total is None or total > 0):
                carries = alt_reads > 0
            elif vaf is not None:
                carries = vaf > 0
        return AlleleEvidence(carries, vaf, depth, alt_reads, source)


# ----------------------------------------------------------------------------------------------
# Functional annotation: VEP CSQ, SnpEff ANN, legacy SnpEff EFF
# ----------------------------------------------------------------------------------------------

_FORMAT_RE = re.compile(r"Format:\s*'?(?P<fields>[^']*)'?", re.IGNORECASE)
_QUOTED_RE = re.compile(r"'(?P<fields>[^']*\|[^']*)'")
_EFF_RE = re.compile(r"^\s*(?P<effect>[^(\s]+)\s*\((?P<body>.*)\)\s*$")

_ALLELE_FIELDS = ("allele",)
_CONSEQUENCE_FIELDS = ("consequence", "annotation")
_SYMBOL_FIELDS = ("symbol", "gene_name")
_ALLELE_NUM_FIELDS = ("allele_num",)


def _field_list(description: str) -> list[str] | None:
    m = _FORMAT_RE.search(description)
    text = m.group("fields") if m else None
    if not text or "|" not in text:
        q = _QUOTED_RE.search(description)
        text = q.group("fields") if q else None
    if not text or "|" not in text:
        return None
    text = text.strip().strip('"').strip()
    return [part.strip() for part in text.split("|")]


def _eff_field_list(description: str) -> list[str] | None:
    """Fields inside the parentheses of `Effect ( a | b | ... [ | ERRORS | WARNINGS ] )`."""
    m = re.search(r"\((?P<body>[^)]*)\)", description)
    if not m:
        return None
    body = m.group("body").replace("[", "").replace("]", "")
    return [part.strip() for part in body.split("|")]


def _index_of(fields: list[str], names: Sequence[str]) -> int | None:
    lowered = [f.lower().replace(" ", "") for f in fields]
    for name in names:
        if name in lowered:
            return lowered.index(name)
    return None


@dataclass(frozen=True)
class _AnnField:
    key: str
    kind: str  # "csq" (VEP/ANN-like, pipe-separated) or "eff"
    consequence: int | None
    allele: int | None
    symbol: int | None
    allele_num: int | None


class AnnotationSchema:
    """The annotation fields a header declares (CSQ, ANN, EFF), with their field positions."""

    def __init__(self, header: pysam.VariantHeader):
        self.fields: list[_AnnField] = []
        for key in ("CSQ", "ANN"):
            if key in header.info:
                names = _field_list(header.info[key].description or "")
                if names:
                    self.fields.append(_AnnField(
                        key, "csq", _index_of(names, _CONSEQUENCE_FIELDS),
                        _index_of(names, _ALLELE_FIELDS), _index_of(names, _SYMBOL_FIELDS),
                        _index_of(names, _ALLELE_NUM_FIELDS)))
        if "EFF" in header.info:
            names = _eff_field_list(header.info["EFF"].description or "") or []
            gene = _index_of(names, ("gene_name",))
            gnum = _index_of(names, ("genotype_number", "genotype"))
            self.fields.append(_AnnField("EFF", "eff", None, None, gene, gnum))

    def __bool__(self) -> bool:
        return bool(self.fields)

    def consequences(self, rec: pysam.VariantRecord, alt_index: int, gene: str | None
                     ) -> list[str] | None:
        """Consequence terms of ALT `alt_index` for `gene`; None when the record is unannotated.

        Entries are matched to the allele (ALLELE_NUM, else the Allele field compared with the
        ALT as written and as VEP trims it, else EFF's Genotype_Number); entries naming no allele
        apply to all. Among them, those whose SYMBOL/Gene_Name is `gene` are used when any
        exist; otherwise all of them (the record overlaps the gene's region).
        """
        if not self.fields:
            return None
        alleles = rec.alleles
        # ALT as written and as VEP trims it (first base shared by all alleles); failing those,
        # the per-allele trim some tools write for mixed SNV/indel records.
        forms = {i: {alleles[i], _vep_allele(alleles, i)} for i in range(1, len(alleles))}
        loose = {i: {_trim_first_base(alleles[0], alleles[i])} for i in range(1, len(alleles))}
        parsed_entries: list[tuple[set[int], str, list[str]]] = []  # (alt indexes, symbol, terms)
        for spec in self.fields:
            try:
                raw = rec.info.get(spec.key)
            except (KeyError, ValueError):
                raw = None
            if raw is None:
                continue
            entries = [raw] if isinstance(raw, str) else list(raw)
            for entry in entries:
                if entry is None or entry == "":
                    continue
                parsed = _parse_entry(spec, str(entry))
                if parsed is None:
                    continue
                entry_allele, entry_num, symbol, terms = parsed
                if entry_num is not None:
                    tied = {entry_num} if entry_num in forms else set()
                elif entry_allele is not None:
                    tied = {i for i, f in forms.items() if entry_allele in f} or {
                        i for i, f in loose.items() if entry_allele in f}
                else:
                    tied = set(forms)  # the entry names no allele: it applies to all
                parsed_entries.append((tied, symbol, terms))
        if not parsed_entries:
            return None
        if not any(tied for tied, _, _ in parsed_entries):
            # No entry could be tied to any ALT (unusual allele spelling): use them all.
            chosen = [(s, t) for _, s, t in parsed_entries]
        else:
            chosen = [(s, t) for tied, s, t in parsed_entries if alt_index in tied]
            if not chosen:
                return None  # this ALT was not annotated
        if gene:
            g = gene.upper()
            for_gene = [t for s, t in chosen if s and s.upper() == g]
            if for_gene:
                chosen = [("", t) for t in for_gene]
        terms: list[str] = []
        for _, ts in chosen:
            for t in ts:
                if t and t not in terms:
                    terms.append(t)
        return terms


def _vep_allele(alleles: Sequence[str], alt_index: int) -> str:
    """The ALT as VEP writes it: a first base shared by all alleles is dropped (`-` if empty)."""
    plain = [a for a in alleles if a and not is_symbolic(a)]
    alt = alleles[alt_index]
    if len(plain) >= 2 and len({a[0] for a in plain}) == 1 and not is_symbolic(alt):
        return alt[1:] or "-"
    return alt


def _trim_first_base(ref: str, alt: str) -> str:
    """Per-allele trim: an indel's leading base shared with REF dropped (`-` if empty)."""
    if alt and ref and not is_symbolic(alt) and len(ref) != len(alt) and ref[0] == alt[0]:
        return alt[1:] or "-"
    return alt


def _int_field(parts: list[str], index: int | None) -> int | None:
    """parts[index] as an int; None when absent or not a number."""
    if index is None or index >= len(parts):
        return None
    try:
        return int(parts[index])
    except ValueError:
        return None


def _parse_entry(spec: _AnnField, entry: str
                 ) -> tuple[str | None, int | None, str, list[str]] | None:
    if spec.kind == "eff":
        m = _EFF_RE.match(entry)
        if not m:
            return None
        parts = [p.strip() for p in m.group("body").split("|")]
        symbol = parts[spec.symbol] if spec.symbol is not None and spec.symbol < len(parts) else ""
        return None, _int_field(parts, spec.allele_num), symbol, [m.group("effect")]
    parts = entry.split("|")
    if spec.consequence is None or spec.consequence >= len(parts):
        return None
    terms = [t.strip() for t in parts[spec.consequence].split("&") if t.strip()]
    allele = parts[spec.allele].strip() if spec.allele is not None and spec.allele < len(
        parts) else None
    if allele == "":
        allele = None
    num = _int_field(parts, spec.allele_num)
    symbol = parts[spec.symbol].strip() if spec.symbol is not None and spec.symbol < len(
        parts) else ""
    return allele, num, symbol, terms


# ----------------------------------------------------------------------------------------------
# Small utilities shared by the stages
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
