"""Shared helpers for reading VCF/BCF files written by real variant callers.

Used by `haicpred.genomics.mutations` (somatic panel calls) and `haicpred.genomics.genotypes` (germline SNPs).
Everything that depends on one caller's conventions lives here, so both stages read files the
same way:

- `open_vcf` opens VCF, BGZF `.vcf.gz`, plain-gzip `.vcf.gz` (decompressed to a private temporary
  file: htslib cannot read those) and BCF, and turns every htslib failure into an `InputError`
  naming the file and the sample(s). Nothing is ever written beside the user's input.
- `records` fetches the panel regions through an index, or streams the whole file.
- `infer_build` / `build_problem`: the genome build a header points to (##contig lengths,
  CrossMap liftover lines, ##reference/##assembly text) and the problem when it is not the
  panel's.
- `contig_key` / `file_contig` reconcile `chr1` vs `1` (and `chrM` vs `MT`).
- `choose_tumour_column` picks the tumour sample column of a somatic VCF.
- `FormatSchema.evidence` extracts, for one sample and one ALT allele, whether the genotype
  carries the allele, the allele fraction and the depth, from whichever fields the caller wrote
  (GT; FORMAT AF/VAF/FA; PCGR INFO TVAF/TDP; VarScan FREQ and RD/AD; AD; PCGR/TCGA ADT/DPT;
  FreeBayes AO/RO; Strelka tier-1 counts, declared or not; SomaticSniper BCOUNT; Complete
  Genomics CGA_RDP/DP and its GT written after other keys; DP4).
- `AnnotationSchema.consequences` parses VEP `CSQ`, SnpEff `ANN` and legacy SnpEff `EFF`
  using the field list declared in the header.

Indexes. An index beside the file (.tbi/.csi) is used as it is. A BGZF VCF.gz or BCF without
one gets a CSI index under the caller's `index_dir` (the workflow's `results/index/<batch>/`),
named after the file's real path, size and mtime (an edited input gets a new index, never a
stale one), written atomically, with 1 Mb bins (`INDEX_MIN_SHIFT`). Plain-gzip and
uncompressed files, and BGZF files htslib cannot index (unsorted), are streamed. The decision,
"always index BGZF files when `index_dir` is given", is per file, not per batch, since each file
is indexed and read on its own; measured with `panel_mutations` and the 4-gene GRCh38 panel
(ms per file, best of 3, pysam 0.24, 2-core machine shared with other jobs; synthetic
Mutect2/VEP-like files with records spread over chr1-22, X, Y):

| records per file (VCF.gz size) | stream | fetch, .tbi beside | build CSI, fetch | CSI reused |
|---|---|---|---|---|
| ~45 (demo exome, 4.5 KB) | 0.6 | 1.6 | 1.4 | 0.7 |
| 1,000 (40 KB) | 2.7 | 4.6 | 4.6 | 1.8 |
| 10,000 (390 KB) | 15.3 | 7.6 | 14.0 | 2.2 |
| 40,000 (1.5 MB, an exome) | 56 | 16 | 33 | 2.0 |

Building pays for itself on the first read from ~10,000 records (a real exome has ~40,000) and
costs at most ~2 ms on the first read of a small file; every later read (a rerun after a
config or sheet change, another stage reading the same file) fetches in ~1-2 ms. The 1 Mb bins
matter: with htslib's default 16 kb bins the 40,000-record index is 13x larger (307 vs 24 KB),
takes 82 instead of 30 ms to build and 6.2 instead of 1.3 ms to load and fetch; panel regions
are gene-sized, so coarse bins cost nothing at fetch time. (A user's .tbi is slower to load
than this CSI, its linear index covering every 16 kb of each contig, but rebuilding it would
cost more on a first run than it saves.)
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
import re
import shutil
import tempfile
import threading
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pysam

from haicpred.io.errors import InputError, Problem

log = logging.getLogger("haicpred")

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


#: pysam's wording for a file it cannot open, which repeats the path as bytes (b'...') and
#: says "Exec format error" for content in no known format: (pattern, plain wording).
_PYSAM_WORDING = (
    (re.compile(r"^file `b?'.*'` does not have valid header \(mode=`b?'r'`\).*$"),
     "no valid VCF header (##fileformat and #CHROM lines, tab-separated)"),
    (re.compile(r"^invalid file `b?'.*'` \(mode=`b?'r'`\).*$"), "not VCF or BCF content"),
    (re.compile(r"^\[Errno 8\] Could not open variant file: Exec format error.*$"),
     "not VCF or BCF content"),
)


def _plain_detail(detail: str) -> str:
    for pattern, plain in _PYSAM_WORDING:
        if pattern.match(detail):
            return plain
    return detail


def read_problem(path: str, samples: Sequence[str], exc: BaseException, after: str | None = None
                 ) -> Problem:
    """A Problem for a VCF that htslib could not read."""
    detail = _plain_detail(str(exc).strip() or type(exc).__name__)
    detail = detail.replace("\n", " ")
    where = f"after record {after}" if after else "while reading"
    return Problem(str(path), _where(samples),
                   f"not a readable VCF/BCF file ({where}: {detail})", READ_HINT)


def _compression(path: Path) -> str:
    """`bgzf`, `gzip` (plain, not BGZF: htslib cannot read those here) or `none`."""
    with open(path, "rb") as handle:
        head = handle.read(18)
    if len(head) < 2 or head[:2] != b"\x1f\x8b":
        return "none"
    is_bgzf = len(head) >= 16 and bool(head[3] & 4) and head[12:14] == b"BC"
    return "bgzf" if is_bgzf else "gzip"


def _is_plain_gzip(path: Path) -> bool:
    """True for gzip that is not BGZF (htslib cannot open those for reading here)."""
    return _compression(path) == "gzip"


#: CSI bin size of the indexes built here: 2^20 = 1 Mb (htslib's default is 2^14). Panel
#: regions are gene-sized, so coarse bins cost nothing at fetch time, while the index is 13x
#: smaller, builds ~3x and loads ~5x faster (see the module docstring).
INDEX_MIN_SHIFT = 20

#: Index files htslib finds beside a VCF.gz/BCF by itself.
_BESIDE_SUFFIXES = (".tbi", ".csi")


def _has_index_beside(path: str) -> bool:
    return any(os.path.isfile(path + suffix) for suffix in _BESIDE_SUFFIXES)


def index_path(path: str | os.PathLike, index_dir: str | os.PathLike) -> str:
    """Where `open_vcf(..., index_dir=...)` keeps the CSI index it builds for `path`.

    The name carries a hash of the file's real path, size and modification time, so a replaced
    or edited input gets a new index instead of a stale one, and two inputs with the same base
    name in different folders never share one.
    """
    real = os.path.realpath(str(path))
    st = os.stat(real)
    digest = hashlib.sha256(f"{real}\0{st.st_size}\0{st.st_mtime_ns}".encode()).hexdigest()
    return os.path.join(str(index_dir), f"{os.path.basename(real)}.{digest[:16]}.csi")


def _build_index(path: str, index_dir: str | os.PathLike) -> str | None:
    """A CSI index of BGZF `path` under `index_dir` (built once, atomically); None when htslib
    cannot index it (unsorted, damaged): the caller then streams the file, which reports
    damage with the file's name."""
    target = index_path(path, index_dir)
    if os.path.isfile(target):
        return target
    tmp = f"{target}.tmp.{os.getpid()}.{threading.get_ident()}"
    try:
        os.makedirs(str(index_dir), exist_ok=True)
        # preset "vcf" also indexes BGZF BCF (htslib picks bcf_index for it); CSI, not TBI, so
        # contigs longer than 2^29 bp are fine and BCF is covered by the same code path.
        pysam.tabix_index(path, preset="vcf", index=tmp, csi=True, min_shift=INDEX_MIN_SHIFT,
                          force=True)
        os.replace(tmp, target)
    except (OSError, ValueError, EOFError) as exc:
        # unsorted or damaged input (streaming reports damage), or index_dir not writable
        log.warning("could not index %s under %s (%s); streaming it", path, index_dir, exc)
        return None
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return target


