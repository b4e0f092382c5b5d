"""The tabular files of the simulated cohort: sample sheet, clinical table and biomarkers.

They turn the true state (`patients`) and outcomes (`effects`) into what the pipeline reads:
empty covariate cells and unlabelled patients, labs reported in the units of each batch's
laboratory (AFP sometimes in IU/mL) with per-unit rounding, and post-treatment AFP/DCP that
follow the realised response.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .common import exact_mask
from .patients import LAB_SCHEMES

# ---------------------------------------------------------------------------------------------
# Missing data and post-treatment rows (fractions of cells or of patients)
# ---------------------------------------------------------------------------------------------
FRACTION_MISSING_COVARIATE = 0.02  # per clinical covariate cell
FRACTION_UNLABELLED = 0.03  # best_response left empty
FRACTION_MISSING_BASELINE_ANALYTE = 0.02  # per (patient, analyte) baseline row
FRACTION_WITH_POST_MARKERS = 0.85  # patients with post-treatment AFP/DCP rows

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


def sample_sheet(design: pd.DataFrame) -> pd.DataFrame:
    sid, batch = design["sample_id"], design["batch"]
    return pd.DataFrame({
        "sample_id": sid,
        "batch": batch,
        "exome_vcf": np.where(design["has_exome"], "vcf/" + batch + "/" + sid + ".vcf.gz", ""),
        "tumor_sample": np.where(design["tumor_in_sheet"], sid + "_T", ""),
        "genotype_vcf": np.where(design["has_genotype"], "genotypes.vcf.gz", ""),
        "genotype_sample": np.where(design["genotype_alias"], sid + "_germline", ""),
    })


CLINICAL_COVARIATES = ("age", "sex", "ecog", "hbv", "hcv", "cirrhosis", "bclc",
                       "tumor_size_cm", "tumor_number", "vascular_invasion", "hvtt",
                       "extrahepatic_metastasis", "both_lobes", "arterial_hyperenhancement",
                       "ascites", "encephalopathy", "combination")


def clinical_table(design, patients, outcome, rng) -> pd.DataFrame:
    """One row per patient; ~2% of covariate cells and ~3% of best_response left empty."""
    n = len(design)
    table = pd.DataFrame({"sample_id": design["sample_id"]})
    for column in CLINICAL_COVARIATES:
        values = patients[column].to_numpy()
        text = np.array([f"{v:.1f}" for v in values]) if column == "tumor_size_cm" \
            else values.astype(str)
        missing = rng.random(n) < FRACTION_MISSING_COVARIATE
        table[column] = np.where(missing, "", text)
    unlabelled = exact_mask(rng, n, FRACTION_UNLABELLED)
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


def biomarker_table(design, labs, outcome, rng) -> pd.DataFrame:
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
    with_post = exact_mask(rng, n, FRACTION_WITH_POST_MARKERS)
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
