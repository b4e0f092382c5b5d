"""Simulate a realistic HAIC cohort with a known ("planted") response model.

`simulate_cohort` writes everything the pipeline consumes (sample sheet, clinical table,
biomarkers in mixed units, pyradiomics-style radiomics, Mutect2/VEP exome VCFs, a joint germline
genotype VCF) plus the oracle: `truth.tsv` (the true response probability of every patient) and
`planted_effects.tsv` (the logistic model that generated the labels).

How the simulation is organised
-------------------------------
1. True patient covariates are drawn first, vectorised over patients (`_simulate_patients`,
   `_simulate_labs`, `_simulate_germline`, `_simulate_lesions`). Latent factors make them
   correlated the way biology does: a tumour-burden latent drives size, number, vascular
   invasion, metastasis, AFP, DCP and inflammation; a liver-dysfunction latent drives albumin,
   bilirubin, INR, platelets and ascites.
2. The response probability is a logistic function of named true covariates
   (`PLANTED_EFFECTS`, `_response_design`); labels are Bernoulli draws; survival is Weibull with
   a hazard linked to the same risk.
3. Writers turn the truth into the observed files, adding what real data has: missing values,
   per-lab units, scanner batch effects, filtered/low-evidence decoy variants, no-calls.

Every random draw goes through one `numpy.random.default_rng(seed)`, split with `spawn` into
independent streams per component, so the same arguments always give byte-identical files
(bgzip output has no timestamps; nothing depends on set or dict order).
"""

from __future__ import annotations

import bisect
import functools
import itertools
import math
import os
import secrets
import shutil
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pysam
from scipy.special import expit, logit, ndtr

from haicpred.errors import Problem, raise_if_any
from haicpred.resources import check_panel, check_snps, rows_where
from haicpred.tables import write_tsv

# ---------------------------------------------------------------------------------------------
# Reference genome
# ---------------------------------------------------------------------------------------------
CONTIG_LENGTHS = {
    "GRCh38": {
        "chr1": 248956422, "chr2": 242193529, "chr3": 198295559, "chr4": 190214555,
        "chr5": 181538259, "chr6": 170805979, "chr7": 159345973, "chr8": 145138636,
        "chr9": 138394717, "chr10": 133797422, "chr11": 135086622, "chr12": 133275309,
        "chr13": 114364328, "chr14": 107043718, "chr15": 101991189, "chr16": 90338345,
        "chr17": 83257441, "chr18": 80373285, "chr19": 58617616, "chr20": 64444167,
        "chr21": 46709983, "chr22": 50818468, "chrX": 156040895, "chrY": 57227415,
    },
}
REFERENCE_FASTA = {"GRCh38": "file:///references/GRCh38/Homo_sapiens_assembly38.fasta"}

# ---------------------------------------------------------------------------------------------
# Cohort design: which data each patient has (fractions of patients; exact counts are used)
# ---------------------------------------------------------------------------------------------
FRACTION_NO_EXOME = 0.10
FRACTION_TUMOR_SAMPLE_FROM_HEADER = 0.30  # of exome rows: sheet leaves tumor_sample empty
FRACTION_NO_GENOTYPE = 0.10
FRACTION_GENOTYPE_NO_CALL = 0.03  # in the genotype VCF, but ./. at the resource SNPs
FRACTION_GENOTYPE_ALIAS = 0.05  # of genotyped rows: VCF column named <id>_germline
FRACTION_NO_RADIOMICS = 0.15
FRACTION_MISSING_COVARIATE = 0.02  # per clinical covariate cell
FRACTION_UNLABELLED = 0.03  # best_response left empty
FRACTION_MISSING_BASELINE_ANALYTE = 0.02  # per (patient, analyte) baseline row
FRACTION_WITH_POST_MARKERS = 0.85  # patients with post-treatment AFP/DCP rows
MIN_ID_WIDTH = 5  # HCC00001

# ---------------------------------------------------------------------------------------------
# Clinical distributions (true values; HBV-dominated Asian HAIC cohort, Child-Pugh A mostly)
# ---------------------------------------------------------------------------------------------
AGE_MEAN, AGE_SD, AGE_RANGE = 54.0, 11.0, (22, 85)
P_MALE = 0.86
P_HBV = 0.82
P_HCV_GIVEN_HBV, P_HCV_GIVEN_NO_HBV = 0.03, 0.25
P_CIRRHOSIS_VIRAL, P_CIRRHOSIS_OTHER = 0.68, 0.45
ECOG_PROBS = (0.70, 0.26, 0.03, 0.01, 0.0)  # ECOG 0..4
TUMOUR_SIZE_MEDIAN_CM, TUMOUR_SIZE_LOG_SD, TUMOUR_SIZE_RANGE = 7.0, 0.30, (1.0, 22.0)
TUMOUR_SIZE_BURDEN_LOADING = 0.40
# P(number = 1, 2, 3); the rest have 4 + geometric(TUMOUR_NUMBER_GEOM_P) - 1 tumours (cap 15).
TUMOUR_NUMBER_CUMPROBS = (0.40, 0.55, 0.66)
TUMOUR_NUMBER_GEOM_P, TUMOUR_NUMBER_MAX = 0.35, 15
VASCULAR_INVASION_LEVELS = ("none", "Vp1", "Vp2", "Vp3", "Vp4")
VASCULAR_INVASION_CUMPROBS = (0.45, 0.50, 0.61, 0.83, 1.0)
P_ARTERIAL_HYPERENHANCEMENT = 0.80
COMBINATIONS = ("none", "pd1", "tki", "pd1_tki")
COMBINATION_PROBS = (0.40, 0.20, 0.18, 0.22)
ASCITES_LEVELS = ("none", "mild", "severe")
ENCEPHALOPATHY_LEVELS = ("none", "grade1-2", "grade3-4")

# ---------------------------------------------------------------------------------------------
# Laboratory values: canonical units, alternative units accepted by the pipeline
# ---------------------------------------------------------------------------------------------
ANALYTES = ("afp", "afp_l3", "dcp", "albumin", "bilirubin", "ast", "alt", "ggt", "inr",
            "platelets", "neutrophils", "lymphocytes", "monocytes", "crp", "cholesterol",
            "vegf", "transferrin")
POST_ANALYTES = ("afp", "dcp")
CANONICAL_UNITS = {
    "afp": "ng/mL", "afp_l3": "%", "dcp": "mAU/mL", "albumin": "g/L", "bilirubin": "umol/L",
    "ast": "U/L", "alt": "U/L", "ggt": "U/L", "inr": "ratio", "platelets": "10^9/L",
    "neutrophils": "10^9/L", "lymphocytes": "10^9/L", "monocytes": "10^9/L", "crp": "mg/L",
    "cholesterol": "mmol/L", "vegf": "pg/mL", "transferrin": "mg/dL",
}
# analyte -> (alternative unit, factor: canonical value = alternative value * factor)
ALTERNATIVE_UNITS = {
    "afp": ("IU/mL", 1.21), "albumin": ("g/dL", 10.0), "bilirubin": ("mg/dL", 17.1),
    "platelets": ("/uL", 0.001), "neutrophils": ("/uL", 0.001), "lymphocytes": ("/uL", 0.001),
    "monocytes": ("/uL", 0.001), "crp": ("mg/dL", 10.0), "cholesterol": ("mg/dL", 1 / 38.67),
    "transferrin": ("g/L", 100.0),
}
# Labs: batch k (0-based) uses scheme k % 3. Analytes listed report in the alternative unit.
LAB_SCHEMES = (
    frozenset(),
    frozenset({"bilirubin", "albumin", "crp", "cholesterol"}),
    frozenset({"platelets", "neutrophils", "lymphocytes", "monocytes", "transferrin"}),
)
P_AFP_IU_IN_SCHEME = (0.05, 0.05, 0.50)  # AFP from an outside lab reporting IU/mL
# Decimal places written, by (analyte, unit).
DECIMALS = {
    ("afp", "ng/mL"): 1, ("afp", "IU/mL"): 1, ("afp_l3", "%"): 1, ("dcp", "mAU/mL"): 1,
    ("albumin", "g/L"): 1, ("albumin", "g/dL"): 2, ("bilirubin", "umol/L"): 1,
    ("bilirubin", "mg/dL"): 2, ("ast", "U/L"): 0, ("alt", "U/L"): 0, ("ggt", "U/L"): 0,
    ("inr", "ratio"): 2, ("platelets", "10^9/L"): 0, ("platelets", "/uL"): 0,
    ("neutrophils", "10^9/L"): 2, ("neutrophils", "/uL"): 0, ("lymphocytes", "10^9/L"): 2,
    ("lymphocytes", "/uL"): 0, ("monocytes", "10^9/L"): 2, ("monocytes", "/uL"): 0,
    ("crp", "mg/L"): 1, ("crp", "mg/dL"): 2, ("cholesterol", "mmol/L"): 2,
    ("cholesterol", "mg/dL"): 0, ("vegf", "pg/mL"): 1, ("transferrin", "mg/dL"): 0,
    ("transferrin", "g/L"): 2,
}
# log(post/baseline) for AFP and DCP: (mean, sd) of the natural-log ratio by true response.
POST_LOG_RATIO_RESPONDER = (math.log(0.30), 0.70)
POST_LOG_RATIO_NON_RESPONDER = (math.log(1.30), 0.55)

# ---------------------------------------------------------------------------------------------
# Published scores used by the response model
# ---------------------------------------------------------------------------------------------
ALBI_GRADE_CUTOFFS = (-2.60, -1.39)  # grade 1 <= -2.60 < grade 2 <= -1.39 < grade 3
AFP_THRESHOLD_NG_ML = 400.0
NLR_CENTRE, NLR_CAP = 3.0, 10.0

# ---------------------------------------------------------------------------------------------
# Germline SNPs (alleles on the + strand). Frequencies are East-Asian-like.
# ---------------------------------------------------------------------------------------------
# rsid -> (allele, frequency of that allele)
SNP_ALLELE_FREQUENCIES = {
    "rs12979860": ("T", 0.067),  # IL28B; CC ~87%
    "rs8099917": ("G", 0.067),  # IL28B; TT ~87%
    "rs9679162": ("G", 0.50),  # GALNT14
}
# target rsid -> (anchor rsid, anchor allele, target allele, P(target allele | anchor allele))
SNP_LINKAGE = {"rs8099917": ("rs12979860", "T", "G", 0.90)}
UNKNOWN_SNP_FREQUENCY_RANGE = (0.10, 0.50)
N_BACKGROUND_GERMLINE_SNPS = 20

# ---------------------------------------------------------------------------------------------
# Planted response model: logit P(CR/PR) = intercept + sum(log_odds * design column)
# ---------------------------------------------------------------------------------------------
RESPONSE_INTERCEPT = 1.62  # tuned so that about 40% respond (with the GALNT14 effect planted)


