"""Mutect2 + FilterMutectCalls + VEP exome VCFs, one per patient with an exome.

Which records a tumour carries: true FOHAIC-1 panel mutations for panel-positive patients,
decoys the panel rule must reject (filtered, not protein-altering, low AF, low depth,
multi-allelic) and background variants away from the panel genes, with tumour/normal read
depths and the Mutect2 header. Alleles and their annotation come from `variants`.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import math
import os
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .common import Reference, write_indexed_vcf
from .variants import (CSQ_FIELDS, GeneAnnotation, annotated_variant, background_genes,
                       multiallelic_variant, panel_annotations)

# ---------------------------------------------------------------------------------------------
# Somatic exome VCFs (Mutect2 + FilterMutectCalls + VEP)
# ---------------------------------------------------------------------------------------------
PROTEIN_ALTERING = frozenset({
    "missense_variant", "stop_gained", "stop_lost", "start_lost", "frameshift_variant",
    "inframe_insertion", "inframe_deletion", "splice_donor_variant", "splice_acceptor_variant",
})
MIN_TRUE_AF, MIN_TRUE_DP = 0.05, 10  # the FOHAIC-1 panel rule the pipeline applies
# Simulated allele fractions stay clear of the 0.05 cut-off so rounding cannot flip a call.
TRUE_AF_FLOOR, DECOY_AF_CEILING = 0.06, 0.045
assert DECOY_AF_CEILING < MIN_TRUE_AF < TRUE_AF_FLOOR
P_FOHAIC1_POSITIVE = 0.32
P_SECOND_TRUE_MUTATION = 0.20
TRUE_CONSEQUENCES = {
    "missense_variant": 0.55, "missense_variant&splice_region_variant": 0.04,
    "stop_gained": 0.10, "frameshift_variant": 0.12, "splice_donor_variant": 0.04,
    "splice_acceptor_variant": 0.04, "inframe_deletion": 0.05, "inframe_insertion": 0.03,
    "start_lost": 0.015, "stop_lost": 0.015,
}
PANEL_DECOYS_PER_EXOME = 1.5  # Poisson mean
DECOY_KINDS = {"filtered": 0.30, "not_protein_altering": 0.30, "low_af": 0.15,
               "low_depth": 0.15, "multiallelic": 0.10}
DECOY_FILTERS = ("weak_evidence", "germline", "normal_artifact", "clustered_events",
                 "strand_bias", "map_qual", "panel_of_normals", "orientation",
                 "clustered_events;weak_evidence", "germline;normal_artifact")
DECOY_NON_CODING = ("synonymous_variant", "intron_variant", "3_prime_UTR_variant",
                    "5_prime_UTR_variant", "splice_region_variant&intron_variant",
                    "splice_region_variant&synonymous_variant")
assert all(set(c.split("&")) & PROTEIN_ALTERING for c in TRUE_CONSEQUENCES)
assert not any(set(c.split("&")) & PROTEIN_ALTERING for c in DECOY_NON_CODING)
BACKGROUND_VARIANTS_RANGE = (20, 60)
P_BACKGROUND_INTERGENIC = 0.20
BACKGROUND_CONSEQUENCES = {
    "missense_variant": 0.30, "synonymous_variant": 0.15, "intron_variant": 0.22,
    "3_prime_UTR_variant": 0.06, "5_prime_UTR_variant": 0.03, "stop_gained": 0.03,
    "frameshift_variant": 0.04, "splice_region_variant&intron_variant": 0.03,
    "upstream_gene_variant": 0.06, "downstream_gene_variant": 0.05, "inframe_deletion": 0.01,
    "splice_acceptor_variant": 0.01, "splice_donor_variant": 0.01,
}
BACKGROUND_FILTERS = {"PASS": 0.80, "weak_evidence": 0.08, "clustered_events": 0.03,
                      "germline": 0.03, "strand_bias": 0.02, "normal_artifact": 0.02,
                      "slippage": 0.01, "haplotype": 0.01}
VCF_WRITER_THREADS = max(1, min(4, os.cpu_count() or 1))
PANEL_EXCLUSION_MARGIN = 100_000  # background variants stay this far from panel genes
MUTECT_FILTERS = {
    "PASS": "All filters passed",
    "base_qual": "alt median base quality",
    "clustered_events": "Clustered events observed in the tumor",
    "contamination": "contamination",
    "duplicate": "evidence for alt allele is overrepresented by apparent duplicates",
    "fragment": "abs(ref - alt) median fragment length",
    "germline": "Evidence indicates this site is germline, not somatic",
    "haplotype": "Variant near filtered variant on same haplotype.",
    "low_allele_frac": "Allele fraction is below specified threshold",
    "map_qual": "ref - alt median mapping quality",
    "multiallelic": "Site filtered because too many alt alleles pass tumor LOD",
    "n_ratio": "Ratio of N to alt exceeds specified ratio",
    "normal_artifact": "artifact_in_normal",
    "orientation": "orientation bias detected by the orientation bias mixture model",
    "panel_of_normals": "Blacklisted site in panel of normals",
    "position": "median distance of alt variants from end of reads",
    "slippage": "Site filtered due to contraction of short tandem repeat region",
    "strand_bias": "Evidence for alt allele comes from one read direction only",
    "strict_strand": "Evidence for alt allele is not represented in both directions",
    "weak_evidence": "Mutation does not meet likelihood threshold",
}


def _mutect_header(ref: Reference, tumour: str, normal: str, first: str, second: str) -> str:
    lines = ["##fileformat=VCFv4.2"]
    lines += [f'##FILTER=<ID={k},Description="{v}">' for k, v in MUTECT_FILTERS.items()]
    lines += [
        '##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Allelic depths for the ref and '
        'alt alleles in the order listed">',
        '##FORMAT=<ID=AF,Number=A,Type=Float,Description="Allele fractions of alternate '
        'alleles in the tumor">',
        '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Approximate read depth (reads '
        'with MQ=255 or with bad mates are filtered)">',
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        '##INFO=<ID=CSQ,Number=.,Type=String,Description="Consequence annotations from '
        'Ensembl VEP. Format: ' + "|".join(CSQ_FIELDS) + '">',
        '##INFO=<ID=DP,Number=1,Type=Integer,Description="Approximate read depth; some reads '
        'may have been filtered">',
        '##INFO=<ID=TLOD,Number=A,Type=Float,Description="Log 10 likelihood ratio score of '
        'variant existing versus not existing">',
        "##MutectVersion=2.2",
        f'##VEP="v110" cache="homo_sapiens/110_{ref.build}" ensembl=110 '
        f'assembly="{ref.build}"',
    ]
    lines += [f"##contig=<ID={c},length={n}>" for c, n in ref.contigs.items()]
    lines += [
        "##filtering_status=These calls have been filtered by FilterMutectCalls to label false "
        "positives with a list of failed filters and true positives with PASS.",
        f"##normal_sample={normal}",
        f"##reference={ref.fasta}",
        "##source=FilterMutectCalls",
        "##source=Mutect2",
        f"##tumor_sample={tumour}",
        "\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT",
                   first, second]),
    ]
    return "\n".join(lines) + "\n"


@dataclass
class _Record:
    chrom: str
    pos: int
    ref: str
    alts: list[str]
    filter: str
    csq: list[str]  # one VEP entry per allele/transcript
    tumour_ad: list[int]  # ref, alt1, ...
    normal_ad: list[int]
    normal_gt: str = "0/0"


@functools.cache
def _cumulative(items: tuple[tuple[str, float], ...]) -> tuple[tuple[str, ...], list[float]]:
    total = sum(w for _, w in items)
    return tuple(k for k, _ in items), list(itertools.accumulate(w / total for _, w in items))


def _weighted_choice(weights: dict[str, float], u: float) -> str:
    """The key whose cumulative-weight interval holds u (weights in insertion order)."""
    keys, cum = _cumulative(tuple(weights.items()))
    return keys[min(bisect.bisect_right(cum, u), len(keys) - 1)]


def _tumour_depths(rng: np.random.Generator, kind: str) -> tuple[int, int]:
    """(depth, alt reads) of the tumour for a record kind."""
    if kind == "low_af":
        dp = int(rng.integers(150, 400))
        below = math.ceil(DECOY_AF_CEILING * dp) - 1  # alt/dp < DECOY_AF_CEILING < MIN_TRUE_AF
        alt = int(max(1, min(math.floor(rng.uniform(0.01, 0.04) * dp), below)))
        return dp, alt
    if kind == "low_depth":
        dp = int(rng.integers(4, MIN_TRUE_DP))
        return dp, int(rng.integers(2, dp))
    if kind == "germline":
        dp = int(rng.integers(40, 200))
        return dp, int(rng.binomial(dp, 0.5))
    if kind == "weak_evidence":  # few alt reads, TLOD below Mutect2's threshold
        dp = int(rng.integers(20, 120))
        return dp, int(rng.integers(2, 4))
    dp = int(rng.integers(30, 250))
    af = float(np.clip(rng.beta(2, 6), 0.08, 0.9))
    alt = max(3, round(af * dp), math.ceil(TRUE_AF_FLOOR * dp))
    return dp, min(alt, dp - 1)


def _normal_depths(rng: np.random.Generator, germline: bool) -> tuple[str, int, int]:
    dp = int(rng.integers(25, 90))
    if germline:
        alt = int(rng.binomial(dp, 0.5))
        return "0/1", dp - alt, alt
    alt = int(rng.random() < 0.2)
    return "0/0", dp - alt, alt


def _position_in(rng, start: int, end: int) -> int:
    return int(rng.integers(start, end + 1))


def _panel_records(rng, genes: list[GeneAnnotation], positive: bool) -> list[_Record]:
    """True panel mutations (if positive) and decoys that the panel rule must reject."""
    records = []
    weights = np.sqrt([g.end - g.start + 1 for g in genes])
    weights = weights / weights.sum()
    n_true = (1 + int(rng.random() < P_SECOND_TRUE_MUTATION)) if positive else 0
    for _ in range(n_true):
        gene = genes[rng.choice(len(genes), p=weights)]
        consequence = _weighted_choice(TRUE_CONSEQUENCES, rng.random())
        records.append(_make_record(rng, gene, consequence, "PASS", "true"))
    for _ in range(rng.poisson(PANEL_DECOYS_PER_EXOME)):
        gene = genes[rng.integers(len(genes))]
        kind = _weighted_choice(DECOY_KINDS, rng.random())
        if kind == "multiallelic":
            records.append(_multiallelic_record(rng, gene))
            continue
        consequence = _weighted_choice(TRUE_CONSEQUENCES, rng.random())
        filt = "PASS"
        if kind == "filtered":
            filt = DECOY_FILTERS[rng.integers(len(DECOY_FILTERS))]
        elif kind == "not_protein_altering":
            consequence = DECOY_NON_CODING[rng.integers(len(DECOY_NON_CODING))]
        records.append(_make_record(rng, gene, consequence, filt, kind))
    return records


def _make_record(rng, gene: GeneAnnotation | None, consequence: str, filt: str, kind: str,
                 chrom: str | None = None, pos: int | None = None) -> _Record:
    if gene is not None:
        chrom, pos = gene.chrom, _position_in(rng, gene.start, gene.end)
    ref, alt, csq = annotated_variant(consequence, gene, rng.random(12))
    filters = filt.split(";")
    germline = "germline" in filters
    depth_kind = "germline" if germline else "weak_evidence" if "weak_evidence" in filters \
        else kind
    dp, alt_reads = _tumour_depths(rng, depth_kind)
    normal_gt, normal_ref, normal_alt = _normal_depths(rng, germline)
    return _Record(chrom, pos, ref, [alt], filt, [csq], [dp - alt_reads, alt_reads],
                   [normal_ref, normal_alt], normal_gt)


def _multiallelic_record(rng, gene: GeneAnnotation) -> _Record:
    """Synonymous allele carried; missense allele either below AF 0.05 or site filtered."""
    ref, alts, entries = multiallelic_variant(gene, rng.random(12))
    dp = int(rng.integers(150, 350))
    alt1 = int(rng.integers(int(0.1 * dp), int(0.4 * dp)))
    if rng.random() < 0.5:
        alt2, filt = int(rng.integers(1, math.ceil(DECOY_AF_CEILING * dp))), "PASS"
    else:
        alt2, filt = int(rng.integers(int(0.08 * dp), int(0.2 * dp))), "multiallelic"
    normal_dp = int(rng.integers(25, 90))
    return _Record(gene.chrom, _position_in(rng, gene.start, gene.end), ref, alts, filt,
                   entries, [dp - alt1 - alt2, alt1, alt2], [normal_dp, 0, 0])


def _background_records(rng, contigs: dict[str, int], genes: tuple[GeneAnnotation, ...],
                        panel_genes: list[GeneAnnotation], count: int) -> list[_Record]:
    """Somatic variants across the genome (in `genes` or intergenic), away from the panel."""
    autosomes_x = [c for c in contigs if c not in ("chrY", "Y")]
    contig_weights = {c: float(contigs[c]) for c in autosomes_x}
    records = []
    for _ in range(count):
        filt = _weighted_choice(BACKGROUND_FILTERS, rng.random())
        if rng.random() < P_BACKGROUND_INTERGENIC:
            while True:
                chrom = _weighted_choice(contig_weights, rng.random())
                pos = int(rng.integers(1, contigs[chrom] + 1))
                if not _near_panel(chrom, pos, panel_genes):
                    break
            records.append(_make_record(rng, None, "intergenic_variant", filt, "background",
                                        chrom, pos))
        else:
            gene = genes[rng.integers(len(genes))]
            consequence = _weighted_choice(BACKGROUND_CONSEQUENCES, rng.random())
            records.append(_make_record(rng, gene, consequence, filt, "background"))
    return records


def _near_panel(chrom: str, pos: int, panel_genes: list[GeneAnnotation]) -> bool:
    return any(g.chrom == chrom and g.start - PANEL_EXCLUSION_MARGIN <= pos
               <= g.end + PANEL_EXCLUSION_MARGIN for g in panel_genes)


def _format_record(record: _Record, normal_first: bool) -> str:
    t_ad, n_ad = record.tumour_ad, record.normal_ad
    t_dp, n_dp = sum(t_ad), sum(n_ad)
    n_alts = len(record.alts)
    t_gt = "/".join(str(i) for i in range(n_alts + 1))
    t_af = ",".join(f"{a / t_dp:.3f}" for a in t_ad[1:])
    n_af = ",".join(f"{(a + 1) / (n_dp + 2):.3f}" if record.normal_gt == "0/0" else
                    f"{a / n_dp:.3f}" for a in n_ad[1:])
    tlod = ",".join(f"{max(0.5, 2.3 * a - 0.4):.2f}" for a in t_ad[1:])
    tumour = f"{t_gt}:{','.join(map(str, t_ad))}:{t_af}:{t_dp}"
    normal = f"{record.normal_gt}:{','.join(map(str, n_ad))}:{n_af}:{n_dp}"
    first, second = (normal, tumour) if normal_first else (tumour, normal)
    info = f"DP={t_dp + n_dp};TLOD={tlod};CSQ={','.join(record.csq)}"
    return "\t".join([record.chrom, str(record.pos), ".", record.ref, ",".join(record.alts), ".",
                      record.filter, info, "GT:AD:AF:DP", first, second])


def _deduplicate_positions(records: list[_Record]) -> None:
    """No two records of one VCF at the same position (shift the later one)."""
    taken = set()
    for record in records:
        while (record.chrom, record.pos) in taken:
            record.pos += 7
        taken.add((record.chrom, record.pos))


def write_exome_vcfs(stage: Path, design: pd.DataFrame, panel: list[dict],
                      panel_positive: np.ndarray, ref: Reference,
                      rng: np.random.Generator) -> None:
    """One Mutect2-like VCF per patient with an exome, on `ref` (the panel's build and contig
    names).

    Records are generated in patient order from one random stream (deterministic); bgzip and
    tabix indexing, the slow part, run in worker threads (htslib releases the GIL).
    """
    order = {c: i for i, c in enumerate(ref.contigs)}
    genes = panel_annotations(panel)
    background = background_genes(ref.build, ref.contig)
    for batch in sorted(set(design["batch"])):
        (stage / "vcf" / batch).mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max_workers=VCF_WRITER_THREADS) as pool:
        pending: list[Future] = []
        for i, row in enumerate(design.itertuples(index=False)):
            if not row.has_exome:
                continue
            tumour, normal = f"{row.sample_id}_T", f"{row.sample_id}_N"
            records = _panel_records(rng, genes, bool(panel_positive[i]))
            n_background = int(rng.integers(BACKGROUND_VARIANTS_RANGE[0],
                                             BACKGROUND_VARIANTS_RANGE[1] + 1))
            records += _background_records(rng, ref.contigs, background, genes,
                                           n_background)
            _deduplicate_positions(records)
            records.sort(key=lambda r: (order[r.chrom], r.pos))
            columns = (normal, tumour) if row.normal_first else (tumour, normal)
            text = _mutect_header(ref, tumour, normal, *columns)
            text += "".join(_format_record(r, row.normal_first) + "\n" for r in records)
            path = stage / "vcf" / row.batch / f"{row.sample_id}.vcf.gz"
            pending.append(pool.submit(write_indexed_vcf, text, path))
            if len(pending) >= 4 * VCF_WRITER_THREADS:  # bound memory; re-raise failures
                pending.pop(0).result()
        for future in pending:
            future.result()
