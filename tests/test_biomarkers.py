import math

import pandas as pd
import pytest

from haicpred.biomarkers import (ON_TREATMENT_COLUMNS, TYPICAL_RANGES, analyte_table,
                                 baseline_biomarkers, baseline_features, biomarker_dictionary,
                                 normalise_units, on_treatment_dictionary,
                                 on_treatment_features, qc_table)
from haicpred.features import join_on_treatment
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
        normalise_units(table, "lab.tsv", unknown_analytes="refuse")
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


@pytest.mark.parametrize("analyte, unit, factor", [
    (analyte, unit, factor)
    for analyte, spec in analyte_table().items() for unit, factor in spec.units.items()
])
def test_every_unit_conversion_round_trips(analyte, unit, factor):
    low, high = TYPICAL_RANGES[analyte]
    canonical_value = (low + high) / 3 or 1.0
    reported = canonical_value / factor  # the same amount written in `unit`
    table = long_table([("P1", analyte, repr(reported), unit, "baseline")])
    out = normalise_units(table, "bm.tsv")
    assert out["value"].iloc[0] == pytest.approx(canonical_value, rel=1e-12)
    assert out["unit"].iloc[0] == analyte_table()[analyte].canonical_unit


def test_mixed_units_give_the_same_features_as_canonical_units():
    canonical = long_table([
        ("P1", "bilirubin", "25.65", "umol/L", "baseline"),
        ("P1", "albumin", "38", "g/L", "baseline"),
        ("P1", "platelets", "120", "10^9/L", "baseline"),
        ("P1", "neutrophils", "3.5", "10^9/L", "baseline"),
        ("P1", "lymphocytes", "1.4", "10^9/L", "baseline"),
        ("P1", "monocytes", "0.42", "10^9/L", "baseline"),
        ("P1", "crp", "12", "mg/L", "baseline"),
        ("P1", "afp", "605", "ng/mL", "baseline"),
        ("P1", "cholesterol", "4.5", "mmol/L", "baseline"),
        ("P1", "transferrin", "210", "mg/dL", "baseline"),
        ("P1", "inr", "1.2", "ratio", "baseline"),
    ])
    mixed = long_table([
        ("P1", "bilirubin", "1.5", "mg/dL", "baseline"),
        ("P1", "albumin", "3.8", "g/dL", "baseline"),
        ("P1", "platelets", "120000", "/uL", "baseline"),
        ("P1", "neutrophils", "3.5", "10^3/uL", "baseline"),
        ("P1", "lymphocytes", "1400", "/uL", "baseline"),
        ("P1", "monocytes", "420", "/uL", "baseline"),
        ("P1", "crp", "1.2", "mg/dL", "baseline"),
        ("P1", "afp", "500", "IU/mL", "baseline"),
        ("P1", "cholesterol", str(4.5 * 38.67), "mg/dL", "baseline"),
        ("P1", "transferrin", "2.1", "g/L", "baseline"),
        ("P1", "inr", "1.2", "INR", "baseline"),
    ])
    a = baseline_biomarkers(canonical, "canonical.tsv")
    b = baseline_biomarkers(mixed, "mixed.tsv")
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-9)
    assert a["albi_grade"].iloc[0] == b["albi_grade"].iloc[0]


def test_suspicious_values_are_kept_and_listed_in_qc():
    table = long_table([
        ("P1", "albumin", "12", "g/L", "baseline"),  # possible, but rare
        ("P1", "bilirubin", "800", "umol/L", "baseline"),
        ("P2", "albumin", "40", "g/L", "baseline"),
    ])
    canonical = normalise_units(table, "bm.tsv")
    qc = qc_table(canonical)
    assert list(zip(qc["sample_id"], qc["analyte"], qc["flag"])) == [
        ("P1", "albumin", "below_typical_range"), ("P1", "bilirubin", "above_typical_range")]
    assert qc["reported"].tolist() == ["12 g/L", "800 umol/L"]
    assert baseline_biomarkers(table, "bm.tsv").set_index("sample_id").loc["P1", "albumin"] == 12


@pytest.mark.parametrize("rule, expected", [("mean", 11.0), ("median", 11.0), ("first", 10.0)])
def test_duplicate_measurements_can_be_combined_by_a_documented_rule(rule, expected):
    table = long_table([("P1", "afp", "10", "ng/mL", "baseline"),
                        ("P1", "afp", "12", "ng/mL", "baseline"),
                        ("P1", "afp", "5", "ng/mL", "post")])
    canonical = normalise_units(table, "bm.tsv", duplicates=rule)
    baseline = canonical[canonical["timepoint"] == "baseline"]
    assert baseline["value"].tolist() == [expected]
    qc = qc_table(canonical)
    assert qc["flag"].tolist() == ["duplicate_resolved"]
    assert qc["reported"].iloc[0] == "10 ng/mL; 12 ng/mL"
    with pytest.raises(ValueError, match="duplicates must be one of"):
        normalise_units(table, "bm.tsv", duplicates="max")


