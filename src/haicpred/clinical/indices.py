"""Published indices and scores, each exact to its formula (../shared/background.md).

Inputs are baseline values in canonical units (bilirubin umol/L, albumin g/L, counts 10^9/L,
CRP mg/L, AFP ng/mL) and the encoded clinical covariates. Where an input is missing the result is
missing, never a default. Every cut-off is a named constant in `CUTOFFS`, with its source, and
can be overridden from the config (`biomarkers_settings.cutoffs`).

SIS uses the cut-offs of the study that defined it (Chang 2015: albumin < 40 g/L, LMR < 4.44);
background.md names its inputs but not its cut-offs, and HCC studies re-derive them, so check
them against the study you follow. Not implemented, on purpose: CCPS (cut-offs not public), and
the HAIC-manual, ARH and ACTH scores (point values not public). None of them is invented.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

# name -> (value, source)
CUTOFFS: dict[str, tuple[float, str]] = {
    "afp_ng_ml": (400.0, "AFP >= 400 ng/mL adverse (background.md; some studies use 1000)"),
    "albi_grade_1_max": (-2.60, "ALBI grade 1 <= -2.60 (Johnson 2015)"),
    "albi_grade_2_max": (-1.39, "ALBI grade 2 <= -1.39 (Johnson 2015)"),
    "palbi_grade_1_max": (-2.53, "PALBI grade 1 <= -2.53 (background.md)"),
    "palbi_grade_2_max": (-2.09, "PALBI grade 2 <= -2.09 (background.md)"),
    "gps_crp_mg_l": (10.0, "GPS: CRP > 10 mg/L (Glasgow Prognostic Score)"),
    "gps_albumin_g_l": (35.0, "GPS: albumin < 35 g/L (Glasgow Prognostic Score)"),
    "sis_albumin_g_l": (40.0, "SIS: albumin < 40 g/L (Chang 2015, Br J Cancer 113:626; "
                        "not in background.md)"),
    "sis_lmr": (4.44, "SIS: lymphocyte-to-monocyte ratio < 4.44 (Chang 2015, Br J Cancer "
                "113:626; not in background.md)"),
    "crafity_afp_ng_ml": (100.0, "CRAFITY: AFP >= 100 ng/mL"),
    "crafity_crp_mg_l": (10.0, "CRAFITY: CRP >= 1 mg/dL = 10 mg/L"),
    "child_pugh_bilirubin_umol_l": (34.2, "Child-Pugh: bilirubin < 34.2 / 34.2-51.3 / > 51.3"),
    "child_pugh_bilirubin_high_umol_l": (51.3, "Child-Pugh bilirubin 3 points above 51.3"),
    "child_pugh_albumin_g_l": (35.0, "Child-Pugh: albumin > 35 / 28-35 / < 28 g/L"),
    "child_pugh_albumin_low_g_l": (28.0, "Child-Pugh albumin 3 points below 28 g/L"),
    "child_pugh_inr": (1.7, "Child-Pugh: INR < 1.7 / 1.7-2.3 / > 2.3"),
    "child_pugh_inr_high": (2.3, "Child-Pugh INR 3 points above 2.3"),
    # On-treatment (post/baseline) cut-offs: used only by the opt-in on-treatment model variant
    "afp_response_decrease": (0.18, "AFP response: decrease > 18% after treatment predicts "
                              "longer OS (background.md)"),
    "afp_ratio": (0.79, "AFP ratio post/pre <= 0.79 favourable (background.md)"),
    "dcp_ratio": (0.53, "DCP ratio post/pre <= 0.53 favourable (background.md)"),
}


@dataclass(frozen=True)
class Index:
    name: str
    unit: str
    formula: str
    reference: str
    compute: Callable[[pd.DataFrame, dict[str, float]], pd.Series]

    @property
    def description(self) -> str:
        return f"{self.formula} [{self.reference}]"


def _known(*columns: pd.Series) -> pd.Series:
    """True where every input is present."""
    known = columns[0].notna()
    for column in columns[1:]:
        known &= column.notna()
    return known


def _flag(condition: pd.Series, *inputs: pd.Series) -> pd.Series:
    """0/1 as float, missing where an input is missing (a comparison with NaN would say 0)."""
    return condition.astype(float).where(_known(*inputs))


def _ratio(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = numerator / denominator.where(denominator > 0)
    return ratio.where(np.isfinite(ratio))


def _log10(values: pd.Series) -> pd.Series:
    return np.log10(values.where(values > 0))


def _grade(score: pd.Series, grade_1_max: float, grade_2_max: float) -> pd.Series:
    grade = np.where(score <= grade_1_max, 1.0, np.where(score <= grade_2_max, 2.0, 3.0))
    return pd.Series(grade, index=score.index).where(score.notna())


def albi_score(w: pd.DataFrame, c: dict) -> pd.Series:
    return 0.66 * _log10(w["bilirubin"]) - 0.085 * w["albumin"]


def palbi_score(w: pd.DataFrame, c: dict) -> pd.Series:
    log_bili, log_plt = _log10(w["bilirubin"]), _log10(w["platelets"])
    return (2.02 * log_bili - 0.37 * log_bili**2 - 0.04 * w["albumin"]
            - 3.48 * log_plt + 1.01 * log_plt**2)


def _points(values: pd.Series, low: float, high: float, higher_is_worse: bool) -> pd.Series:
    """Child-Pugh points 1/2/3 with inclusive middle band [low, high]."""
    if higher_is_worse:
        points = np.where(values < low, 1.0, np.where(values <= high, 2.0, 3.0))
    else:
        points = np.where(values > high, 1.0, np.where(values >= low, 2.0, 3.0))
    return pd.Series(points, index=values.index).where(values.notna())


# The clinical table's recorded Child-Pugh score and class
# (haicpred.clinical.clinical_table.recorded_child_pugh)
RECORDED_CHILD_PUGH_SCORE = "child_pugh_score_recorded"
RECORDED_CHILD_PUGH_CLASS = "child_pugh_class_recorded"


def child_pugh_points(w: pd.DataFrame, c: dict) -> pd.Series:
    """Bilirubin, albumin, INR, ascites and encephalopathy, 1-3 points each (5-15); where a
    component is missing, the recorded score (if `w` has one)."""
    points = (_points(w["bilirubin"], c["child_pugh_bilirubin_umol_l"],
                      c["child_pugh_bilirubin_high_umol_l"], True)
              + _points(w["albumin"], c["child_pugh_albumin_low_g_l"],
                        c["child_pugh_albumin_g_l"], False)
              + _points(w["inr"], c["child_pugh_inr"], c["child_pugh_inr_high"], True)
              + (w["ascites"] + 1) + (w["encephalopathy"] + 1))
    if RECORDED_CHILD_PUGH_SCORE in w:
        points = points.fillna(w[RECORDED_CHILD_PUGH_SCORE])
    return points


def child_pugh_class(w: pd.DataFrame, c: dict) -> pd.Series:
    """Class 1-3 of child_pugh_points; where those are missing, the recorded class."""
    points = w["child_pugh_points"]
    cls = np.where(points <= 6, 1.0, np.where(points <= 9, 2.0, 3.0))
    cls = pd.Series(cls, index=points.index).where(points.notna())
    if RECORDED_CHILD_PUGH_CLASS in w:
        cls = cls.fillna(w[RECORDED_CHILD_PUGH_CLASS])
    return cls


def gps(w: pd.DataFrame, c: dict) -> pd.Series:
    return (_flag(w["crp"] > c["gps_crp_mg_l"], w["crp"])
            + _flag(w["albumin"] < c["gps_albumin_g_l"], w["albumin"]))


def sis(w: pd.DataFrame, c: dict) -> pd.Series:
    lmr = _ratio(w["lymphocytes"], w["monocytes"])
    return (_flag(w["albumin"] < c["sis_albumin_g_l"], w["albumin"])
            + _flag(lmr < c["sis_lmr"], lmr))


def crafity(w: pd.DataFrame, c: dict) -> pd.Series:
    return (_flag(w["afp"] >= c["crafity_afp_ng_ml"], w["afp"])
            + _flag(w["crp"] >= c["crafity_crp_mg_l"], w["crp"]))


LAB_INDICES = [
    Index("log10_afp", "log10 ng/mL", "log10(AFP ng/mL)", "background.md",
          lambda w, c: _log10(w["afp"])),
    Index("afp_ge_400", "0/1", "AFP >= afp_ng_ml cut-off (default 400 ng/mL)",
          "background.md", lambda w, c: _flag(w["afp"] >= c["afp_ng_ml"], w["afp"])),
    Index("albi_score", "score", "0.66*log10(bilirubin umol/L) - 0.085*albumin g/L",
          "Johnson 2015", albi_score),
    Index("albi_grade", "1-3", "ALBI grade: 1 <= -2.60 < 2 <= -1.39 < 3", "Johnson 2015",
          lambda w, c: _grade(w["albi_score"], c["albi_grade_1_max"], c["albi_grade_2_max"])),
    Index("palbi_score", "score", "2.02*log10(bili) - 0.37*log10(bili)^2 - 0.04*albumin g/L "
          "- 3.48*log10(platelets 10^9/L) + 1.01*log10(platelets)^2", "background.md",
          palbi_score),
    Index("palbi_grade", "1-3", "PALBI grade: 1 <= -2.53 < 2 <= -2.09 < 3", "background.md",
          lambda w, c: _grade(w["palbi_score"], c["palbi_grade_1_max"],
                              c["palbi_grade_2_max"])),
    Index("nlr", "ratio", "neutrophils / lymphocytes", "background.md",
          lambda w, c: _ratio(w["neutrophils"], w["lymphocytes"])),
    Index("plr", "ratio", "platelets / lymphocytes", "background.md",
          lambda w, c: _ratio(w["platelets"], w["lymphocytes"])),
    Index("mlr", "ratio", "monocytes / lymphocytes", "background.md",
          lambda w, c: _ratio(w["monocytes"], w["lymphocytes"])),
    Index("sii", "10^9/L", "platelets * neutrophils / lymphocytes", "background.md",
          lambda w, c: _ratio(w["platelets"] * w["neutrophils"], w["lymphocytes"])),
    Index("siri", "10^9/L", "neutrophils * monocytes / lymphocytes", "background.md",
          lambda w, c: _ratio(w["neutrophils"] * w["monocytes"], w["lymphocytes"])),
    Index("pni", "score", "albumin g/L + 5 * lymphocytes 10^9/L", "background.md",
          lambda w, c: w["albumin"] + 5 * w["lymphocytes"]),
    Index("gps", "0-2", "(CRP > 10 mg/L) + (albumin < 35 g/L)", "Glasgow Prognostic Score",
          gps),
    Index("sis", "0-2", "(albumin < 40 g/L) + (lymphocytes/monocytes < 4.44)",
          "Systemic Inflammation Score, Chang 2015", sis),
    Index("crafity", "0-2", "(AFP >= 100 ng/mL) + (CRP >= 1 mg/dL)", "CRAFITY score", crafity),
    Index("vwf_adamts13_ratio", "ratio", "VWF antigen % / ADAMTS13 activity % "
          "(adverse above 2.70)", "background.md",
          lambda w, c: _ratio(w["vwf"], w["adamts13"])),
]

# Need the clinical table as well as the labs: computed when the feature matrix is built.
CLINICAL_LAB_INDICES = [
    Index("child_pugh_points", "5-15", "bilirubin (<34.2/34.2-51.3/>51.3 umol/L) + albumin "
          "(>35/28-35/<28 g/L) + INR (<1.7/1.7-2.3/>2.3) + ascites (none/mild/severe) + "
          "encephalopathy (none/grade 1-2/grade 3-4), 1-3 points each; derived from the "
          "components when all five are present, else the clinical table's recorded "
          "child_pugh_score", "Child-Pugh", child_pugh_points),
    Index("child_pugh_class", "1-3", "Child-Pugh class A (5-6) = 1, B (7-9) = 2, "
          "C (10-15) = 3 of child_pugh_points; where those are missing, the clinical table's "
          "recorded child_pugh_class", "Child-Pugh", child_pugh_class),
]


def cutoffs(overrides: dict[str, float] | None = None) -> dict[str, float]:
    values = {name: value for name, (value, _) in CUTOFFS.items()}
    unknown = set(overrides or {}) - set(values)
    if unknown:
        raise ValueError(f"unknown cut-off(s) {', '.join(sorted(unknown))}; "
                         f"known: {', '.join(values)}")
    values.update(overrides or {})
    return values


def compute_indices(wide: pd.DataFrame, indices: list[Index],
                    overrides: dict[str, float] | None = None) -> pd.DataFrame:
    """`wide` with each index appended as a float column, in list order (later indices may use
    earlier ones, e.g. a grade its score)."""
    values = cutoffs(overrides)
    out = wide.copy()
    for index in indices:
        out[index.name] = index.compute(out, values).astype(float)
    return out


def index_dictionary(indices: list[Index]) -> pd.DataFrame:
    return pd.DataFrame([(i.name, "derived", i.unit, i.description) for i in indices],
                        columns=["feature", "modality", "unit", "description"])