@dataclass(frozen=True)
class PlantedEffect:
    effect: str
    variable: str
    log_odds: float
    description: str

    @property
    def direction(self) -> str:
        return "favourable" if self.log_odds > 0 else "adverse" if self.log_odds < 0 else "none"


PLANTED_EFFECTS = (
    PlantedEffect("extrahepatic_metastasis", "extrahepatic_metastasis", -1.4,
                  "extrahepatic metastasis present (1 vs 0)"),
    PlantedEffect("vp3_vp4_invasion", "vascular_invasion", -0.9,
                  "vascular_invasion is Vp3 or Vp4 (vs none/Vp1/Vp2)"),
    PlantedEffect("tumour_number_gt3", "tumor_number", -0.8, "tumor_number > 3"),
    PlantedEffect("tumour_size", "tumor_size_cm", -0.10, "per cm of the largest tumour"),
    PlantedEffect("albi_grade_2", "albi_grade", -0.7,
                  "ALBI grade 2 vs 1; ALBI = 0.66*log10(bilirubin umol/L) - 0.085*albumin g/L "
                  "from true baseline values; grade 1 <= -2.60 < grade 2 <= -1.39 < grade 3"),
    PlantedEffect("albi_grade_3", "albi_grade", -1.4, "ALBI grade 3 vs 1"),
    PlantedEffect("afp_ge_400", "afp", -1.0,
                  "step at baseline AFP >= 400 ng/mL (threshold effect, no slope)"),
    PlantedEffect("nlr", "nlr", -0.25,
                  "per unit of NLR = neutrophils/lymphocytes, NLR capped at 10, centred at 3"),
    PlantedEffect("rs8099917_TT", "rs8099917", -1.2,
                  "IL28B rs8099917 genotype TT (+ strand, homozygous T) vs TG/GG"),
    PlantedEffect("rs9679162_favourable", "rs9679162", 0.8,
                  "GALNT14 rs9679162 homozygous for the + strand allele named here"),
    PlantedEffect("fohaic1_mutation_positive", "fohaic1_mutation_positive", 1.2,
                  "at least one true (PASS, AF>=0.05, DP>=10, protein-altering) panel mutation"),
    PlantedEffect("pd1_combination", "combination", 0.4,
                  "combination is pd1 or pd1_tki (main effect)"),
    PlantedEffect("pd1_x_albi_grade_1", "combination x albi_grade", 1.0,
                  "extra PD-1 benefit in ALBI grade 1 patients only (interaction)"),
    PlantedEffect("tki_combination", "combination", 0.3, "combination is tki or pd1_tki"),
    PlantedEffect("rad_joint_entropy", "original_glcm_JointEntropy", -0.6,
                  "per SD of the largest lesion's texture-heterogeneity factor, which drives "
                  "original_glcm_JointEntropy (before noise and scanner effects)"),
    PlantedEffect("rad_sphericity", "original_shape_Sphericity", 0.5,
                  "per SD of the largest lesion's shape-regularity factor, which drives "
                  "original_shape_Sphericity"),
)

# Best response among responders / non-responders.
P_CR_GIVEN_RESPONSE = 0.20
P_PD_GIVEN_NO_RESPONSE_BASE, P_PD_GIVEN_NO_RESPONSE_SLOPE = 0.25, 0.40  # + slope * (1 - p)

# Survival (months): Weibull; log hazard ratio = loading * (-linear predictor) + extras.
OS_SHAPE, OS_SCALE_MONTHS = 1.2, 24.0
PFS_SHAPE, PFS_SCALE_MONTHS = 1.1, 11.0
OS_RISK_LOADING, PFS_RISK_LOADING = 0.45, 0.50
OS_LOG_HR_ECOG, OS_LOG_HR_CHILD_PUGH_POINT = 0.35, 0.35
OS_LOG_HR_RESPONDER, PFS_LOG_HR_RESPONDER = -0.5, -0.9
FOLLOW_UP_RANGE_MONTHS = (6.0, 60.0)
FRACTION_LOST_TO_FOLLOW_UP = 0.08

# ---------------------------------------------------------------------------------------------
# Radiomics
# ---------------------------------------------------------------------------------------------
PYRADIOMICS_VERSIONS = ("v3.0.1", "v3.1.0", "v3.0.1")  # by batch index % 3
VOXEL_SPACINGS_MM = ((0.70, 0.70, 1.25), (0.78, 0.78, 1.00), (0.66, 0.66, 2.50))
MAX_LESIONS = 3
LATENT_BURDEN_LOADING = {"H": 0.30, "R": -0.25}
LOG_VOLUME_CENTRE, LOG_VOLUME_SCALE = 11.0, 1.5  # standardises log(MeshVolume mm^3)
OTHER_LESION_LATENT_CORRELATION = 0.6
BATCH_SHIFT_RANGE = (0.8, 1.5)  # |scanner offset| on the latent (z) scale, batches 2..B
BATCH_FEATURE_WEIGHT_RANGE = (0.6, 1.0)
BATCH_LOG_MULTIPLIER_SD = 0.15


@dataclass(frozen=True)
class RadiomicFeature:
    """Intensity/texture feature = transform(centre, scale, z), z = loadings . latents + noise.

    Latents per lesion (standard normal): H heterogeneity, R shape regularity, E enhancement,
    C coarseness, V standardised log volume.

    transform "lin": centre + scale*z; "log": centre * exp(scale*z); "unit": a proportion in
    (0, 1) moved on the logit scale; "corr": in (-1, 1).
    """

    name: str
    transform: str
    centre: float
    scale: float
    loadings: tuple[tuple[str, float], ...]
    noise: float


def _rf(name, transform, centre, scale, noise, **loadings) -> RadiomicFeature:
    return RadiomicFeature(name, transform, centre, scale, tuple(sorted(loadings.items())), noise)


SHAPE_FEATURES = ("original_shape_MeshVolume", "original_shape_Sphericity",
                  "original_shape_Maximum3DDiameter", "original_shape_MajorAxisLength",
                  "original_shape_Elongation", "original_shape_Flatness",
                  "original_shape_SurfaceVolumeRatio")
INTENSITY_FEATURES = (
    _rf("original_firstorder_Mean", "lin", 95.0, 18.0, 0.25, E=1.0),
    _rf("original_firstorder_Median", "lin", 97.0, 18.0, 0.25, E=1.0, H=-0.1),
    _rf("original_firstorder_90Percentile", "lin", 140.0, 22.0, 0.30, E=0.8, H=0.5),
    _rf("original_firstorder_10Percentile", "lin", 50.0, 20.0, 0.30, E=0.8, H=-0.5),
    _rf("original_firstorder_Variance", "log", 900.0, 0.45, 0.30, H=1.0),
    _rf("original_firstorder_Entropy", "lin", 4.2, 0.35, 0.35, H=0.9, C=-0.2),
    _rf("original_firstorder_Skewness", "lin", -0.1, 0.45, 0.80, H=0.3, E=-0.3),
    _rf("original_firstorder_Kurtosis", "log", 3.6, 0.30, 0.60, H=0.4),
    _rf("original_firstorder_Energy", "log", 9.0e8, 1.0, 0.15, V=1.4, E=0.3),
    _rf("original_glcm_Contrast", "log", 12.0, 0.5, 0.35, H=0.8, C=-0.4),
    _rf("original_glcm_Correlation", "corr", 0.45, 0.6, 0.40, C=0.7, H=-0.3),
    _rf("original_glcm_JointEntropy", "lin", 7.0, 0.8, 0.35, H=1.0),
    _rf("original_glcm_Idm", "unit", 0.42, 0.5, 0.40, H=-0.7, C=0.5),
    _rf("original_glcm_ClusterShade", "lin", -20.0, 60.0, 0.90, H=0.4, E=-0.3),
    _rf("original_glcm_JointEnergy", "log", 0.012, 0.6, 0.35, H=-0.9),
    _rf("original_glrlm_ShortRunEmphasis", "unit", 0.88, 0.5, 0.40, C=-0.8, H=0.3),
    _rf("original_glrlm_RunLengthNonUniformity", "log", 5.0e4, 1.0, 0.20, V=1.3, C=-0.3),
    _rf("original_glrlm_GrayLevelNonUniformity", "log", 3.0e3, 1.0, 0.25, V=1.2, H=-0.4),
    _rf("original_glszm_ZoneEntropy", "lin", 6.8, 0.45, 0.40, H=0.8, C=-0.3),
    _rf("original_glszm_SmallAreaEmphasis", "unit", 0.62, 0.4, 0.40, C=-0.7, H=0.3),
    _rf("original_glszm_LargeAreaEmphasis", "log", 2.0e3, 1.2, 0.50, C=0.7, V=0.5),
    _rf("original_gldm_DependenceEntropy", "lin", 7.4, 0.45, 0.35, H=0.85),
    _rf("original_gldm_DependenceNonUniformity", "log", 6.0e3, 1.0, 0.25, V=1.2, C=0.3),
    _rf("original_ngtdm_Coarseness", "log", 0.002, 0.8, 0.30, C=0.6, V=-0.7),
    _rf("original_ngtdm_Busyness", "log", 1.5, 0.9, 0.40, V=0.6, H=-0.3, C=0.4),
    _rf("wavelet-LLH_firstorder_Mean", "lin", 0.5, 3.0, 0.90, E=0.2),
    _rf("wavelet-HLL_glcm_Contrast", "log", 2.5, 0.5, 0.50, H=0.6),
    _rf("wavelet-LLL_firstorder_Entropy", "lin", 4.6, 0.35, 0.40, H=0.8),
    _rf("wavelet-HHH_glszm_ZoneEntropy", "lin", 6.2, 0.40, 0.60, H=0.5),
    _rf("log-sigma-3-0-mm-3D_firstorder_Entropy", "lin", 3.9, 0.35, 0.35, H=0.85),
    _rf("log-sigma-3-0-mm-3D_glcm_JointEntropy", "lin", 6.1, 0.7, 0.40, H=0.9),
    _rf("log-sigma-1-0-mm-3D_firstorder_Mean", "lin", -8.0, 6.0, 0.80, H=-0.3, E=0.3),
)

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
CSQ_FIELDS = ("Allele", "Consequence", "IMPACT", "SYMBOL", "Gene", "Feature_type", "Feature",
              "BIOTYPE", "EXON", "INTRON", "HGVSc", "HGVSp", "Protein_position",
              "Amino_acids", "Codons", "Existing_variation", "STRAND")