class VcfHandle:
    """An open VCF/BCF plus what was needed to open it. Use as a context manager."""

    def __init__(self, path: str, vf: pysam.VariantFile, tmpdir: str | None,
                 index_file: str | None = None):
        self.path = path
        self.vf = vf
        self._tmpdir = tmpdir
        self.indexed = vf.index is not None
        #: the index built under `index_dir` for this file (None: beside it, or none)
        self.index_file = index_file

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


def open_vcf(path: str | os.PathLike, samples: Sequence[str] = (), *,
             index_dir: str | os.PathLike | None = None) -> VcfHandle:
    """Open a VCF/BCF for reading; raise InputError (naming file and samples) on failure.

    An index beside the file (.tbi/.csi) is used. A BGZF VCF.gz/BCF without one gets a CSI
    index built under `index_dir` when given (see the module docstring for why: always, it
    pays for itself on the first read), never beside the input. Plain-gzip files are
    decompressed to a private temporary file; they and uncompressed files are streamed.
    """
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
    if p.stat().st_size == 0:
        raise InputError(Problem(path_str, where, "not a readable VCF/BCF file (it is empty, "
                                 "0 bytes)", READ_HINT))
    tmpdir = None
    target = path_str
    index_file = None
    previous = pysam.set_verbosity(0)
    try:
        try:
            compression = _compression(p)
            if compression == "gzip":
                # Plain gzip (not BGZF): htslib cannot read it here, so decompress a private copy.
                tmpdir = tempfile.mkdtemp(prefix="haicpred-vcf-")
                target = os.path.join(tmpdir, "input.vcf")
                with gzip.open(p, "rb") as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
            elif (compression == "bgzf" and index_dir is not None
                  and not _has_index_beside(path_str)):
                index_file = _build_index(path_str, index_dir)
            if index_file is not None:
                vf = pysam.VariantFile(target, "r", index_filename=index_file)
            else:
                vf = pysam.VariantFile(target, "r")
            if vf.index is not None:
                _declare_indexed_contigs(vf)
        except (OSError, ValueError, EOFError, NotImplementedError, gzip.BadGzipFile) as exc:
            if tmpdir:
                shutil.rmtree(tmpdir, ignore_errors=True)
            # name the user's file, not the private decompressed copy
            detail = str(exc).replace(target, path_str) if target != path_str else exc
            raise InputError(read_problem(path_str, samples, detail if isinstance(
                detail, BaseException) else ValueError(detail))) from None
    finally:
        pysam.set_verbosity(previous)
    return VcfHandle(path_str, vf, tmpdir, index_file)


