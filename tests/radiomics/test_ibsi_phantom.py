"""pyradiomics as haicpred runs it, against the IBSI 1 consensus values of the digital phantom
(../shared/realdata/radiomics): every feature resources/ibsi_pyradiomics.tsv lists as agreeing
agrees within the reference tolerance, and every listed difference is real."""

import subprocess

import pandas as pd
import pytest

from haicpred.io.tables import read_tsv
from haicpred.radiomics.ibsi import (EXPECTATIONS, MAPPING, PHANTOM_PARAMS, allowed_difference,
                                     compare, extract_phantom, read_reference)
from imaging import (PHANTOM_IMAGE, PHANTOM_MASK, PHANTOM_REFERENCE, needs_phantom,
                     require_imaging)

pytestmark = needs_phantom


@pytest.fixture(scope="module")
def phantom():
    require_imaging()
    return extract_phantom(PHANTOM_IMAGE, PHANTOM_MASK, PHANTOM_PARAMS)


@pytest.fixture(scope="module")
def comparison(phantom):
    return compare(phantom, read_reference(PHANTOM_REFERENCE))


def test_every_feature_behaves_as_the_mapping_says(comparison):
    wrong = comparison[~comparison["as_expected"]]
    assert wrong.empty, wrong[["pyradiomics_feature", "value", "reference", "observed",
                               "expected"]].to_string()
    counts = comparison["observed"].value_counts()
    # the IBSI-compliant ones agree: shape, first order, GLCM, GLRLM, GLSZM, GLDM, NGTDM
    assert counts["agrees"] >= 100
    agreeing = comparison[comparison["observed"] == "agrees"]
    assert {name.split("_")[0] for name in agreeing["pyradiomics_feature"]} == {
        "shape", "firstorder", "glcm", "glrlm", "glszm", "gldm", "ngtdm"}


def test_every_extracted_feature_is_mapped_with_a_reason_where_needed(phantom):
    mapping = read_tsv(MAPPING)
    assert set(mapping["pyradiomics_feature"]) == set(phantom)
    assert set(mapping["expected"]) <= set(EXPECTATIONS)
    unexplained = mapping[(mapping["expected"] != "agrees") & mapping["reason"].isna()]
    assert unexplained.empty, unexplained.to_string()
    tags = mapping["ibsi_tag"].dropna()
    assert set(tags) <= set(read_reference(PHANTOM_REFERENCE).index)


def test_the_documented_differences_are_what_their_reasons_say(comparison):
    rows = comparison.set_index("pyradiomics_feature")
    # pyradiomics' kurtosis is not the excess kurtosis: exactly 3 above the IBSI value
    kurtosis = rows.loc["firstorder_Kurtosis"]
    assert kurtosis["value"] - 3 == pytest.approx(kurtosis["reference"], abs=5e-4)
    # the PCA axes: population covariance; with N - 1 the IBSI values come back
    n_voxels = 74  # the phantom's ROI (its reference 'Volume (voxel counting)' is 592 = 74 * 8)
    for feature in ("shape_MinorAxisLength", "shape_LeastAxisLength",
                    "shape_MajorAxisLength"):
        corrected = rows.loc[feature, "value"] * (n_voxels / (n_voxels - 1)) ** 0.5
        assert abs(corrected - rows.loc[feature, "reference"]) <= allowed_difference(
            rows.loc[feature, "reference"], 0.0), feature


def test_allowed_difference_is_half_a_unit_of_the_third_digit_plus_tolerance():
    assert allowed_difference(0.503, 0) == pytest.approx(0.0005)
    assert allowed_difference(145.0, 0) == pytest.approx(0.5)
    assert allowed_difference(556.0, 4.0) == pytest.approx(4.5)
    assert allowed_difference(-50.0, 0) == pytest.approx(0.05)


def test_cli_ibsi_check(tmp_path):
    require_imaging()
    out = tmp_path / "ibsi.tsv"
    result = subprocess.run(["haicpred", "ibsi-check", "--image", str(PHANTOM_IMAGE), "--mask",
                             str(PHANTOM_MASK), "--reference", str(PHANTOM_REFERENCE), "--out",
                             str(out)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "features agree with the reference" in result.stdout
    assert "differs: firstorder_Kurtosis" in result.stdout
    table = pd.read_csv(out, sep="\t")
    assert table["as_expected"].all()