IMPACT = {
    "missense_variant": "MODERATE", "inframe_insertion": "MODERATE",
    "inframe_deletion": "MODERATE", "stop_gained": "HIGH", "stop_lost": "HIGH",
    "start_lost": "HIGH", "frameshift_variant": "HIGH", "splice_donor_variant": "HIGH",
    "splice_acceptor_variant": "HIGH", "synonymous_variant": "LOW",
    "splice_region_variant": "LOW", "intron_variant": "MODIFIER",
    "3_prime_UTR_variant": "MODIFIER", "5_prime_UTR_variant": "MODIFIER",
    "upstream_gene_variant": "MODIFIER", "downstream_gene_variant": "MODIFIER",
    "intergenic_variant": "MODIFIER",
}
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


@dataclass(frozen=True)
class GeneAnnotation:
    symbol: str
    gene_id: str
    transcript: str  # versioned Ensembl transcript
    protein: str  # versioned Ensembl protein
    chrom: str
    start: int
    end: int
    strand: int  # 1 or -1
    n_exons: int
    protein_length: int


# Ensembl IDs for the panel genes (gene IDs as given in the brief; transcripts/proteins are
# plausible canonical-transcript IDs). Genes added to the panel later get empty IDs.
PANEL_GENE_ANNOTATION = {
    "PIK3CD": ("ENSG00000171608", "ENST00000377346.9", "ENSP00000366563.4", 24, 1044),
    "HNRNPCL4": ("ENSG00000179412", "ENST00000621994.1", "ENSP00000482264.1", 2, 293),
    "FGFR4": ("ENSG00000160867", "ENST00000292408.9", "ENSP00000292408.4", 18, 802),
    "ARID1B": ("ENSG00000049618", "ENST00000636930.2", "ENSP00000490491.1", 20, 2236),
}
# Background genes frequently mutated in HCC exomes (approximate GRCh38 spans).
BACKGROUND_GENES = (
    GeneAnnotation("TP53", "ENSG00000141510", "ENST00000269305.9", "ENSP00000269305.4",
                   "chr17", 7668402, 7687550, -1, 11, 393),
    GeneAnnotation("CTNNB1", "ENSG00000168036", "ENST00000349496.11", "ENSP00000344456.5",
                   "chr3", 41194741, 41260096, 1, 15, 781),
    GeneAnnotation("TERT", "ENSG00000164362", "ENST00000310581.10", "ENSP00000309572.5",
                   "chr5", 1253167, 1295068, -1, 16, 1132),
    GeneAnnotation("AXIN1", "ENSG00000103126", "ENST00000262320.8", "ENSP00000262320.3",
                   "chr16", 287440, 352723, -1, 11, 862),
    GeneAnnotation("ALB", "ENSG00000163631", "ENST00000295897.9", "ENSP00000295897.4",
                   "chr4", 73404256, 73421482, 1, 15, 609),
    GeneAnnotation("APOB", "ENSG00000084674", "ENST00000233242.5", "ENSP00000233242.1",
                   "chr2", 21001429, 21044073, -1, 29, 4563),
    GeneAnnotation("ARID1A", "ENSG00000117713", "ENST00000324856.13", "ENSP00000320485.7",
                   "chr1", 26696015, 26782104, 1, 20, 2285),
    GeneAnnotation("ARID2", "ENSG00000189079", "ENST00000334344.11", "ENSP00000335044.6",
                   "chr12", 45729665, 45908040, 1, 21, 1835),
    GeneAnnotation("KMT2D", "ENSG00000167548", "ENST00000301067.12", "ENSP00000301067.7",
                   "chr12", 49018975, 49059774, -1, 54, 5537),
    GeneAnnotation("LRP1B", "ENSG00000168702", "ENST00000389484.8", "ENSP00000374135.3",
                   "chr2", 140231423, 142131016, -1, 91, 4599),
    GeneAnnotation("TTN", "ENSG00000155657", "ENST00000589042.5", "ENSP00000467141.1",
                   "chr2", 178525989, 178830802, -1, 363, 35991),
    GeneAnnotation("MUC16", "ENSG00000181143", "ENST00000397910.8", "ENSP00000381008.3",
                   "chr19", 8848844, 8981342, -1, 84, 14507),
    GeneAnnotation("RB1", "ENSG00000139687", "ENST00000267163.6", "ENSP00000267163.4",
                   "chr13", 48303744, 48481890, 1, 27, 928),
    GeneAnnotation("CDKN2A", "ENSG00000147889", "ENST00000304494.10", "ENSP00000304595.3",
                   "chr9", 21967752, 21995301, -1, 3, 156),
    GeneAnnotation("NFE2L2", "ENSG00000116044", "ENST00000397062.8", "ENSP00000380252.3",
                   "chr2", 177230303, 177265131, -1, 5, 605),
    GeneAnnotation("KEAP1", "ENSG00000079999", "ENST00000171111.10", "ENSP00000171111.5",
                   "chr19", 10486125, 10503860, -1, 6, 624),
    GeneAnnotation("PTEN", "ENSG00000171862", "ENST00000371953.8", "ENSP00000361021.3",
                   "chr10", 87863113, 87971930, 1, 9, 403),
    GeneAnnotation("TSC2", "ENSG00000103197", "ENST00000219476.9", "ENSP00000219476.3",
                   "chr16", 2047985, 2088708, 1, 42, 1807),
    GeneAnnotation("RPS6KA3", "ENSG00000177189", "ENST00000379565.9", "ENSP00000368884.3",
                   "chrX", 20149911, 20267519, -1, 22, 740),
    GeneAnnotation("CSMD1", "ENSG00000183117", "ENST00000635120.2", "ENSP00000489225.1",
                   "chr8", 2935353, 4994972, -1, 70, 3564),
    GeneAnnotation("RYR2", "ENSG00000198626", "ENST00000366574.7", "ENSP00000355533.2",
                   "chr1", 237042184, 237833988, 1, 105, 4967),
    GeneAnnotation("SYNE1", "ENSG00000131018", "ENST00000367255.10", "ENSP00000356224.5",
                   "chr6", 152121687, 152637801, -1, 146, 8797),
    GeneAnnotation("ATM", "ENSG00000149311", "ENST00000675843.1", "ENSP00000501606.1",
                   "chr11", 108222484, 108369102, 1, 63, 3056),
    GeneAnnotation("BRCA2", "ENSG00000139618", "ENST00000380152.8", "ENSP00000369497.3",
                   "chr13", 32315508, 32400268, 1, 27, 3418),
)

# Standard genetic code and the SNV changes of each coding class.
_BASES = "ACGT"
_COMPLEMENT = str.maketrans("ACGT", "TGCA")
_CODON_BASES = "TCAG"
_AMINO_ACIDS = "FFLLSSSSYY**CC*WLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG"
CODON_TABLE = {a + b + c: _AMINO_ACIDS[16 * i + 4 * j + k]
               for i, a in enumerate(_CODON_BASES) for j, b in enumerate(_CODON_BASES)
               for k, c in enumerate(_CODON_BASES)}
AA3 = {"A": "Ala", "R": "Arg", "N": "Asn", "D": "Asp", "C": "Cys", "Q": "Gln", "E": "Glu",
       "G": "Gly", "H": "His", "I": "Ile", "L": "Leu", "K": "Lys", "M": "Met", "F": "Phe",
       "P": "Pro", "S": "Ser", "T": "Thr", "W": "Trp", "Y": "Tyr", "V": "Val", "*": "Ter"}
_SENSE_CODONS = tuple(sorted(c for c, aa in CODON_TABLE.items() if aa != "*"))


def _classify_snv(codon: str, pos: int, base: str) -> str:
    new = codon[:pos] + base + codon[pos + 1:]
    before, after = CODON_TABLE[codon], CODON_TABLE[new]
    if before == after:
        return "synonymous_variant"
    if before == "*":
        return "stop_lost"
    if after == "*":
        return "stop_gained"
    return "missense_variant"


def _snv_changes() -> dict[str, tuple[tuple[str, int, str], ...]]:
    changes: dict[str, list[tuple[str, int, str]]] = {}
    for codon in sorted(CODON_TABLE):
        for pos in range(3):
            for base in _BASES:
                if base != codon[pos]:
                    changes.setdefault(_classify_snv(codon, pos, base), []).append(
                        (codon, pos, base))
    changes["start_lost"] = [("ATG", pos, b) for pos in range(3) for b in _BASES
                             if b != "ATG"[pos]]
    return {k: tuple(v) for k, v in changes.items()}


SNV_CHANGES = _snv_changes()
# (codon, position, synonymous alt base, missense alt base) for multi-allelic decoys.
MULTIALLELIC_SITES = tuple(
    (codon, pos, syn, mis)
    for codon in _SENSE_CODONS for pos in range(3)
    for syn in _BASES for mis in _BASES
    if syn != codon[pos] and mis != codon[pos] and syn != mis
    and _classify_snv(codon, pos, syn) == "synonymous_variant"
    and _classify_snv(codon, pos, mis) == "missense_variant"
)


# =============================================================================================
# Public API
# =============================================================================================
def simulate_cohort(n_patients: int, n_batches: int, seed: int, out_dir: str | Path,
                    panel_path: str | Path, snps_path: str | Path,
                    genome_build: str = "GRCh38") -> None:
    """Simulate a HAIC cohort into `out_dir` (replaced atomically; see module docstring).

    Raises InputError (listing every problem) for bad arguments or resources, or when
    `out_dir` exists and is neither empty nor a previous simulation output.
    """
    out_dir = Path(out_dir)
    problems = _check_arguments(n_patients, n_batches, seed, out_dir, genome_build)
    raise_if_any(problems)
    contigs = CONTIG_LENGTHS[genome_build]
    panel, snps = _read_resources(Path(panel_path), Path(snps_path), contigs)

    (rng_design, rng_patients, rng_labs, rng_germline, rng_lesions, rng_outcome, rng_missing,
     rng_biomarkers, rng_radiomics, rng_vcf, rng_genotype_vcf) = \
        np.random.default_rng(seed).spawn(11)

    design = _simulate_design(n_patients, n_batches, rng_design)
    patients = _simulate_patients(n_patients, rng_patients)
    labs = _simulate_labs(patients, rng_labs)
    patients = _add_staging(patients, labs)
    germline = _simulate_germline(n_patients, snps, rng_germline)
    lesions, signature = _simulate_lesions(patients, design, rng_lesions)
    panel_positive = _exact_mask(rng_outcome, n_patients, P_FOHAIC1_POSITIVE)
    design_matrix, effects, intercept = _response_design(
        patients, labs, germline, snps, panel_positive, signature)
    linear_predictor = intercept + design_matrix @ np.array([e.log_odds for e in effects])
    probability = expit(linear_predictor)
    outcome = _simulate_outcomes(probability, linear_predictor, patients, rng_outcome)

    with _staged_directory(out_dir) as stage:
        write_tsv(_sample_sheet(design), stage / "samples.tsv")
        write_tsv(_clinical_table(design, patients, outcome, rng_missing),
                  stage / "clinical.tsv")
        write_tsv(_biomarker_table(design, labs, outcome, rng_biomarkers),
                  stage / "biomarkers.tsv")
        write_tsv(_radiomics_table(design, lesions, rng_radiomics), stage / "radiomics.tsv")
        write_tsv(pd.DataFrame({"sample_id": design["sample_id"],
                                "response_probability": probability}),
                  stage / "truth.tsv")
        write_tsv(_planted_effects_table(effects, intercept), stage / "planted_effects.tsv")
        _write_exome_vcfs(stage, design, panel, panel_positive, genome_build, rng_vcf)
        _write_genotype_vcf(stage / "genotypes.vcf.gz", design, germline, snps, genome_build,
                            rng_genotype_vcf)


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
    if genome_build not in CONTIG_LENGTHS:
        problems.append(Problem("arguments", "genome_build", f"unsupported build "
                                f"{genome_build!r}", f"supported: {', '.join(CONTIG_LENGTHS)}"))
    if out_dir.exists():
        if not out_dir.is_dir():
            problems.append(Problem(str(out_dir), "output", "exists and is not a directory"))
        elif any(out_dir.iterdir()) and not (out_dir / "planted_effects.tsv").exists():
            problems.append(Problem(str(out_dir), "output", "exists, is not empty and is not a "
                                    "previous simulation output", "choose another directory"))
    return problems