def _declare_indexed_contigs(vf: pysam.VariantFile) -> None:
    """Add to the header the contigs the index knows but the header does not declare.

    A VCF.gz without `##contig` lines is valid (htslib declares contigs as records name them
    while streaming), but `fetch` only accepts declared contigs: without this, an indexed file
    without `##contig` lines would yield no record at all.
    """
    declared = set(vf.header.contigs)
    for name in vf.index.keys():
        if name not in declared:
            vf.header.contigs.add(name)


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


# ----------------------------------------------------------------------------------------------
# Genome build
# ----------------------------------------------------------------------------------------------

#: Lengths of the primary assembled chromosomes (1-22, X, Y) of each build, as written in the
#: `##contig` lines of real GRCh37 (b37/hg19, e.g. GATK bundle, gnomAD 2) and GRCh38 VCFs.
#: Every one differs between the builds, so any one of them identifies the build. Mitochondria
#: are left out on purpose: MT is the same rCRS sequence (16,569 bp) in b37 and GRCh38, and
#: hg19's chrM (16,571 bp) is a different sequence but not a different nuclear build.
CONTIG_LENGTHS: dict[str, dict[str, int]] = {
    "GRCh37": {
        "1": 249250621, "2": 243199373, "3": 198022430, "4": 191154276, "5": 180915260,
        "6": 171115067, "7": 159138663, "8": 146364022, "9": 141213431, "10": 135534747,
        "11": 135006516, "12": 133851895, "13": 115169878, "14": 107349540, "15": 102531392,
        "16": 90354753, "17": 81195210, "18": 78077248, "19": 59128983, "20": 63025520,
        "21": 48129895, "22": 51304566, "X": 155270560, "Y": 59373566,
    },
    "GRCh38": {
        "1": 248956422, "2": 242193529, "3": 198295559, "4": 190214555, "5": 181538259,
        "6": 170805979, "7": 159345973, "8": 145138636, "9": 138394717, "10": 133797422,
        "11": 135086622, "12": 133275309, "13": 114364328, "14": 107043718, "15": 101991189,
        "16": 90338345, "17": 83257441, "18": 80373285, "19": 58617616, "20": 64444167,
        "21": 46709983, "22": 50818468, "X": 156040895, "Y": 57227415,
    },
}
_BUILD_BY_LENGTH: dict[tuple[str, int], str] = {
    (key, length): build for build, lengths in CONTIG_LENGTHS.items()
    for key, length in lengths.items()}

