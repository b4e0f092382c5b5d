import math

import numpy as np
import pandas as pd
import pytest

from haicpred.clinical.biomarkers import (ON_TREATMENT_COLUMNS, TYPICAL_RANGES, analyte_table,
                                          baseline_biomarkers, baseline_features,
                                          biomarker_dictionary, normalise_units,
                                          on_treatment_dictionary, on_treatment_features, qc_table)
from haicpred.features.matrix import join_on_treatment
from haicpred.io.errors import InputError


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


# --- analytes haicpred does not know (issue 13 finding 6) ------------------------------------
# A real lab table: creatinine, haemoglobin and MCV in the site's units, albumin written
# `g/dl`, INR without a unit.
REAL_LAB_ROWS = [
    ("P1", "creatinine", "1.1", "mg/dL", "baseline"),
    ("P2", "creatinine", "0.9", " mg/dl ", "baseline"),  # the same unit, spelled otherwise
    ("P1", "creatinine", "1.4", "mg/dL", "post"),  # post-treatment: never a baseline feature
    ("P1", "haemoglobin", "13.2", "g/dL", "baseline"),
    ("P2", "mcv", "92.1", "fL", "baseline"),
    ("P1", "albumin", "3.5", "g/dl", "baseline"),
    ("P1", "bilirubin", "1.0", "mg/dL", "baseline"),
    ("P1", "inr", "1.1", None, "baseline"),
    ("P3", "ferritin", "300", "ng/mL", "post"),  # no baseline value: not a feature
]


def test_unknown_analytes_are_kept_as_baseline_features_in_their_one_unit():
    canonical = normalise_units(long_table(REAL_LAB_ROWS), "lab.tsv")
    features = baseline_features(canonical).set_index("sample_id")
    # known analytes converted: 3.5 g/dL = 35 g/L; INR without a unit is the ratio
    assert features.loc["P1", "albumin"] == pytest.approx(35.0)
    assert features.loc["P1", "inr"] == pytest.approx(1.1)
    assert features.loc["P1", "albi_score"] == pytest.approx(
        0.66 * math.log10(17.1) - 0.085 * 35)
    # unknown ones as reported, after the known analytes and indices, by name
    assert list(features.columns[-3:]) == ["creatinine", "haemoglobin", "mcv"]
    assert features["creatinine"].tolist()[:2] == [1.1, 0.9]  # the baseline value, not 1.4
    assert features.loc["P1", "haemoglobin"] == 13.2 and features.loc["P2", "mcv"] == 92.1
    assert "ferritin" not in features.columns
    dictionary = biomarker_dictionary(canonical=canonical).set_index("feature")
    assert dictionary.loc["creatinine", "unit"] == "mg/dL"  # the first spelling, trimmed
    assert dictionary.loc["mcv", "modality"] == "biomarker"
    assert dictionary.loc["haemoglobin", "description"] == (
        "baseline haemoglobin (as reported, unit g/dL; not a haicpred-known analyte)")
    assert list(dictionary.index) == [*biomarker_dictionary()["feature"], "creatinine",
                                      "haemoglobin", "mcv"]
    reported = canonical.set_index(["sample_id", "analyte", "timepoint"])["reported"]
    assert reported[("P2", "creatinine", "baseline")] == "0.9 mg/dl"
    assert reported[("P1", "inr", "baseline")] == "1.1"
    assert qc_table(canonical).empty  # no typical range is known for them: not flagged


def test_unknown_analyte_duplicates_follow_the_duplicates_rule():
    rows = [("P1", "creatinine", "1.0", "mg/dL", "baseline"),
            ("P1", "creatinine", "1.4", "mg/dL", "baseline")]
    with pytest.raises(InputError, match=r"rows 1, 2: sample_id P1, analyte creatinine, "
                                         r"timepoint baseline occurs more than once"):
        normalise_units(long_table(rows), "lab.tsv")
    canonical = normalise_units(long_table(rows), "lab.tsv", duplicates="mean")
    assert baseline_features(canonical)["creatinine"].tolist() == [pytest.approx(1.2)]
    qc = qc_table(canonical)
    assert qc["flag"].tolist() == ["duplicate_resolved"]
    assert qc["reported"].tolist() == ["1.0 mg/dL; 1.4 mg/dL"]


