"""Cohort design and the true state of every simulated patient.

Which data each patient has (exome, genotypes, radiomics, lab scheme) and the true covariates
drawn vectorised over patients: demographics, tumour burden, treatment, baseline labs with ALBI
and NLR, Child-Pugh points and BCLC stage, and germline SNP dosages. A tumour-burden latent and
a liver-dysfunction latent correlate them. Nothing here is written to a file: the response
model (`effects`) and the writers (`clinical_tables`, `radiomics`, `exome`, `genotypes`) read
this truth.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.special import expit, ndtr

from .common import exact_mask

# ---------------------------------------------------------------------------------------------
# Cohort design: which data each patient has (fractions of patients; exact counts are used)
# ---------------------------------------------------------------------------------------------
FRACTION_NO_EXOME = 0.10
FRACTION_TUMOR_SAMPLE_FROM_HEADER = 0.30  # of exome rows: sheet leaves tumor_sample empty
FRACTION_NO_GENOTYPE = 0.10
FRACTION_GENOTYPE_NO_CALL = 0.03  # in the genotype VCF, but ./. at the resource SNPs
FRACTION_GENOTYPE_ALIAS = 0.05  # of genotyped rows: VCF column named <id>_germline
FRACTION_NO_RADIOMICS = 0.15
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
# Laboratory schemes (the units each scheme reports are in clinical_tables)
# ---------------------------------------------------------------------------------------------
# Labs: batch k (0-based) uses scheme k % 3. Analytes listed report in the alternative unit.
LAB_SCHEMES = (
    frozenset(),
    frozenset({"bilirubin", "albumin", "crp", "cholesterol"}),
    frozenset({"platelets", "neutrophils", "lymphocytes", "monocytes", "transferrin"}),
)
P_AFP_IU_IN_SCHEME = (0.05, 0.05, 0.50)  # AFP from an outside lab reporting IU/mL

# ---------------------------------------------------------------------------------------------
# ALBI grade (published cut-offs)
# ---------------------------------------------------------------------------------------------
ALBI_GRADE_CUTOFFS = (-2.60, -1.39)  # grade 1 <= -2.60 < grade 2 <= -1.39 < grade 3

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


# =============================================================================================
# True patient state
# =============================================================================================
def simulate_design(n: int, n_batches: int, rng: np.random.Generator) -> pd.DataFrame:
    """Sample IDs, balanced random batches and which data types each patient has."""
    width = max(MIN_ID_WIDTH, len(str(n)))
    batch_index = np.empty(n, dtype=int)
    batch_index[rng.permutation(n)] = np.arange(n) % n_batches
    has_exome = ~exact_mask(rng, n, FRACTION_NO_EXOME)
    tumor_from_header = exact_mask(rng, int(has_exome.sum()),
                                    FRACTION_TUMOR_SAMPLE_FROM_HEADER)
    tumor_in_sheet = has_exome.copy()
    tumor_in_sheet[np.flatnonzero(has_exome)[tumor_from_header]] = False
    has_genotype = ~exact_mask(rng, n, FRACTION_NO_GENOTYPE)
    no_call = exact_mask(rng, n, FRACTION_GENOTYPE_NO_CALL, has_genotype)
    alias = exact_mask(rng, n, FRACTION_GENOTYPE_ALIAS * has_genotype.mean(), has_genotype)
    has_radiomics = ~exact_mask(rng, n, FRACTION_NO_RADIOMICS)
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


def simulate_patients(n: int, rng: np.random.Generator) -> pd.DataFrame:
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


def simulate_labs(patients: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
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


def add_staging(patients: pd.DataFrame, labs: pd.DataFrame) -> pd.DataFrame:
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


def simulate_germline(n: int, snps: list[dict], rng: np.random.Generator) -> dict[str, np.ndarray]:
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


def homozygous(dosage: np.ndarray, snp: dict, allele: str) -> np.ndarray | None:
    """Patients homozygous for a + strand allele, or None when the resource lacks it."""
    if allele == snp["alt"]:
        return dosage == 2
    if allele == snp["ref"]:
        return dosage == 0
    return None
