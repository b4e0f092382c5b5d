"""Golden tests: published indices on hand-computed patients (values worked out by hand from the
formulas in background.md, not from the code), including every grade boundary."""

import math

import numpy as np
import pandas as pd
import pytest

from haicpred.indices import CLINICAL_LAB_INDICES, LAB_INDICES, compute_indices, cutoffs

NAN = float("nan")
# bilirubin umol/L, albumin g/L, platelets/neutrophils/lymphocytes/monocytes 10^9/L, CRP mg/L,
# AFP ng/mL, VWF %, ADAMTS13 %; ascites and encephalopathy encoded 0/1/2.
PATIENTS = pd.DataFrame({
    "bilirubin": [17.1, 34.2, 60.0, 17.1],
    "albumin": [40.0, 35.0, 27.0, 40.0],
    "platelets": [150.0, 100.0, 80.0, 150.0],
    "neutrophils": [4.0, 6.0, 3.0, 4.0],
    "lymphocytes": [2.0, 1.5, 0.0, 2.0],
    "monocytes": [0.5, 0.6, 0.4, 0.5],
    "crp": [5.0, 10.0, 25.0, NAN],
    "afp": [50.0, 100.0, 400.0, 399.9],
    "inr": [1.1, 1.7, 2.4, NAN],
    "vwf": [270.0, 200.0, NAN, 150.0],
    "adamts13": [100.0, 50.0, 60.0, 0.0],
    "ascites": [0.0, 1.0, 2.0, 0.0],
    "encephalopathy": [0.0, 0.0, 2.0, 0.0],
}, index=["A", "B", "C", "D"])


@pytest.fixture(scope="module")
def computed():
    return compute_indices(PATIENTS, LAB_INDICES + CLINICAL_LAB_INDICES)


def test_albi(computed):
    # A: 0.66*log10(17.1) - 0.085*40 = 0.813777 - 3.4; B: 0.66*log10(34.2) - 2.975;
    # C: 0.66*log10(60) - 2.295
    assert computed["albi_score"].tolist() == pytest.approx(
        [-2.586223, -1.962543, -1.121420, -2.586223], abs=1e-6)
    assert computed["albi_grade"].tolist() == [2, 2, 3, 2]


def test_palbi(computed):
    # A: 2.02*1.232996 - 0.37*1.520279 - 1.6 - 3.48*2.176091 + 1.01*4.735373 = -2.461921
    assert computed.loc["A", "palbi_score"] == pytest.approx(-2.461921, abs=1e-6)
    assert computed.loc["A", "palbi_grade"] == 2


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


def test_blood_count_indices(computed):
    a = computed.loc["A"]
    assert (a["nlr"], a["plr"], a["mlr"]) == pytest.approx((2.0, 75.0, 0.25))
    assert a["sii"] == pytest.approx(300.0)  # 150 * 4 / 2
    assert a["siri"] == pytest.approx(1.0)  # 4 * 0.5 / 2
    assert a["pni"] == pytest.approx(50.0)  # 40 + 5 * 2
    assert computed.loc["B", "nlr"] == pytest.approx(4.0)
    # zero lymphocytes: the ratios are undefined (missing), not infinite
    assert computed.loc["C", ["nlr", "plr", "mlr", "sii", "siri"]].isna().all()
    assert computed.loc["C", "pni"] == pytest.approx(27.0)


def test_gps_and_crafity_including_cut_offs(computed):
    # B sits on every cut-off: CRP 10 is not > 10 (GPS) but is >= 10 (CRAFITY);
    # albumin 35 is not < 35; AFP 100 is >= 100
    assert computed["gps"].tolist()[:3] == [0, 0, 2]
    assert computed["crafity"].tolist()[:3] == [0, 2, 2]
    assert np.isnan(computed.loc["D", "gps"]) and np.isnan(computed.loc["D", "crafity"])


def test_child_pugh_points_and_class(computed):
    # A: 1+1+1+1+1; B: bilirubin 34.2 -> 2, albumin 35 -> 2, INR 1.7 -> 2, mild ascites -> 2,
    # no encephalopathy -> 1; C: 3 points for each of the five
    assert computed["child_pugh_points"].tolist()[:3] == [5, 9, 15]
    assert computed["child_pugh_class"].tolist()[:3] == [1, 2, 3]
    assert computed.loc["D", ["child_pugh_points", "child_pugh_class"]].isna().all()  # no INR


def test_afp_flags_and_vwf_ratio(computed):
    assert computed["afp_ge_400"].tolist() == [0, 0, 1, 0]  # 399.9 is below
    assert computed.loc["C", "log10_afp"] == pytest.approx(math.log10(400))
    assert computed.loc["A", "vwf_adamts13_ratio"] == pytest.approx(2.7)
    assert computed.loc["B", "vwf_adamts13_ratio"] == pytest.approx(4.0)
    assert computed.loc[["C", "D"], "vwf_adamts13_ratio"].isna().all()


def test_cut_offs_are_configurable_and_checked():
    out = compute_indices(PATIENTS, LAB_INDICES, {"afp_ng_ml": 1000.0})
    assert out["afp_ge_400"].tolist() == [0, 0, 0, 0]
    with pytest.raises(ValueError, match="unknown cut-off"):
        cutoffs({"afp": 1.0})