def test_unknown_analyte_problems_are_all_reported_with_rows_and_units():
    rows = [
        ("P1", "creatinine", "1.1", "mg/dL", "baseline"),
        ("P2", "creatinine", "80", "umol/L", "baseline"),
        ("P3", "creatinine", "0.8", "MG/DL", "post"),
        ("P1", "ferritin", "300", None, "baseline"),
        ("P1", "albumin", "35", "", "baseline"),
        ("P1", "albi_score", "-2.1", "score", "baseline"),
        ("P2", "age", "61", "years", "baseline"),
        ("P1", "tbil", "1.2", "mg/dL", "baseline"),
        ("P1", "post_ldh", "250", "U/L", "baseline"),
    ]
    with pytest.raises(InputError) as caught:
        normalise_units(long_table(rows).replace("", None), "lab.tsv")
    lines = {str(p) for p in caught.value.problems}
    assert lines == {
        "lab.tsv: rows 1, 2, 3: creatinine is reported in 2 units (mg/dL in rows 1, 3; umol/L "
        "in row 2) (haicpred does not know creatinine and cannot convert it: convert every "
        "creatinine value to one unit, or remove its rows)",
        "lab.tsv: row 4, column unit: unit is empty; ferritin, an analyte haicpred does not "
        "know, is kept in the unit it was reported in (write the unit the lab reported)",
        "lab.tsv: row 5, column unit: unit is empty; albumin needs one (accepted units: g/L, "
        "g/dL)",
        "lab.tsv: row 6: analyte 'albi_score' is not a haicpred-known analyte and its feature "
        "name is already used by a derived index (rename the analyte, e.g. lab_albi_score)",
        "lab.tsv: row 7: analyte 'age' is not a haicpred-known analyte and its feature name is "
        "already used by a clinical feature (rename the analyte, e.g. lab_age)",
        "lab.tsv: row 8: analyte 'tbil' looks like bilirubin (name it bilirubin, so that its "
        "unit is checked and it feeds the indices)",
        "lab.tsv: row 9: analyte 'post_ldh' would be read as a post-treatment feature (rename "
        "the analyte; post-treatment values go in rows with timepoint post)",
    }


def test_refuse_mode_refuses_unknown_analytes_as_before():
    with pytest.raises(InputError) as caught:
        normalise_units(long_table(REAL_LAB_ROWS), "lab.tsv", unknown_analytes="refuse")
    text = str(caught.value)
    for analyte, rows in [("creatinine", "rows 1, 2, 3"), ("haemoglobin", "row 4"),
                          ("mcv", "row 5"), ("ferritin", "row 9")]:
        assert f"lab.tsv: {rows}: unknown analyte '{analyte}' (use one of: afp," in text
    assert len(caught.value.problems) == 4  # the known analytes are fine
    with pytest.raises(ValueError, match="unknown_analytes must be one of keep, refuse"):
        normalise_units(long_table(REAL_LAB_ROWS), "lab.tsv", unknown_analytes="drop")


@pytest.mark.parametrize("spelling", [str.upper, str.lower, lambda u: f"  {u} "])
def test_known_units_match_ignoring_case_and_spaces(spelling):
    rows = [(f"P{i}", analyte, "2", unit, "baseline")
            for i, (analyte, spec) in enumerate(analyte_table().items())
            for unit in spec.units]
    exact = normalise_units(long_table(rows).drop_duplicates(["sample_id", "analyte"]), "a.tsv")
    respelled = long_table(rows).drop_duplicates(["sample_id", "analyte"])
    respelled["unit"] = respelled["unit"].map(spelling)
    pd.testing.assert_series_equal(normalise_units(respelled, "b.tsv")["value"], exact["value"])


def test_only_a_dimensionless_analyte_may_have_an_empty_unit():
    assert [name for name, spec in analyte_table().items() if spec.dimensionless] == ["inr"]
    for analyte, spec in analyte_table().items():
        table = long_table([("P1", analyte, "1.5", None, "baseline")])
        if spec.dimensionless:
            assert normalise_units(table, "lab.tsv")["unit"].tolist() == [spec.canonical_unit]
        else:
            with pytest.raises(InputError, match=f"row 1, column unit: unit is empty; "
                                                 f"{analyte} needs one"):
                normalise_units(table, "lab.tsv")


