"""Germline SNP genotypes per sample from (cohort) genotype VCFs, with the exome normal as fallback.

`snp_genotypes(samples, snps) -> features` for one batch. Per SNP of the resource, in resource
order, three columns:

- `<rsid>_alt_count`: copies (0/1/2, Int64) of the resource's `alt` allele (+ strand);
- `<rsid>_genotype`: the call as + strand bases, resource ref first, then alt, then any other
  base (`TT`, `TG`, `GG`; `AA` for a sample homozygous for a third allele, whose alt_count is
  missing); for humans and audits, not a model feature;
- `<rsid>_source`: where the call came from: `genotype_vcf` or `exome_normal`;

then the published genotype flags of `GENOTYPE_FLAGS` for the SNPs present (today
`rs8099917_TT` and `rs9679162_GG`, see below). All three are missing for a SNP without a
usable call; alt_count and flags are also missing when the call holds a base that is neither
the resource's ref nor alt.

Where the call comes from, per sample and SNP:

1. the sample's `genotype_vcf`, column `genotype_sample` (default `sample_id`);
2. when the sample has no genotype VCF, or that VCF has no call there (no record, `./.`, `.`,
   half-called `./1`, haploid, or an allele that is not a single base at the SNP), its
   `exome_vcf`'s normal column: the column named by `##normal_sample=`, else the single column
   named NORMAL; with neither (tumour-only, or a header naming no column) nothing is guessed
   and the SNP stays missing. Somatic callers mostly write variant sites only, so the absence
   of a record in an exome VCF is NOT hom-ref: the SNP stays missing. FILTER is not applied (a
   somatic caller flags germline sites as `germline` or similar precisely because the normal
   carries them). Callers whose normal GT is a fixed placeholder rather than a genotype
   (GATK Mutect2 and MuTect, which always write the normal as 0/0 or 0, and MuSE) are
   recognised from their header lines and not used.

Reading a record: the site is matched by position; the file's REF may be the resource's ref or
(swapped) its alt; the resource's alt may be one ALT of a multi-allelic record or of one of
several split records (records carrying the resource's alt are read first); an allele written
with shared trailing bases (REF `TA`, ALT `GA`) counts as the SNV it represents; a gVCF
reference block (ALT only `<NON_REF>`/`<*>`, END= covering the position) with a 0/0 call counts
as hom-ref. A record starting at the SNP whose REF base is neither the resource's ref nor alt
means the VCF and the resource disagree on the reference (another build, or a wrong resource
row): it is refused with an InputError naming the file, the sample(s), the SNP and the alleles.

Each distinct VCF is opened at most once per batch (a file that is one sample's genotype VCF
and another's exome VCF too is read in the same pass); exome VCFs are opened only for samples
that still lack a call. Every problem in the batch is collected before raising.

The published genotype flags (`GENOTYPE_FLAGS`), + strand letters throughout:

- `rs8099917_TT` (IL-28B): 1 for homozygous T/T, the adverse genotype for HAIC response;
- `rs9679162_GG` (GALNT14): 1 for homozygous G/G (homozygous reference), the favourable
  genotype after HAIC (better response and longer OS than GT/TT, Lin et al. 2020). After
  systemic 5-FU-based chemotherapy and after TACE the published direction is the opposite (TT
  favourable): the flag encodes the genotype, not a benefit. GALNT14 lies on the minus strand,
  so on its transcript the SNP reads C>A (NM_024572.3:c.130-31641C>A); the papers' TT/GT/GG are
  the + strand letters, and G/T is not palindromic, so no strand flip can go unnoticed. The
  resource check (`io.resources.PUBLISHED_SNP_ALLELES`) refuses any other alleles for it.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from haicpred.genomics.vcf.access import open_vcf, read_problem, samples_where
from haicpred.genomics.vcf.evidence import is_reference_block_alt, is_symbolic
from haicpred.genomics.vcf.regions import RegionIndex, records
from haicpred.genomics.vcf.samples import NORMAL_NAMES, group_by_file, header_meta, missing_path
from haicpred.io.errors import InputError, Problem, raise_if_any
from haicpred.io.resources import GALNT14_RSID, IL28B_RSID

SOURCE_GENOTYPE_VCF = "genotype_vcf"
SOURCE_EXOME_NORMAL = "exome_normal"
SOURCE_ORDER = (SOURCE_GENOTYPE_VCF, SOURCE_EXOME_NORMAL)  # preference


@dataclass(frozen=True)
class GenotypeFlag:
    """A published 0/1 genotype group: 1 when the sample is homozygous for `allele` (+ strand)."""

    rsid: str
    column: str
    allele: str
    description: str


#: Published genotype flags, by SNP. Add a SNP's flag here only with its + strand allele
#: verified, and its alleles to io.resources.PUBLISHED_SNP_ALLELES.
GENOTYPE_FLAGS: tuple[GenotypeFlag, ...] = (
    GenotypeFlag(IL28B_RSID, f"{IL28B_RSID}_TT", "T",
                 "IL-28B rs8099917 homozygous T/T (adverse for HAIC response)"),
    GenotypeFlag(GALNT14_RSID, f"{GALNT14_RSID}_GG", "G",
                 "GALNT14 rs9679162 homozygous G/G, + strand letters (homozygous reference; "
                 "GALNT14 is on the minus strand, where the SNP reads c.130-31641C>A; G/T is "
                 "not palindromic). Favourable after HAIC (better response and OS than GT/TT); "
                 "after systemic 5-FU chemotherapy and TACE the published direction is the "
                 "opposite (TT favourable)"),
)

# Somatic callers whose normal-sample GT is a constant placeholder, not a genotype call:
# Mutect2 (`##source=Mutect2`, `##GATKCommandLine=<ID=Mutect2`, `##MutectVersion`), MuTect 1
# (`##MuTect=` or, in files without it, its FORMAT FA description) and MuSE (`##MuSE_version`).
_PLACEHOLDER_NORMAL_GT = re.compile(
    r"^##(?:source=\s*\"?(?:mutect|muse)|mutect|muse_|gatkcommandline[^=]*=<id=mutect"
    r"|format=<id=fa,.*allele fraction of the alternate allele with regard to reference)",
    re.IGNORECASE)


@dataclass(frozen=True)
class _Request:
    sample_id: str
    source: str  # SOURCE_GENOTYPE_VCF or SOURCE_EXOME_NORMAL
    column: str | None  # genotype column; None = the file's normal column
    tumour: str | None = None  # the sheet's tumor_sample (never read as the normal)


def snp_genotypes(samples: list[dict], snps: pd.DataFrame) -> pd.DataFrame:
    """One row per sample (sorted by sample_id): per SNP `<rsid>_alt_count`, `<rsid>_genotype`,
    `<rsid>_source`, then the `GENOTYPE_FLAGS` columns of the SNPs present (see module doc).

    `snps` is a frame as `read_snps` returns it (validated, int pos); it is not checked again.
    InputError lists every problem of the batch (unreadable files, absent columns, REF
    mismatches).
    """
    snp_list = list(snps.itertuples(index=False))
    by_rsid = {snp.rsid: snp for snp in snp_list}
    sample_ids, _, problems = group_by_file(samples, "genotype_vcf")
    sheet_rows: dict[str, dict] = {}
    for s in samples:  # the first row of a repeated sample_id (already a problem)
        sheet_rows.setdefault(str(s["sample_id"]), s)

    exome_path: dict[str, str] = {}
    requests: dict[str, list[_Request]] = defaultdict(list)
    for sid, s in sheet_rows.items():
        if not missing_path(s.get("genotype_vcf")):
            column = sid if missing_path(s.get("genotype_sample")) else str(
                s["genotype_sample"])
            requests[str(s["genotype_vcf"])].append(_Request(sid, SOURCE_GENOTYPE_VCF, column))
        if not missing_path(s.get("exome_vcf")):
            exome_path[sid] = str(s["exome_vcf"])
    flags = [f for f in GENOTYPE_FLAGS if f.rsid in by_rsid]
    for flag in flags:
        snp = by_rsid[flag.rsid]
        if flag.allele not in (snp.ref, snp.alt):
            problems.append(Problem("SNP resource", f"SNP {snp.rsid}",
                                    f"alleles {snp.ref}/{snp.alt} do not include {flag.allele}, "
                                    f"the allele {flag.column} is defined on",
                                    "give the SNP's alleles on the + strand"))

    calls: dict[tuple[str, str, str], tuple[str, str]] = {}  # (sid, source, rsid) -> bases
    failed: set[str] = set()  # samples whose genotype VCF could not be read

    # Pass 1: genotype VCFs (plus the exome requests of files that are also genotype VCFs).
    first_pass = set(requests)
    for sid, path in exome_path.items():
        if path in first_pass:
            requests[path].append(_exome_request(sid, sheet_rows))
    for path in sorted(first_pass):
        found, file_problems = _scan_file(path, requests[path], snp_list)
        problems.extend(file_problems)
        if file_problems:
            failed.update(r.sample_id for r in requests[path])
        calls.update(found)

    # Pass 2: exome VCFs of samples still lacking a genotype-VCF call at some SNP.
    second: dict[str, list[_Request]] = defaultdict(list)
    for sid, path in exome_path.items():
        if path in first_pass:
            continue
        lacking = sid in failed or any((sid, SOURCE_GENOTYPE_VCF, snp.rsid) not in calls
                                       for snp in snp_list)
        if lacking:
            second[path].append(_exome_request(sid, sheet_rows))
    for path in sorted(second):
        found, file_problems = _scan_file(path, second[path], snp_list)
        problems.extend(file_problems)
        calls.update(found)
    raise_if_any(problems)

    columns = ["sample_id"]
    for snp in snp_list:
        columns += [f"{snp.rsid}_alt_count", f"{snp.rsid}_genotype", f"{snp.rsid}_source"]
    columns += [f.column for f in flags]
    data: dict[str, list] = {c: [] for c in columns}
    for sid in sorted(sample_ids):
        data["sample_id"].append(sid)
        chosen: dict[str, tuple[str, str] | None] = {}
        for snp in snp_list:
            source = next((src for src in SOURCE_ORDER if (sid, src, snp.rsid) in calls), None)
            bases = None if source is None else calls[(sid, source, snp.rsid)]
            chosen[snp.rsid] = bases
            count = None if bases is None else _alt_count(bases, snp)
            data[f"{snp.rsid}_alt_count"].append(pd.NA if count is None else count)
            data[f"{snp.rsid}_genotype"].append(pd.NA if bases is None else "".join(bases))
            data[f"{snp.rsid}_source"].append(pd.NA if source is None else source)
        for flag in flags:
            bases = chosen[flag.rsid]
            snp = by_rsid[flag.rsid]
            if bases is None or _alt_count(bases, snp) is None:
                data[flag.column].append(pd.NA)
            else:
                data[flag.column].append(int(bases == (flag.allele, flag.allele)))
    out = pd.DataFrame(data, columns=columns)
    for c in columns:
        if c.endswith(("_genotype", "_source")) or c == "sample_id":
            out[c] = out[c].astype(object)
        else:
            out[c] = out[c].astype("Int64")
    return out


def _exome_request(sid: str, sheet_rows: dict[str, dict]) -> _Request:
    tumour = sheet_rows[sid].get("tumor_sample")
    return _Request(sid, SOURCE_EXOME_NORMAL, None,
                    None if missing_path(tumour) else str(tumour))


def normal_column(header, tumour: str | None = None) -> str | None:
    """The germline (normal) column of a somatic VCF, or None when it cannot be told safely.

    `##normal_sample=` naming a column, else the single column named NORMAL. None when neither
    exists, the header names no column, the column is the sheet's tumour, or the caller writes a
    placeholder normal GT (Mutect2, MuTect, MuSE; see `_PLACEHOLDER_NORMAL_GT`).
    """
    if any(_PLACEHOLDER_NORMAL_GT.match(str(rec)) for rec in header.records):
        return None
    columns = list(header.samples)
    named = header_meta(header, "normal_sample")
    if named:
        hits = sorted({n for n in named if n in columns})
        chosen = hits[0] if len(hits) == 1 else None
    else:
        hits = [c for c in columns if c.upper() in NORMAL_NAMES]
        chosen = hits[0] if len(hits) == 1 else None
    if chosen is None or chosen == tumour:
        return None
    return chosen


def _scan_file(path: str, requests: list[_Request], snp_list: list
               ) -> tuple[dict[tuple[str, str, str], tuple[str, str]], list[Problem]]:
    """Calls {(sample_id, source, rsid): (base, base)} of the requests reading `path`."""
    ids = list(dict.fromkeys(r.sample_id for r in requests))
    try:
        handle = open_vcf(path, ids)
    except InputError as exc:
        return {}, exc.problems
    with handle:
        columns = handle.samples
        present = set(columns)
        problems = []
        resolved: list[tuple[_Request, str]] = []
        for req in requests:
            if req.source == SOURCE_EXOME_NORMAL:
                col = normal_column(handle.header, req.tumour)
                if col is not None:
                    resolved.append((req, col))
                continue  # no normal column: nothing is guessed
            if req.column not in present:
                shown = ", ".join(columns[:10]) + (f" (+{len(columns) - 10} more)"
                                                   if len(columns) > 10 else "")
                problems.append(Problem(
                    path, f"sample {req.sample_id}",
                    f"genotype column {req.column!r} is not in this VCF "
                    f"(columns: {shown or '(none)'})",
                    "set genotype_sample in the sample sheet to the sample's column name"))
            else:
                resolved.append((req, req.column))
        if problems:
            return {}, problems
        if not resolved:
            return {}, []
        needed = sorted({col for _, col in resolved})
        if len(needed) < len(columns):
            handle.vf.subset_samples(needed)
        regions = RegionIndex.build((snp.chrom, snp.pos, snp.pos, snp.rsid)
                                    for snp in snp_list)
        by_rsid = {snp.rsid: snp for snp in snp_list}
        candidates: dict[str, list] = defaultdict(list)
        found: dict[tuple[str, str, str], tuple[str, str]] = {}
        readers = sorted({req.sample_id for req, _ in resolved})
        try:
            for rec, hits in records(handle, regions, ids):
                for _, _, rsid, _ in hits:
                    candidates[rsid].append(rec)
            for rsid in sorted(candidates):
                snp = by_rsid[rsid]
                ranked, mismatched = _rank(candidates[rsid], snp)
                for file_ref in mismatched:
                    problems.append(Problem(
                        path, samples_where(readers),
                        f"REF mismatch at {snp.rsid} ({snp.chrom}:{snp.pos}): the VCF's REF "
                        f"is {file_ref} but the SNP resource gives ref {snp.ref}, alt "
                        f"{snp.alt} (+ strand)",
                        "the VCF and the SNP resource are on different genome builds, or the "
                        "resource row is wrong: use resources/snps_<build>.tsv of the VCF's "
                        "build (config `snps`) or fix the row"))
                if mismatched:
                    continue
                for req, col in resolved:
                    bases = _call(ranked, snp, col)
                    if bases is not None:
                        found[(req.sample_id, req.source, rsid)] = bases
        except InputError as exc:
            return {}, exc.problems
        except (ValueError, OSError, KeyError) as exc:
            return {}, [read_problem(path, ids, exc)]
    return ({}, problems) if problems else (found, [])


def _allele_bases(rec, pos: int) -> list[str | None] | None:
    """The base each allele of `rec` puts at `pos`; None for alleles that are not one base.

    Returns None when the record cannot describe the position (it starts elsewhere and is not a
    reference block).
    """
    alleles = rec.alleles
    ref = alleles[0]
    if rec.pos == pos:
        bases: list[str | None] = [ref[0].upper()]
        for alt in alleles[1:]:
            if is_symbolic(alt):
                bases.append(None)
                continue
            r, a = ref.upper(), alt.upper()
            while len(r) > 1 and len(a) > 1 and r[-1] == a[-1]:
                r, a = r[:-1], a[:-1]
            bases.append(a if len(r) == 1 and len(a) == 1 else None)
        return bases
    if rec.pos < pos <= rec.stop and all(is_reference_block_alt(a) for a in alleles[1:]):
        return [""] + [None] * (len(alleles) - 1)  # "" = the reference base, not spelled out
    return None


def _rank(recs: list, snp) -> tuple[list[tuple[object, list[str | None]]], list[str]]:
    """(candidate records best first, REF bases disagreeing with the resource).

    Best first: starting at the SNP and carrying its alt, then starting at the SNP, then
    reference blocks covering it.
    """
    scored = []
    mismatched: list[str] = []
    for order, rec in enumerate(recs):
        bases = _allele_bases(rec, snp.pos)
        if bases is None:
            continue
        ref_base = bases[0]
        if ref_base and ref_base not in (snp.ref, snp.alt):
            if ref_base not in mismatched:
                mismatched.append(ref_base)
            continue
        if ref_base == "":
            score = 2
        elif snp.alt in bases or (ref_base == snp.alt and snp.ref in bases):
            score = 0
        else:
            score = 1
        scored.append((score, order, rec, bases))
    scored.sort(key=lambda t: (t[0], t[1]))
    return [(rec, bases) for _, _, rec, bases in scored], mismatched


def _call(ranked, snp, column: str) -> tuple[str, str] | None:
    """The sample's two + strand bases at the SNP from the first record with a usable diploid
    call; None when no record has one."""
    for rec, bases in ranked:
        try:
            gt = rec.samples[column].get("GT")
        except (KeyError, ValueError):
            gt = None
        if not gt or len(gt) != 2 or any(a is None for a in gt):
            continue  # missing, half-called, haploid or polyploid here: another may have it
        called = []
        for a in gt:
            base = bases[a] if a < len(bases) else None
            if base == "":
                base = snp.ref  # reference block: the sample has the reference base
            if base is None:
                break
            called.append(base)
        else:
            return _ordered(called, snp)
    return None


def _ordered(called: Sequence[str], snp) -> tuple[str, str]:
    rank = {snp.ref: (0, ""), snp.alt: (1, "")}
    a, b = sorted(called, key=lambda base: rank.get(base, (2, base)))
    return a, b


def _alt_count(bases: tuple[str, str], snp) -> int | None:
    if any(b not in (snp.ref, snp.alt) for b in bases):
        return None  # an allele that is neither the resource's ref nor alt
    return sum(b == snp.alt for b in bases)
