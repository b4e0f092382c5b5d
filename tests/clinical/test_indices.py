"""Golden tests: published indices on a dozen hand-computed patients, including grade boundaries.

The expected values were worked out from the formulas in background.md (and Chang 2015 for the
SIS cut-offs) with a calculator, independently of haicpred, and are written here as literals.
"""

import math

import numpy as np
import pandas as pd
import pytest

from haicpred.clinical.clinical_table import encode_clinical
from haicpred.clinical.indices import (CLINICAL_LAB_INDICES, CUTOFFS, LAB_INDICES, compute_indices,
                                       cutoffs)

NAN = float("nan")
# bilirubin umol/L, albumin g/L, platelets/neutrophils/lymphocytes/monocytes 10^9/L, CRP mg/L,
# AFP ng/mL, INR, VWF %, ADAMTS13 %; ascites and encephalopathy encoded 0/1/2.
INPUT_COLUMNS = ["bilirubin", "albumin", "platelets", "neutrophils", "lymphocytes", "monocytes",
                 "crp", "afp", "inr", "vwf", "adamts13", "ascites", "encephalopathy"]
INPUTS = {
    "P01": (8.0, 46.0, 250, 3.0, 2.5, 0.4, 1.0, 5.0, 0.9, 120, 110, 0, 0),
    "P02": (12.0, 42.0, 210, 3.5, 2.0, 0.45, 3.0, 20.0, 1.0, 150, 90, 0, 0),
    "P03": (17.1, 40.0, 150, 4.0, 2.0, 0.5, 5.0, 50.0, 1.1, 270, 100, 0, 0),
    "P04": (20.0, 38.0, 130, 5.0, 1.8, 0.6, 8.0, 99.9, 1.2, 200, 80, 0, 0),
    "P05": (25.0, 36.0, 120, 4.4, 1.1, 0.25, 10.0, 100.0, 1.3, 180, 60, 1, 0),
    "P06": (34.2, 35.0, 100, 6.0, 1.5, 0.6, 10.1, 250.0, 1.7, 200, 50, 1, 0),
    "P07": (40.0, 32.0, 90, 7.0, 1.2, 0.7, 15.0, 399.9, 1.9, 300, 40, 1, 1),
    "P08": (51.3, 28.0, 70, 8.0, 1.0, 0.8, 30.0, 400.0, 2.3, 350, 35, 1, 1),
    "P09": (60.0, 27.0, 60, 9.0, 0.8, 0.9, 45.0, 1000.0, 2.4, 400, 30, 2, 1),
    "P10": (85.5, 24.0, 45, 10.0, 0.5, 1.0, 80.0, 25000.0, 2.8, 500, 20, 2, 2),
    # LMR exactly 4.44 (not low); no CRP, no INR; ADAMTS13 0 (ratio undefined)
    "P11": (15.0, 44.0, 180, 2.8, 2.22, 0.5, NAN, 3.0, NAN, 100, 0.0, 0, 0),
    # no bilirubin, platelets or AFP; zero lymphocytes
    "P12": (NAN, 39.9, NAN, 3.0, 0.0, 0.4, 12.0, NAN, 1.0, NAN, 70, NAN, 0),
}
PATIENTS = pd.DataFrame.from_dict(INPUTS, orient="index", columns=INPUT_COLUMNS).astype(float)

# Hand-computed, one row per patient. Worked examples:
#   P03 ALBI = 0.66*log10(17.1) - 0.085*40 = 0.813777 - 3.4 = -2.586223 (> -2.60: grade 2)
#   P03 PALBI = 2.02*1.232996 - 0.37*1.520279 - 0.04*40 - 3.48*2.176091 + 1.01*4.735373
#             = -2.461922 (grade 2)
#   P06 Child-Pugh = bilirubin 34.2 (2) + albumin 35 (2) + INR 1.7 (2) + mild ascites (2)
#             + no encephalopathy (1) = 9, class B; P07 = 2+2+2+2+2 = 10, class C
#   P05 SIS: albumin 36 < 40 (1) + LMR 1.1/0.25 = 4.4 < 4.44 (1) = 2; P11 LMR 4.44 is not low
#   P06 GPS: CRP 10.1 > 10 (1) + albumin 35 not < 35 (0) = 1; P05 CRP 10 is not > 10
#   P05 CRAFITY: AFP 100 >= 100 (1) + CRP 10 >= 10 (1) = 2; P04 AFP 99.9 (0)
EXPECTED_COLUMNS = ["albi_score", "albi_grade", "palbi_score", "palbi_grade",
                    "child_pugh_points", "child_pugh_class", "nlr", "plr", "mlr", "sii", "siri",
                    "pni", "gps", "sis", "crafity", "vwf_adamts13_ratio", "afp_ge_400",
                    "log10_afp"]
