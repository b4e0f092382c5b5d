"""Clinical sheet: validation, numeric encoding of covariates, and the response label."""

from __future__ import annotations

import pandas as pd

from .errors import raise_if_any
from .validation import duplicate_problems, read_and_validate

OUTCOME_COLUMNS = ["best_response", "os_months", "os_event", "pfs_months", "pfs_event"]
TUMOR_NUMBER_CUTOFF = 3  # > 3 tumours is adverse (background.md)
TUMOR_SIZE_CUTOFFS_CM = (7, 10)  # > 7 cm or >= 10 cm in different studies (background.md)
BCLC_ORDER = {"0": 0, "A": 1, "B": 2, "C": 3, "D": 4}
VASCULAR_INVASION_ORDER = {"none": 0, "Vp1": 1, "Vp2": 2, "Vp3": 3, "Vp4": 4}
ASCITES_ORDER = {"none": 0, "mild": 1, "severe": 2}
ENCEPHALOPATHY_ORDER = {"none": 0, "grade1-2": 1, "grade3-4": 2}
RESPONDERS = {"CR", "PR"}  # mRECIST objective response

# feature -> (unit, description); the order is the feature matrix's column order
CLINICAL_FEATURES = {
    "age": ("years", "age at HAIC start"),
    "sex_male": ("0/1", "male sex"),
    "ecog": ("0-4", "ECOG performance status"),
    "hbv": ("0/1", "hepatitis B infection"),
    "hcv": ("0/1", "hepatitis C infection"),
    "cirrhosis": ("0/1", "liver cirrhosis"),
    "bclc": ("0-4", "BCLC stage as ordinal: 0=0, A=1, B=2, C=3, D=4"),
    "tumor_size_cm": ("cm", "largest tumour diameter"),
    **{f"tumor_size_ge{cm}": ("0/1", f"largest tumour >= {cm} cm") for cm in TUMOR_SIZE_CUTOFFS_CM},
    "tumor_number": ("count", "number of intrahepatic tumours"),
    "tumor_number_gt3": ("0/1", f"more than {TUMOR_NUMBER_CUTOFF} tumours"),
    "vascular_invasion": ("0-4", "portal vein invasion as ordinal: none=0, Vp1..Vp4=1..4"),
    "vp3_vp4": ("0/1", "portal vein invasion Vp3 or Vp4"),
    "hvtt": ("0/1", "hepatic vein tumour thrombus"),
    "extrahepatic_metastasis": ("0/1", "extrahepatic metastasis"),
    "both_lobes": ("0/1", "tumour in both lobes"),
    "arterial_hyperenhancement": ("0/1", "arterial phase hyperenhancement"),
    "ascites": ("0-2", "ascites: none=0, mild=1, severe=2"),
    "encephalopathy": ("0-2", "encephalopathy: none=0, grade 1-2=1, grade 3-4=2"),
    "combination_pd1": ("0/1", "HAIC combined with a PD-1 inhibitor (pd1 or pd1_tki)"),
    "combination_tki": ("0/1", "HAIC combined with a TKI (tki or pd1_tki)"),
}


def check_clinical(path) -> tuple[pd.DataFrame | None, list]:
    """The table (None if unreadable) and every problem in it."""
    df, problems = read_and_validate(path, "clinical", ["sample_id"])
    if df is not None:
        problems += duplicate_problems(df, ["sample_id"], str(path), "keep one row per patient")
    return df, problems


def read_clinical(path) -> pd.DataFrame:
    df, problems = check_clinical(path)
    raise_if_any(problems)
    return df


def _number(series: pd.Series | None, index) -> pd.Series:
    if series is None:
        return pd.Series(float("nan"), index=index)
    return pd.to_numeric(series, errors="raise").astype(float)


def encode_clinical(clinical: pd.DataFrame) -> pd.DataFrame:
    """Numeric covariates (NaN = missing), one row per sample, columns as CLINICAL_FEATURES."""
    c = clinical.set_index("sample_id")
    get = c.get
    out = pd.DataFrame(index=c.index)
    out["age"] = _number(get("age"), c.index)
    out["sex_male"] = get("sex", pd.Series(index=c.index, dtype=object)).map({"M": 1.0, "F": 0.0})
    for flag in ["ecog", "hbv", "hcv", "cirrhosis"]:
        out[flag] = _number(get(flag), c.index)
    out["bclc"] = _ordinal(get("bclc"), BCLC_ORDER, c.index)
    out["tumor_size_cm"] = _number(get("tumor_size_cm"), c.index)
    for cm in TUMOR_SIZE_CUTOFFS_CM:
        out[f"tumor_size_ge{cm}"] = (out["tumor_size_cm"] >= cm).astype(float).where(
            out["tumor_size_cm"].notna())
    out["tumor_number"] = _number(get("tumor_number"), c.index)
    out["tumor_number_gt3"] = (out["tumor_number"] > TUMOR_NUMBER_CUTOFF).astype(float).where(
        out["tumor_number"].notna())
    out["vascular_invasion"] = _ordinal(get("vascular_invasion"), VASCULAR_INVASION_ORDER, c.index)
    out["vp3_vp4"] = (out["vascular_invasion"] >= 3).astype(float).where(
        out["vascular_invasion"].notna())
    for flag in ["hvtt", "extrahepatic_metastasis", "both_lobes", "arterial_hyperenhancement"]:
        out[flag] = _number(get(flag), c.index)
    out["ascites"] = _ordinal(get("ascites"), ASCITES_ORDER, c.index)
    out["encephalopathy"] = _ordinal(get("encephalopathy"), ENCEPHALOPATHY_ORDER, c.index)
    combination = get("combination", pd.Series(index=c.index, dtype=object))
    out["combination_pd1"] = combination.map({"none": 0.0, "tki": 0.0, "pd1": 1.0,
                                              "pd1_tki": 1.0})
    out["combination_tki"] = combination.map({"none": 0.0, "pd1": 0.0, "tki": 1.0,
                                              "pd1_tki": 1.0})
    return out[list(CLINICAL_FEATURES)].sort_index().reset_index()


def _ordinal(series: pd.Series | None, order: dict[str, int], index) -> pd.Series:
    if series is None:
        return pd.Series(float("nan"), index=index)
    return series.map(order).astype(float)


def labels(clinical: pd.DataFrame) -> pd.DataFrame:
    """Objective response (1 = CR/PR, 0 = SD/PD, empty when best_response is missing), the
    survival outcomes and any `outcome_*` columns: outcomes, never features."""
    out = pd.DataFrame({"sample_id": clinical["sample_id"]})
    extra_outcomes = sorted(c for c in clinical.columns if c.startswith("outcome_"))
    for column in OUTCOME_COLUMNS + extra_outcomes:
        out[column] = clinical[column] if column in clinical.columns else pd.NA
    response = out["best_response"]
    out.insert(2, "objective_response",
               response.isin(RESPONDERS).astype("Int64").where(response.notna()))
    return out.sort_values("sample_id").reset_index(drop=True)


def clinical_dictionary() -> pd.DataFrame:
    return pd.DataFrame(
        [(name, "clinical", unit, text) for name, (unit, text) in CLINICAL_FEATURES.items()],
        columns=["feature", "modality", "unit", "description"])
