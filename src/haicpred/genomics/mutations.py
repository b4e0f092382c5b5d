"""Panel mutations per sample from somatic (exome) VCFs or MAFs.

`panel_mutations(samples, panel, min_vaf, min_depth, genome_build=None, *, index_dir=None,
threads=1) -> (features, audit)` for one batch (or shard of a batch).

A sample's calls come from its `exome_vcf` or its `exome_maf` (one or the other). Each
distinct file is read once per job (several samples may share one multi-sample VCF, and a MAF
is usually one file per batch). MAF rows are judged by the same rules, in the same order, with
the same audit (`haicpred.genomics.maf.judge` says how MAF columns map onto them), so a MAF and
a VCF of the same calls give the same features.
With `genome_build` (GRCh37/GRCh38, the panel's build) a file whose header points to the other
build is refused, naming the file, the sample(s), the build it looks like and the header line
that says so (`haicpred.genomics.vcf.build.infer_build`); a file whose header does not tell is
accepted. Records overlapping a panel region are fetched with the file's index (.tbi/.csi beside
it, or one built under `index_dir`, never beside the input); files that cannot be indexed are
streamed (`haicpred.genomics.vcf.access` documents and measures that choice).

`threads` worker processes read the batch's files (fork, one task per file, results gathered in
file order): features and audit are identical, row for row, whatever `threads` is. Processes,
not threads: measured on this 2-core machine with pysam 0.24 (panel_GRCh38; medians of
interleaved runs, wall time for the whole call; the machine was shared, load ~1.2):

| batch | serial | 2 threads | 2 processes |
|---|---|---|---|
| 270 demo exome VCFs (`haicpred simulate`, ~45 records, .tbi beside) | 0.53 s | 0.27 s | 0.29 s |
| 40 exome VCFs of 40,000 records, first run (CSI built in `index_dir`) | 1.56 s | 0.84 s | 0.86 s |
| the same, indexes reused | 0.084 s | 0.077 s | 0.084 s |
| the same, streamed (no index, no `index_dir`) | 2.35 s | 2.52 s | 1.50 s |

pysam runs htslib's decompression, index building and parsing without the GIL, so threads keep
up while the work is in htslib; the per-record Python (the rules below) holds the GIL, and
there threads gain nothing while processes gain 1.6x. Processes are never more than ~7% behind.
Batches of fewer than `MIN_FILES_FOR_POOL` files run in-process (a fork pool costs ~15 ms).

Every (record, ALT allele, gene) overlapping a panel region lands in the audit, once per sample
of the file, with a decision; kept alleles are counted per gene. An allele is kept when, in this
order (the first failing test is the audit's reason):
  1. it is not symbolic (`<DEL>`, breakend, `*`)            -> `symbolic_allele`
  2. FILTER is PASS or `.`                                   -> `filter:<names>`
  2b. the caller's somatic status (INFO/FORMAT SS, VarScan,
      SomaticSniper, MuSE, RADIA, Complete Genomics) is not
      germline/LOH/reference                                 -> `not_somatic:germline`, ...
  3. the tumour column carries it (GT; else read counts/VAF) -> `genotype_lacks_alt`,
                                                                `no_tumour_call`
  4. VAF >= min_vaf where the VAF is known                   -> `vaf<0.05`
  5. depth >= min_depth where the depth is known             -> `depth<10`
  6. its consequence is protein-altering when annotated     -> `not_protein_altering:<terms>`
otherwise `pass`. A record with no allele to judge is listed once per gene and sample, dropped:
ALT `.` -> `no_alt_allele`; only gVCF `<NON_REF>`/`<*>` placeholders -> `reference_block`
(next to real ALTs such placeholders are simply not listed). `summarise_audit` counts the rows
per decision class for the job log (symbolic/SV alleles included). The audit's `chrom` is the
panel's spelling of the contig.

A panel gene without coordinates on this build (`haicpred.io.resources.not_assessed_genes`,
HNRNPCL4 on GRCh37) keeps its two columns, empty for every sample (not assessed, not 0);
`panel_mutations` and `fohaic1_mutation_positive` count the assessed genes only.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import pandas as pd
import pysam

from haicpred.genomics.audit import AUDIT_COLUMNS, call_reason, verdict
from haicpred.genomics.maf.judge import judge_rows
from haicpred.genomics.maf.table import MafRequest, read_panel_rows
from haicpred.genomics.vcf.access import open_vcf, read_problem
from haicpred.genomics.vcf.annotation import AnnotationSchema, is_protein_altering
from haicpred.genomics.vcf.build import GENOME_BUILDS, build_problem
from haicpred.genomics.vcf.evidence import (FormatSchema, is_reference_block_alt, is_symbolic,
                                            record_filter)
from haicpred.genomics.vcf.regions import RegionIndex, records
from haicpred.genomics.vcf.samples import choose_tumour_column, group_by_file, missing_path
from haicpred.io.errors import InputError, Problem, raise_if_any
from haicpred.io.resources import assessed_regions, not_assessed_genes
from haicpred.io.processes import pool_context

__all__ = ["AUDIT_COLUMNS", "panel_mutations", "summarise_audit"]


# ----------------------------------------------------------------------------------------------
# Panel mutations
# ----------------------------------------------------------------------------------------------

def panel_mutations(samples: list[dict], panel: pd.DataFrame, min_vaf: float = 0.05,
                    min_depth: int = 10, genome_build: str | None = None, *,
                    index_dir: str | os.PathLike | None = None, threads: int = 1
                    ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (features, audit) for one batch. See the module docstring for the rules.

    `panel` is a frame as `read_panel` returns it (validated, int start/end); it is not checked
    again here. `genome_build` (GRCh37/GRCh38), when given, is the panel's build: a VCF whose
    header points to another build is refused. `index_dir` is where indexes of BGZF files that
    have none are built (never beside the input); without it such files are streamed.
    `threads` worker processes read the batch's files; the result does not depend on it.
    """
    if not 0 <= float(min_vaf) <= 1:
        raise ValueError(f"min_vaf must be within [0, 1], got {min_vaf}")
    if int(min_depth) < 0:
        raise ValueError(f"min_depth must be >= 0, got {min_depth}")
    if genome_build is not None and genome_build not in GENOME_BUILDS:
        raise ValueError(f"genome_build must be one of {', '.join(GENOME_BUILDS)}, "
                         f"got {genome_build!r}")
    if int(threads) < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    genes = list(dict.fromkeys(panel["gene"]))
    not_assessed = set(not_assessed_genes(panel))
    regions = RegionIndex.build(
        (r.chrom, r.start, r.end, r.gene) for r in assessed_regions(panel).itertuples(index=False))

    sample_ids, vcf_files, problems = group_by_file(samples, "exome_vcf")
    _, maf_files, _ = group_by_file(samples, "exome_maf")
    problems += _both_kinds_problems(vcf_files, maf_files)

    settings = _Settings(regions, float(min_vaf), int(min_depth), genome_build,
                         None if index_dir is None else str(index_dir))
    jobs = [(VCF, path, vcf_files[path]) for path in sorted(vcf_files)]
    jobs += [(MAF, path, maf_files[path]) for path in sorted(maf_files)]
    audit_rows: list[tuple] = []
    for rows, file_problems in _scan_all(jobs, settings, int(threads)):
        problems.extend(file_problems)
        audit_rows.extend(rows)
    raise_if_any(problems)

    audit = _audit_frame(audit_rows)
    with_calls = {str(s["sample_id"]) for files in (vcf_files, maf_files)
                  for group in files.values() for s in group}
    features = _features(sorted(sample_ids), with_calls, genes, audit, not_assessed)
    return features, audit