def _read_resources(panel_path: Path, snps_path: Path,
                    contigs: dict[str, int]) -> tuple[list[dict], list[dict]]:
    """Panel genes (file order; strand +1/-1) and SNPs (genome order), or InputError listing
    every problem of both files, including contigs and positions outside the genome build."""
    panel, problems = check_panel(panel_path)
    snps, snp_problems = check_snps(snps_path)
    problems += snp_problems
    problems += _outside_genome(panel, str(panel_path), ["start", "end"], contigs)
    problems += _outside_genome(snps, str(snps_path), ["pos"], contigs)
    raise_if_any(problems)
    genes = [{"gene": g.gene, "chrom": g.chrom, "start": int(g.start), "end": int(g.end),
              "strand": 1 if g.strand == "+" else -1} for g in panel.itertuples(index=False)]
    order = {c: i for i, c in enumerate(contigs)}
    sites = sorted(({"rsid": s.rsid, "chrom": s.chrom, "pos": int(s.pos), "ref": s.ref,
                     "alt": s.alt} for s in snps.itertuples(index=False)),
                   key=lambda s: (order[s["chrom"]], s["pos"], s["rsid"]))
    return genes, sites


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
# True patient state
# =============================================================================================
def _exact_mask(rng: np.random.Generator, n: int, fraction: float,
                eligible: np.ndarray | None = None) -> np.ndarray:
    """Boolean mask with round(fraction * n) True entries, chosen among `eligible`."""
    candidates = np.arange(n) if eligible is None else np.flatnonzero(eligible)
    count = min(len(candidates), int(round(fraction * n)))
    mask = np.zeros(n, dtype=bool)
    mask[rng.choice(candidates, size=count, replace=False)] = True
    return mask


def _simulate_design(n: int, n_batches: int, rng: np.random.Generator) -> pd.DataFrame:
    """Sample IDs, balanced random batches and which data types each patient has."""
    width = max(MIN_ID_WIDTH, len(str(n)))
    batch_index = np.empty(n, dtype=int)
    batch_index[rng.permutation(n)] = np.arange(n) % n_batches
    has_exome = ~_exact_mask(rng, n, FRACTION_NO_EXOME)
    tumor_from_header = _exact_mask(rng, int(has_exome.sum()),
                                    FRACTION_TUMOR_SAMPLE_FROM_HEADER)
    tumor_in_sheet = has_exome.copy()
    tumor_in_sheet[np.flatnonzero(has_exome)[tumor_from_header]] = False
    has_genotype = ~_exact_mask(rng, n, FRACTION_NO_GENOTYPE)
    no_call = _exact_mask(rng, n, FRACTION_GENOTYPE_NO_CALL, has_genotype)
    alias = _exact_mask(rng, n, FRACTION_GENOTYPE_ALIAS * has_genotype.mean(), has_genotype)
    has_radiomics = ~_exact_mask(rng, n, FRACTION_NO_RADIOMICS)
    afp_iu_draw = rng.random(n)
    scheme = batch_index % len(LAB_SCHEMES)
    return pd.DataFrame({
        "sample_id": [f"HCC{i + 1:0{width}d}" for i in range(n)],
        "batch_index": batch_index,
        "batch": [f"batch{b + 1}" for b in batch_index],
        "has_exome": has_exome,
        "tumor_in_sheet": tumor_in_sheet,
        "normal_first": batch_index % 2 == 0,
        "has_genotype": has_genotype,
        "genotype_no_call": no_call,
        "genotype_alias": alias,
        "has_radiomics": has_radiomics,
        "lab_scheme": scheme,
        "afp_in_iu": afp_iu_draw < np.asarray(P_AFP_IU_IN_SCHEME)[scheme],
    })


def _ordinal_from_latent(z: np.ndarray, cumprobs) -> np.ndarray:
    """Category index of a standard-normal latent cut at the given cumulative probabilities."""
    return np.searchsorted(np.asarray(cumprobs), ndtr(z), side="right")


def _simulate_patients(n: int, rng: np.random.Generator) -> pd.DataFrame:
    """Demographics, tumour burden, treatment. A tumour-burden latent correlates them."""
    burden = rng.standard_normal(n)
    age = np.clip(np.round(rng.normal(AGE_MEAN, AGE_SD, n)), *AGE_RANGE).astype(int)
    male = rng.random(n) < P_MALE
    hbv = rng.random(n) < P_HBV
    hcv = rng.random(n) < np.where(hbv, P_HCV_GIVEN_HBV, P_HCV_GIVEN_NO_HBV)
    cirrhosis = rng.random(n) < np.where(hbv | hcv, P_CIRRHOSIS_VIRAL, P_CIRRHOSIS_OTHER)
    liver = rng.standard_normal(n) + 0.8 * (cirrhosis - 0.6)  # liver-dysfunction latent
    ecog = rng.choice(len(ECOG_PROBS), size=n, p=ECOG_PROBS)

    size = np.exp(np.log(TUMOUR_SIZE_MEDIAN_CM) + TUMOUR_SIZE_BURDEN_LOADING * burden
                  + rng.normal(0, TUMOUR_SIZE_LOG_SD, n))
    size = np.round(np.clip(size, *TUMOUR_SIZE_RANGE), 1)
    number_z = 0.55 * burden + math.sqrt(1 - 0.55 ** 2) * rng.standard_normal(n)
    number = _ordinal_from_latent(number_z, TUMOUR_NUMBER_CUMPROBS) + 1
    many = number > 3
    number[many] = np.minimum(3 + rng.geometric(TUMOUR_NUMBER_GEOM_P, many.sum()),
                              TUMOUR_NUMBER_MAX)
    invasion_z = 0.6 * burden + 0.8 * rng.standard_normal(n)
    invasion = _ordinal_from_latent(invasion_z, VASCULAR_INVASION_CUMPROBS[:-1])
    vp34 = invasion >= 3
    hvtt = rng.random(n) < expit(-2.4 + 0.6 * burden + 0.5 * vp34)
    metastasis = rng.random(n) < expit(-1.55 + 0.65 * burden + 0.35 * vp34)
    both_lobes = rng.random(n) < expit(-1.2 + 1.8 * many + 0.3 * burden)
    hyperenhancement = rng.random(n) < P_ARTERIAL_HYPERENHANCEMENT

    u = rng.random(n)
    p_severe, p_mild = expit(-5.5 + 0.9 * liver), expit(-2.6 + 0.9 * liver)
    ascites = np.where(u < p_severe, 2, np.where(u < p_severe + p_mild, 1, 0))
    u = rng.random(n)
    encephalopathy = np.where(u < 0.002, 2, np.where(u < 0.002 + expit(-4.2 + 0.6 * liver), 1, 0))
    combination = rng.choice(len(COMBINATIONS), size=n, p=COMBINATION_PROBS)
    return pd.DataFrame({
        "burden": burden, "liver": liver, "age": age, "sex": np.where(male, "M", "F"),
        "ecog": ecog, "hbv": hbv.astype(int), "hcv": hcv.astype(int),
        "cirrhosis": cirrhosis.astype(int), "tumor_size_cm": size, "tumor_number": number,
        "vascular_invasion": np.asarray(VASCULAR_INVASION_LEVELS)[invasion],
        "hvtt": hvtt.astype(int), "extrahepatic_metastasis": metastasis.astype(int),
        "both_lobes": both_lobes.astype(int),
        "arterial_hyperenhancement": hyperenhancement.astype(int),
        "ascites": np.asarray(ASCITES_LEVELS)[ascites],
        "encephalopathy": np.asarray(ENCEPHALOPATHY_LEVELS)[encephalopathy],
        "combination": np.asarray(COMBINATIONS)[combination],
    })


def _lognormal(rng, n, median, log_sd, shift, clip) -> np.ndarray:
    return np.clip(np.exp(np.log(median) + shift + rng.normal(0, log_sd, n)), *clip)


