"""Germline SNP genotypes per sample from (cohort) genotype VCFs.

`snp_genotypes(samples, snps) -> features` for one batch: `<rsid>_alt_count` = copies (0/1/2) of
the resource's `alt` allele (forward strand), then `rs8099917_TT` when rs8099917 is in the
resource. Empty (missing) when the sample has no genotype VCF, its call is missing (`./.`,
haploid or partly missing), the site is absent from the file, or the call contains an allele
that is neither the resource's ref nor alt.

Each distinct genotype VCF is opened once per batch; the sample's column is `genotype_sample`
(default `sample_id`). The site is matched by position and alleles: the file's REF may be the
resource's ref or (swapped) its alt; the resource's alt may be one ALT of a multi-allelic record
or of one of several split records; an allele written with shared trailing bases (REF `TA`,
ALT `GA`) counts as the SNV it represents; a gVCF reference block (ALT only `<NON_REF>`/`<*>`)
covering the position with a 0/0 call counts as 0 copies.
"""

from __future__ import annotations

from collections import defaultdict

import pandas as pd

from haicpred import vcf
from haicpred.errors import InputError, Problem, raise_if_any
from haicpred.resources import IL28B_RSID

IL28B_MAJOR = "T"  # rs8099917 T/T: the adverse genotype for HAIC response


def snp_genotypes(samples: list[dict], snps: pd.DataFrame) -> pd.DataFrame:
    """One row per sample (sorted by sample_id): `<rsid>_alt_count` (+ `rs8099917_TT`).

    `snps` is a frame as `read_snps` returns it (validated, int pos); it is not checked again.
    """
    snp_list = list(snps.itertuples(index=False))
    sample_ids, groups, problems = vcf.group_by_file(samples, "genotype_vcf")
    by_file = {  # path -> [(sample_id, its column)]
        path: [(str(s["sample_id"]), str(s["sample_id"]) if vcf.missing_path(
            s.get("genotype_sample")) else str(s["genotype_sample"])) for s in group]
        for path, group in groups.items()
    }

    counts: dict[tuple[str, str], int] = {}  # (sample_id, rsid) -> alt copies
    for path in sorted(by_file):
        found, file_problems = _scan_file(path, by_file[path], snp_list)
        problems.extend(file_problems)
        counts.update(found)
    raise_if_any(problems)

    columns = ["sample_id"] + [f"{snp.rsid}_alt_count" for snp in snp_list]
    il28b = next((snp for snp in snp_list if snp.rsid == IL28B_RSID), None)
    if il28b is not None:
        columns.append(f"{IL28B_RSID}_TT")
    data: dict[str, list] = {c: [] for c in columns}
    for sid in sorted(sample_ids):
        data["sample_id"].append(sid)
        for snp in snp_list:
            data[f"{snp.rsid}_alt_count"].append(counts.get((sid, snp.rsid), pd.NA))
        if il28b is not None:
            n = counts.get((sid, il28b.rsid))
            if n is None:
                data[f"{IL28B_RSID}_TT"].append(pd.NA)
            else:
                major_copies = 2 - n if il28b.ref == IL28B_MAJOR else n
                data[f"{IL28B_RSID}_TT"].append(int(major_copies == 2))
    out = pd.DataFrame(data, columns=columns)
    out["sample_id"] = out["sample_id"].astype(object)
    for c in columns[1:]:
        out[c] = out[c].astype("Int64")
    return out


def _scan_file(path: str, members: list[tuple[str, str]], snp_list: list
               ) -> tuple[dict[tuple[str, str], int], list[Problem]]:
    ids = [sid for sid, _ in members]
    try:
        handle = vcf.open_vcf(path, ids)
    except InputError as exc:
        return {}, exc.problems
    with handle:
        columns = handle.samples
        present = set(columns)
        problems = []
        for sid, col in members:
            if col not in present:
                shown = ", ".join(columns[:10]) + (f" (+{len(columns) - 10} more)"
                                                   if len(columns) > 10 else "")
                problems.append(Problem(
                    path, f"sample {sid}",
                    f"genotype column {col!r} is not in this VCF (columns: {shown or '(none)'})",
                    "set genotype_sample in the sample sheet to the sample's column name"))
        if problems:
            return {}, problems
        needed = sorted({col for _, col in members})
        if len(needed) < len(columns):
            handle.vf.subset_samples(needed)
        regions = vcf.RegionIndex.build((snp.chrom, snp.pos, snp.pos, snp.rsid)
                                        for snp in snp_list)
        by_rsid = {snp.rsid: snp for snp in snp_list}
        candidates: dict[str, list] = defaultdict(list)
        try:
            for rec, hits in vcf.records(handle, regions, ids):
                for _, _, rsid, _ in hits:
                    candidates[rsid].append(rec)
            found: dict[tuple[str, str], int] = {}
            for rsid, recs in candidates.items():
                snp = by_rsid[rsid]
                ranked = _rank(recs, snp)
                for sid, col in members:
                    n = _alt_count(ranked, snp, col)
                    if n is not None:
                        found[(sid, rsid)] = n
        except InputError as exc:
            return {}, exc.problems
        except (ValueError, OSError, KeyError) as exc:
            return {}, [vcf.read_problem(path, ids, exc)]
    return found, []


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
            if vcf.is_symbolic(alt):
                bases.append(None)
                continue
            r, a = ref.upper(), alt.upper()
            while len(r) > 1 and len(a) > 1 and r[-1] == a[-1]:
                r, a = r[:-1], a[:-1]
            bases.append(a if len(r) == 1 and len(a) == 1 else None)
        return bases
    if rec.pos < pos <= rec.stop and all(vcf.is_reference_block_alt(a) for a in alleles[1:]):
        return [""] + [None] * (len(alleles) - 1)  # "" = the reference base, not spelled out
    return None


def _rank(recs: list, snp) -> list[tuple[object, list[str | None]]]:
    """Candidate records, best first: starting at the SNP and carrying its alt, then starting at
    the SNP, then reference blocks covering it."""
    scored = []
    for order, rec in enumerate(recs):
        bases = _allele_bases(rec, snp.pos)
        if bases is None:
            continue
        ref_base = bases[0]
        if ref_base and ref_base not in (snp.ref, snp.alt):
            continue  # a different reference base: not this site (or another build)
        if ref_base == "":
            score = 2
        elif snp.alt in bases or (ref_base == snp.alt and snp.ref in bases):
            score = 0
        else:
            score = 1
        scored.append((score, order, rec, bases))
    scored.sort(key=lambda t: (t[0], t[1]))
    return [(rec, bases) for _, _, rec, bases in scored]


def _alt_count(ranked, snp, column: str) -> int | None:
    for rec, bases in ranked:
        try:
            gt = rec.samples[column].get("GT")
        except (KeyError, ValueError):
            gt = None
        if not gt or any(a is None for a in gt):
            continue  # missing call here: another record may have it
        if len(gt) != 2:
            return None  # haploid / polyploid: not a 0/1/2 copy count
        n = 0
        for a in gt:
            base = bases[a] if a < len(bases) else None
            if base == "":
                base = snp.ref  # reference block: the sample has the reference base
            if base == snp.alt:
                n += 1
            elif base != snp.ref:
                return None  # an allele that is neither the resource's ref nor alt
        return n
    return None