VCF, MAF = "vcf", "maf"  # the kinds of job: one exome VCF, or one MAF and its samples


def _both_kinds_problems(vcf_files: dict[str, list[dict]], maf_files: dict[str, list[dict]]
                         ) -> list[Problem]:
    in_vcf = {str(s["sample_id"]) for group in vcf_files.values() for s in group}
    return [Problem("sample sheet", f"sample {s['sample_id']}",
                    "names both an exome_vcf and an exome_maf",
                    "give one or the other: the calls of one tumour, once")
            for group in maf_files.values() for s in group if str(s["sample_id"]) in in_vcf]


@dataclass(frozen=True)
class _Settings:
    """Everything a worker needs besides its file (sent to each worker process once)."""

    regions: RegionIndex
    min_vaf: float
    min_depth: int
    genome_build: str | None
    index_dir: str | None


# ----------------------------------------------------------------------------------------------
# Running the batch's files: in this process, or in a pool of worker processes
# ----------------------------------------------------------------------------------------------

#: Below this many files a pool costs more (a fork pool starts in ~15 ms) than it saves.
MIN_FILES_FOR_POOL = 8

_worker_settings: _Settings | None = None


def _init_worker(settings: _Settings) -> None:
    global _worker_settings
    _worker_settings = settings
    pysam.set_verbosity(0)