#: Builds a panel can be on (the `genome_build` config values).
GENOME_BUILDS = ("GRCh37", "GRCh38")

#: Names of each build in reference/assembly text, matched as whole tokens (case-insensitive):
#: `ucsc.hg19.fasta`, `human_g1k_v37.fasta`, `hs37d5`, `GRCh37-lite`, `build37.fa`,
#: `Homo_sapiens_assembly38.fasta`, `GRCh38_full_analysis_set`, `hs38DH`, ... NCBI36/hg18 is
#: recognised too so that such a file is refused with either panel.
_BUILD_TOKENS: tuple[tuple[str, str], ...] = (
    ("GRCh37", r"grch37|hg19|b37|hs37|hs37d5|g1k_v37|build37|assembly19|ncbi37"),
    ("GRCh38", r"grch38|hg38|b38|hs38|hs38dh|hs38d1|build38|assembly38|ncbi38"),
    ("NCBI36", r"ncbi36|hg18|b36|build36"),
)
_BUILD_TOKEN_RES = tuple((build, re.compile(rf"(?<![a-z0-9])(?:{tokens})(?![a-z0-9])"))
                         for build, tokens in _BUILD_TOKENS)
#: UCSC chain files are named `<from>To<to>.over.chain`: the calls are on `<to>`.
_CHAIN_RE = re.compile(r"(?<![a-z0-9])(hg\d\d|grch\d\d)to(hg\d\d|grch\d\d)(?![0-9])")
_CHAIN_BUILDS = {"hg18": "NCBI36", "hg19": "GRCh37", "grch37": "GRCh37", "hg38": "GRCh38",
                 "grch38": "GRCh38"}
#: Generic header keys (lower case) whose value names the reference the calls are on.
_REFERENCE_KEYS = ("reference", "assembly", "genome", "genome_build", "genomebuild", "build",
                   "reference_genome", "ref_genome", "new_reference_genome")


@dataclass(frozen=True)
class BuildEvidence:
    """The build a VCF header points to, and the header line that says so."""

    build: str  # "GRCh37", "GRCh38" or "NCBI36"
    evidence: str  # e.g. "##contig chr1 length 249250621 is GRCh37"


def _short(text: str, limit: int = 100) -> str:
    text = str(text).strip()
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _text_builds(text: str) -> list[str]:
    low = str(text).lower()
    return [build for build, regex in _BUILD_TOKEN_RES if regex.search(low)]