EXPECTED = {
    "P01": (-3.313961, 1, -2.854733, 1, 5, 1, 1.2, 100.0, 0.16, 300.0, 0.48, 58.5,
            0, 0, 0, 1.090909, 0, 0.69897),
    "P02": (-2.85774, 1, -2.565661, 1, 5, 1, 1.75, 105.0, 0.225, 367.5, 0.7875, 52.0,
            0, 0, 0, 1.666667, 0, 1.30103),
    "P03": (-2.586223, 2, -2.461922, 2, 5, 1, 2.0, 75.0, 0.25, 300.0, 1.0, 50.0,
            0, 1, 0, 2.7, 0, 1.69897),
    "P04": (-2.37132, 2, -2.361289, 2, 5, 1, 2.777778, 72.222222, 0.333333, 361.111111,
            1.666667, 47.0, 0, 2, 0, 2.5, 0, 1.999565),
    "P05": (-2.13736, 2, -2.208555, 2, 6, 1, 4.0, 109.090909, 0.227273, 480.0, 1.0, 41.5,
            0, 2, 2, 3.0, 0, 2.0),
    "P06": (-1.962543, 2, -2.091965, 2, 9, 2, 4.0, 66.666667, 0.4, 400.0, 2.4, 42.5,
            1, 2, 2, 4.0, 0, 2.39794),
    "P07": (-1.66264, 2, -1.936989, 3, 10, 3, 5.833333, 75.0, 0.583333, 525.0, 4.083333, 38.0,
            2, 2, 2, 7.5, 0, 2.601951),
    "P08": (-1.251323, 3, -1.730139, 3, 10, 3, 8.0, 70.0, 0.8, 560.0, 6.4, 33.0,
            2, 2, 2, 10.0, 1, 2.60206),
    "P09": (-1.12142, 3, -1.652535, 3, 14, 3, 11.25, 75.0, 1.125, 675.0, 10.125, 31.0,
            2, 2, 2, 13.333333, 1, 3.0),
    "P10": (-0.764902, 3, -1.431188, 3, 15, 3, 20.0, 90.0, 2.0, 900.0, 20.0, 26.5,
            2, 2, 2, 25.0, 1, 4.39794),
    "P11": (-2.96378, 1, -2.607308, 1, NAN, NAN, 1.261261, 81.081081, 0.225225, 227.027027,
            0.630631, 55.1, NAN, 0, NAN, NAN, 0, 0.477121),
    "P12": (NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, 39.9,
            1, 2, NAN, NAN, NAN, NAN),
}


@pytest.fixture(scope="module")
def computed():
    return compute_indices(PATIENTS, LAB_INDICES + CLINICAL_LAB_INDICES)


@pytest.mark.parametrize("patient", sorted(EXPECTED))
def test_golden_patient(computed, patient):
    for column, expected in zip(EXPECTED_COLUMNS, EXPECTED[patient]):
        value = computed.loc[patient, column]
        if math.isnan(expected):
            assert math.isnan(value), f"{patient} {column}: expected missing, got {value}"
        else:
            assert value == pytest.approx(expected, abs=1e-6), f"{patient} {column}"


def test_every_derived_index_has_a_golden_value():
    assert set(EXPECTED_COLUMNS) == {i.name for i in LAB_INDICES + CLINICAL_LAB_INDICES}


def test_grade_boundaries_belong_to_the_better_grade():
    by_name = {index.name: index for index in LAB_INDICES + CLINICAL_LAB_INDICES}
    c = cutoffs()
    albi = pd.DataFrame({"albi_score": [-2.61, -2.60, -2.59, -1.39, -1.38, NAN]})
    assert by_name["albi_grade"].compute(albi, c).tolist()[:5] == [1, 1, 2, 2, 3]
    assert math.isnan(by_name["albi_grade"].compute(albi, c).iloc[5])
    palbi = pd.DataFrame({"palbi_score": [-2.53, -2.52, -2.09, -2.08]})
    assert by_name["palbi_grade"].compute(palbi, c).tolist() == [1, 2, 2, 3]
    points = pd.DataFrame({"child_pugh_points": [5, 6, 7, 9, 10, 15, NAN]})
    classes = by_name["child_pugh_class"].compute(points, c)
    assert classes.tolist()[:6] == [1, 1, 2, 2, 3, 3] and math.isnan(classes.iloc[6])