# --- post-treatment changes (on-treatment variant only) -------------------------------------
# Hand-computed from background.md: AFP response = decrease > 18%; AFP ratio post/pre <= 0.79
# and DCP ratio post/pre <= 0.53 favourable.
ON_TREATMENT_ROWS = [
    ("R1", "afp", "100", "ng/mL", "baseline"), ("R1", "afp", "50", "ng/mL", "post"),
    ("R1", "dcp", "200", "mAU/mL", "baseline"), ("R1", "dcp", "106", "mAU/mL", "post"),
    # exactly 18% decrease: not a response; ratio 0.82 > 0.79
    ("R2", "afp", "100", "ng/mL", "baseline"), ("R2", "afp", "82", "ng/mL", "post"),
    # 18.2% decrease: a response; ratio 0.818
    ("R3", "afp", "50", "ng/mL", "baseline"), ("R3", "afp", "40.9", "ng/mL", "post"),
    # exactly at the ratio cut-offs: 0.79 and 0.53 are favourable (<=)
    ("R4", "afp", "100", "ng/mL", "baseline"), ("R4", "afp", "79", "ng/mL", "post"),
    ("R4", "dcp", "100", "mAU/mL", "baseline"), ("R4", "dcp", "53", "mAU/mL", "post"),
    # AFP rose; DCP post missing
    ("R5", "afp", "10", "ng/mL", "baseline"), ("R5", "afp", "30", "ng/mL", "post"),
    ("R5", "dcp", "40", "mAU/mL", "baseline"),
    # baseline missing; baseline 0
    ("R6", "afp", "20", "ng/mL", "post"),
    ("R7", "afp", "0", "ng/mL", "baseline"), ("R7", "afp", "5", "ng/mL", "post"),
    # post in IU/mL: 100 IU/mL x 1.21 = 121 ng/mL against 200 ng/mL -> ratio 0.605
    ("R8", "afp", "200", "ng/mL", "baseline"), ("R8", "afp", "100", "IU/mL", "post"),
]


def on_treatment(rows=ON_TREATMENT_ROWS, cutoffs=None):
    canonical = normalise_units(long_table(rows), "bm.tsv", afp_iu_to_ng=1.21)
    return on_treatment_features(canonical, cutoffs).set_index("sample_id")


def test_on_treatment_features_hand_computed():
    out = on_treatment()
    assert list(out.reset_index().columns) == ON_TREATMENT_COLUMNS
    assert list(out.index) == [f"R{i}" for i in range(1, 9)]  # one row per sample
    expected = {  # afp_ratio, response, afp_le_0_79, dcp_ratio, dcp_le_0_53
        "R1": (0.5, 1, 1, 0.53, 1),
        "R2": (0.82, 0, 0, None, None),
        "R3": (0.818, 1, 0, None, None),
        "R4": (0.79, 1, 1, 0.53, 1),
        "R5": (3.0, 0, 0, None, None),
        "R6": (None, None, None, None, None),
        "R7": (None, None, None, None, None),
        "R8": (0.605, 1, 1, None, None),
    }
    for sample, values in expected.items():
        row = out.loc[sample]
        for column, value in zip(ON_TREATMENT_COLUMNS[1:], values):
            if value is None:
                assert math.isnan(row[column]), (sample, column)
            else:
                assert row[column] == pytest.approx(value), (sample, column)


def test_on_treatment_cutoffs_are_configurable():
    out = on_treatment(cutoffs={"afp_response_decrease": 0.5, "afp_ratio": 0.5,
                                "dcp_ratio": 0.5})
    assert out.loc["R1", "post_afp_response"] == 0  # exactly 50% decrease
    assert out.loc["R1", "post_afp_ratio_le_0_79"] == 1
    assert out.loc["R1", "post_dcp_ratio_le_0_53"] == 0  # 0.53 > 0.5
    assert "> 0.5 (decrease > 50%)" in " ".join(on_treatment_dictionary({
        "afp_response_decrease": 0.5})["description"])


def test_on_treatment_dictionary_and_baseline_features_stay_apart():
    dictionary = on_treatment_dictionary()
    assert list(dictionary["feature"]) == ON_TREATMENT_COLUMNS[1:]
    assert set(dictionary["modality"]) == {"post_treatment"}
    assert dictionary["unit"].ne("").all()
    assert dictionary["description"].str.contains("background.md").all()
    canonical = normalise_units(long_table(ON_TREATMENT_ROWS), "bm.tsv")
    baseline = baseline_features(canonical)
    assert not any(c.startswith("post") for c in baseline.columns)
    assert not set(biomarker_dictionary()["modality"]) & {"post_treatment"}
    # post values never leak into the baseline features (R6 has only a post AFP)
    assert "R6" not in set(baseline["sample_id"])


def test_join_on_treatment_appends_post_columns_left_join():
    matrix = pd.DataFrame({"sample_id": ["R1", "R9"], "batch": ["b", "b"], "afp": [100.0, 3.0]})
    dictionary = pd.DataFrame([("afp", "biomarker", "ng/mL", "baseline AFP")],
                              columns=["feature", "modality", "unit", "description"])
    joined, joined_dictionary = join_on_treatment(
        matrix, dictionary, on_treatment().reset_index(), on_treatment_dictionary())
    assert list(joined.columns) == ["sample_id", "batch", "afp", *ON_TREATMENT_COLUMNS[1:]]
    assert list(joined["sample_id"]) == ["R1", "R9"]
    assert joined.loc[0, "post_afp_ratio"] == pytest.approx(0.5)
    assert joined.loc[1, ON_TREATMENT_COLUMNS[1:]].isna().all()  # no post rows: missing
    assert list(joined_dictionary["feature"]) == list(joined.columns[2:])
