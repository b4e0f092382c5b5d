"""Clinical sheet: validation, numeric encoding of covariates, and the response label."""

from __future__ import annotations

import numpy as np
import pandas as pd

from haicpred.io.errors import Problem, raise_if_any
from haicpred.io.validation import duplicate_problems, read_and_validate, row_numbers

OUTCOME_COLUMNS = ["best_response", "os_months", "os_event", "pfs_months", "pfs_event"]
TUMOR_NUMBER_CUTOFF = 3  # > 3 tumours is adverse (background.md)
TUMOR_SIZE_CUTOFFS_CM = (7, 10)  # > 7 cm or >= 10 cm in different studies (background.md)
BCLC_ORDER = {"0": 0, "A": 1, "B": 2, "C": 3, "D": 4}
VASCULAR_INVASION_ORDER = {"none": 0, "Vp1": 1, "Vp2": 2, "Vp3": 3, "Vp4": 4}
VASCULAR_INVASION_PRESENT = ("Vp1", "Vp2", "Vp3", "Vp4", "present")  # `present`: grade unknown
TUMOR_NUMBER_GROUPS = {"1": (1, 1), "2-3": (2, 3), ">3": (4, None)}  # group -> count range
ECOG_GROUPS = {"0": 0, "1-2": 1, "3-4": 2}  # ecog_group feature: ECOG 0 / 1-2 / 3-4
AJCC_MAIN_STAGE = {"I": 1, "II": 2, "III": 3, "IIIA": 3, "IIIB": 3, "IIIC": 3,
                   "IV": 4, "IVA": 4, "IVB": 4}
CHILD_PUGH_CLASSES = {"A": 1, "B": 2, "C": 3}  # as the derived child_pugh_class feature
ASCITES_ORDER = {"none": 0, "mild": 1, "severe": 2}
ENCEPHALOPATHY_ORDER = {"none": 0, "grade1-2": 1, "grade3-4": 2}
RESPONDERS = {"CR", "PR"}  # mRECIST objective response

# feature -> (unit, description); the order is the feature matrix's column order
CLINICAL_FEATURES = {
    "age": ("years", "age at treatment start (years)"),
    "sex_male": ("0/1", "male sex"),
    "ecog": ("0-4", "ECOG performance status"),
    "hbv": ("0/1", "hepatitis B infection"),
    "hcv": ("0/1", "hepatitis C infection"),
    "cirrhosis": ("0/1", "liver cirrhosis"),
    "bclc": ("0-4", "BCLC stage as ordinal: 0=0, A=1, B=2, C=3, D=4"),
    "tumor_size_cm": ("cm", "largest tumour diameter"),
    **{f"tumor_size_ge{cm}": ("0/1", f"largest tumour >= {cm} cm") for cm in TUMOR_SIZE_CUTOFFS_CM},
    "tumor_number": ("count", "number of intrahepatic tumours"),
    "tumor_number_gt3": ("0/1", f"more than {TUMOR_NUMBER_CUTOFF} tumours, from tumor_number, "
                         "else tumor_number_group (1 or 2-3: 0; >3: 1), else 0 for "
                         "multinodular 0 (one tumour)"),
    "vascular_invasion": ("0-4", "portal vein invasion as ordinal: none=0, Vp1..Vp4=1..4; "
                          "missing for present (grade unknown)"),
    "vp3_vp4": ("0/1", "portal vein invasion Vp3 or Vp4; missing for present (grade unknown)"),
    "hvtt": ("0/1", "hepatic vein tumour thrombus"),
    "extrahepatic_metastasis": ("0/1", "extrahepatic metastasis"),
    "both_lobes": ("0/1", "tumour in both lobes"),
    "arterial_hyperenhancement": ("0/1", "arterial phase hyperenhancement"),
    "ascites": ("0-2", "ascites: none=0, mild=1, severe=2"),
    "encephalopathy": ("0-2", "encephalopathy: none=0, grade 1-2=1, grade 3-4=2"),
    "combination_pd1": ("0/1", "treatment combined with a PD-1 inhibitor (pd1 or pd1_tki)"),
    "combination_tki": ("0/1", "treatment combined with a TKI (tki or pd1_tki)"),
    # optional columns of real cohorts (appended: the columns above keep their order)
    "vascular_invasion_any": ("0/1", "vascular invasion of any grade: 1 for vascular_invasion "
                              "Vp1-Vp4 or present, macrovascular_invasion 1 or pvtt 1; 0 for "
                              "vascular_invasion none or macrovascular_invasion 0"),
    "macrovascular_invasion": ("0/1", "macrovascular invasion (as recorded)"),
    "microvascular_invasion": ("0/1", "microvascular invasion (as recorded, pathology)"),
    "pvtt": ("0/1", "portal vein tumour thrombus (as recorded; hepatic vein: hvtt)"),
    "multinodular": ("0/1", "more than one intrahepatic tumour, from tumor_number, else "
                     "tumor_number_group, else the recorded multinodular"),
    "ecog_group": ("0-2", "ECOG performance status grouped: 0=0, 1-2=1, 3-4=2; from ecog "
                   "where recorded, else ecog_group"),
    "ajcc_stage": ("1-4", "AJCC 8th edition (TNM) main stage: I=1, II=2, III/IIIA/IIIB/IIIC=3, "
                   "IV/IVA/IVB=4 (substages merged)"),
}


def check_clinical(path) -> tuple[pd.DataFrame | None, list]:
    """The table (None if unreadable) and every problem in it."""
    df, problems = read_and_validate(path, "clinical", ["sample_id"])
    if df is not None:
        problems += duplicate_problems(df, ["sample_id"], str(path), "keep one row per patient")
        problems += consistency_problems(df, str(path))
    return df, problems