def test_child_pugh_component_boundaries():
    # bilirubin 34.2 and 51.3 are the 2-point band's ends; albumin 28 and 35 likewise;
    # INR 1.7 and 2.3 likewise. Everything else at 1 point (5 = all 1s).
    base = {"bilirubin": 10.0, "albumin": 40.0, "inr": 1.0, "ascites": 0.0,
            "encephalopathy": 0.0}
    cases = [("bilirubin", 34.1, 5), ("bilirubin", 34.2, 6), ("bilirubin", 51.3, 6),
             ("bilirubin", 51.4, 7), ("albumin", 35.1, 5), ("albumin", 35.0, 6),
             ("albumin", 28.0, 6), ("albumin", 27.9, 7), ("inr", 1.69, 5), ("inr", 1.7, 6),
             ("inr", 2.3, 6), ("inr", 2.31, 7), ("ascites", 2.0, 7), ("encephalopathy", 1.0, 6)]
    rows = pd.DataFrame([{**base, column: value} for column, value, _ in cases])
    points = compute_indices(rows, CLINICAL_LAB_INDICES[:1])["child_pugh_points"]
    assert points.tolist() == [expected for _, _, expected in cases]


def test_sis_gps_crafity_cut_offs_are_strict_where_published():
    rows = pd.DataFrame({"albumin": [40.0, 39.99, 35.0, 34.99], "lymphocytes": [4.44, 4.43, 1, 1],
                         "monocytes": [1.0, 1.0, 1.0, 1.0], "crp": [10.0, 10.01, 9.99, 10.0],
                         "afp": [100.0, 99.99, 100.0, 0.0]})
    out = compute_indices(rows, [i for i in LAB_INDICES if i.name in ("sis", "gps", "crafity")])
    assert out["sis"].tolist() == [0, 2, 2, 2]
    assert out["gps"].tolist() == [0, 1, 0, 1]
    assert out["crafity"].tolist() == [2, 1, 1, 1]


def test_cut_offs_are_configurable_sourced_and_checked():
    out = compute_indices(PATIENTS, LAB_INDICES, {"afp_ng_ml": 1000.0, "sis_lmr": 3.4})
    assert out["afp_ge_400"].tolist()[7:10] == [0, 1, 1]  # P08 400, P09 1000, P10 25000
    assert out.loc["P05", "sis"] == 1  # LMR 4.4 is no longer low
    assert all(source for _, source in CUTOFFS.values())
    with pytest.raises(ValueError, match="unknown cut-off"):
        cutoffs({"afp": 1.0})


# Tumour-burden flags and the ordinal encodings, from the clinical sheet, hand-written.
CLINICAL = pd.DataFrame({
    "sample_id": [f"C{i:02d}" for i in range(1, 13)],
    "tumor_size_cm": ["6.9", "7", "7.1", "9.9", "10", "15", "", "3", "2", "12", "8", "1"],
    "tumor_number": ["1", "3", "4", "2", "", "5", "1", "3", "10", "1", "4", "2"],
    "vascular_invasion": ["none", "Vp1", "Vp2", "Vp3", "Vp4", "", "none", "Vp3", "none", "Vp4",
                          "Vp2", "none"],
    "bclc": ["A", "B", "B", "C", "C", "C", "", "C", "B", "C", "C", "0"],
    "extrahepatic_metastasis": ["0", "0", "0", "0", "1", "1", "0", "", "0", "1", "0", "0"],
}).replace("", pd.NA)
BURDEN = {  # tumor_size_ge7, tumor_size_ge10, tumor_number_gt3, vp3_vp4, bclc, EM
    "C01": (0, 0, 0, 0, 1, 0), "C02": (1, 0, 0, 0, 2, 0), "C03": (1, 0, 1, 0, 2, 0),
    "C04": (1, 0, 0, 1, 3, 0), "C05": (1, 1, NAN, 1, 3, 1), "C06": (1, 1, 1, NAN, 3, 1),
    "C07": (NAN, NAN, 0, 0, NAN, 0), "C08": (0, 0, 0, 1, 3, NAN), "C09": (0, 0, 1, 0, 2, 0),
    "C10": (1, 1, 0, 1, 3, 1), "C11": (1, 0, 1, 0, 3, 0), "C12": (0, 0, 0, 0, 0, 0),
}