def _scan_job(job: tuple[str, str, list[dict]]) -> tuple[list[tuple], list[Problem]]:
    assert _worker_settings is not None
    return _scan(job, _worker_settings)


def _scan(job: tuple[str, str, list[dict]], settings: _Settings
          ) -> tuple[list[tuple], list[Problem]]:
    kind, path, group = job
    if kind == MAF:
        return _scan_maf(path, group, settings)
    return _scan_file(path, group, settings)


def _scan_all(jobs: list[tuple[str, str, list[dict]]], settings: _Settings, threads: int
              ) -> Iterator[tuple[list[tuple], list[Problem]]]:
    """(rows, problems) per job, in job order whatever the number of workers."""
    workers = min(threads, len(jobs))
    if workers <= 1 or len(jobs) < MIN_FILES_FOR_POOL:
        for job in jobs:
            yield _scan(job, settings)
        return
    # ~4 chunks per worker: few round trips, yet a slow file does not idle the others.
    chunksize = max(1, len(jobs) // (workers * 4))
    with ProcessPoolExecutor(max_workers=workers, mp_context=pool_context(),
                             initializer=_init_worker, initargs=(settings,)) as pool:
        yield from pool.map(_scan_job, jobs, chunksize=chunksize)


# ----------------------------------------------------------------------------------------------
# One file
# ----------------------------------------------------------------------------------------------

def _scan_file(path: str, group: list[dict], settings: _Settings
               ) -> tuple[list[tuple], list[Problem]]:
    ids = [str(s["sample_id"]) for s in group]
    problems: list[Problem] = []
    try:
        handle = open_vcf(path, ids, index_dir=settings.index_dir)
    except InputError as exc:
        return [], exc.problems
    with handle:
        if settings.genome_build is not None:
            mismatch = build_problem(handle.header, settings.genome_build, path=path,
                                     samples=ids)
            if mismatch is not None:
                problems.append(mismatch)
        columns: list[tuple[str, str]] = []  # (sample_id, tumour column)
        for s in group:
            requested = s.get("tumor_sample")
            requested = None if missing_path(requested) else str(requested)
            try:
                col = choose_tumour_column(handle.header, requested, path=path,
                                           sample_id=str(s["sample_id"]))
            except InputError as exc:
                problems.extend(exc.problems)
                continue
            columns.append((str(s["sample_id"]), col))
        if problems:
            return [], problems
        # No subset_samples() here: htslib would then skip parsing the other columns and a
        # damaged file could pass unnoticed. Somatic VCFs have few columns anyway.
        fmt = FormatSchema(handle.header)
        ann = AnnotationSchema(handle.header)
        rows: list[tuple] = []
        try:
            for rec, hits in records(handle, settings.regions, ids):
                try:
                    rows.extend(_judge_record(rec, hits, columns, fmt, ann, settings.min_vaf,
                                              settings.min_depth))
                except (ValueError, OSError, KeyError) as exc:
                    raise InputError(read_problem(path, ids, exc,
                                                  after=f"{rec.chrom}:{rec.pos}")) from None
        except InputError as exc:
            return [], exc.problems
    return rows, []


def _scan_maf(path: str, group: list[dict], settings: _Settings
              ) -> tuple[list[tuple], list[Problem]]:
    requests = [MafRequest(str(s["sample_id"]), None if missing_path(s.get("tumor_sample"))
                           else str(s["tumor_sample"])) for s in group]
    panel_rows, problems = read_panel_rows(path, requests, settings.regions,
                                           settings.genome_build)
    if panel_rows is None:
        return [], problems
    return judge_rows(panel_rows, settings.min_vaf, settings.min_depth), []


def _judge_record(rec, hits, columns, fmt: FormatSchema, ann: AnnotationSchema,
                  min_vaf: float, min_depth: int) -> list[tuple]:
    alts = rec.alts or ()
    filter_text, passes = record_filter(rec)
    genes: dict[str, str] = {}  # gene -> panel contig spelling
    for _, _, gene, contig in hits:
        genes.setdefault(gene, contig)
    rows = []
    ref = rec.ref
    pos = int(rec.pos)
    judged = [a for a in alts if not is_reference_block_alt(a)]
    if not judged:
        # No allele to judge: ALT `.` (a reference call) or only gVCF "any other allele"
        # placeholders (a reference block). Listed once per gene and sample, never counted.
        alt_text = ",".join(alts) if alts else "."
        reason = "reference_block" if alts else "no_alt_allele"
        for gene, contig in genes.items():
            for sample_id, _ in columns:
                rows.append((sample_id, contig, pos, ref, alt_text, gene, None, None, None,
                             filter_text, "dropped", reason))
        return rows
    for alt_index, alt in enumerate(alts, start=1):
        if is_reference_block_alt(alt):
            continue
        if is_symbolic(alt):
            for gene, contig in genes.items():
                for sample_id, _ in columns:
                    rows.append((sample_id, contig, pos, ref, alt, gene, None, None, None,
                                 filter_text, "dropped", "symbolic_allele"))
            continue
        terms_by_gene = {g: (ann.consequences(rec, alt_index, g) if ann else None)
                         for g in genes}
        for sample_id, column in columns:
            ev = fmt.evidence(rec, column, alt_index)
            vaf, depth = ev.vaf, ev.depth
            status = fmt.not_somatic(rec, column) if passes else None
            reason = call_reason(filter_text, passes, status, ev.carries_alt, vaf, depth,
                                 min_vaf, min_depth)
            for gene, contig in genes.items():
                terms = terms_by_gene[gene]
                consequence = "&".join(terms) if terms else None
                altering = None if terms is None else is_protein_altering(terms)
                rows.append((sample_id, contig, pos, ref, alt, gene, consequence, vaf, depth,
                             filter_text, *verdict(reason, altering, consequence)))
    return rows


def _audit_frame(rows: list[tuple]) -> pd.DataFrame:
    audit = pd.DataFrame(rows, columns=AUDIT_COLUMNS)
    audit = audit.astype({"pos": "Int64", "vaf": "Float64", "depth": "Int64"})
    for col in ("sample_id", "chrom", "ref", "alt", "gene", "consequence", "filter", "decision",
                "reason"):
        audit[col] = audit[col].astype(object).where(audit[col].notna(), None)
    if len(audit):
        audit = audit.sort_values(["sample_id", "chrom", "pos", "alt", "gene", "ref"],
                                  kind="mergesort").reset_index(drop=True)
    return audit


def _features(sample_ids: list[str], with_calls: set[str], genes: list[str],
              audit: pd.DataFrame, not_assessed: set[str] = frozenset()) -> pd.DataFrame:
    kept = audit[audit["decision"] == "kept"]
    counts: dict[tuple[str, str], int] = {}
    if len(kept):
        distinct = kept.drop_duplicates(["sample_id", "gene", "chrom", "pos", "ref", "alt"])
        for (sid, gene), n in distinct.groupby(["sample_id", "gene"]).size().items():
            counts[(sid, gene)] = int(n)
    columns = ["sample_id"]
    for g in genes:
        columns += [f"{g}_mutated", f"{g}_n_mutations"]
    columns += ["panel_mutations", "fohaic1_mutation_positive"]
    data: dict[str, list] = {c: [] for c in columns}
    for sid in sample_ids:
        data["sample_id"].append(sid)
        has = sid in with_calls
        total = 0
        for g in genes:
            assessed = has and g not in not_assessed
            n = counts.get((sid, g), 0)
            total += n
            data[f"{g}_mutated"].append(int(n > 0) if assessed else pd.NA)
            data[f"{g}_n_mutations"].append(n if assessed else pd.NA)
        data["panel_mutations"].append(total if has else pd.NA)
        data["fohaic1_mutation_positive"].append(int(total > 0) if has else pd.NA)
    out = pd.DataFrame(data, columns=columns)
    out["sample_id"] = out["sample_id"].astype(object)
    for c in columns[1:]:
        out[c] = out[c].astype("Int64")
    return out


def summarise_audit(audit: pd.DataFrame) -> dict[str, int]:
    """Audit rows per decision class, for the job log: `kept`, then each drop reason with its
    parameter removed (`filter`, `vaf<0.05`, `not_protein_altering`, `symbolic_allele`, ...),
    most frequent first (ties by name)."""
    reasons = audit["reason"].astype(str)
    classes = reasons.where(reasons == "pass", reasons.str.split(":", n=1).str[0])
    counts = classes.replace("pass", "kept").value_counts()
    ordered = sorted(counts.items(), key=lambda kv: (kv[0] != "kept", -kv[1], kv[0]))
    return {name: int(n) for name, n in ordered}
