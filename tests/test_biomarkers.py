import math

import numpy as np
import pandas as pd
import pytest

from haicpred.biomarkers import baseline_biomarkers, biomarker_dictionary, normalise_units
from haicpred.errors import InputError


def long_table(rows):
    return pd.DataFrame(rows, columns=["sample_id", "analyte", "value", "unit", "timepoint"])


def test_units_are_converted_to_canonical():
    table = long_table([
        ("P1", "bilirubin", "1.0", "mg/dL", "baseline"),
        ("P2", "bilirubin", "17.1", "umol/L", "baseline"),
        ("P1", "albumin", "4.0", "g/dL", "baseline"),
        ("P1", "afp", "100", "IU/mL", "baseline"),
        ("P1", "neutrophils", "4000", "/uL", "baseline"),
        ("P1", "crp", "1.5", "mg/dL", "baseline"),
    ])
    out = normalise_units(table, "bm.tsv", afp_iu_to_ng=1.21).set_index(["sample_id", "analyte"])
    assert out.loc[("P1", "bilirubin"), "value"] == pytest.approx(17.1)
    assert out.loc[("P2", "bilirubin"), "value"] == pytest.approx(17.1)
    assert out.loc[("P1", "albumin"), "value"] == pytest.approx(40.0)
    assert out.loc[("P1", "afp"), "value"] == pytest.approx(121.0)
    assert out.loc[("P1", "neutrophils"), "value"] == pytest.approx(4.0)
    assert out.loc[("P1", "crp"), ("unit")] == "mg/L"
    assert out.loc[("P1", "crp"), "value"] == pytest.approx(15.0)


def test_all_bad_rows_are_reported_together():
    table = long_table([
        ("P1", "bilirubin", "1.0", "mmol/dL", "baseline"),
        ("P1", "albumin", "400", "g/L", "baseline"),
        ("P2", "sodium", "140", "mmol/L", "baseline"),
        ("P3", "afp", "10", "ng/mL", "baseline"),
        ("P3", "afp", "12", "ng/mL", "baseline"),
    ])
    with pytest.raises(InputError) as caught:
        normalise_units(table, "lab.tsv")
    text = str(caught.value)
    assert len(caught.value.problems) == 4
    assert "lab.tsv: row 1" in text and "mmol/dL" in text and "umol/L, mg/dL" in text
    assert "row 2 (sample P1)" in text and "impossible" in text
    assert "unknown analyte 'sodium'" in text
    assert "rows 4, 5" in text and "more than once" in text


def test_baseline_features_ignore_post_treatment_values():
    table = long_table([
        ("P1", "afp", "500", "ng/mL", "baseline"),
        ("P1", "afp", "5", "ng/mL", "post"),
        ("P1", "neutrophils", "4", "10^9/L", "baseline"),
        ("P1", "lymphocytes", "2", "10^9/L", "baseline"),
        ("P1", "bilirubin", "1.0", "mg/dL", "baseline"),
        ("P1", "albumin", "40", "g/L", "baseline"),
        ("P2", "afp", "12", "ng/mL", "baseline"),
    ])
    out = baseline_biomarkers(table, "bm.tsv").set_index("sample_id")
    assert out.loc["P1", "afp"] == 500
    assert out.loc["P1", "afp_ge_400"] == 1 and out.loc["P2", "afp_ge_400"] == 0
    assert out.loc["P1", "log10_afp"] == pytest.approx(math.log10(500))
    assert out.loc["P1", "nlr"] == pytest.approx(2.0)
    assert pd.isna(out.loc["P2", "nlr"])  # missing, not 0
    assert out.loc["P1", "albi_score"] == pytest.approx(0.66 * math.log10(17.1) - 0.085 * 40)
    assert out.loc["P1", "albi_grade"] == 2  # -2.586 is just above the grade-1 cut (-2.60)
    assert not any(c.startswith("post") for c in out.columns)


def test_afp_cutoff_is_configurable():
    table = long_table([("P1", "afp", "500", "ng/mL", "baseline")])
    out = baseline_biomarkers(table, "bm.tsv", cutoffs={"afp_ng_ml": 1000})
    assert out["afp_ge_400"].iloc[0] == 0
    dictionary = biomarker_dictionary({"afp_ng_ml": 1000}).set_index("feature")
    assert "1000" in dictionary.loc["afp_ge_400", "description"]