def test_table_check_accepts_an_empty_inr_unit_and_names_an_empty_albumin_unit(tmp_path):
    from haicpred.clinical.biomarkers import check_biomarkers

    path = tmp_path / "biomarkers.tsv"
    path.write_text("sample_id\tanalyte\tvalue\tunit\ttimepoint\n"
                    "P1\tinr\t1.1\t\tbaseline\n"
                    "P1\tcreatinine\t1.0\tmg/dL\tbaseline\n")
    assert check_biomarkers(path)[1] == []
    refused = check_biomarkers(path, unknown_analytes="refuse")[1]
    assert "unknown analyte 'creatinine'" in str(refused[0])
    path.write_text(path.read_text() + "P1\talbumin\t40\t\tbaseline\n")
    problems = check_biomarkers(path)[1]
    assert [str(p) for p in problems] == [
        f"{path}: row 3, column unit: unit is empty; albumin needs one (accepted units: g/L, "
        "g/dL)"]


def feature_matrix_inputs(biomarker_rows, **extra):
    canonical = normalise_units(long_table(biomarker_rows), "lab.tsv")
    sheet = pd.DataFrame({"sample_id": ["P1", "P2"], "batch": ["b1", "b1"]})
    clinical = pd.DataFrame({"sample_id": ["P1", "P2"], "age": ["60", "70"]})
    genotypes = pd.DataFrame({"sample_id": ["P1"], "rs8099917_alt_count": ["1"]})
    return dict(sheet=sheet, clinical=clinical, mutations=pd.DataFrame({"sample_id": []}),
                genotypes=genotypes, biomarkers=baseline_features(canonical), radiomics=None,
                biomarker_dictionary=biomarker_dictionary(canonical=canonical), **extra)


def test_unknown_analytes_reach_the_feature_matrix_with_their_unit():
    from haicpred.features.matrix import build_feature_matrix

    matrix, dictionary, _ = build_feature_matrix(**feature_matrix_inputs(REAL_LAB_ROWS))
    matrix = matrix.set_index("sample_id")
    assert matrix.loc["P1", "creatinine"] == 1.1 and matrix.loc["P2", "creatinine"] == 0.9
    assert pd.isna(matrix.loc["P2", "haemoglobin"])  # no value: missing
    assert list(dictionary["feature"]) == list(matrix.columns[1:])
    units = dictionary.set_index("feature")
    assert units.loc[["creatinine", "haemoglobin", "mcv"], "unit"].tolist() == [
        "mg/dL", "g/dL", "fL"]
    assert set(units.loc[["creatinine", "haemoglobin", "mcv"], "modality"]) == {
        "biomarker"}
    # without the dictionary that describes them they are not dropped in silence
    inputs = feature_matrix_inputs(REAL_LAB_ROWS)
    del inputs["biomarker_dictionary"]
    with pytest.raises(ValueError, match="biomarker column.s. without a dictionary row: "
                                         "creatinine, haemoglobin, mcv"):
        build_feature_matrix(**inputs)


def test_unknown_analyte_clashing_with_a_genomic_or_extra_feature_is_refused(tmp_path):
    from haicpred.clinical.extra_modalities import read_extra_modalities
    from haicpred.features.matrix import build_feature_matrix

    clash = [("P1", "rs8099917_alt_count", "2", "copies", "baseline")]
    with pytest.raises(InputError, match="biomarker table: analyte rs8099917_alt_count: is "
                                         "already a feature of the genotype features"):
        build_feature_matrix(**feature_matrix_inputs(clash))
    (tmp_path / "ihc.tsv").write_text("sample_id\tcd8\nP1\t3\n")
    extra = read_extra_modalities({"ihc": str(tmp_path / "ihc.tsv")})
    rows = [("P1", "ihc_cd8", "2", "cells/mm2", "baseline")]
    with pytest.raises(InputError, match="column cd8: feature name ihc_cd8 .modality ihc. is "
                                         "already used by analyte ihc_cd8 of the biomarker table"):
        build_feature_matrix(**feature_matrix_inputs(rows, extra_modalities=extra))


# --- end to end: a real-looking lab and clinical table through snakemake ----------------------