def _simulate_labs(patients: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """True baseline laboratory values in canonical units, plus ALBI and NLR."""
    n = len(patients)
    burden, liver = patients["burden"].to_numpy(), patients["liver"].to_numpy()
    cirrhosis = patients["cirrhosis"].to_numpy()
    vp34 = patients["vascular_invasion"].isin(["Vp3", "Vp4"]).to_numpy()
    inflammation = 0.5 * burden + math.sqrt(0.75) * rng.standard_normal(n)
    log10_afp = np.clip(2.25 + 0.55 * burden + 0.2 * vp34 + rng.normal(0, 1.15, n),
                        math.log10(1.5), math.log10(1.2e5))
    labs = pd.DataFrame({
        "afp": 10 ** log10_afp,
        "afp_l3": _lognormal(rng, n, 8.0, 0.5, 0.35 * (log10_afp - 2.3), (0.5, 80.0)),
        "dcp": 10 ** np.clip(2.4 + 0.6 * burden + rng.normal(0, 0.8, n), 1.0, 5.3),
        "albumin": np.clip(40.5 - 3.0 * liver - 0.8 * burden + rng.normal(0, 2.5, n),
                           22.0, 52.0),
        "bilirubin": _lognormal(rng, n, 14.0, 0.30, 0.30 * liver + 0.1 * burden, (3.0, 120.0)),
        "ast": _lognormal(rng, n, 52.0, 0.40, 0.25 * burden + 0.15 * liver, (10.0, 600.0)),
        "alt": _lognormal(rng, n, 38.0, 0.45, 0.10 * burden, (6.0, 500.0)),
        "ggt": _lognormal(rng, n, 110.0, 0.60, 0.35 * burden, (10.0, 1500.0)),
        "inr": np.clip(1.02 + 0.07 * liver + rng.normal(0, 0.06, n), 0.85, 2.6),
        "platelets": _lognormal(rng, n, 165.0, 0.35,
                                -0.25 * cirrhosis - 0.10 * liver + 0.10 * burden, (30.0, 600.0)),
        "neutrophils": _lognormal(rng, n, 3.8, 0.25, 0.20 * inflammation, (0.8, 20.0)),
        "lymphocytes": _lognormal(rng, n, 1.35, 0.30, -0.15 * inflammation, (0.2, 5.0)),
        "monocytes": _lognormal(rng, n, 0.45, 0.30, 0.10 * inflammation, (0.05, 2.0)),
        "crp": _lognormal(rng, n, 5.0, 0.80, 0.60 * inflammation, (0.2, 200.0)),
        "cholesterol": np.clip(rng.normal(4.3, 0.9, n), 2.0, 9.0),
        "vegf": _lognormal(rng, n, 130.0, 0.60, 0.20 * burden, (5.0, 2000.0)),
        "transferrin": np.clip(rng.normal(225.0, 40.0, n) - 10.0 * liver, 90.0, 400.0),
    })
    labs["albi_score"] = 0.66 * np.log10(labs["bilirubin"]) - 0.085 * labs["albumin"]
    labs["albi_grade"] = 1 + np.searchsorted(np.asarray(ALBI_GRADE_CUTOFFS), labs["albi_score"],
                                             side="left")
    labs["nlr"] = labs["neutrophils"] / labs["lymphocytes"]
    return labs


def _child_pugh_points(patients: pd.DataFrame, labs: pd.DataFrame) -> np.ndarray:
    bili, alb, inr = labs["bilirubin"], labs["albumin"], labs["inr"]
    points = (1 + (bili >= 34.2) + (bili > 51.3)) + (1 + (alb <= 35) + (alb < 28)) \
        + (1 + (inr >= 1.7) + (inr > 2.3))
    points += 1 + patients["ascites"].map({a: i for i, a in enumerate(ASCITES_LEVELS)})
    points += 1 + patients["encephalopathy"].map(
        {a: i for i, a in enumerate(ENCEPHALOPATHY_LEVELS)})
    return points.to_numpy(dtype=int)


def _add_staging(patients: pd.DataFrame, labs: pd.DataFrame) -> pd.DataFrame:
    """Child-Pugh points and a BCLC stage consistent with invasion, metastasis and ECOG."""
    points = _child_pugh_points(patients, labs)
    ecog, size = patients["ecog"].to_numpy(), patients["tumor_size_cm"].to_numpy()
    number = patients["tumor_number"].to_numpy()
    advanced = (patients["vascular_invasion"].to_numpy() != "none") \
        | (patients["extrahepatic_metastasis"].to_numpy() == 1) | (ecog >= 1)
    bclc = np.select(
        [(points >= 10) | (ecog >= 3), advanced, (number == 1) & (size <= 2.0),
         (number == 1) | ((number <= 3) & (size <= 3.0))],
        ["D", "C", "0", "A"], default="B")
    return patients.assign(child_pugh_points=points, bclc=bclc)


def _simulate_germline(n: int, snps: list[dict], rng: np.random.Generator) -> dict[str, np.ndarray]:
    """True alt-allele dosage (0/1/2 copies of the resource alt) for every resource SNP."""
    haplotypes: dict[str, np.ndarray] = {}  # rsid -> (n, 2) bool: carries the resource alt
    by_id = {s["rsid"]: s for s in snps}
    # Linked SNPs after their anchors; otherwise resource order.
    ordered = sorted(snps, key=lambda s: s["rsid"] in SNP_LINKAGE)
    for snp in ordered:
        rsid, ref, alt = snp["rsid"], snp["ref"], snp["alt"]
        if rsid in SNP_ALLELE_FREQUENCIES:
            allele, freq = SNP_ALLELE_FREQUENCIES[rsid]
        else:
            allele, freq = alt, rng.uniform(*UNKNOWN_SNP_FREQUENCY_RANGE)
        alt_freq = 1 - freq if allele == ref else freq  # an unknown allele: treat as alt
        linkage = SNP_LINKAGE.get(rsid)
        u = rng.random((n, 2))
        if linkage and linkage[0] in haplotypes and allele in (ref, alt) \
                and linkage[1] in (by_id[linkage[0]]["ref"], by_id[linkage[0]]["alt"]):
            anchor_id, anchor_allele, target_allele, p_linked = linkage
            anchor = by_id[anchor_id]
            anchor_freq = SNP_ALLELE_FREQUENCIES[anchor_id][1]
            carries_anchor = haplotypes[anchor_id] == (anchor_allele == anchor["alt"])
            p_other = max(0.0, (freq - anchor_freq * p_linked) / (1 - anchor_freq))
            carries_target = u < np.where(carries_anchor, p_linked, p_other)
            haplotypes[rsid] = carries_target == (target_allele == alt)
        else:
            haplotypes[rsid] = u < alt_freq
    return {rsid: h.sum(axis=1) for rsid, h in haplotypes.items()}


def _homozygous(dosage: np.ndarray, snp: dict, allele: str) -> np.ndarray | None:
    """Patients homozygous for a + strand allele, or None when the resource lacks it."""
    if allele == snp["alt"]:
        return dosage == 2
    if allele == snp["ref"]:
        return dosage == 0
    return None


def _simulate_lesions(patients: pd.DataFrame, design: pd.DataFrame,
                      rng: np.random.Generator) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Lesion geometry and latent texture factors; the largest lesion carries the signature.

    Returns (lesions, signature) where signature holds the patient-level latents "H" and "R"
    (standard normal; those of the largest lesion) for every patient.
    """
    n = len(patients)
    burden = patients["burden"].to_numpy()
    patient_latent = {}
    for name in ("H", "R", "E", "C"):
        loading = LATENT_BURDEN_LOADING.get(name, 0.0)
        patient_latent[name] = loading * burden + math.sqrt(1 - loading ** 2) \
            * rng.standard_normal(n)
    n_lesions = np.minimum(patients["tumor_number"].to_numpy(), MAX_LESIONS)
    n_lesions = np.maximum(1, n_lesions - (rng.random(n) < 0.2))
    patient = np.repeat(np.arange(n), n_lesions)
    rank = np.concatenate([np.arange(k) for k in n_lesions])  # 0 = largest
    largest = rank == 0
    m = len(patient)
    size = patients["tumor_size_cm"].to_numpy()[patient]
    other = np.maximum(size * rng.uniform(0.15, 0.6, m), np.minimum(0.5, 0.6 * size))
    diameter_cm = np.where(largest, size, other)
    elongation = rng.uniform(0.60, 0.95, m)
    flatness = elongation * rng.uniform(0.75, 0.95, m)
    lesions = pd.DataFrame({"patient": patient, "rank": rank, "diameter_cm": diameter_cm,
                            "elongation": elongation, "flatness": flatness})
    rho = OTHER_LESION_LATENT_CORRELATION
    for name, values in patient_latent.items():
        lesions[name] = np.where(largest, values[patient],
                                 rho * values[patient] + math.sqrt(1 - rho ** 2)
                                 * rng.standard_normal(m))
    # Lesion IDs are shuffled within a patient: L1 is not always the largest.
    order = np.lexsort((rng.random(m), patient))
    lesions["lesion_number"] = 0
    lesions.loc[order, "lesion_number"] = np.concatenate([np.arange(1, k + 1) for k in n_lesions])
    lesions["has_radiomics"] = design["has_radiomics"].to_numpy()[patient]
    lesions["batch_index"] = design["batch_index"].to_numpy()[patient]
    return lesions, {"H": patient_latent["H"], "R": patient_latent["R"]}


# =============================================================================================
# Response model and outcomes
# =============================================================================================
def _response_design(patients, labs, germline, snps, panel_positive, signature):
    """Design matrix (one column per planted effect), the effects used and the intercept.

    Genotype effects are planted only for SNPs present in the resource (with the needed
    allele); an absent effect gets log-odds 0 and the intercept absorbs its average effect.
    """
    combination = patients["combination"].to_numpy()
    pd1 = np.isin(combination, ["pd1", "pd1_tki"])
    albi_grade = labs["albi_grade"].to_numpy()
    snp_by_id = {s["rsid"]: s for s in snps}

    def genotype(rsid, allele):
        if rsid not in snp_by_id:
            return None
        return _homozygous(germline[rsid], snp_by_id[rsid], allele)

    columns = {
        "extrahepatic_metastasis": patients["extrahepatic_metastasis"].to_numpy() == 1,
        "vp3_vp4_invasion": patients["vascular_invasion"].isin(["Vp3", "Vp4"]).to_numpy(),
        "tumour_number_gt3": patients["tumor_number"].to_numpy() > 3,
        "tumour_size": patients["tumor_size_cm"].to_numpy(),
        "albi_grade_2": albi_grade == 2,
        "albi_grade_3": albi_grade == 3,
        "afp_ge_400": labs["afp"].to_numpy() >= AFP_THRESHOLD_NG_ML,
        "nlr": np.minimum(labs["nlr"].to_numpy(), NLR_CAP) - NLR_CENTRE,
        "rs8099917_TT": genotype("rs8099917", "T"),
        "rs9679162_favourable": genotype("rs9679162", SNP_ALLELE_FREQUENCIES["rs9679162"][0]),
        "fohaic1_mutation_positive": panel_positive,
        "pd1_combination": pd1,
        "pd1_x_albi_grade_1": pd1 & (albi_grade == 1),
        "tki_combination": np.isin(combination, ["tki", "pd1_tki"]),
        "rad_joint_entropy": signature["H"],
        "rad_sphericity": signature["R"],
    }
    # Expected frequency of the genotype effects, used when an effect cannot be planted.
    expected = {"rs8099917_TT": (1 - SNP_ALLELE_FREQUENCIES["rs8099917"][1]) ** 2,
                "rs9679162_favourable": SNP_ALLELE_FREQUENCIES["rs9679162"][1] ** 2}
    intercept = RESPONSE_INTERCEPT
    effects = []
    for effect in PLANTED_EFFECTS:
        column = columns[effect.effect]
        if column is None:
            intercept += effect.log_odds * expected[effect.effect]
            columns[effect.effect] = np.zeros(len(patients))
            effect = PlantedEffect(effect.effect, effect.variable, 0.0,
                                   f"NOT PLANTED: {effect.variable} is not in the SNP "
                                   "resource (or lacks the allele the effect is defined on)")
        elif effect.effect == "rs9679162_favourable":
            allele = SNP_ALLELE_FREQUENCIES["rs9679162"][0]
            effect = PlantedEffect(effect.effect, effect.variable, effect.log_odds,
                                   f"GALNT14 rs9679162 {allele}{allele} on the + strand "
                                   f"(homozygous {allele}; resource ref "
                                   f"{snp_by_id['rs9679162']['ref']}, alt "
                                   f"{snp_by_id['rs9679162']['alt']}) vs other genotypes")
        effects.append(effect)
    matrix = np.column_stack([np.asarray(columns[e.effect], dtype=float) for e in effects])
    return matrix, effects, intercept


def _simulate_outcomes(probability, linear_predictor, patients, rng) -> pd.DataFrame:
    """Realised best response (Bernoulli on the truth) and Weibull OS/PFS with censoring."""
    n = len(probability)
    responder = rng.random(n) < probability
    u = rng.random(n)
    p_pd = P_PD_GIVEN_NO_RESPONSE_BASE + P_PD_GIVEN_NO_RESPONSE_SLOPE * (1 - probability)
    best = np.where(responder, np.where(u < P_CR_GIVEN_RESPONSE, "CR", "PR"),
                    np.where(u < p_pd, "PD", "SD"))
    risk = -linear_predictor
    ecog = patients["ecog"].to_numpy()
    cp_extra = patients["child_pugh_points"].to_numpy() - 5
    log_hr_os = OS_RISK_LOADING * risk + OS_LOG_HR_ECOG * ecog \
        + OS_LOG_HR_CHILD_PUGH_POINT * cp_extra + OS_LOG_HR_RESPONDER * responder
    log_hr_pfs = PFS_RISK_LOADING * risk + PFS_LOG_HR_RESPONDER * responder
    death = OS_SCALE_MONTHS * (rng.exponential(size=n) / np.exp(log_hr_os)) ** (1 / OS_SHAPE)
    progression = PFS_SCALE_MONTHS * (rng.exponential(size=n) / np.exp(log_hr_pfs)) \
        ** (1 / PFS_SHAPE)
    censor = rng.uniform(*FOLLOW_UP_RANGE_MONTHS, n)
    lost = rng.random(n) < FRACTION_LOST_TO_FOLLOW_UP
    censor = np.where(lost, np.minimum(censor, rng.uniform(1.0, 30.0, n)), censor)
    os_time = np.minimum(death, censor)
    pfs_time = np.minimum(np.minimum(progression, death), censor)

    def months(t):  # rounding is monotone, so PFS <= OS survives it
        return np.maximum(np.round(t, 1), 0.1)

    return pd.DataFrame({
        "responder": responder, "best_response": best,
        "os_months": months(os_time), "os_event": (death <= censor).astype(int),
        "pfs_months": months(pfs_time),
        "pfs_event": (np.minimum(progression, death) <= censor).astype(int),
    })


# =============================================================================================
# Tables
# =============================================================================================
def _sample_sheet(design: pd.DataFrame) -> pd.DataFrame:
    sid, batch = design["sample_id"], design["batch"]
    return pd.DataFrame({
        "sample_id": sid,
        "batch": batch,
        "exome_vcf": np.where(design["has_exome"], "vcf/" + batch + "/" + sid + ".vcf.gz", ""),
        "tumor_sample": np.where(design["tumor_in_sheet"], sid + "_T", ""),
        "genotype_vcf": np.where(design["has_genotype"], "genotypes.vcf.gz", ""),
        "genotype_sample": np.where(design["genotype_alias"], sid + "_germline", ""),
    })


def _genotype_column_names(design: pd.DataFrame) -> np.ndarray:
    sid = design["sample_id"]
    return np.where(design["genotype_alias"], sid + "_germline", sid)


CLINICAL_COVARIATES = ("age", "sex", "ecog", "hbv", "hcv", "cirrhosis", "bclc",
                       "tumor_size_cm", "tumor_number", "vascular_invasion", "hvtt",
                       "extrahepatic_metastasis", "both_lobes", "arterial_hyperenhancement",
                       "ascites", "encephalopathy", "combination")


def _clinical_table(design, patients, outcome, rng) -> pd.DataFrame:
    """One row per patient; ~2% of covariate cells and ~3% of best_response left empty."""
    n = len(design)
    table = pd.DataFrame({"sample_id": design["sample_id"]})
    for column in CLINICAL_COVARIATES:
        values = patients[column].to_numpy()
        text = np.array([f"{v:.1f}" for v in values]) if column == "tumor_size_cm" \
            else values.astype(str)
        missing = rng.random(n) < FRACTION_MISSING_COVARIATE
        table[column] = np.where(missing, "", text)
    unlabelled = _exact_mask(rng, n, FRACTION_UNLABELLED)
    table["best_response"] = np.where(unlabelled, "", outcome["best_response"])
    for column in ("os_months", "pfs_months"):
        table[column] = [f"{v:.1f}" for v in outcome[column]]
    table["os_event"] = outcome["os_event"].to_numpy()
    table["pfs_event"] = outcome["pfs_event"].to_numpy()
    return table[["sample_id", *CLINICAL_COVARIATES, "best_response", "os_months", "os_event",
                  "pfs_months", "pfs_event"]]


def _biomarker_rows(sample_ids, analyte, canonical_values, alternative_mask, timepoint):
    unit_alt, factor = ALTERNATIVE_UNITS.get(analyte, (None, 1.0))
    use_alt = alternative_mask & (unit_alt is not None)
    values = np.where(use_alt, canonical_values / factor, canonical_values)
    units = np.where(use_alt, unit_alt or "", CANONICAL_UNITS[analyte])
    text = [f"{v:.{DECIMALS[(analyte, u)]}f}" for v, u in zip(values, units)]
    return pd.DataFrame({"sample_id": sample_ids, "analyte": analyte, "value": text,
                         "unit": units, "timepoint": timepoint})


def _biomarker_table(design, labs, outcome, rng) -> pd.DataFrame:
    """Long table; units follow the patient's lab (batch scheme), AFP sometimes in IU/mL."""
    n = len(design)
    sid = design["sample_id"].to_numpy()
    scheme = design["lab_scheme"].to_numpy()
    afp_iu = design["afp_in_iu"].to_numpy()
    missing = rng.random((n, len(ANALYTES))) < FRACTION_MISSING_BASELINE_ANALYTE
    frames = []
    for j, analyte in enumerate(ANALYTES):
        alternative = afp_iu if analyte == "afp" else np.array(
            [analyte in LAB_SCHEMES[s] for s in range(len(LAB_SCHEMES))])[scheme]
        keep = ~missing[:, j]
        frames.append(_biomarker_rows(sid[keep], analyte, labs[analyte].to_numpy()[keep],
                                      alternative[keep], "baseline"))
    with_post = _exact_mask(rng, n, FRACTION_WITH_POST_MARKERS)
    responder = outcome["responder"].to_numpy()
    for analyte in POST_ANALYTES:
        mean = np.where(responder, POST_LOG_RATIO_RESPONDER[0], POST_LOG_RATIO_NON_RESPONDER[0])
        sd = np.where(responder, POST_LOG_RATIO_RESPONDER[1], POST_LOG_RATIO_NON_RESPONDER[1])
        post = np.maximum(labs[analyte].to_numpy() * np.exp(rng.normal(mean, sd)), 1.0)
        alternative = afp_iu if analyte == "afp" else np.zeros(n, dtype=bool)
        frames.append(_biomarker_rows(sid[with_post], analyte, post[with_post],
                                      alternative[with_post], "post"))
    table = pd.concat(frames, ignore_index=True)
    return table.sort_values(["sample_id", "analyte", "timepoint"], kind="mergesort",
                             ignore_index=True)


def _shape_features(lesions: pd.DataFrame, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Ellipsoid-like geometry: MeshVolume ~ (pi/6) * a*b*c with a the max diameter (mm)."""
    m = len(lesions)
    major = lesions["diameter_cm"].to_numpy() * 10.0 * 0.97
    elongation, flatness = lesions["elongation"].to_numpy(), lesions["flatness"].to_numpy()
    volume = math.pi / 6 * major ** 3 * elongation * flatness
    sphericity = 0.45 + 0.45 * expit(0.3 + 0.9 * lesions["R"].to_numpy()
                                     + rng.normal(0, 0.25, m))
    surface = math.pi ** (1 / 3) * (6 * volume) ** (2 / 3) / sphericity
    return {
        "original_shape_MeshVolume": volume,
        "original_shape_Sphericity": sphericity,
        "original_shape_Maximum3DDiameter": major / 0.97 * (1 + np.abs(rng.normal(0, 0.03, m))),
        "original_shape_MajorAxisLength": major,
        "original_shape_Elongation": elongation,
        "original_shape_Flatness": flatness,
        "original_shape_SurfaceVolumeRatio": surface / volume,
    }


def _scanner_effects(n_batches: int, rng: np.random.Generator):
    """Per batch and feature: (shift, log multiplier) on the latent z scale; batch1 = 0."""
    k = len(INTENSITY_FEATURES)
    offset = rng.uniform(*BATCH_SHIFT_RANGE, n_batches) * np.where(
        np.arange(n_batches) % 2 == 1, 1.0, -1.0)
    offset[0] = 0.0
    sign = np.where(rng.random(k) < 0.7, 1.0, -1.0)
    weight = rng.uniform(*BATCH_FEATURE_WEIGHT_RANGE, k)
    shift = offset[:, None] * sign[None, :] * weight[None, :]
    log_mult = BATCH_LOG_MULTIPLIER_SD * rng.standard_normal((n_batches, k))
    log_mult[0] = 0.0
    return shift, log_mult


def _transform(feature: RadiomicFeature, z: np.ndarray) -> np.ndarray:
    if feature.transform == "lin":
        return feature.centre + feature.scale * z
    if feature.transform == "log":
        return feature.centre * np.exp(feature.scale * z)
    if feature.transform == "unit":
        return expit(logit(feature.centre) + feature.scale * z)
    if feature.transform == "corr":
        return 2 * expit(logit((feature.centre + 1) / 2) + feature.scale * z) - 1
    raise ValueError(f"unknown transform {feature.transform}")


def _radiomics_table(design, lesions, rng) -> pd.DataFrame:
    """pyradiomics-like rows per lesion for patients with imaging; scanner effects by batch."""
    n_batches = int(design["batch_index"].max()) + 1
    shift, log_mult = _scanner_effects(n_batches, rng)
    shape = _shape_features(lesions, rng)
    batch = lesions["batch_index"].to_numpy()
    latents = {name: lesions[name].to_numpy() for name in ("H", "R", "E", "C")}
    latents["V"] = (np.log(shape["original_shape_MeshVolume"]) - LOG_VOLUME_CENTRE) \
        / LOG_VOLUME_SCALE
    spacing = np.asarray([np.prod(s) for s in VOXEL_SPACINGS_MM])[batch % len(VOXEL_SPACINGS_MM)]
    voxels = np.round(shape["original_shape_MeshVolume"] * rng.uniform(1.00, 1.04, len(batch))
                      / spacing).astype(int)
    table = pd.DataFrame({
        "sample_id": design["sample_id"].to_numpy()[lesions["patient"].to_numpy()],
        "lesion_id": "L" + lesions["lesion_number"].astype(str),
        "diagnostics_Versions_PyRadiomics":
            np.asarray(PYRADIOMICS_VERSIONS)[batch % len(PYRADIOMICS_VERSIONS)],
        "diagnostics_Mask-original_VoxelNum": np.maximum(voxels, 1),
    })
    for name in SHAPE_FEATURES:
        table[name] = [f"{v:.6g}" for v in shape[name]]
    for j, feature in enumerate(INTENSITY_FEATURES):
        z = sum(w * latents[name] for name, w in feature.loadings) \
            + feature.noise * rng.standard_normal(len(batch))
        z = z * np.exp(log_mult[batch, j]) + shift[batch, j]
        table[feature.name] = [f"{v:.6g}" for v in _transform(feature, z)]
    table = table[lesions["has_radiomics"].to_numpy()]
    return table.sort_values(["sample_id", "lesion_id"], kind="mergesort", ignore_index=True)


def _planted_effects_table(effects, intercept) -> pd.DataFrame:
    description = ("logit P(CR/PR) = intercept + sum(log_odds * variable); tuned for about "
                   "40% objective response")
    if intercept != RESPONSE_INTERCEPT:
        description += (f" (base {RESPONSE_INTERCEPT} plus the average of the effects that "
                        "could not be planted)")
    rows = [{"effect": "intercept", "variable": "", "direction": "none",
             "log_odds": round(intercept, 6), "description": description}]
    rows += [{"effect": e.effect, "variable": e.variable, "direction": e.direction,
              "log_odds": e.log_odds, "description": e.description} for e in effects]
    return pd.DataFrame(rows)


# =============================================================================================
# Exome VCFs
# =============================================================================================
def _mutect_header(genome_build: str, tumour: str, normal: str, first: str, second: str) -> str:
    contigs = CONTIG_LENGTHS[genome_build]
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
        f'##VEP="v110" cache="homo_sapiens/110_{genome_build}" ensembl=110 '
        f'assembly="{genome_build}"',
    ]
    lines += [f"##contig=<ID={c},length={n}>" for c, n in contigs.items()]
    lines += [
        "##filtering_status=These calls have been filtered by FilterMutectCalls to label false "
        "positives with a list of failed filters and true positives with PASS.",
        f"##normal_sample={normal}",
        f"##reference={REFERENCE_FASTA[genome_build]}",
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


def _random_base(u: float, exclude: str = "") -> str:
    choices = [b for b in _BASES if b not in exclude]
    return choices[min(int(u * len(choices)), len(choices) - 1)]


def _random_seq(u: float, length: int) -> str:
    index = int(u * 4 ** length)
    return "".join(_BASES[(index >> (2 * i)) & 3] for i in range(length))


def _vep_allele(ref: str, alt: str) -> str:
    """VEP's CSQ Allele: the alt with the shared leading base trimmed ('-' if nothing left)."""
    if len(ref) != len(alt) and ref[0] == alt[0]:
        return alt[1:] or "-"
    return alt


def _csq(allele, consequence, gene: GeneAnnotation | None, exon="", intron="", hgvsc="",
         hgvsp="", protein_position="", amino_acids="", codons="") -> str:
    impact = max((IMPACT[t] for t in consequence.split("&")),
                 key=["MODIFIER", "LOW", "MODERATE", "HIGH"].index)
    if gene is None:
        return "|".join([allele, consequence, impact] + [""] * 14)
    return "|".join([allele, consequence, impact, gene.symbol, gene.gene_id, "Transcript",
                     gene.transcript.split(".")[0], "protein_coding", exon, intron, hgvsc,
                     hgvsp, protein_position, amino_acids, codons, "", str(gene.strand)])


def _to_genome(seq: str, gene: GeneAnnotation) -> str:
    return seq if gene.strand == 1 else seq.translate(_COMPLEMENT)[::-1]


def _codons(codon: str, pos: int, base: str) -> str:
    def mark(c, b):
        return "".join(x.upper() if i == pos else x.lower() for i, x in
                       enumerate(c[:pos] + b + c[pos + 1:]))
    return f"{mark(codon, codon[pos])}/{mark(codon, base)}"


def _variant(consequence: str, gene: GeneAnnotation | None,
             u: np.ndarray) -> tuple[str, str, str]:
    """REF, ALT and the VEP CSQ entry of one variant of the requested consequence.

    Coding SNVs come from real codon changes (the amino acids and codons agree); indels and
    non-coding changes use random bases. `u` holds uniforms driving every choice.
    """
    terms = consequence.split("&")
    primary = next((t for t in terms if t in SNV_CHANGES), terms[0])
    if gene is None:
        ref = _random_base(u[0])
        alt = _random_base(u[1], ref)
        return ref, alt, _csq(alt, consequence, None)
    protein_pos = 1 + int(u[2] * (gene.protein_length - 1))
    exon = f"{1 + int(u[3] * gene.n_exons)}/{gene.n_exons}"
    intron = f"{1 + int(u[3] * max(gene.n_exons - 1, 1))}/{max(gene.n_exons - 1, 1)}"
    cds = 3 * (protein_pos - 1) + 1 + int(u[4] * 3)
    tx = gene.transcript
    if primary in SNV_CHANGES:
        changes = SNV_CHANGES[primary]
        codon, cpos, base = changes[min(int(u[5] * len(changes)), len(changes) - 1)]
        if primary == "start_lost":
            protein_pos = 1
        elif primary == "stop_lost":
            protein_pos = gene.protein_length + 1
        cds = 3 * (protein_pos - 1) + 1 + cpos
        ref_aa, alt_aa = CODON_TABLE[codon], CODON_TABLE[codon[:cpos] + base + codon[cpos + 1:]]
        ref, alt = _to_genome(codon[cpos], gene), _to_genome(base, gene)
        hgvsc = f"{tx}:c.{cds}{codon[cpos]}>{base}"
        if primary == "synonymous_variant":
            hgvsp, amino = f"p.{AA3[ref_aa]}{protein_pos}%3D", ref_aa
        elif primary == "start_lost":
            hgvsp, amino = "p.Met1?", f"{ref_aa}/{alt_aa}"
        elif primary == "stop_lost":
            hgvsp = f"p.Ter{protein_pos}{AA3[alt_aa]}extTer{1 + int(u[6] * 40)}"
            amino = f"{ref_aa}/{alt_aa}"
        else:
            hgvsp, amino = f"p.{AA3[ref_aa]}{protein_pos}{AA3[alt_aa]}", f"{ref_aa}/{alt_aa}"
        return ref, alt, _csq(alt, consequence, gene, exon=exon, hgvsc=hgvsc,
                              hgvsp=f"{gene.protein}:{hgvsp}", protein_position=str(protein_pos),
                              amino_acids=amino, codons=_codons(codon, cpos, base))
    codon = _SENSE_CODONS[min(int(u[5] * len(_SENSE_CODONS)), len(_SENSE_CODONS) - 1)]
    aa = CODON_TABLE[codon]
    anchor = _random_base(u[6])
    if primary in ("frameshift_variant", "inframe_deletion", "inframe_insertion"):
        if primary == "frameshift_variant":
            length = (1, 2, 4, 1)[int(u[7] * 4)]
            insertion = u[8] < 0.4
        else:
            length, insertion = 3, primary == "inframe_insertion"
        seq = _random_seq(u[9], length)
        ref, alt = (anchor, anchor + seq) if insertion else (anchor + seq, anchor)
        tx_seq = _to_genome(seq, gene)  # reverse complement is an involution
        if insertion:
            hgvsc = f"{tx}:c.{cds}_{cds + 1}ins{tx_seq}"
        elif length == 1:
            hgvsc = f"{tx}:c.{cds}del"
        else:
            hgvsc = f"{tx}:c.{cds}_{cds + length - 1}del"
        if primary == "frameshift_variant":
            hgvsp = f"p.{AA3[aa]}{protein_pos}{AA3[_random_aa(u[10])]}fsTer{2 + int(u[11] * 30)}"
            amino, codons = f"{aa}/X", f"{codon}/{codon[:2].lower()}"
        elif insertion:
            new_aa = _random_aa(u[10])
            hgvsp = f"p.{AA3[aa]}{protein_pos}_{AA3[aa]}{protein_pos + 1}ins{AA3[new_aa]}"
            amino, codons = f"-/{new_aa}", f"-/{tx_seq}"
        else:
            hgvsp, amino, codons = f"p.{AA3[aa]}{protein_pos}del", f"{aa}/-", f"{codon}/-"
        return ref, alt, _csq(_vep_allele(ref, alt), consequence, gene, exon=exon, hgvsc=hgvsc,
                              hgvsp=f"{gene.protein}:{hgvsp}", protein_position=str(protein_pos),
                              amino_acids=amino, codons=codons)
    # Non-coding SNVs: splice sites, introns, UTRs, flanks.
    ref = _random_base(u[5])
    alt = _random_base(u[7], ref)
    tx_ref, tx_alt = _to_genome(ref, gene), _to_genome(alt, gene)
    sign = "+" if u[8] < 0.5 else "-"
    if primary == "splice_donor_variant":
        hgvsc, where = f"c.{cds}+{1 + int(u[9] * 2)}", "intron"
    elif primary == "splice_acceptor_variant":
        hgvsc, where = f"c.{cds}-{1 + int(u[9] * 2)}", "intron"
    elif primary == "splice_region_variant" and "intron_variant" in consequence:
        hgvsc, where = f"c.{cds}{sign}{3 + int(u[9] * 6)}", "intron"
    elif primary == "intron_variant":
        hgvsc, where = f"c.{cds}{sign}{10 + int(u[9] * 2000)}", "intron"
    elif primary == "3_prime_UTR_variant":
        hgvsc, where = f"c.*{1 + int(u[9] * 1500)}", "last_exon"
    elif primary == "5_prime_UTR_variant":
        hgvsc, where = f"c.-{1 + int(u[9] * 200)}", "first_exon"
    else:  # upstream/downstream gene variant: no HGVS, no exon
        return ref, alt, _csq(alt, consequence, gene)
    fields = {"intron": {"intron": intron}, "last_exon": {"exon": f"{gene.n_exons}/{gene.n_exons}"},
              "first_exon": {"exon": f"1/{gene.n_exons}"}}[where]
    return ref, alt, _csq(alt, consequence, gene, hgvsc=f"{tx}:{hgvsc}{tx_ref}>{tx_alt}",
                          **fields)


def _random_aa(u: float) -> str:
    letters = sorted(a for a in AA3 if a != "*")
    return letters[min(int(u * len(letters)), len(letters) - 1)]


def _multiallelic_variant(gene: GeneAnnotation, u: np.ndarray) -> tuple[str, list[str], list[str]]:
    """Two alts at one codon position: allele 1 synonymous, allele 2 missense."""
    codon, cpos, syn, mis = MULTIALLELIC_SITES[min(int(u[5] * len(MULTIALLELIC_SITES)),
                                                   len(MULTIALLELIC_SITES) - 1)]
    protein_pos = 1 + int(u[2] * (gene.protein_length - 1))
    cds = 3 * (protein_pos - 1) + 1 + cpos
    exon = f"{1 + int(u[3] * gene.n_exons)}/{gene.n_exons}"
    ref = _to_genome(codon[cpos], gene)
    alts, entries = [], []
    for base in (syn, mis):
        alt_aa = CODON_TABLE[codon[:cpos] + base + codon[cpos + 1:]]
        aa = CODON_TABLE[codon]
        consequence = _classify_snv(codon, cpos, base)
        hgvsp = f"p.{AA3[aa]}{protein_pos}%3D" if consequence == "synonymous_variant" \
            else f"p.{AA3[aa]}{protein_pos}{AA3[alt_aa]}"
        amino = aa if consequence == "synonymous_variant" else f"{aa}/{alt_aa}"
        alt = _to_genome(base, gene)
        alts.append(alt)
        entries.append(_csq(alt, consequence, gene, exon=exon,
                            hgvsc=f"{gene.transcript}:c.{cds}{codon[cpos]}>{base}",
                            hgvsp=f"{gene.protein}:{hgvsp}", protein_position=str(protein_pos),
                            amino_acids=amino, codons=_codons(codon, cpos, base)))
    return ref, alts, entries


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
    ref, alt, csq = _variant(consequence, gene, rng.random(12))
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
    ref, alts, entries = _multiallelic_variant(gene, rng.random(12))
    dp = int(rng.integers(150, 350))
    alt1 = int(rng.integers(int(0.1 * dp), int(0.4 * dp)))
    if rng.random() < 0.5:
        alt2, filt = int(rng.integers(1, math.ceil(DECOY_AF_CEILING * dp))), "PASS"
    else:
        alt2, filt = int(rng.integers(int(0.08 * dp), int(0.2 * dp))), "multiallelic"
    normal_dp = int(rng.integers(25, 90))
    return _Record(gene.chrom, _position_in(rng, gene.start, gene.end), ref, alts, filt,
                   entries, [dp - alt1 - alt2, alt1, alt2], [normal_dp, 0, 0])


def _background_records(rng, contigs: dict[str, int], panel_genes: list[GeneAnnotation],
                        count: int) -> list[_Record]:
    """Somatic variants across the genome, away from the panel genes."""
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
            gene = BACKGROUND_GENES[rng.integers(len(BACKGROUND_GENES))]
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


def _panel_annotations(panel: list[dict]) -> list[GeneAnnotation]:
    genes = []
    for g in panel:
        gene_id, transcript, protein, n_exons, length = PANEL_GENE_ANNOTATION.get(
            g["gene"], ("", "", "", 10, 500))
        genes.append(GeneAnnotation(g["gene"], gene_id, transcript, protein, g["chrom"],
                                    g["start"], g["end"], g["strand"], n_exons, length))
    return genes


def _write_exome_vcfs(stage: Path, design: pd.DataFrame, panel: list[dict],
                      panel_positive: np.ndarray, genome_build: str,
                      rng: np.random.Generator) -> None:
    """One Mutect2-like VCF per patient with an exome.

    Records are generated in patient order from one random stream (deterministic); bgzip and
    tabix indexing, the slow part, run in worker threads (htslib releases the GIL).
    """
    contigs = CONTIG_LENGTHS[genome_build]
    order = {c: i for i, c in enumerate(contigs)}
    genes = _panel_annotations(panel)
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
            records += _background_records(rng, contigs, genes, n_background)
            _deduplicate_positions(records)
            records.sort(key=lambda r: (order[r.chrom], r.pos))
            columns = (normal, tumour) if row.normal_first else (tumour, normal)
            text = _mutect_header(genome_build, tumour, normal, *columns)
            text += "".join(_format_record(r, row.normal_first) + "\n" for r in records)
            path = stage / "vcf" / row.batch / f"{row.sample_id}.vcf.gz"
            pending.append(pool.submit(_write_indexed_vcf, text, path))
            if len(pending) >= 4 * VCF_WRITER_THREADS:  # bound memory; re-raise failures
                pending.pop(0).result()
        for future in pending:
            future.result()


def _write_indexed_vcf(text: str, path: Path) -> None:
    """bgzip + tabix; pysam writes no timestamps, so the output is deterministic."""
    with pysam.BGZFile(str(path), "wb") as handle:
        handle.write(text.encode())
    pysam.tabix_index(str(path), preset="vcf", force=True)


# =============================================================================================
# Germline genotype VCF
# =============================================================================================
def _background_germline_snps(snps, genome_build, rng) -> list[dict]:
    """~20 common SNPs near IL28B (chr19), GALNT14 (chr2) and elsewhere; ID '.'."""
    contigs = CONTIG_LENGTHS[genome_build]
    prefix = "chr" if "chr1" in contigs else ""
    regions = [(f"{prefix}19", 39_000_000, 39_500_000)] * 6 \
        + [(f"{prefix}2", 31_000_000, 31_600_000)] * 4
    others = [c for c in contigs if c not in (f"{prefix}19", f"{prefix}2", f"{prefix}Y")]
    for _ in range(N_BACKGROUND_GERMLINE_SNPS - len(regions)):
        chrom = others[rng.integers(len(others))]
        regions.append((chrom, 1_000_000, contigs[chrom] - 1_000_000))
    taken = {(s["chrom"], s["pos"]) for s in snps}
    background = []
    for chrom, start, end in regions:
        pos = int(rng.integers(start, end))
        while (chrom, pos) in taken:
            pos += 1
        taken.add((chrom, pos))
        ref = _random_base(rng.random())
        background.append({"rsid": ".", "chrom": chrom, "pos": pos, "ref": ref,
                           "alt": _random_base(rng.random(), ref),
                           "alt_freq": rng.uniform(0.05, 0.5)})
    return background


def _germline_header(genome_build: str, samples: list[str]) -> str:
    lines = [
        "##fileformat=VCFv4.2",
        '##FILTER=<ID=LowQual,Description="Low quality">',
        '##FILTER=<ID=PASS,Description="All filters passed">',
        '##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Allelic depths for the ref and '
        'alt alleles in the order listed">',
        '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Approximate read depth (reads '
        'with MQ=255 or with bad mates are filtered)">',
        '##FORMAT=<ID=GQ,Number=1,Type=Integer,Description="Genotype Quality">',
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        '##GATKCommandLine=<ID=GenotypeGVCFs,CommandLine="GenotypeGVCFs --variant '
        'gendb://cohort --output genotypes.vcf.gz",Version="4.4.0.0">',
        '##INFO=<ID=AC,Number=A,Type=Integer,Description="Allele count in genotypes, for '
        'each ALT allele, in the same order as listed">',
        '##INFO=<ID=AF,Number=A,Type=Float,Description="Allele Frequency, for each ALT '
        'allele, in the same order as listed">',
        '##INFO=<ID=AN,Number=1,Type=Integer,Description="Total number of alleles in called '
        'genotypes">',
        '##INFO=<ID=DP,Number=1,Type=Integer,Description="Approximate read depth; some reads '
        'may have been filtered">',
    ]
    lines += [f"##contig=<ID={c},length={n}>" for c, n in CONTIG_LENGTHS[genome_build].items()]
    lines += [f"##reference={REFERENCE_FASTA[genome_build]}", "##source=GenotypeGVCFs",
              "##source=HaplotypeCaller",
              "\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO",
                         "FORMAT", *samples])]
    return "\n".join(lines) + "\n"


