"""The two real, public HCC cohorts of ../shared/realdata/cohorts (see its README), converted
into haicpred's input contract in a temporary folder, as a user would convert their own export.
Never copied into the repository; tests skip cleanly when the folder is absent.

Each converter writes samples.tsv, clinical.tsv, biomarkers.tsv (and extra-modality tables) and
a config file for `snakemake --configfile`. Only what the source documents is mapped; every
cleaning decision a user would have to make is made here, in the open, with its reason.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from realdata import realdata_dir

_BASE = realdata_dir().parent if realdata_dir().name == "vcf" else realdata_dir()
COHORTS = Path(os.environ.get("HAICPRED_COHORTS", _BASE / "cohorts"))
SYSUCC_CSV = COHORTS / "sysucc_intermediate_hcc_visits.csv"
UCI_CSV = COHORTS / "uci_hcc_survival.csv"
HAVE_COHORTS = SYSUCC_CSV.is_file() and UCI_CSV.is_file()
needs_cohorts = pytest.mark.skipif(
    not HAVE_COHORTS, reason=f"real cohorts not found at {COHORTS} (set HAICPRED_COHORTS)")

DAYS_PER_MONTH = 365.25 / 12


def _write(frame: pd.DataFrame, path: Path) -> None:
    frame.to_csv(path, sep="\t", index=False, na_rep="", float_format="%.10g")


def _flag(series: pd.Series) -> pd.Series:
    """0/1 as integers, missing as empty."""
    return series.astype("Int64")


def sysucc_baseline() -> pd.DataFrame:
    """One row per patient: the first visit (the README's baseline)."""
    visits = pd.read_csv(SYSUCC_CSV)
    visits = visits.sort_values(["ID", "Date"], kind="mergesort")
    baseline = visits.groupby("ID", sort=True).first().reset_index()
    baseline["sample_id"] = "SYSUCC" + baseline["ID"].astype("int64").astype(str)
    return baseline


def write_sysucc(folder: Path, model: dict | None = None, horizon_months: int = 24) -> Path:
    """SYSUCC intermediate-stage HCC at its baseline visit; endpoint: death within 24 months.
    Returns the config file's path."""
    folder.mkdir(parents=True, exist_ok=True)
    b = sysucc_baseline()
    _write(pd.DataFrame({"sample_id": b["sample_id"], "batch": "SYSUCC"}),
           folder / "samples.tsv")

    clinical = pd.DataFrame({"sample_id": b["sample_id"]})
    # Ages of 0 are a known defect of the export (README), not newborns: recorded as missing.
    clinical["age"] = b["Age"].where(b["Age"] > 0)
    # Amount.of.Hepatic.Lesions is coded 0-4; the source documents no code meanings. Read as an
    # ordinal count with 4 the top, open category (1,384 of 2,360 intermediate-stage patients,
    # who are multinodular by definition): 1-3 as counts, 4 as "> 3", 0 (one patient) missing.
    code = b["Amount.of.Hepatic.Lesions"]
    clinical["tumor_number"] = code.where(code.between(1, 3)).astype("Int64")
    clinical["tumor_number_group"] = np.where(code == 4, ">3", "")
    # mm in the source; 0 mm (no measurable lesion) is not a tumour size
    size_cm = b["Largest.Diameter.of.Hepatic.Lesions"] / 10
    clinical["tumor_size_cm"] = size_cm.where(size_cm > 0)
    # vascular invasion recorded as yes/no: present with unknown grade
    clinical["vascular_invasion"] = b["Vascular.Invasion"].map({0: "none", 1: "present"})
    # distant metastasis or regional lymph-node metastasis: extrahepatic spread
    clinical["extrahepatic_metastasis"] = _flag(
        (b["Distant.Metastasis"] == 1) | (b["Local.Lymph.Node.Metastasis"] == 1))
    clinical["child_pugh_score"] = b["Child_pugh_score"].astype("Int64")
    clinical["os_months"] = (b["OStime_day"] / DAYS_PER_MONTH).round(4)
    clinical["os_event"] = _flag(b["Status_of_death"])
    _write(clinical, folder / "clinical.tsv")

    # AFP of 0 is below any assay's detection limit: kept as reported (the QC table flags it)
    _write(pd.DataFrame({"sample_id": b["sample_id"], "analyte": "afp", "value": b["AFP"],
                         "unit": "ng/mL", "timepoint": "baseline"}), folder / "biomarkers.tsv")

    # the treatment given from the baseline visit: a treatment-plan modality, known before
    # the outcome (not a post-treatment measurement)
    treatment = pd.DataFrame({"sample_id": b["sample_id"],
                              "targeted_therapy": b["TargetedTherapy"],
                              "tace": b["Embolization"], "resection": b["Resection"]})
    _write(treatment, folder / "treatment.tsv")

    config = {
        "samples": str(folder / "samples.tsv"), "clinical": str(folder / "clinical.tsv"),
        "biomarkers": str(folder / "biomarkers.tsv"), "radiomics": "",
        "extra_modalities": {"treatment": str(folder / "treatment.tsv")},
        "cohort_name": "SYSUCC intermediate-stage HCC",
        "treatment": "as recorded (TACE, resection, targeted therapy)",
        "endpoint": {"kind": "survival_horizon", "time_column": "os_months",
                     "event_column": "os_event", "horizon_months": horizon_months},
    }
    if model is not None:
        config["model"] = model
    path = folder / "sysucc.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


SURVIVAL_ENDPOINT = {"kind": "survival", "time_column": "os_months", "event_column": "os_event",
                     "horizons_months": [12, 24, 36]}
# a death recorded on the baseline visit's day: half a day at risk, the usual convention (a
# time of 0 has no place in a survival model, and dropping the patient would drop a death)
SAME_DAY_DEATH_DAYS = 0.5


def write_sysucc_survival(folder: Path, model: dict | None = None) -> Path:
    """SYSUCC as :func:`write_sysucc`, with overall survival as a time-to-event endpoint
    (``kind: survival``, horizons 12, 24, 36 months). The export's 0-day follow-ups (README:
    a known defect; 8 patients) are decided here, as a user must: the 6 censored on the day of
    their baseline visit were never followed, so their follow-up is blanked (excluded and
    counted as "no follow-up"); the 2 who died that day keep their death at half a day.
    Returns the config file's path."""
    config_path = write_sysucc(folder, model)
    baseline = sysucc_baseline()
    days = baseline["OStime_day"].astype(float)
    died = baseline["Status_of_death"] == 1
    same_day = days <= 0
    days = days.where(~(same_day & died), SAME_DAY_DEATH_DAYS)
    clinical = pd.read_csv(folder / "clinical.tsv", sep="\t", dtype={"sample_id": str})
    assert clinical["sample_id"].tolist() == baseline["sample_id"].tolist()
    never_followed = (same_day & ~died).to_numpy()
    clinical["os_months"] = (days / DAYS_PER_MONTH).round(4).where(~never_followed)
    clinical["os_event"] = _flag(baseline["Status_of_death"].where(~never_followed))
    _write(clinical, folder / "clinical.tsv")
    config = yaml.safe_load(config_path.read_text())
    config["endpoint"] = dict(SURVIVAL_ENDPOINT)
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    return config_path


def uci_table() -> pd.DataFrame:
    """The UCI CSV with its header quirks undone (tabs and doubled spaces inside names)."""
    table = pd.read_csv(UCI_CSV, na_values="?")
    table.columns = [" ".join(str(c).split()) for c in table.columns]
    table.insert(0, "sample_id", [f"UCI{i:03d}" for i in range(1, len(table) + 1)])
    return table


# UCI column -> (analyte, unit as the values are): the header's units, except albumin, whose
# header says mg/dL for values of 2-5 that are g/dL (README)
UCI_LABS = {
    "International Normalised Ratio": ("inr", ""),
    "Alpha-Fetoprotein (ng/mL)": ("afp", "ng/mL"),
    "Albumin (mg/dL)": ("albumin", "g/dL"),
    "Total Bilirubin(mg/dL)": ("bilirubin", "mg/dL"),
    "Alanine transaminase (U/L)": ("alt", "U/L"),
    "Aspartate transaminase (U/L)": ("ast", "U/L"),
    "Gamma glutamyl transferase (U/L)": ("ggt", "U/L"),
    "Haemoglobin (g/dL)": ("haemoglobin", "g/dL"),
    "Mean Corpuscular Volume (fl)": ("mcv", "fL"),
    "Alkaline phosphatase (U/L)": ("alp", "U/L"),
    "Total Proteins (g/dL)": ("total_protein", "g/dL"),
    "Creatinine (mg/dL)": ("creatinine", "mg/dL"),
    "Direct Bilirubin (mg/dL)": ("direct_bilirubin", "mg/dL"),
    "Iron (mcg/dL)": ("iron", "ug/dL"),
    "Oxygen Saturation (%)": ("oxygen_saturation", "%"),
    "Ferritin (ng/mL)": ("ferritin", "ng/mL"),
}
# Counts labelled G/L but mostly written per microlitre (platelets: median 93,000): a value
# above 2,000 cannot be 10^9/L, so such values are declared /uL and converted by haicpred.
UCI_COUNTS = {"Platelets (G/L)": "platelets", "Leukocytes(G/L)": "leukocytes"}
COUNT_PER_UL_ABOVE = 2000


def write_uci(folder: Path, model: dict | None = None) -> Path:
    """UCI HCC survival (Coimbra): endpoint one-year survival via binary_column."""
    folder.mkdir(parents=True, exist_ok=True)
    t = uci_table()
    _write(pd.DataFrame({"sample_id": t["sample_id"], "batch": "Coimbra"}),
           folder / "samples.tsv")
    degree = {1: "none", 2: "mild", 3: "severe"}
    clinical = pd.DataFrame({
        "sample_id": t["sample_id"],
        "age": t["Age at diagnosis"],
        "sex": t["Gender"].map({1: "M", 0: "F"}),
        "ecog": _flag(t["Performance Status"]),
        "hbv": _flag(t["Hepatitis B Surface Antigen"]),
        "hcv": _flag(t["Hepatitis C Virus Antibody"]),
        "cirrhosis": _flag(t["Cirrhosis"]),
        "tumor_size_cm": t["Major dimension of nodule (cm)"],
        # 0 nodules (one patient) is not a tumour count; 5 is the source's top value
        "tumor_number": t["Number of Nodules"].where(t["Number of Nodules"] > 0).astype("Int64"),
        "pvtt": _flag(t["Portal Vein Thrombosis"]),
        "ascites": t["Ascites degree"].map(degree),
        "encephalopathy": t["Encefalopathy degree"].map(
            {1: "none", 2: "grade1-2", 3: "grade3-4"}),
        "outcome_survives_1y": _flag(t["1_survives_0_dies"]),
    })
    _write(clinical, folder / "clinical.tsv")

    rows = []
    for column, (analyte, unit) in UCI_LABS.items():
        values = t[["sample_id", column]].dropna()
        rows.append(pd.DataFrame({"sample_id": values["sample_id"], "analyte": analyte,
                                  "value": values[column], "unit": unit}))
    for column, analyte in UCI_COUNTS.items():
        values = t[["sample_id", column]].dropna()
        unit = np.where(values[column] > COUNT_PER_UL_ABOVE, "/uL", "G/L")
        rows.append(pd.DataFrame({"sample_id": values["sample_id"], "analyte": analyte,
                                  "value": values[column], "unit": unit}))
    labs = pd.concat(rows, ignore_index=True)
    labs["timepoint"] = "baseline"
    _write(labs.sort_values(["sample_id", "analyte"], kind="mergesort"),
           folder / "biomarkers.tsv")

    config = {
        "samples": str(folder / "samples.tsv"), "clinical": str(folder / "clinical.tsv"),
        "biomarkers": str(folder / "biomarkers.tsv"), "radiomics": "",
        "cohort_name": "UCI HCC survival (Coimbra)", "treatment": "mixed",
        "endpoint": {"kind": "binary_column", "column": "outcome_survives_1y",
                     "favourable": True},
    }
    if model is not None:
        config["model"] = model
    path = folder / "uci.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


# By-hand reference values, from the source CSVs in their own units (textbook bands in mg/dL
# and g/dL), independent of haicpred's unit handling.

def uci_albi_by_hand(row: pd.Series) -> float:
    bilirubin_umol_l = row["Total Bilirubin(mg/dL)"] * 17.1
    albumin_g_l = row["Albumin (mg/dL)"] * 10
    return 0.66 * np.log10(bilirubin_umol_l) - 0.085 * albumin_g_l


def uci_child_pugh_by_hand(row: pd.Series) -> int:
    bilirubin, albumin, inr = (row["Total Bilirubin(mg/dL)"], row["Albumin (mg/dL)"],
                               row["International Normalised Ratio"])
    points = 1 if bilirubin < 2 else 2 if bilirubin <= 3 else 3
    points += 1 if albumin > 3.5 else 2 if albumin >= 2.8 else 3
    points += 1 if inr < 1.7 else 2 if inr <= 2.3 else 3
    points += int(row["Ascites degree"]) + int(row["Encefalopathy degree"])  # 1-3 each
    return points


def child_pugh_class(points: float) -> int:
    return 1 if points <= 6 else 2 if points <= 9 else 3