def test_real_lab_and_clinical_tables_reach_the_feature_matrix_through_snakemake(tmp_path):
    """Labs in site units (creatinine mg/dL, haemoglobin g/dL, MCV fL, albumin `g/dl`,
    INR without unit) and clinical fields recorded as groups, `present` and a recorded
    Child-Pugh score: the feature-only target, as a user runs it."""
    from haicpred.simulate import simulate_cohort
    from haicpred.io.tables import read_tsv, write_tsv
    from workflow_helpers import PANEL, SNPS, make_workdir, snakemake

    cohort = tmp_path / "cohort"
    simulate_cohort(n_patients=24, n_batches=1, seed=11, out_dir=cohort, panel_path=PANEL,
                    snps_path=SNPS)
    labs = read_tsv(cohort / "biomarkers.tsv")
    albumin = labs["analyte"] == "albumin"
    labs.loc[albumin, "value"] = [f"{float(v) / 10:.2f}" for v in labs.loc[albumin, "value"]]
    labs.loc[albumin, "unit"] = "g/dl"
    labs.loc[labs["analyte"] == "inr", "unit"] = None
    ids = sorted(labs["sample_id"].unique())
    site = pd.DataFrame(
        [(s, analyte, f"{base + i / 10:.1f}", unit, "baseline") for i, s in enumerate(ids)
         for analyte, base, unit in [("creatinine", 0.7, "mg/dL"), ("haemoglobin", 11.0, "g/dL"),
                                     ("mcv", 88.0, "fL")]],
        columns=list(labs.columns))
    write_tsv(pd.concat([labs, site], ignore_index=True), cohort / "biomarkers.tsv")

    clinical = read_tsv(cohort / "clinical.tsv").set_index("sample_id")
    grouped, present, recorded = ids[:6], ids[6:9], ids[9:12]
    number = clinical.loc[grouped, "tumor_number"].astype(int)
    clinical["tumor_number_group"] = None
    clinical.loc[grouped, "tumor_number_group"] = number.map(
        lambda n: "1" if n == 1 else "2-3" if n <= 3 else ">3")
    clinical.loc[grouped, "tumor_number"] = None
    clinical.loc[present, "vascular_invasion"] = "present"
    clinical["child_pugh_score"] = None
    clinical.loc[recorded, "ascites"] = None
    clinical.loc[recorded, "child_pugh_score"] = "7"
    write_tsv(clinical.reset_index(), cohort / "clinical.tsv")

    workdir = make_workdir(tmp_path / "run", **{key: str(cohort / f"{key}.tsv") for key in
                                                ["samples", "clinical", "biomarkers"]})
    result = snakemake(workdir, "results/features/feature_matrix.tsv")
    assert result.returncode == 0, result.stderr[-3000:]

    matrix = read_tsv(workdir / "results/features/feature_matrix.tsv").set_index("sample_id")
    dictionary = read_tsv(workdir / "results/features/feature_dictionary.tsv").set_index(
        "feature")
    assert list(dictionary.index) == list(matrix.columns[1:])
    for analyte, base, unit in [("creatinine", 0.7, "mg/dL"), ("haemoglobin", 11.0, "g/dL"),
                                ("mcv", 88.0, "fL")]:
        assert matrix[analyte].astype(float).tolist() == pytest.approx(
            [base + i / 10 for i in range(len(ids))]), analyte
        assert dictionary.loc[analyte, "unit"] == unit
        assert dictionary.loc[analyte, "modality"] == "biomarker"
    assert matrix["albumin"].astype(float).tolist() == pytest.approx(
        [10 * float(v) for v in labs.loc[albumin].set_index("sample_id").loc[ids, "value"]])
    assert matrix["inr"].astype(float).notna().sum() == (labs["analyte"] == "inr").sum()
    both = matrix[["bilirubin", "albumin"]].astype(float).dropna()
    assert matrix.loc[both.index, "albi_score"].astype(float).tolist() == pytest.approx(
        (0.66 * np.log10(both["bilirubin"]) - 0.085 * both["albumin"]).tolist())

    gt3 = matrix["tumor_number_gt3"].astype(float)
    assert gt3.loc[grouped].tolist() == (number > 3).astype(float).tolist()
    assert matrix.loc[grouped, "tumor_number"].isna().all()
    assert matrix.loc[present, "vp3_vp4"].isna().all()
    assert (matrix.loc[present, "vascular_invasion_any"].astype(float) == 1).all()
    components = matrix.loc[recorded, ["bilirubin", "albumin", "inr"]].notna().all(axis=1)
    assert components.all()  # only ascites is missing: the recorded 7 is used
    assert matrix.loc[recorded, "child_pugh_points"].astype(float).tolist() == [7, 7, 7]
    assert matrix.loc[recorded, "child_pugh_class"].astype(float).tolist() == [2, 2, 2]
    log = (workdir / "logs/baseline_biomarkers.log").read_text()
    assert ("3 analyte(s) haicpred does not know kept as features in their own unit: "
            "creatinine (mg/dL), haemoglobin (g/dL), mcv (fL)") in log

    # the same cohort with unknown analytes refused: stopped before any job, every analyte named
    (workdir / "results").rename(tmp_path / "first_results")
    refused = snakemake(workdir, "results/features/feature_matrix.tsv", "--config",
                        "biomarkers_settings={'unknown_analytes': 'refuse'}")
    assert refused.returncode != 0
    for analyte in ["creatinine", "haemoglobin", "mcv"]:
        assert f"unknown analyte '{analyte}'" in refused.stderr
    assert not (workdir / "results/features/feature_matrix.tsv").exists()