def _genotype_line(site: dict, dosage: np.ndarray, no_call: np.ndarray, rng) -> str:
    m = len(dosage)
    dp = rng.integers(15, 61, m)
    alt_reads = np.where(dosage == 1, rng.binomial(dp, 0.5),
                         np.where(dosage == 2, dp, (rng.random(m) < 0.03).astype(int)))
    alt_reads = np.where(dosage == 1, np.clip(alt_reads, 1, dp - 1), alt_reads)
    gq = np.where(dosage == 1, np.minimum(99, 3 * np.minimum(alt_reads, dp - alt_reads) + 20),
                  np.minimum(99, 3 * dp))
    gt = np.array(["0/0", "0/1", "1/1"])[dosage]
    fields = [
        "./.:0,0:0:." if nc else f"{g}:{d - a},{a}:{d}:{q}"
        for g, d, a, q, nc in zip(gt, dp, alt_reads, gq, no_call)
    ]
    called = ~no_call
    an = 2 * int(called.sum())
    ac = int(dosage[called].sum())
    af = f"{ac / an:.4g}" if an else "0"
    qual = f"{min(30.0 * ac + 50.0, 99999.0):.2f}"
    info = f"AC={ac};AF={af};AN={an};DP={int(dp[called].sum())}"
    return "\t".join([site["chrom"], str(site["pos"]), site["rsid"], site["ref"], site["alt"],
                      qual, "PASS", info, "GT:AD:DP:GQ", *fields])


def _write_genotype_vcf(path: Path, design, germline, snps, genome_build, rng) -> None:
    """Joint-called germline VCF: resource SNPs (ID = rsid) plus background SNPs."""
    in_vcf = design["has_genotype"].to_numpy()
    samples = list(_genotype_column_names(design)[in_vcf])
    no_call_resource = design["genotype_no_call"].to_numpy()[in_vcf]
    sites = [dict(s, dosage=germline[s["rsid"]][in_vcf], no_call=no_call_resource)
             for s in snps]
    for site in _background_germline_snps(snps, genome_build, rng):
        dosage = (rng.random((len(samples), 2)) < site["alt_freq"]).sum(axis=1)
        sites.append(dict(site, dosage=dosage, no_call=np.zeros(len(samples), dtype=bool)))
    order = {c: i for i, c in enumerate(CONTIG_LENGTHS[genome_build])}
    sites.sort(key=lambda s: (order[s["chrom"]], s["pos"]))
    text = _germline_header(genome_build, samples)
    text += "".join(_genotype_line(s, s["dosage"], s["no_call"], rng) + "\n" for s in sites)
    _write_indexed_vcf(text, path)


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