def infer_build(header: pysam.VariantHeader) -> BuildEvidence | None:
    """The genome build a VCF header points to, or None when it does not say (or contradicts
    itself).

    Evidence, strongest first; the first kind that names exactly one build decides:

    1. `##contig` lengths of chromosomes 1-22, X, Y (`chr`-insensitive): each differs between
       GRCh37 and GRCh38. Contigs of a length neither build has are ignored.
    2. A liftover declaration (CrossMap writes `##liftOverChainFile=.../hg19ToHg38.over.chain`
       or `##liftOverFile=`): the calls are on the chain's target build.
    3. Reference text: `##reference=`, `##assembly=`, `##contig=<...,assembly=...>` and similar
       lines naming hg19/GRCh37/b37/hs37d5/human_g1k_v37 or hg38/GRCh38/hs38DH (whole tokens).
    """
    # 1. contig lengths
    matches: dict[str, list[tuple[str, int]]] = {}
    for name, contig in header.contigs.items():
        length = contig.length
        if not length:
            continue
        build = _BUILD_BY_LENGTH.get((contig_key(name), int(length)))
        if build:
            matches.setdefault(build, []).append((name, int(length)))
    if len(matches) == 1:
        (build, found), = matches.items()
        name, length = found[0]
        more = f" (and {len(found) - 1} more ##contig lengths agree)" if len(found) > 1 else ""
        return BuildEvidence(build, f"##contig {name} length {length} is {build}{more}")

    liftover: dict[str, str] = {}
    text: dict[str, str] = {}
    for rec in header.records:
        try:
            key = str(rec.key)
        except Exception:  # noqa: BLE001 - malformed header line: no evidence from it
            continue
        low_key = key.lower()
        if rec.type == "CONTIG":
            assembly = rec.get("assembly")
            if assembly:
                for build in _text_builds(assembly):
                    text.setdefault(build, f"##contig {rec.get('ID')} assembly={assembly} "
                                           f"names {build}")
            continue
        if rec.type != "GENERIC" or rec.value is None:
            continue
        value = str(rec.value)
        if low_key.startswith("liftover"):
            for _, target in _CHAIN_RE.findall(value.lower()):
                build = _CHAIN_BUILDS[target]
                liftover.setdefault(build, f"##{key}={_short(value)} lifts the calls over to "
                                           f"{target} ({build})")
        elif low_key in _REFERENCE_KEYS:
            for build in _text_builds(value):
                text.setdefault(build, f"##{key}={_short(value)} names {build}")
    # 2. liftover target; 3. reference text
    for found in (liftover, text):
        if len(found) == 1:
            (build, evidence), = found.items()
            return BuildEvidence(build, evidence)
    return None


def build_problem(header: pysam.VariantHeader, genome_build: str, *, path: str,
                  samples: Sequence[str] = ()) -> Problem | None:
    """A Problem when the header points to another build than `genome_build`; None when it
    matches or the header does not tell (unknown is accepted)."""
    found = infer_build(header)
    if found is None or found.build == genome_build:
        return None
    if found.build in GENOME_BUILDS:
        other = (f"run it with genome_build: {found.build} and the {found.build} panel "
                 f"(e.g. resources/panel_{found.build}.tsv), or ")
    else:
        other = ""
    return Problem(str(path), _where(samples),
                   f"looks like {found.build}, not {genome_build} (the genome_build of the "
                   f"panel): {found.evidence}",
                   f"{other}lift the VCF over to {genome_build} (Picard LiftoverVcf, "
                   f"CrossMap, bcftools +liftover) first")


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
NOT_SOMATIC_STATUS = {"0": "reference", "1": "germline", "3": "loh",
                      # Complete Genomics writes words (compared lower-cased)
                      "reference": "reference", "germline": "germline", "loh": "loh"}


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


def _info(rec: pysam.VariantRecord, key: str):
    try:
        return rec.info.get(key)
    except (KeyError, ValueError):
        return None


def _gt_from_text(rec: pysam.VariantRecord, sample: str) -> tuple | None:
    """GT of `sample` read from the record's text, for files whose GT is not the first FORMAT
    key (Complete Genomics): htslib then hands pysam no genotype at all."""
    fields = str(rec).rstrip("\n").split("\t")
    keys = fields[8].split(":")
    try:
        value = fields[9 + list(rec.samples).index(sample)].split(":")[keys.index("GT")]
    except (ValueError, IndexError):
        return None
    alleles = re.split(r"[/|]", value)
    try:
        return tuple(None if a in (".", "") else int(a) for a in alleles)
    except ValueError:
        return None