def test_tumour_burden_flags_golden():
    encoded = encode_clinical(CLINICAL).set_index("sample_id")
    columns = ["tumor_size_ge7", "tumor_size_ge10", "tumor_number_gt3", "vp3_vp4", "bclc",
               "extrahepatic_metastasis"]
    got = encoded.loc[sorted(BURDEN), columns].to_numpy(dtype=float)
    want = np.array([BURDEN[k] for k in sorted(BURDEN)], dtype=float)
    np.testing.assert_array_equal(got, want)


# --- a recorded Child-Pugh score or class (issue 13 finding 7) --------------------------------
# bilirubin umol/L, albumin g/L, INR; ascites / encephalopathy as in clinical.tsv; the recorded
# score and class. By hand: R1 misses ascites, so its recorded 7 is used (class B); R2 has every
# component (1+1+1+1+1 = 5, class A), which overrides its recorded 8/B; R3 records only class C.
RECORDED_CLINICAL = pd.DataFrame({
    "sample_id": ["R1", "R2", "R3", "R4", "R5", "R6", "R7"],
    "ascites": ["", "none", "", "", "", "mild", "none"],
    "encephalopathy": ["none", "none", "", "", "", "", "none"],
    "child_pugh_score": ["7", "8", "", "6", "", "10", "9"],
    "child_pugh_class": ["", "B", "C", "A", "", "C", ""],
}).replace("", pd.NA)
RECORDED_LABS = pd.DataFrame({"sample_id": ["R1", "R2", "R6", "R7"],
                              "bilirubin": [20.0, 10.0, 60.0, 10.0],
                              "albumin": [30.0, 40.0, 25.0, 40.0], "inr": [1.2, 1.0, 2.5, NAN]})
RECORDED_EXPECTED = {  # child_pugh_points, child_pugh_class
    "R1": (7, 2), "R2": (5, 1), "R3": (NAN, 3), "R4": (6, 1), "R5": (NAN, NAN),
    "R6": (10, 3), "R7": (9, 2)}


def test_recorded_child_pugh_is_used_where_a_component_is_missing():
    from haicpred.features.matrix import build_feature_matrix

    sheet = pd.DataFrame({"sample_id": list(RECORDED_EXPECTED), "batch": "b1"})
    matrix, dictionary, _ = build_feature_matrix(
        sheet, RECORDED_CLINICAL, pd.DataFrame({"sample_id": []}),
        pd.DataFrame({"sample_id": []}), RECORDED_LABS, radiomics=None)
    got = matrix.set_index("sample_id")[["child_pugh_points", "child_pugh_class"]]
    for sample, expected in RECORDED_EXPECTED.items():
        assert list(got.loc[sample]) == pytest.approx(list(expected), nan_ok=True), sample
    described = dictionary.set_index("feature")["description"]
    assert "derived from the components when all five are present, else the clinical " \
           "table's recorded child_pugh_score" in described["child_pugh_points"]
    assert "the clinical table's recorded child_pugh_class" in described["child_pugh_class"]
    # the recorded values feed the derived features; they are not features themselves
    assert not {"child_pugh_score", "child_pugh_class_recorded"} & set(matrix.columns)


def test_recorded_child_pugh_class_boundaries():
    by_name = {index.name: index for index in CLINICAL_LAB_INDICES}
    rows = pd.DataFrame({"child_pugh_points": [NAN] * 6,
                         "child_pugh_class_recorded": [1.0, 2.0, 3.0, NAN, NAN, NAN],
                         })
    classes = by_name["child_pugh_class"].compute(rows, cutoffs())
    assert classes.tolist()[:3] == [1, 2, 3] and classes.iloc[3:].isna().all()
    scores = pd.DataFrame({"bilirubin": NAN, "albumin": NAN, "inr": NAN, "ascites": NAN,
                           "encephalopathy": NAN,
                           "child_pugh_score_recorded": [5.0, 6.0, 7.0, 9.0, 10.0, 15.0]})
    out = compute_indices(scores, CLINICAL_LAB_INDICES)
    assert out["child_pugh_points"].tolist() == [5, 6, 7, 9, 10, 15]
    assert out["child_pugh_class"].tolist() == [1, 1, 2, 2, 3, 3]