def _count_group(count: float) -> str:
    return next(g for g, (low, high) in TUMOR_NUMBER_GROUPS.items()
                if count >= low and (high is None or count <= high))


def _ecog_group(ecog: float) -> int:
    return 0 if ecog == 0 else 1 if ecog <= 2 else 2


def _child_pugh_class_of(score: float) -> str:
    return "A" if score <= 6 else "B" if score <= 9 else "C"


# (column a, column b, do the two recorded values agree?): columns that record one fact twice
_SAME_FACT = [
    ("tumor_number", "tumor_number_group", lambda n, g: _count_group(float(n)) == g),
    ("tumor_number", "multinodular", lambda n, m: (float(n) > 1) == (float(m) == 1)),
    ("tumor_number_group", "multinodular", lambda g, m: (g != "1") == (float(m) == 1)),
    ("ecog", "ecog_group", lambda e, g: ECOG_GROUPS[g] == _ecog_group(float(e))),
    ("child_pugh_score", "child_pugh_class",
     lambda s, c: _child_pugh_class_of(float(s)) == c),
    ("vascular_invasion", "macrovascular_invasion",
     lambda v, m: not (v == "none" and float(m) == 1)),
    ("vascular_invasion", "pvtt", lambda v, p: not (v == "none" and float(p) == 1)),
    ("macrovascular_invasion", "pvtt", lambda m, p: not (float(m) == 0 and float(p) == 1)),
]


def consistency_problems(df: pd.DataFrame, file: str) -> list[Problem]:
    """Rows where two columns recording the same fact disagree (a count and its group, ECOG
    and its group, a Child-Pugh score and class, no vascular invasion and a tumour thrombus):
    which one is right is for the user to say, not for haicpred to guess."""
    problems = []
    for a, b, agree in _SAME_FACT:
        if a not in df.columns or b not in df.columns:
            continue
        both = df[a].notna() & df[b].notna()
        bad = [i for i in df.index[both] if not _agree(agree, df.at[i, a], df.at[i, b])]
        if bad:
            first = bad[0]
            problems.append(Problem(
                file, f"{row_numbers(df.index.isin(bad))}, columns {a} and {b}",
                f"disagree (row {df.index.get_loc(first) + 1}: {a} {df.at[first, a]}, {b} "
                f"{df.at[first, b]})", "correct one of them, or leave the less exact one empty"))
    return problems


def _agree(agree, a: str, b: str) -> bool:
    """A value the schema refuses (reported there) is not also reported as a disagreement."""
    try:
        return agree(a, b)
    except (ValueError, KeyError, StopIteration):
        return True


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
    group = _text(get("tumor_number_group"), c.index)
    group_gt3 = group.map({g: float(low > TUMOR_NUMBER_CUTOFF)
                           for g, (low, _) in TUMOR_NUMBER_GROUPS.items()})
    single = _number(get("multinodular"), c.index).map({0.0: 0.0})  # one tumour: not > 3
    out["tumor_number_gt3"] = (out["tumor_number"] > TUMOR_NUMBER_CUTOFF).astype(float).where(
        out["tumor_number"].notna()).fillna(group_gt3).fillna(single)
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
    # optional columns of real cohorts
    invasion = _text(get("vascular_invasion"), c.index)
    for flag in ["macrovascular_invasion", "microvascular_invasion", "pvtt"]:
        out[flag] = _number(get(flag), c.index)
    invaded = (invasion.isin(VASCULAR_INVASION_PRESENT) | (out["macrovascular_invasion"] == 1)
               | (out["pvtt"] == 1))
    not_invaded = (invasion == "none") | (out["macrovascular_invasion"] == 0)
    out["vascular_invasion_any"] = _either(invaded, not_invaded)
    more_than_one = ((out["tumor_number"] > 1) | group.isin(["2-3", ">3"])
                     | (_number(get("multinodular"), c.index) == 1))
    exactly_one = ((out["tumor_number"] == 1) | (group == "1")
                   | (_number(get("multinodular"), c.index) == 0))
    out["multinodular"] = _either(more_than_one, exactly_one)
    out["ecog_group"] = out["ecog"].map(_ecog_group, na_action="ignore").astype(float).fillna(
        _ordinal(get("ecog_group"), ECOG_GROUPS, c.index))
    out["ajcc_stage"] = _ordinal(get("ajcc_stage"), AJCC_MAIN_STAGE, c.index)
    return out[list(CLINICAL_FEATURES)].sort_index().reset_index()


def recorded_child_pugh(clinical: pd.DataFrame) -> pd.DataFrame:
    """The Child-Pugh score and class as the clinical table records them (not features: the
    derived child_pugh_points / child_pugh_class fall back on them where a component is
    missing, haicpred.clinical.indices), indexed by sample_id."""
    c = clinical.set_index("sample_id")
    return pd.DataFrame({
        "child_pugh_score_recorded": _number(c.get("child_pugh_score"), c.index),
        "child_pugh_class_recorded": _ordinal(c.get("child_pugh_class"), CHILD_PUGH_CLASSES,
                                              c.index),
    }, index=c.index)


def _text(series: pd.Series | None, index) -> pd.Series:
    return pd.Series(np.nan, index=index, dtype=object) if series is None else series


def _either(yes: pd.Series, no: pd.Series) -> pd.Series:
    """1 where `yes`, else 0 where `no`, else missing."""
    return pd.Series(np.where(yes, 1.0, np.where(no, 0.0, np.nan)), index=yes.index)


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
