"""Panel mutations per sample from somatic (exome) VCFs.

`panel_mutations(samples, panel, min_vaf, min_depth) -> (features, audit)` for one batch.

Each distinct exome VCF is opened once (several samples may share one multi-sample file). Records
overlapping a panel region are read with the file's index when one exists (.tbi/.csi), otherwise
by streaming the file. Every (record, ALT allele, gene) seen lands in the audit with a decision;
kept alleles are counted per gene.

An allele is kept when, in this order (the first failing test is the audit's reason):
  1. it is not symbolic (`<DEL>`, breakend, `*`)            -> `symbolic_allele`
  2. FILTER is PASS or `.`                                   -> `filter:<names>`
  2b. the caller's somatic status (INFO/FORMAT SS, VarScan,
      SomaticSniper, MuSE, RADIA) is not germline/LOH/ref    -> `not_somatic:germline`, ...
  3. the tumour column carries it (GT; else read counts/VAF) -> `genotype_lacks_alt`,
                                                                `no_tumour_call`
  4. VAF >= min_vaf where the VAF is known                   -> `vaf<0.05`
  5. depth >= min_depth where the depth is known             -> `depth<10`
  6. its consequence is protein-altering when annotated     -> `not_protein_altering:<terms>`
otherwise `pass`. gVCF `<NON_REF>`/`<*>` placeholders and records without ALT are not listed.
The audit's `chrom` is the panel's spelling of the contig.
"""

from __future__ import annotations


import pandas as pd

from haicpred import vcf
from haicpred.errors import InputError, Problem, raise_if_any

AUDIT_COLUMNS = ["sample_id", "chrom", "pos", "ref", "alt", "gene", "consequence", "vaf",
                 "depth", "filter", "decision", "reason"]


# ----------------------------------------------------------------------------------------------
# Panel mutations
# ----------------------------------------------------------------------------------------------

def panel_mutations(samples: list[dict], panel: pd.DataFrame, min_vaf: float = 0.05,
                    min_depth: int = 10) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (features, audit) for one batch. See the module docstring for the rules.

    `panel` is a frame as `read_panel` returns it (validated, int start/end); it is not checked
    again here.
    """
    if not 0 <= float(min_vaf) <= 1:
        raise ValueError(f"min_vaf must be within [0, 1], got {min_vaf}")
    if int(min_depth) < 0:
        raise ValueError(f"min_depth must be >= 0, got {min_depth}")
    genes = list(dict.fromkeys(panel["gene"]))
    regions = vcf.RegionIndex.build(
        (r.chrom, r.start, r.end, r.gene) for r in panel.itertuples(index=False))

    sample_ids, by_file, problems = vcf.group_by_file(samples, "exome_vcf")

    audit_rows: list[tuple] = []
    for path in sorted(by_file):
        rows, file_problems = _scan_file(path, by_file[path], regions, float(min_vaf),
                                         int(min_depth))
        problems.extend(file_problems)
        audit_rows.extend(rows)
    raise_if_any(problems)

    audit = _audit_frame(audit_rows)
    with_vcf = {str(s["sample_id"]) for group in by_file.values() for s in group}
    features = _features(sorted(sample_ids), with_vcf, genes, audit)
    return features, audit


def _scan_file(path: str, group: list[dict], regions: vcf.RegionIndex, min_vaf: float,
               min_depth: int) -> tuple[list[tuple], list[Problem]]:
    ids = [str(s["sample_id"]) for s in group]
    problems: list[Problem] = []
    try:
        handle = vcf.open_vcf(path, ids)
    except InputError as exc:
        return [], exc.problems
    with handle:
        columns: list[tuple[str, str]] = []  # (sample_id, tumour column)
        for s in group:
            requested = s.get("tumor_sample")
            requested = None if vcf.missing_path(requested) else str(requested)
            try:
                col = vcf.choose_tumour_column(handle.header, requested, path=path,
                                               sample_id=str(s["sample_id"]))
            except InputError as exc:
                problems.extend(exc.problems)
                continue
            columns.append((str(s["sample_id"]), col))
        if problems:
            return [], problems
        # No subset_samples() here: htslib would then skip parsing the other columns and a
        # damaged file could pass unnoticed. Somatic VCFs have few columns anyway.
        fmt = vcf.FormatSchema(handle.header)
        ann = vcf.AnnotationSchema(handle.header)
        rows: list[tuple] = []
        try:
            for rec, hits in vcf.records(handle, regions, ids):
                try:
                    rows.extend(_judge_record(rec, hits, columns, fmt, ann, min_vaf, min_depth))
                except (ValueError, OSError, KeyError) as exc:
                    raise InputError(vcf.read_problem(path, ids, exc,
                                                      after=f"{rec.chrom}:{rec.pos}")) from None
        except InputError as exc:
            return [], exc.problems
    return rows, []


def _judge_record(rec, hits, columns, fmt: vcf.FormatSchema, ann: vcf.AnnotationSchema,
                  min_vaf: float, min_depth: int) -> list[tuple]:
    alts = rec.alts or ()
    if not alts:
        return []
    filter_text, passes = vcf.record_filter(rec)
    genes: dict[str, str] = {}  # gene -> panel contig spelling
    for _, _, gene, contig in hits:
        genes.setdefault(gene, contig)
    vaf_label = f"vaf<{min_vaf:g}"
    depth_label = f"depth<{min_depth:d}"
    rows = []
    ref = rec.ref
    pos = int(rec.pos)
    for alt_index, alt in enumerate(alts, start=1):
        if vcf.is_reference_block_alt(alt):
            continue
        if vcf.is_symbolic(alt):
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
            if not passes:
                base_reason = f"filter:{filter_text}"
            elif status is not None:
                base_reason = f"not_somatic:{status}"
            elif ev.carries_alt is None:
                base_reason = "no_tumour_call"
            elif not ev.carries_alt:
                base_reason = "genotype_lacks_alt"
            elif vaf is not None and vaf < min_vaf:
                base_reason = vaf_label
            elif depth is not None and depth < min_depth:
                base_reason = depth_label
            else:
                base_reason = None
            for gene, contig in genes.items():
                terms = terms_by_gene[gene]
                consequence = "&".join(terms) if terms else None
                reason = base_reason
                if reason is None:
                    if terms is not None and not vcf.is_protein_altering(terms):
                        reason = f"not_protein_altering:{consequence or 'unknown'}"
                    else:
                        reason = "pass"
                rows.append((sample_id, contig, pos, ref, alt, gene, consequence, vaf, depth,
                             filter_text, "kept" if reason == "pass" else "dropped", reason))
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


def _features(sample_ids: list[str], with_vcf: set[str], genes: list[str],
              audit: pd.DataFrame) -> pd.DataFrame:
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
        has = sid in with_vcf
        total = 0
        for g in genes:
            n = counts.get((sid, g), 0)
            total += n
            data[f"{g}_mutated"].append(int(n > 0) if has else pd.NA)
            data[f"{g}_n_mutations"].append(n if has else pd.NA)
        data["panel_mutations"].append(total if has else pd.NA)
        data["fohaic1_mutation_positive"].append(int(total > 0) if has else pd.NA)
    out = pd.DataFrame(data, columns=columns)
    out["sample_id"] = out["sample_id"].astype(object)
    for c in columns[1:]:
        out[c] = out[c].astype("Int64")
    return out