def _fraction(alt: int | None, total: int | None) -> float | None:
    if alt is None or total is None or total <= 0:
        return None
    return alt / total


class FormatSchema:
    """What a file's FORMAT fields can tell, decided from its header (and refreshed when a
    record uses FORMAT tags the header does not declare: htslib declares those only as it
    meets them, e.g. the TAR/TIR of Strelka 1 indels)."""

    def __init__(self, header: pysam.VariantHeader):
        self.header = header
        self._load()

    def _load(self) -> None:
        header = self.header
        self.numbers: dict[str, object] = {k: v.number for k, v in header.formats.items()}
        f = self.numbers
        self.has_gt = "GT" in f
        # VarScan writes AD (Number=1) = alt reads and RD = ref reads.
        self.varscan_ad = "AD" in f and f.get("AD") == 1 and "RD" in f
        self.strelka_snv = all(k in f for k in ("AU", "CU", "GU", "TU"))
        self.strelka_indel = "TAR" in f and "TIR" in f
        # Complete Genomics (cgatools) writes AD per *called* allele, in GT order, not REF,ALT;
        # CGA_RDP is the REF read count and DP the total: the ALT fraction is 1 - CGA_RDP/DP.
        self.cga = "CGA_RDP" in f
        # PCGR (and TCGA MC3 files converted by it) carry the tumour's VAF and depth in INFO
        # TVAF/TDP (PCGR's tumor_af_tag/tumor_dp_tag); usable as such in a one-column file.
        one_column = len(header.samples) == 1
        self.info_tvaf = one_column and "TVAF" in header.info
        self.info_tdp = one_column and "TDP" in header.info
        # VarScan (INFO SS), SomaticSniper/MuSE/RADIA (FORMAT SS): 0=reference/wildtype,
        # 1=germline, 2=somatic, 3=LOH, 4=post-transcriptional, 5=unknown; Complete Genomics
        # INFO SS: the words Germline, Somatic, LOH.
        self.info_ss = "SS" in header.info and "status" in (
            header.info["SS"].description or "").lower()
        self.format_ss = "SS" in header.formats and "status" in (
            header.formats["SS"].description or "").lower()
        self._known_keys: set[tuple] = set()

    def _sync(self, rec: pysam.VariantRecord) -> None:
        """Reload when `rec` uses FORMAT tags this schema has not seen declared."""
        keys = tuple(rec.format.keys())
        if keys in self._known_keys:
            return
        if any(k not in self.numbers for k in keys):
            self._load()
        self._known_keys.add(keys)

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
        return NOT_SOMATIC_STATUS.get(str(code).strip().lower())

    def evidence(self, rec: pysam.VariantRecord, sample: str, alt_index: int) -> AlleleEvidence:
        """Genotype / VAF / depth of ALT `alt_index` (1-based) in `sample`."""
        self._sync(rec)
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
        if self.info_tdp:
            d = _num(_info(rec, "TDP"))
            depth = None if d is None else int(d)
        for key in ("DP", "DPT"):
            if depth is not None:
                break
            d = _num(get(key))
            if d is not None:
                depth = int(d)

        # --- read counts -----------------------------------------------------------------
        alt_reads = total = None
        count_source = ""
        if self.cga:
            dp, rdp = _num(get("DP")), _num(get("CGA_RDP"))
            if dp is not None and rdp is not None and dp > 0:
                alt_reads = int(dp - rdp)  # reads of every non-REF allele
                total = int(dp)
                count_source = "CGA_RDP"
        elif self.varscan_ad:
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
        if vaf is None and self.info_tvaf:
            v = _per_allele(_info(rec, "TVAF"), "A", alt_index, n_alleles)
            if v is not None:
                vaf, source = v, "INFO/TVAF"
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
            if gt == () and "GT" in rec.format:
                gt = _gt_from_text(rec, sample)  # GT not the first FORMAT key
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
