"""Opening VCF/BCF files and indexing them.

- `open_vcf` opens VCF, BGZF `.vcf.gz`, plain-gzip `.vcf.gz` (decompressed to a private temporary
  file: htslib cannot read those) and BCF, and turns every htslib failure into an `InputError`
  naming the file and the sample(s). Nothing is ever written beside the user's input.
- `read_problem` is the Problem for a file htslib could not read (also while records are read).

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
from collections.abc import Sequence
from pathlib import Path

import pysam

from haicpred.io.errors import InputError, Problem

log = logging.getLogger("haicpred")

# ----------------------------------------------------------------------------------------------
# Opening files
# ----------------------------------------------------------------------------------------------

READ_HINT = (
    "check it with `bcftools view` (or `gzip -t` for .gz files); re-export or re-run the caller "
    "if it is damaged, or fix the sample sheet if it points at the wrong file"
)


def samples_where(samples: Sequence[str]) -> str:
    """A Problem's `where` for these samples: `file`, `sample P1`, `samples P1, P2 (+n more)`."""
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
    return Problem(str(path), samples_where(samples),
                   f"not a readable VCF/BCF file ({where}: {detail})", READ_HINT)


def _compression(path: Path) -> str:
    """`bgzf`, `gzip` (plain, not BGZF: htslib cannot read those here) or `none`."""
    with open(path, "rb") as handle:
        head = handle.read(18)
    if len(head) < 2 or head[:2] != b"\x1f\x8b":
        return "none"
    is_bgzf = len(head) >= 16 and bool(head[3] & 4) and head[12:14] == b"BC"
    return "bgzf" if is_bgzf else "gzip"


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
    where = samples_where(samples)
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
