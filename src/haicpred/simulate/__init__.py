"""Simulate a realistic HAIC cohort with a known ("planted") response model.

`simulate_cohort` writes everything the pipeline consumes (sample sheet, clinical table,
biomarkers in mixed units, pyradiomics-style radiomics, Mutect2/VEP exome VCFs, a joint germline
genotype VCF) plus the oracle: `truth.tsv` (every patient's true response probability, true
OS/PFS log hazards, see `effects`, and true genotype of each resource SNP,
`<rsid>_true_alt_count`, and the two planted radiomic factors, `true_radiomic_heterogeneity`
and `true_shape_regularity`), `planted_effects.tsv` (the logistic model that generated the
labels, the Weibull model of OS/PFS and its censoring, grouped by `outcome`) and
`lesion_truth.tsv` (every lesion's geometry and latent factors, from which
`images.write_cohort_images` draws CT volumes and masks on request).

How the simulation is organised
-------------------------------
1. True patient covariates are drawn first, vectorised over patients (`simulate_patients`,
   `simulate_labs`, `simulate_germline`, `simulate_lesions`). Latent factors make them
   correlated the way biology does: a tumour-burden latent drives size, number, vascular
   invasion, metastasis, AFP, DCP and inflammation; a liver-dysfunction latent drives albumin,
   bilirubin, INR, platelets and ascites.
2. The response probability is a logistic function of named true covariates
   (`PLANTED_EFFECTS`, `response_design`); labels are Bernoulli draws; survival is Weibull
   proportional hazards linked to the same risk, with administrative and random censoring.
3. Writers turn the truth into the observed files, adding what real data has: missing values,
   per-lab units, scanner batch effects, filtered/low-evidence decoy variants, no-calls.

Every random draw goes through one `numpy.random.default_rng(seed)`, split with `spawn` into
independent streams per component, so the same arguments always give byte-identical files
(bgzip output has no timestamps; nothing depends on set or dict order).

Modules
-------
This package module holds only the orchestration: argument and resource checks, the order in
which the random streams are spawned and used, and the atomically replaced output directory.
The parts it calls:

- `common`: the reference genome (`Reference`: GRCh38 or GRCh37, contigs spelled as the
  resource a VCF is written from spells them, FASTA URL) and small helpers several parts share
  (exact-count masks, random bases, bgzip + tabix writing).
- `patients`: cohort design (IDs, batches, which data each patient has) and the true patient
  state: demographics, tumour burden, labs, Child-Pugh/BCLC staging, germline dosages.
- `effects`: the planted response model (`PLANTED_EFFECTS`, `response_design`), the outcomes
  it generates (best response, OS/PFS and their true log hazards) and the
  `planted_effects.tsv` table.
- `clinical_tables`: `samples.tsv`, `clinical.tsv` and `biomarkers.tsv` (missing cells, lab
  units, post-treatment markers).
- `radiomics`: lesions, the radiomic feature model, scanner batch effects, `radiomics.tsv`,
  `lesion_truth.tsv`.
- `images`: CT volumes and lesion masks drawn from `lesion_truth.tsv` (`haicpred simulate
  --images`; the imaging extra), and the sample sheet naming them.
- `variants`: gene annotations, the genetic code and VEP-annotated variant alleles.
- `exome`: Mutect2-like records (true panel mutations, decoys, background) and exome VCFs.
- `genotypes`: the joint-called germline genotype VCF.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import expit

from haicpred.genomics.vcf.build import GENOME_BUILDS
from haicpred.io.errors import Problem, raise_if_any
from haicpred.io.resources import assessed_regions, check_panel, check_snps, rows_where
from haicpred.io.tables import write_tsv

from .clinical_tables import biomarker_table, clinical_table, sample_sheet
from .common import Reference, exact_mask, reference
from .effects import (TRUTH_SURVIVAL_COLUMNS, planted_effects_table, response_design,
                      simulate_outcomes)
from .exome import P_FOHAIC1_POSITIVE, write_exome_vcfs
from .genotypes import write_genotype_vcf
from .patients import (add_staging, simulate_design, simulate_germline, simulate_labs,
                       simulate_patients)
from .radiomics import LESION_TRUTH, lesion_truth, radiomics_table, simulate_lesions

# truth.tsv columns of the planted radiomic factors: heterogeneity drives
# original_glcm_JointEntropy (rad_joint_entropy), shape regularity original_shape_Sphericity
TRUE_RADIOMIC_FACTORS = {"true_radiomic_heterogeneity": "H", "true_shape_regularity": "R"}

__all__ = ["simulate_cohort"]


# =============================================================================================
# Public API
# =============================================================================================
def simulate_cohort(n_patients: int, n_batches: int, seed: int, out_dir: str | Path,
                    panel_path: str | Path, snps_path: str | Path,
                    genome_build: str = "GRCh38") -> None:
    """Simulate a HAIC cohort into `out_dir` (replaced atomically; see module docstring).

    CT volumes and lesion masks are written afterwards, from `lesion_truth.tsv`, by
    `haicpred.simulate.images.write_cohort_images` (`haicpred simulate --images`; the imaging
    extra).

    Raises InputError (listing every problem) for bad arguments or resources, or when
    `out_dir` exists and is neither empty nor a previous simulation output.
    """
    out_dir = Path(out_dir)
    problems = _check_arguments(n_patients, n_batches, seed, out_dir, genome_build)
    raise_if_any(problems)
    panel, snps, panel_reference, snp_reference = _read_resources(
        Path(panel_path), Path(snps_path), genome_build)

    (rng_design, rng_patients, rng_labs, rng_germline, rng_lesions, rng_outcome, rng_missing,
     rng_biomarkers, rng_radiomics, rng_vcf, rng_genotype_vcf) = \
        np.random.default_rng(seed).spawn(11)

    design = simulate_design(n_patients, n_batches, rng_design)
    patients = simulate_patients(n_patients, rng_patients)
    labs = simulate_labs(patients, rng_labs)
    patients = add_staging(patients, labs)
    germline = simulate_germline(n_patients, snps, rng_germline)
    lesions, signature = simulate_lesions(patients, design, rng_lesions)
    panel_positive = exact_mask(rng_outcome, n_patients, P_FOHAIC1_POSITIVE)
    design_matrix, effects, intercept = response_design(
        patients, labs, germline, snps, panel_positive, signature)
    linear_predictor = intercept + design_matrix @ np.array([e.log_odds for e in effects])
    probability = expit(linear_predictor)
    outcome = simulate_outcomes(probability, linear_predictor, patients, rng_outcome)

    with _staged_directory(out_dir) as stage:
        write_tsv(sample_sheet(design), stage / "samples.tsv")
        write_tsv(clinical_table(design, patients, outcome, rng_missing),
                  stage / "clinical.tsv")
        write_tsv(biomarker_table(design, labs, outcome, rng_biomarkers),
                  stage / "biomarkers.tsv")
        write_tsv(radiomics_table(design, lesions, rng_radiomics), stage / "radiomics.tsv")
        write_tsv(pd.DataFrame({"sample_id": design["sample_id"],
                                "response_probability": probability,
                                **{c: outcome[c] for c in TRUTH_SURVIVAL_COLUMNS},
                                **{f"{s['rsid']}_true_alt_count": germline[s["rsid"]]
                                   for s in snps},
                                # the planted radiomic factors (largest lesion), standard normal
                                **{column: signature[latent]
                                   for column, latent in TRUE_RADIOMIC_FACTORS.items()}}),
                  stage / "truth.tsv")
        write_tsv(planted_effects_table(effects, intercept), stage / "planted_effects.tsv")
        write_exome_vcfs(stage, design, panel, panel_positive, panel_reference, rng_vcf)
        write_genotype_vcf(stage / "genotypes.vcf.gz", design, germline, snps, snp_reference,
                            rng_genotype_vcf)
        write_tsv(lesion_truth(design, lesions), stage / LESION_TRUTH)


# =============================================================================================
# Arguments and resources
# =============================================================================================
def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _check_arguments(n_patients, n_batches, seed, out_dir: Path, genome_build) -> list[Problem]:
    problems = []
    if not _is_int(n_patients) or n_patients < 1:
        problems.append(Problem("arguments", "n_patients", f"must be an integer >= 1, got "
                                f"{n_patients!r}"))
    if not _is_int(n_batches) or n_batches < 1:
        problems.append(Problem("arguments", "n_batches", f"must be an integer >= 1, got "
                                f"{n_batches!r}"))
    elif _is_int(n_patients) and n_batches > n_patients:
        problems.append(Problem("arguments", "n_batches", f"{n_batches} batches for "
                                f"{n_patients} patients", "need at least one patient a batch"))
    if not _is_int(seed) or seed < 0:
        problems.append(Problem("arguments", "seed", f"must be an integer >= 0, got {seed!r}"))
    if genome_build not in GENOME_BUILDS:
        problems.append(Problem("arguments", "genome_build", f"unsupported build "
                                f"{genome_build!r}", f"supported: {', '.join(GENOME_BUILDS)}"))
    if out_dir.exists():
        if not out_dir.is_dir():
            problems.append(Problem(str(out_dir), "output", "exists and is not a directory"))
        elif any(out_dir.iterdir()) and not (out_dir / "planted_effects.tsv").exists():
            problems.append(Problem(str(out_dir), "output", "exists, is not empty and is not a "
                                    "previous simulation output", "choose another directory"))
    return problems


def _read_resources(panel_path: Path, snps_path: Path, genome_build: str
                    ) -> tuple[list[dict], list[dict], Reference, Reference]:
    """Panel regions (file order; strand +1/-1, + when the panel does not give it: it only
    shapes the simulated annotation), SNPs (genome order) and the reference each is on (its
    contigs spelled as the file spells them: chr1 or 1), or InputError listing every problem
    of both files, including contigs and positions outside the genome build. Genes without
    coordinates on this build (not assessed) get no simulated mutation."""
    panel, problems = check_panel(panel_path)
    snps, snp_problems = check_snps(snps_path)
    problems += snp_problems
    panel_reference = _reference_of(panel, genome_build)
    snp_reference = _reference_of(snps, genome_build)
    problems += _outside_genome(panel, str(panel_path), ["start", "end"],
                                panel_reference.contigs)
    problems += _outside_genome(snps, str(snps_path), ["pos"], snp_reference.contigs)
    raise_if_any(problems)
    genes = [{"gene": g.gene, "chrom": g.chrom, "start": int(g.start), "end": int(g.end),
              "strand": -1 if g.strand == "-" else 1}
             for g in assessed_regions(panel).itertuples(index=False)]
    order = {c: i for i, c in enumerate(snp_reference.contigs)}
    sites = sorted(({"rsid": s.rsid, "chrom": s.chrom, "pos": int(s.pos), "ref": s.ref,
                     "alt": s.alt} for s in snps.itertuples(index=False)),
                   key=lambda s: (order[s["chrom"]], s["pos"], s["rsid"]))
    return genes, sites, panel_reference, snp_reference


def _reference_of(table: pd.DataFrame | None, genome_build: str) -> Reference:
    """The build's reference with the contig names the file uses: chr-prefixed unless most of
    its named rows are bare (1, 2, ...). The VCFs written from the file carry one style, so a
    row spelled the other way is then an unknown contig (`_outside_genome`)."""
    chrom = pd.Series(dtype="string") if table is None else table["chrom"].astype("string")
    named = chrom[chrom.notna() & (chrom.str.strip() != "")]
    prefixed = named.str.startswith("chr")
    return reference(genome_build, bool(prefixed.sum() >= len(named) - prefixed.sum()))


def _outside_genome(table: pd.DataFrame | None, file: str, position_columns: list[str],
                    contigs: dict[str, int]) -> list[Problem]:
    """Rows whose contig is not in the build, or whose positions lie beyond its end."""
    if table is None:
        return []
    problems = []
    length = table["chrom"].map(contigs)
    for row in rows_where(table["chrom"].notna() & length.isna()):
        problems.append(Problem(file, f"row {row}, column chrom",
                                f"unknown contig {table['chrom'].iloc[row - 1]!r}",
                                f"use the genome build's contig names: {', '.join(contigs)}"))
    for column in position_columns:
        for row in rows_where(table[column] > length):
            problems.append(Problem(file, f"row {row}, column {column}",
                                    f"{column} {table[column].iloc[row - 1]} is beyond the end of "
                                    f"{table['chrom'].iloc[row - 1]} "
                                    f"({int(length.iloc[row - 1]):,} bp)",
                                    "give a position within the contig of this genome build"))
    return problems


# =============================================================================================
# Atomic output directory
# =============================================================================================
@contextmanager
def _staged_directory(out_dir: Path) -> Iterator[Path]:
    """Yield a fresh directory next to out_dir; on success it replaces out_dir atomically."""
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    token = f"{os.getpid()}.{secrets.token_hex(4)}"
    stage = out_dir.parent / f".{out_dir.name}.{token}.tmp"
    stage.mkdir()
    try:
        yield stage
        if out_dir.exists():
            old = out_dir.parent / f".{out_dir.name}.{token}.old"
            os.replace(out_dir, old)
            try:
                os.replace(stage, out_dir)
            except BaseException:
                os.replace(old, out_dir)
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(stage, out_dir)
    finally:
        if stage.exists():
            shutil.rmtree(stage, ignore_errors=True)