def test_an_unknown_analyte_reaches_the_final_model_and_its_unit_is_checked_when_scoring(
        tmp_path):
    """creatinine (mg/dL) is a model feature with its training range and unit in the frozen
    model's metadata; a new site's table in umol/L is flagged on every prediction."""
    from haicpred.clinical.clinical_table import read_clinical
    from haicpred.features.matrix import build_feature_matrix
    from haicpred.modeling.final_model import fit_final_model, write_final_model
    from haicpred.modeling.predict import predict
    from haicpred.io.samples import load_sample_sheet
    from haicpred.simulate import simulate_cohort
    from haicpred.io.tables import read_tsv
    from predict_helpers import FAST_FINAL
    from workflow_helpers import PANEL, SNPS

    folder = tmp_path / "cohort"
    simulate_cohort(n_patients=60, n_batches=1, seed=4, out_dir=folder, panel_path=PANEL,
                    snps_path=SNPS)
    labs = read_tsv(folder / "biomarkers.tsv")
    ids = sorted(labs["sample_id"].unique())
    creatinine = pd.DataFrame([(s, "creatinine", f"{0.6 + (i % 9) / 10:.1f}", "mg/dL",
                                "baseline") for i, s in enumerate(ids)], columns=labs.columns)
    canonical = normalise_units(pd.concat([labs, creatinine], ignore_index=True), "lab.tsv")
    empty = pd.DataFrame({"sample_id": pd.Series([], dtype=str)})
    matrix, dictionary, labels = build_feature_matrix(
        load_sample_sheet(folder / "samples.tsv"), read_clinical(folder / "clinical.tsv"),
        empty, empty, baseline_features(canonical), radiomics=None,
        biomarker_dictionary=biomarker_dictionary(canonical=canonical))
    labels["objective_response"] = labels["objective_response"].astype(float)
    final = fit_final_model(matrix, labels, dictionary, FAST_FINAL)
    write_final_model(final, tmp_path / "model")
    metadata = final.metadata
    assert "creatinine" in metadata["feature_names"]
    assert metadata["feature_unit"]["creatinine"] == "mg/dL"
    assert metadata["feature_modality"]["creatinine"] == "biomarker"
    labelled = labels["objective_response"].notna().to_numpy()
    values = matrix.loc[labelled, "creatinine"]
    trained_range = metadata["feature_ranges"]["creatinine"]
    assert (trained_range["min"], trained_range["max"]) == (values.min(), values.max())

    other_site = dictionary.copy()
    other_site.loc[other_site["feature"] == "creatinine", "unit"] = "umol/L"
    predictions = predict(matrix, other_site, tmp_path / "model")
    assert predictions["warnings"].str.contains(
        "unit differs from training: creatinine ('mg/dL' in training, 'umol/L' here)",
        regex=False).all()


def test_leukocytes_are_a_known_count_in_si_or_per_microlitre_units():
    """A real export (the UCI cohort) prints counts as G/L, the SI spelling of 10^9/L, and many
    of its values per microlitre: both are converted, never kept as an unknown analyte."""
    rows = [("P1", "leukocytes", "7.2", "G/L", "baseline"),
            ("P2", "leukocytes", "6900", "/uL", "baseline"),
            ("P3", "platelets", "99", "g/l", "baseline"),
            ("P4", "wbc", "5.0", "10^9/L", "baseline")]
    with pytest.raises(InputError, match="'wbc'.*leukocytes"):
        normalise_units(long_table(rows), "lab.tsv")
    canonical = normalise_units(long_table(rows[:3]), "lab.tsv")
    features = baseline_features(canonical).set_index("sample_id")
    assert features.loc["P1", "leukocytes"] == pytest.approx(7.2)
    assert features.loc["P2", "leukocytes"] == pytest.approx(6.9)
    assert features.loc["P3", "platelets"] == pytest.approx(99.0)
    dictionary = biomarker_dictionary(canonical=canonical).set_index("feature")
    assert dictionary.loc["leukocytes", "unit"] == "10^9/L"
