"""Blood biomarkers: canonical units, QC of suspicious values, baseline features, and the
post-treatment AFP/DCP changes used only by the opt-in on-treatment model.

Conversion factors turn a value in an accepted unit into the analyte's canonical unit
(canonical = factor * reported). Sources: standard SI conversions (bilirubin 17.1 umol/L per
mg/dL; cholesterol 38.67 mg/dL per mmol/L); AFP IU/mL -> ng/mL is assay-dependent and
configurable (default 1.21, background.md).

Analytes haicpred does not know (creatinine, haemoglobin, ferritin, ...) are kept as baseline
features of the biomarker modality, in the one unit the table reports them in (haicpred cannot
convert what it does not know), unless `biomarkers_settings.unknown_analytes` is `refuse`.
Units are matched ignoring case and surrounding spaces (`g/dl` is `g/dL`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from haicpred.clinical import indices
from haicpred.clinical.clinical_table import CLINICAL_FEATURES, OUTCOME_COLUMNS
from haicpred.clinical.indices import (CLINICAL_LAB_INDICES, LAB_INDICES, compute_indices,
                                       index_dictionary)
from haicpred.io.errors import InputError, Problem, raise_if_any
from haicpred.io.validation import (duplicate_problems, read_and_validate, row_numbers,
                                    rows_passing_schema)

BIOMARKER_COLUMNS = ["sample_id", "analyte", "value", "unit", "timepoint"]
AFP_IU_TO_NG_DEFAULT = 1.21

# G/L (giga per litre) is the SI spelling of 10^9/L that many European labs print
_COUNT_UNITS = {"10^9/L": 1.0, "G/L": 1.0, "10^3/uL": 1.0, "/uL": 1e-3}


@dataclass(frozen=True)
class Analyte:
    canonical_unit: str
    units: dict[str, float]  # accepted unit -> factor to the canonical unit
    description: str
    upper_limit: float  # above this (in canonical units) the value is physiologically impossible
    dimensionless: bool = False  # an empty unit is accepted (as the canonical unit)

    def factors(self) -> dict[str, float]:
        """Factor by `unit_keys` spelling of each accepted unit ('' if dimensionless)."""
        factors = {unit.strip().casefold(): factor for unit, factor in self.units.items()}
        return {**factors, "": 1.0} if self.dimensionless else factors


def unit_keys(units: pd.Series) -> pd.Series:
    """How units are compared: `g/dl` = `g/dL` = ` g/dL `; an empty cell is ''."""
    filled = units.fillna("")
    # a few distinct units over up to hundreds of thousands of rows: each spelled out once
    return filled.map({unit: str(unit).strip().casefold() for unit in filled.unique()})


# Typical clinical ranges in canonical units: a value outside is possible but suspicious (a unit
# slip, a typo) and is listed in the QC table, never changed or dropped.
TYPICAL_RANGES: dict[str, tuple[float, float]] = {
    "afp": (0.5, 500_000), "afp_l3": (0, 90), "dcp": (0, 300_000), "albumin": (15, 55),
    "bilirubin": (2, 500), "ast": (3, 3000), "alt": (3, 3000), "ggt": (3, 3000),
    "inr": (0.7, 6), "platelets": (10, 1000), "neutrophils": (0.3, 30),
    "lymphocytes": (0.1, 10), "monocytes": (0.02, 5), "leukocytes": (1, 50), "crp": (0, 300),
    "cholesterol": (1.5, 15), "vegf": (5, 5000), "transferrin": (50, 500), "vwf": (20, 800),
    "adamts13": (5, 200),
}
# How repeated (sample, analyte, timepoint) measurements are handled
# (biomarkers_settings.duplicates)
DUPLICATE_RULES = ("refuse", "mean", "median", "first")
QC_COLUMNS = ["sample_id", "analyte", "timepoint", "value", "unit", "reported", "flag", "detail"]
# What to do with an analyte haicpred does not know (biomarkers_settings.unknown_analytes)
UNKNOWN_ANALYTE_RULES = ("keep", "refuse")
# Other names of known analytes: kept as an unknown analyte, a `tbil` column would never reach
# ALBI or Child-Pugh, so it is refused with the name to use instead.
ANALYTE_ALIASES = {
    "alpha_fetoprotein": "afp", "pivka": "dcp", "pivka_ii": "dcp", "pivka2": "dcp",
    "alb": "albumin", "bil": "bilirubin", "bili": "bilirubin", "tbil": "bilirubin",
    "tbili": "bilirubin", "total_bilirubin": "bilirubin", "sgot": "ast", "sgpt": "alt",
    "gamma_gt": "ggt", "pt_inr": "inr", "plt": "platelets", "platelet": "platelets",
    "platelet_count": "platelets", "neutrophil": "neutrophils", "anc": "neutrophils",
    "lymphocyte": "lymphocytes", "monocyte": "monocytes", "wbc": "leukocytes",
    "white_blood_cells": "leukocytes", "leukocyte": "leukocytes",
    "c_reactive_protein": "crp", "total_cholesterol": "cholesterol", "vwf_ag": "vwf",
    "adamts_13": "adamts13",
}


def analyte_table(afp_iu_to_ng: float = AFP_IU_TO_NG_DEFAULT) -> dict[str, Analyte]:
    return {
        "afp": Analyte("ng/mL", {"ng/mL": 1.0, "ug/L": 1.0, "IU/mL": afp_iu_to_ng},
                       "alpha-fetoprotein", 1e7),
        "afp_l3": Analyte("%", {"%": 1.0}, "AFP-L3 fraction of total AFP", 100.0),
        "dcp": Analyte("mAU/mL", {"mAU/mL": 1.0}, "des-gamma-carboxy prothrombin (PIVKA-II)",
                       1e7),
        "albumin": Analyte("g/L", {"g/L": 1.0, "g/dL": 10.0}, "serum albumin", 80.0),
        "bilirubin": Analyte("umol/L", {"umol/L": 1.0, "mg/dL": 17.1}, "total bilirubin", 1500.0),
        "ast": Analyte("U/L", {"U/L": 1.0, "IU/L": 1.0}, "aspartate aminotransferase", 1e5),
        "alt": Analyte("U/L", {"U/L": 1.0, "IU/L": 1.0}, "alanine aminotransferase", 1e5),
        "ggt": Analyte("U/L", {"U/L": 1.0, "IU/L": 1.0}, "gamma-glutamyl transferase", 1e5),
        "inr": Analyte("ratio", {"ratio": 1.0, "INR": 1.0}, "international normalised ratio",
                       20.0, dimensionless=True),
        "platelets": Analyte("10^9/L", _COUNT_UNITS, "platelet count", 5000.0),
        "neutrophils": Analyte("10^9/L", _COUNT_UNITS, "neutrophil count", 500.0),
        "lymphocytes": Analyte("10^9/L", _COUNT_UNITS, "lymphocyte count", 500.0),
        "monocytes": Analyte("10^9/L", _COUNT_UNITS, "monocyte count", 500.0),
        "leukocytes": Analyte("10^9/L", _COUNT_UNITS, "white blood cell (leukocyte) count",
                              1000.0),
        "crp": Analyte("mg/L", {"mg/L": 1.0, "mg/dL": 10.0}, "C-reactive protein", 1000.0),
        "cholesterol": Analyte("mmol/L", {"mmol/L": 1.0, "mg/dL": 1 / 38.67},
                               "total cholesterol", 100.0),
        "vegf": Analyte("pg/mL", {"pg/mL": 1.0}, "vascular endothelial growth factor", 1e6),
        "transferrin": Analyte("mg/dL", {"mg/dL": 1.0, "g/L": 100.0}, "serum transferrin",
                               2000.0),
        "vwf": Analyte("%", {"%": 1.0, "IU/dL": 1.0}, "von Willebrand factor antigen", 2000.0),
        "adamts13": Analyte("%", {"%": 1.0, "IU/dL": 1.0}, "ADAMTS13 activity", 500.0),
    }


def normalise_units(table: pd.DataFrame, file: str,
                    afp_iu_to_ng: float = AFP_IU_TO_NG_DEFAULT,
                    duplicates: str = "refuse", unknown_analytes: str = "keep") -> pd.DataFrame:
    """Long table with `value` converted to canonical units; every bad row reported at once.

    `reported` keeps what the file said ("1.2 mg/dL"); repeated measurements of a sample,
    analyte and timepoint are refused, or resolved by `duplicates` (mean, median, or the first
    row in file order), keeping every reported value and their count in `n_measurements`.
    An analyte haicpred does not know keeps its value and its one unit (`unknown_analytes`
    keep), or is refused (`refuse`).
    """
    if duplicates not in DUPLICATE_RULES:
        raise ValueError(f"duplicates must be one of {', '.join(DUPLICATE_RULES)}")
    if unknown_analytes not in UNKNOWN_ANALYTE_RULES:
        raise ValueError(f"unknown_analytes must be one of {', '.join(UNKNOWN_ANALYTE_RULES)}")
    analytes = analyte_table(afp_iu_to_ng)
    problems: list[Problem] = []
    table = table.reset_index(drop=True)

    unknown = ~table["analyte"].isin(list(analytes))
    if unknown_analytes == "refuse":
        for analyte in table.loc[unknown, "analyte"].dropna().unique():
            where = row_numbers(table["analyte"] == analyte)
            problems.append(Problem(file, where, f"unknown analyte {analyte!r}",
                                    f"use one of: {', '.join(analytes)}; or set "
                                    "biomarkers_settings.unknown_analytes to keep to keep it "
                                    "as a feature in its own unit"))
        kept = table.iloc[0:0].assign(reported=pd.Series(dtype=object))
    else:
        kept, found = _unknown_analytes(table, unknown, file)
        problems += found

    known = table[~unknown].copy()
    keys = unit_keys(known["unit"])
    factor = pd.Series(np.nan, index=known.index)
    for name, analyte in analytes.items():
        mine = known["analyte"] == name
        factor[mine] = keys[mine].map(analyte.factors())
        refused = mine & factor.isna()
        for key in keys[refused].unique():
            rows = known.index[refused & (keys == key)]
            where = row_numbers(table.index.isin(rows))
            accepted = f"accepted units: {', '.join(analyte.units)}"
            if key == "":
                problems.append(Problem(file, f"{where}, column unit",
                                        f"unit is empty; {name} needs one", accepted))
            else:
                problems.append(Problem(file, where, f"unit {table.loc[rows[0], 'unit']!r} is "
                                        f"not accepted for {name}", accepted))
    known["reported"] = _reported(known)
    known["value"] = known["value"].astype(float) * factor
    known["unit"] = known["analyte"].map(lambda a: analytes[a].canonical_unit)

    upper = known["analyte"].map(lambda a: analytes[a].upper_limit)
    impossible = (known["value"] < 0) | (known["value"] > upper)
    for index in known.index[impossible]:
        row = known.loc[index]
        problems.append(Problem(
            file, f"row {index + 1} (sample {row['sample_id']})",
            f"{row['analyte']} = {row['reported']} is physiologically impossible",
            "check the value and its unit"))

    if duplicates == "refuse":
        problems += duplicate_problems(
            table, ["sample_id", "analyte", "timepoint"], file,
            "keep one measurement per sample, analyte and timepoint, or set "
            "biomarkers_settings.duplicates to mean, median or first")
    raise_if_any(problems)
    # known analytes first, in file order, as before unknown ones were kept
    return _resolve_duplicates(pd.concat([known, kept]), duplicates)


def _reported(rows: pd.DataFrame) -> pd.Series:
    """What the file said, e.g. "1.2 mg/dL" (the value alone when the unit is empty)."""
    unit = rows["unit"].fillna("")
    unit = unit.map({spelled: str(spelled).strip() for spelled in unit.unique()})
    value = rows["value"].astype(str)
    return (value + " " + unit).where(unit != "", value)


def reserved_feature_names() -> dict[str, str]:
    """Names an unknown analyte may not take, each with what already uses it: the clinical,
    biomarker and derived features, the on-treatment columns, outcomes and identifiers."""
    reserved = {name: "a clinical feature" for name in CLINICAL_FEATURES}
    reserved |= {name: "a haicpred biomarker" for name in analyte_table()}
    reserved |= {index.name: "a derived index" for index in [*LAB_INDICES, *CLINICAL_LAB_INDICES]}
    reserved |= {name: "an on-treatment feature" for name in ON_TREATMENT_COLUMNS[1:]}
    reserved |= {name: "an outcome column" for name in [*OUTCOME_COLUMNS, "objective_response"]}
    reserved |= {name: "an identifier column" for name in ("sample_id", "batch")}
    reserved |= {name: "the recorded Child-Pugh value" for name in (
        indices.RECORDED_CHILD_PUGH_SCORE, indices.RECORDED_CHILD_PUGH_CLASS)}
    return reserved


def _unknown_analytes(table: pd.DataFrame, unknown: pd.Series,
                      file: str) -> tuple[pd.DataFrame, list[Problem]]:
    """Rows of analytes haicpred does not know, each analyte's unit written one way; and the
    problems: a name that is a known analyte's other name or an existing feature's, an empty
    unit, several units (which haicpred cannot convert)."""
    def rows_of(index) -> str:
        return row_numbers(table.index.isin(index))

    problems = []
    reserved = reserved_feature_names()
    kept = table[unknown].copy()
    for analyte, mine in kept.groupby("analyte", sort=True):
        where = rows_of(mine.index)
        keys = unit_keys(mine["unit"])
        if analyte in ANALYTE_ALIASES:
            known = ANALYTE_ALIASES[analyte]
            problems.append(Problem(file, where, f"analyte {analyte!r} looks like {known}",
                                    f"name it {known}, so that its unit is checked and it "
                                    "feeds the indices"))
        elif analyte in reserved:
            problems.append(Problem(
                file, where, f"analyte {analyte!r} is not a haicpred-known analyte and its "
                f"feature name is already used by {reserved[analyte]}",
                f"rename the analyte, e.g. lab_{analyte}"))
        elif analyte.startswith("post_"):
            problems.append(Problem(
                file, where, f"analyte {analyte!r} would be read as a post-treatment feature",
                "rename the analyte; post-treatment values go in rows with timepoint post"))
        elif (keys == "").any():
            problems.append(Problem(
                file, f"{rows_of(mine.index[keys == ''])}, column unit",
                f"unit is empty; {analyte}, an analyte haicpred does not know, is kept in "
                "the unit it was reported in", "write the unit the lab reported"))
        elif keys.nunique() > 1:
            units = "; ".join(f"{mine['unit'][keys == key].iloc[0].strip()} in "
                              f"{rows_of(mine.index[keys == key])}" for key in keys.unique())
            problems.append(Problem(
                file, where, f"{analyte} is reported in {keys.nunique()} units ({units})",
                f"haicpred does not know {analyte} and cannot convert it: convert every "
                f"{analyte} value to one unit, or remove its rows"))
        else:
            kept.loc[mine.index, "unit"] = mine["unit"].iloc[0].strip()
    kept["reported"] = _reported(table[unknown])
    kept["value"] = kept["value"].astype(float)
    return kept, problems


def _resolve_duplicates(known: pd.DataFrame, rule: str) -> pd.DataFrame:
    """One row per (sample, analyte, timepoint); with `refuse` there is nothing to combine."""
    keys = ["sample_id", "analyte", "timepoint"]
    if not known.duplicated(keys).any():
        # the common case, and always so under `refuse`: the groupby below would give the same
        # rows, but its Python-level join of `reported` takes seconds at 10,000 patients (and
        # the whole-cohort check runs at every snakemake start)
        single = known[[*keys, "value", "unit", "reported"]].reset_index(drop=True)
        return single.assign(n_measurements=np.ones(len(single), dtype=np.int64))
    value = {"refuse": "first", "first": "first", "mean": "mean", "median": "median"}[rule]
    return known.groupby(keys, sort=False).agg(
        value=("value", value), unit=("unit", "first"), reported=("reported", "; ".join),
        n_measurements=("value", "size")).reset_index()


def qc_table(canonical: pd.DataFrame) -> pd.DataFrame:
    """Suspicious-but-possible values (outside TYPICAL_RANGES) and resolved duplicates (an
    analyte haicpred does not know has no typical range: only its duplicates are listed)."""
    low = canonical["analyte"].map(lambda a: TYPICAL_RANGES.get(a, (np.nan,))[0])
    high = canonical["analyte"].map(lambda a: TYPICAL_RANGES.get(a, (np.nan, np.nan))[1])
    parts = []
    for mask, flag in [(canonical["value"] < low, "below_typical_range"),
                       (canonical["value"] > high, "above_typical_range")]:
        rows = canonical[mask].copy()
        rows["flag"] = flag
        rows["detail"] = [f"typical {TYPICAL_RANGES[a][0]:g}-{TYPICAL_RANGES[a][1]:g} {u}"
                          for a, u in zip(rows["analyte"], rows["unit"])]
        parts.append(rows)
    repeated = canonical[canonical["n_measurements"] > 1].copy()
    repeated["flag"] = "duplicate_resolved"
    repeated["detail"] = [f"{n} measurements combined" for n in repeated["n_measurements"]]
    parts.append(repeated)
    qc = pd.concat(parts, ignore_index=True)[QC_COLUMNS]
    return qc.sort_values(["sample_id", "analyte", "timepoint", "flag"]).reset_index(drop=True)


def baseline_biomarkers(table: pd.DataFrame, file: str,
                        afp_iu_to_ng: float = AFP_IU_TO_NG_DEFAULT,
                        cutoffs: dict[str, float] | None = None,
                        duplicates: str = "refuse",
                        unknown_analytes: str = "keep") -> pd.DataFrame:
    """One row per sample: baseline values in canonical units plus the lab-only published
    indices (haicpred.clinical.indices.LAB_INDICES), then the analytes haicpred does not know."""
    canonical = normalise_units(table, file, afp_iu_to_ng, duplicates, unknown_analytes)
    return baseline_features(canonical, cutoffs)


def unknown_analyte_units(canonical: pd.DataFrame) -> dict[str, str]:
    """Analyte -> unit of every analyte of a `normalise_units` table that haicpred does not
    know and that has a baseline value (so a feature), in name order."""
    baseline = canonical[(canonical["timepoint"] == "baseline")
                         & ~canonical["analyte"].isin(list(analyte_table()))]
    units = baseline.drop_duplicates("analyte").set_index("analyte")["unit"]
    return {analyte: units[analyte] for analyte in sorted(units.index)}


def unknown_analyte_names(dictionary: pd.DataFrame) -> list[str]:
    """The biomarker features of a `biomarker_dictionary` that are not haicpred's analytes or
    indices: the analytes of the table haicpred does not know."""
    mine = dictionary[dictionary["modality"] == "biomarker"]["feature"]
    return [f for f in mine if f not in analyte_table()]


def baseline_features(canonical: pd.DataFrame,
                      cutoffs: dict[str, float] | None = None) -> pd.DataFrame:
    """Features from a `normalise_units` table. Only `timepoint == baseline` feeds them:
    post-treatment values must never reach a pre-treatment model. Columns: the known analytes,
    the indices, then the unknown analytes by name (the first two as before they were kept)."""
    baseline = canonical[canonical["timepoint"] == "baseline"]
    wide = baseline.pivot(index="sample_id", columns="analyte", values="value")
    unknown = list(unknown_analyte_units(canonical))
    extra = wide.reindex(columns=unknown)
    wide = wide.reindex(columns=list(analyte_table()))
    wide.columns.name = None
    wide = compute_indices(wide, LAB_INDICES, cutoffs)
    wide = pd.concat([wide, extra], axis=1)
    wide.columns.name = None
    return wide.sort_index().reset_index()


def biomarker_dictionary(cutoffs: dict[str, float] | None = None,
                         canonical: pd.DataFrame | None = None) -> pd.DataFrame:
    """The known analytes and lab indices; with `canonical` (a `normalise_units` table), also
    its unknown analytes, in the order of `baseline_features`."""
    rows = [(name, "biomarker", a.canonical_unit, f"baseline {a.description}")
            for name, a in analyte_table().items()]
    measured = pd.DataFrame(rows, columns=["feature", "modality", "unit", "description"])
    derived = index_dictionary(LAB_INDICES)
    derived.loc[derived["feature"] == "afp_ge_400", "description"] = (
        f"baseline AFP >= {indices.cutoffs(cutoffs)['afp_ng_ml']:g} ng/mL [background.md]")
    units = unknown_analyte_units(canonical) if canonical is not None else {}
    unknown = pd.DataFrame(
        [(name, "biomarker", unit, f"baseline {name} (as reported, unit {unit}; not a "
          "haicpred-known analyte)") for name, unit in units.items()],
        columns=["feature", "modality", "unit", "description"])
    return pd.concat([measured, derived, unknown], ignore_index=True)


ON_TREATMENT_COLUMNS = ["sample_id", "post_afp_ratio", "post_afp_response",
                        "post_afp_ratio_le_0_79", "post_dcp_ratio", "post_dcp_ratio_le_0_53"]


def on_treatment_features(canonical: pd.DataFrame,
                          cutoffs: dict[str, float] | None = None) -> pd.DataFrame:
    """Post-treatment changes of AFP and DCP, one row per sample of a `normalise_units` table.

    Ratios are post / baseline in canonical units; each is missing when either timepoint is
    missing or the baseline is 0, and so is every flag built on it. These columns are
    post-treatment (modality `post_treatment`): only the opt-in on-treatment model may use them.
    """
    c = indices.cutoffs(cutoffs)
    mine = canonical[canonical["analyte"].isin(["afp", "dcp"])]
    wide = mine.pivot(index=["sample_id"], columns=["analyte", "timepoint"], values="value")
    wide = wide.reindex(index=sorted(canonical["sample_id"].unique()),
                        columns=pd.MultiIndex.from_product([["afp", "dcp"], ["baseline", "post"]]))
    out = pd.DataFrame(index=wide.index)
    for analyte in ("afp", "dcp"):
        baseline, post = wide[(analyte, "baseline")], wide[(analyte, "post")]
        ratio = indices._ratio(post, baseline)
        out[f"post_{analyte}_ratio"] = ratio
        if analyte == "afp":
            # relative decrease computed as (pre - post) / pre: exactly 18% is not a response
            decrease = indices._ratio(baseline - post, baseline)
            out["post_afp_response"] = indices._flag(decrease > c["afp_response_decrease"],
                                                     decrease)
            out["post_afp_ratio_le_0_79"] = indices._flag(ratio <= c["afp_ratio"], ratio)
        else:
            out["post_dcp_ratio_le_0_53"] = indices._flag(ratio <= c["dcp_ratio"], ratio)
    out.index.name = "sample_id"
    return out.astype(float).reset_index()[ON_TREATMENT_COLUMNS]


def on_treatment_dictionary(cutoffs: dict[str, float] | None = None) -> pd.DataFrame:
    c = indices.cutoffs(cutoffs)
    rows = [
        ("post_afp_ratio", "ratio", "AFP post / AFP baseline (ng/mL); missing if either is "
         "missing or baseline is 0 [background.md]"),
        ("post_afp_response", "0/1", f"AFP response: (baseline - post) / baseline > "
         f"{c['afp_response_decrease']:g} (decrease > {100 * c['afp_response_decrease']:g}%) "
         "[background.md]"),
        ("post_afp_ratio_le_0_79", "0/1", f"AFP post / baseline <= {c['afp_ratio']:g} "
         "(favourable) [background.md]"),
        ("post_dcp_ratio", "ratio", "DCP post / DCP baseline (mAU/mL); missing if either is "
         "missing or baseline is 0 [background.md]"),
        ("post_dcp_ratio_le_0_53", "0/1", f"DCP post / baseline <= {c['dcp_ratio']:g} "
         "(favourable) [background.md]"),
    ]
    return pd.DataFrame([(f, "post_treatment", u, d) for f, u, d in rows],
                        columns=["feature", "modality", "unit", "description"])


def check_biomarkers(path, afp_iu_to_ng: float = AFP_IU_TO_NG_DEFAULT,
                     duplicates: str = "refuse", unknown_analytes: str = "keep",
                     ) -> tuple[pd.DataFrame | None, list[Problem]]:
    """The table (None if unreadable) and every problem in it, units included."""
    df, problems = read_and_validate(path, "biomarkers", BIOMARKER_COLUMNS)
    if df is not None:
        try:  # on the rows the schema passed: one report has both kinds of problem
            normalise_units(rows_passing_schema(df, "biomarkers"), str(path), afp_iu_to_ng,
                            duplicates, unknown_analytes)
        except InputError as error:
            problems += error.problems
    return df, problems


def read_biomarkers(path) -> pd.DataFrame:
    df, problems = read_and_validate(path, "biomarkers", BIOMARKER_COLUMNS)
    raise_if_any(problems)
    return df
