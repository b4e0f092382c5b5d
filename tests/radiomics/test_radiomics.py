"""Radiomics as users have it: pyradiomics batch CSV output or a lesion table, feature names,
the config's choice of image types and classes, and the lesion aggregation rules."""

import csv
import math
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

from haicpred.io.errors import InputError
from haicpred.radiomics.features import (AGGREGATIONS, DEFAULT_SETTINGS, FEATURE_CLASSES,
                                         FEATURE_NAME_PATTERN, IMAGE_TYPE_FAMILIES, FeatureName,
                                         check_radiomics, parse_feature_name, radiomic_features,
                                         radiomics_dictionary, read_radiomics, selected_features)
from haicpred.io.tables import write_tsv
from haicpred.io.validation import SCHEMA_DIR, load_schema

# real pyradiomics 3.0.1 batch output on the IBSI digital phantom (see its README)
PYRADIOMICS_CSV = Path(__file__).parents[1] / "data" / "pyradiomics" / "features.csv"
BY_ID = {"id_column": "ID"}
WAVELETS = ["LLH", "LHL", "LHH", "HLL", "HLH", "HHL", "HHH", "LLL"]


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def batch_rows() -> tuple[list[str], list[dict]]:
    with open(PYRADIOMICS_CSV, newline="") as handle:
        reader = csv.DictReader(handle)
        return reader.fieldnames, list(reader)


def write_batch(path: Path, header: list[str], rows: list[dict], delimiter=",") -> Path:
    """Written the way pyradiomics writes it (csv.DictWriter, '\\n' line ends)."""
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, header, lineterminator="\n", delimiter=delimiter,
                                extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def problems_text(path, settings=None) -> str:
    with pytest.raises(InputError) as caught:
        read_radiomics(path, settings)
    return str(caught.value)


# ------------------------------------------------------------------ pyradiomics batch output


def test_fixture_is_pyradiomics_batch_output_with_quoted_metadata():
    text = PYRADIOMICS_CSV.read_text()
    header = text.splitlines()[0].split(",")
    assert header[:5] == ["ID", "Image", "Mask", "Label", "diagnostics_Versions_PyRadiomics"]
    assert "diagnostics_Mask-original_BoundingBox" in header
    # the settings dictionary holds commas, so only CSV quoting keeps the columns aligned
    assert "\"{'minimumROIDimensions': 2," in text
    assert "\"(2.0, 2.0, 2.0)\"" in text


def test_reads_pyradiomics_batch_output_mapping_rows_to_patients_and_lesions():
    lesions = read_radiomics(PYRADIOMICS_CSV, BY_ID)
    assert lesions["sample_id"].tolist() == ["PAT01", "PAT01", "PAT02"]
    # no lesion_id column: the Mask path and Label tell the lesions apart (both are label 1)
    assert lesions["lesion_id"].tolist() == ["mask/mask.nii.gz label 1",
                                             "mask/lesion2.nii.gz label 1",
                                             "mask/mask.nii.gz label 1"]
    assert list(lesions.index) == [1, 2, 3]  # the file's data rows, for messages
    features = list(lesions.columns[2:])
    assert len(features) == 3 + 2 + 1 + 3 * len(WAVELETS) + 3
    assert not any(c.startswith("diagnostics_") or c in ("ID", "Image", "Mask", "Label")
                   for c in lesions.columns)
    assert "wavelet-LLL_glcm_Contrast" in features
    assert "log-sigma-1-0-mm-3D_firstorder_Mean" in features


def test_pyradiomics_output_default_is_the_largest_lesion():
    out = radiomic_features(read_radiomics(PYRADIOMICS_CSV, BY_ID)).set_index("sample_id")
    assert out.loc["PAT01", "rad_n_lesions"] == 2 and out.loc["PAT02", "rad_n_lesions"] == 1
    # lesion 1 (MeshVolume 556.33) is larger than lesion2 (412.33, one slice fewer)
    assert out.loc["PAT01", "rad_original_shape_MeshVolume"] == pytest.approx(556.3333333333334)
    assert out.loc["PAT01", "rad_original_firstorder_Mean"] == pytest.approx(2.1486486486486487)
    assert out.loc["PAT01", "rad_wavelet-HHH_glcm_Contrast"] == \
        out.loc["PAT02", "rad_wavelet-HHH_glcm_Contrast"]  # same image and mask


def test_pyradiomics_output_volume_weighted_mean_by_hand():
    out = radiomic_features(read_radiomics(PYRADIOMICS_CSV, BY_ID),
                            {"aggregation": "volume_weighted_mean", "image_types": ["original"]})
    pat01 = out.set_index("sample_id").loc["PAT01"]
    v1, v2 = 556.3333333333334, 412.3333333333333
    mean1, mean2 = 2.1486486486486487, 2.3214285714285716  # original_firstorder_Mean
    assert pat01["rad_original_firstorder_Mean"] == pytest.approx((v1 * mean1 + v2 * mean2)
                                                                  / (v1 + v2))
    assert pat01["rad_original_shape_VoxelVolume"] == pytest.approx((v1 * 592 + v2 * 448)
                                                                    / (v1 + v2))


def test_format_comes_from_the_content_not_the_extension(tmp_path):
    header, rows = batch_rows()
    as_tsv = write_batch(tmp_path / "features.tsv", header, rows)  # a CSV named .tsv
    tab_separated = write_batch(tmp_path / "features.txt", header, rows, delimiter="\t")
    expected = radiomic_features(read_radiomics(PYRADIOMICS_CSV, BY_ID))
    for path in (as_tsv, tab_separated):
        pd.testing.assert_frame_equal(radiomic_features(read_radiomics(path, BY_ID)), expected)

    table = write(tmp_path / "lesions.csv", "sample_id\tlesion_id\toriginal_glcm_Contrast\n"
                                            "P1\tL1\t1.5\n")  # a TSV named .csv
    assert radiomic_features(read_radiomics(table))["rad_original_glcm_Contrast"].tolist() == [1.5]
    commas = write(tmp_path / "lesions2.tsv", "sample_id,original_glcm_Contrast\nP1,2.5\n")
    assert radiomic_features(read_radiomics(commas))["rad_original_glcm_Contrast"].tolist() == [2.5]


def test_a_sample_id_column_is_used_without_settings_and_lesion_ids_win(tmp_path):
    header, rows = batch_rows()
    for row, lesion in zip(rows, ["B", "A", "A"]):
        row["sample_id"], row["lesion_id"] = row.pop("ID"), lesion
    path = write_batch(tmp_path / "features.csv",
                       ["sample_id", "lesion_id", *header[1:]], rows)
    lesions = read_radiomics(path)
    assert lesions["lesion_id"].tolist() == ["B", "A", "A"]
    assert lesions["sample_id"].tolist() == ["PAT01", "PAT01", "PAT02"]

    for row, tag in zip(rows, ["x1", "x2", "x3"]):
        row["Reader"] = tag
    path = write_batch(tmp_path / "reader.csv", ["sample_id", "Reader", *header[1:]], rows)
    lesions = read_radiomics(path, {"lesion_column": "Reader"})
    assert lesions["lesion_id"].tolist() == ["x1", "x2", "x3"]


def test_failed_extraction_of_a_single_lesion_stays_missing(tmp_path):
    header, rows = batch_rows()
    features = [c for c in header if parse_feature_name(c)]
    for column in features:  # pyradiomics writes a failed case with its input columns only
        rows[2][column] = ""
    rows[0]["original_glcm_Contrast"] = "nan"  # pyradiomics' text for an undefined feature
    path = write_batch(tmp_path / "features.csv", header, rows)
    out = radiomic_features(read_radiomics(path, BY_ID)).set_index("sample_id")
    assert out.loc["PAT02", "rad_n_lesions"] == 1  # kept, not dropped
    assert out.loc["PAT02", [f"rad_{c}" for c in features]].isna().all()
    assert math.isnan(out.loc["PAT01", "rad_original_glcm_Contrast"])


# ------------------------------------------------------------------------------ feature names


@pytest.mark.parametrize("name, parts", [
    ("wavelet-LLH_glcm_Contrast", ("wavelet-LLH", "glcm", "Contrast", "wavelet")),
    ("wavelet2-HHL_ngtdm_Busyness", ("wavelet2-HHL", "ngtdm", "Busyness", "wavelet")),
    ("wavelet-LH_firstorder_Mean", ("wavelet-LH", "firstorder", "Mean", "wavelet")),  # force2D
    ("log-sigma-3-0-mm-3D_firstorder_Mean", ("log-sigma-3-0-mm-3D", "firstorder", "Mean",
                                             "log-sigma")),
    ("log-sigma-1-mm-3D_glszm_ZoneEntropy", ("log-sigma-1-mm-3D", "glszm", "ZoneEntropy",
                                             "log-sigma")),
    ("lbp-3D-m1_glrlm_RunEntropy", ("lbp-3D-m1", "glrlm", "RunEntropy", "lbp-3D")),
    ("lbp-3D-k_firstorder_Median", ("lbp-3D-k", "firstorder", "Median", "lbp-3D")),
    ("lbp-2D_gldm_DependenceEntropy", ("lbp-2D", "gldm", "DependenceEntropy", "lbp-2D")),
    ("gradient_glcm_Idm", ("gradient", "glcm", "Idm", "gradient")),
    ("square_firstorder_Energy", ("square", "firstorder", "Energy", "square")),
    ("squareroot_firstorder_Energy", ("squareroot", "firstorder", "Energy", "squareroot")),
    ("logarithm_glcm_Imc1", ("logarithm", "glcm", "Imc1", "logarithm")),
    ("exponential_ngtdm_Coarseness", ("exponential", "ngtdm", "Coarseness", "exponential")),
    ("original_shape_MeshVolume", ("original", "shape", "MeshVolume", "original")),
    ("original_shape2D_Perimeter", ("original", "shape2D", "Perimeter", "original")),
    ("original_firstorder_10Percentile", ("original", "firstorder", "10Percentile",
                                          "original")),
])
def test_feature_names_split_into_image_type_class_and_feature(name, parts):
    parsed = parse_feature_name(name)
    assert parsed == FeatureName(*parts[:3])
    assert parsed.image_family == parts[3]


@pytest.mark.parametrize("name", [
    "diagnostics_Versions_PyRadiomics", "diagnostics_Image-original_Spacing", "ID", "Image",
    "Mask", "Label", "sample_id", "wavelet-LLX_glcm_Contrast", "original_texture_Contrast",
    "log-sigma-3-0-mm_glcm_Contrast", "lbp-3D_glcm_Contrast", "Original_glcm_Contrast",
    "original_glcm_", "original_glcm_Contrast_extra"])
def test_other_names_are_not_features(name):
    assert parse_feature_name(name) is None


def test_schema_and_config_agree_with_the_module():
    assert FEATURE_NAME_PATTERN in load_schema("radiomics")["patternProperties"]
    with open(SCHEMA_DIR / "config.schema.yaml") as handle:
        radiomics_settings = yaml.safe_load(handle)["properties"]["radiomics_settings"]
    properties = radiomics_settings["properties"]
    assert {k: v["default"] for k, v in properties.items()} == DEFAULT_SETTINGS
    assert properties["aggregation"]["enum"] == list(AGGREGATIONS)
    assert properties["feature_classes"]["anyOf"][1]["items"]["enum"] == list(FEATURE_CLASSES)
    pattern = re.compile(properties["image_types"]["anyOf"][1]["items"]["pattern"])
    for name in [*IMAGE_TYPE_FAMILIES, "wavelet-LLH", "wavelet2-HHL", "log-sigma-3-0-mm-3D",
                 "lbp-3D-m1", "lbp-3D-k"]:
        assert pattern.match(name), name
    for name in ["LoG", "Wavelet", "wavelet2", "log", "lbp", "lbp-3D-x"]:
        assert not pattern.match(name), name


def test_the_config_file_validates_with_radiomics_settings(tmp_path):
    from haicpred.cohort import load_config

    repo = Path(__file__).resolve().parents[2]
    assert load_config(repo / "config" / "config.yaml")["radiomics_settings"] == DEFAULT_SETTINGS
    bad = write(tmp_path / "config.yaml", "radiomics_settings: {image_types: [LoG]}\n")
    with pytest.raises(Exception):
        load_config(bad)


# -------------------------------------------------------------------------------- selection


def test_config_chooses_image_types_and_classes():
    columns = list(read_radiomics(PYRADIOMICS_CSV, BY_ID).columns[2:])
    wavelets = selected_features(columns, {"image_types": ["wavelet"]})
    assert len(wavelets) == 3 * len(WAVELETS)
    assert all(c.startswith("wavelet-") for c in wavelets)
    assert selected_features(columns, {"image_types": ["log-sigma"]}) == [
        "log-sigma-1-0-mm-3D_firstorder_Mean", "log-sigma-1-0-mm-3D_firstorder_Energy",
        "log-sigma-1-0-mm-3D_glcm_Contrast"]
    assert selected_features(columns, {"image_types": ["wavelet-LLH"],
                                       "feature_classes": ["glcm"]}) == [
        "wavelet-LLH_glcm_Contrast"]
    assert selected_features(columns, {"image_types": ["original", "log-sigma"],
                                       "feature_classes": ["shape", "glcm"]}) == [
        "original_shape_MeshVolume", "original_shape_VoxelVolume", "original_shape_Sphericity",
        "original_glcm_Contrast", "log-sigma-1-0-mm-3D_glcm_Contrast"]
    assert selected_features(columns) == columns  # default: all

    out = radiomic_features(read_radiomics(PYRADIOMICS_CSV, BY_ID),
                            {"image_types": ["original"], "feature_classes": ["firstorder"],
                             "lesion_count": False})
    assert list(out.columns) == ["sample_id", "rad_original_firstorder_Mean",
                                 "rad_original_firstorder_Energy"]


def test_a_selection_the_file_cannot_meet_is_reported():
    settings = {**BY_ID, "image_types": ["original", "gradient"],
                "feature_classes": ["ngtdm"]}
    text = problems_text(PYRADIOMICS_CSV, settings)
    assert f"{PYRADIOMICS_CSV}: radiomics_settings.image_types: names gradient" in text
    assert "radiomics_settings.feature_classes: names ngtdm" in text
    assert "log-sigma-1-0-mm-3D, original, wavelet-HHH" in text  # what the file has


# ------------------------------------------------------------------------------ aggregation

LESIONS = ("sample_id\tlesion_id\toriginal_shape_MeshVolume\toriginal_firstorder_Mean\t"
           "original_glcm_Contrast\n"
           "P2\tLb\t50\t8\t80\n"
           "P1\tL1\t100\t1\t10\n"
           "P1\tL2\t300\t3\t\n"
           "P1\tL3\t100\t7\t20\n"
           "P2\tLa\t50\t9\t90\n"
           "P3\tL1\t\t4\t40\n")


def aggregate(tmp_path, rule, text=LESIONS):
    path = write(tmp_path / "lesions.tsv", text)
    return radiomic_features(read_radiomics(path, {"aggregation": rule}),
                             {"aggregation": rule}).set_index("sample_id")


def test_largest_lesion_with_deterministic_ties(tmp_path):
    out = aggregate(tmp_path, "largest")
    assert list(out.index) == ["P1", "P2", "P3"]
    assert out.loc["P1", "rad_original_firstorder_Mean"] == 3  # L2, volume 300
    assert math.isnan(out.loc["P1", "rad_original_glcm_Contrast"])  # index lesion's own value
    # P2's lesions tie at 50: the smallest lesion id (La) wins, whatever the row order
    assert out.loc["P2", "rad_original_firstorder_Mean"] == 9
    assert out.loc["P3", "rad_original_firstorder_Mean"] == 4  # one lesion: no volume needed
    assert out["rad_n_lesions"].tolist() == [3, 2, 1]


def test_volume_weighted_mean_by_hand(tmp_path):
    out = aggregate(tmp_path, "volume_weighted_mean")
    # P1: volumes 100, 300, 100
    assert out.loc["P1", "rad_original_firstorder_Mean"] == pytest.approx(
        (100 * 1 + 300 * 3 + 100 * 7) / 500)  # 3.4
    # Contrast is missing on L2: weights renormalised over the lesions that have it
    assert out.loc["P1", "rad_original_glcm_Contrast"] == pytest.approx(
        (100 * 10 + 100 * 20) / 200)  # 15
    assert out.loc["P1", "rad_original_shape_MeshVolume"] == pytest.approx(
        (100 ** 2 + 300 ** 2 + 100 ** 2) / 500)  # 220
    assert out.loc["P2", "rad_original_firstorder_Mean"] == pytest.approx(8.5)
    assert out.loc["P3", "rad_original_glcm_Contrast"] == 40


def test_plain_mean_by_hand(tmp_path):
    out = aggregate(tmp_path, "mean")
    assert out.loc["P1", "rad_original_firstorder_Mean"] == pytest.approx(11 / 3)
    assert out.loc["P1", "rad_original_glcm_Contrast"] == pytest.approx(15)


def test_voxel_volume_when_there_is_no_mesh_volume(tmp_path):
    text = LESIONS.replace("original_shape_MeshVolume", "original_shape_VoxelVolume")
    out = aggregate(tmp_path, "largest", text)
    assert out.loc["P1", "rad_original_firstorder_Mean"] == 3


def test_no_volume_column_is_refused_only_when_there_is_a_choice(tmp_path):
    without_volume = ["\t".join(cells[:2] + cells[3:])
                      for cells in (line.split("\t") for line in LESIONS.splitlines())]
    path = write(tmp_path / "novolume.tsv", "\n".join(without_volume) + "\n")
    message = problems_text(path)
    assert f"{path}: header: aggregation largest needs the lesion volume" in message
    assert "original_shape_MeshVolume" in message and "aggregation: mean" in message
    assert "P1" in radiomic_features(read_radiomics(path, {"aggregation": "mean"}),
                                     {"aggregation": "mean"})["sample_id"].tolist()

    single = write(tmp_path / "single.tsv", "sample_id\toriginal_glcm_Contrast\nP1\t1\nP2\t2\n")
    assert len(radiomic_features(read_radiomics(single))) == 2


def test_missing_volume_on_a_patient_with_several_lesions_is_reported(tmp_path):
    path = write(tmp_path / "lesions.tsv", LESIONS.replace("P1\tL3\t100", "P1\tL3\t"))
    for rule in ("largest", "volume_weighted_mean"):
        message = problems_text(path, {"aggregation": rule})
        assert (f"{path}: row 4, column original_shape_MeshVolume: lesion L3 of P1 has no "
                f"volume, so aggregation {rule}") in message
        assert "row 6" not in message  # P3's single lesion needs no volume
    read_radiomics(path, {"aggregation": "mean"})


def test_same_input_gives_the_same_bytes_whatever_the_row_order(tmp_path):
    lines = LESIONS.splitlines(keepends=True)
    shuffled = write(tmp_path / "shuffled.tsv", lines[0] + "".join(reversed(lines[1:])))
    original = write(tmp_path / "lesions.tsv", LESIONS)
    for rule in AGGREGATIONS:
        outputs = []
        for i, path in enumerate([original, shuffled, original]):
            write_tsv(radiomic_features(read_radiomics(path, {"aggregation": rule}),
                                        {"aggregation": rule}), tmp_path / f"out{i}.tsv")
            outputs.append((tmp_path / f"out{i}.tsv").read_bytes())
        assert outputs[0] == outputs[1] == outputs[2], rule


# ------------------------------------------------------------------------------------ errors


def test_batch_output_problems_are_collected_with_file_row_and_column(tmp_path):
    header, rows = batch_rows()
    rows[0]["original_glcm_Contrast"] = "high"  # row 1
    rows.append(dict(rows[2]))  # row 4 repeats row 3: same patient, Mask and Label
    rows.append({**rows[1], "ID": "", "Mask": "mask/other.nii.gz"})  # row 5: no patient
    rows[1]["original_shape_MeshVolume"] = ""  # row 2: PAT01 has two lesions
    path = write_batch(tmp_path / "features.csv", header, rows)
    with pytest.raises(InputError) as caught:
        read_radiomics(path, BY_ID)
    text = str(caught.value)
    assert f"{path}: row 1, column original_glcm_Contrast: 'high' is not of type 'number'" in text
    assert f"{path}: row 5, column ID: is empty" in text
    assert (f"{path}: rows 3, 4: ID PAT02, lesion mask/mask.nii.gz label 1 occurs more than "
            "once") in text
    assert f"{path}: row 2, column original_shape_MeshVolume: lesion mask/lesion2.nii.gz" in text
    assert len(caught.value.problems) == 4


def test_missing_or_ambiguous_id_column_says_what_to_set(tmp_path):
    text = problems_text(PYRADIOMICS_CSV)
    assert f"{PYRADIOMICS_CSV}: header: no column sample_id names the patient" in text
    assert "radiomics_settings.id_column" in text and "ID, Image, Mask, Label" in text
    assert "no column Patient" in problems_text(PYRADIOMICS_CSV, {"id_column": "Patient"})

    header, rows = batch_rows()
    for row in rows:
        row["sample_id"] = row["ID"]
    path = write_batch(tmp_path / "both.csv", ["sample_id", *header], rows)
    assert "has both sample_id and ID" in problems_text(path, BY_ID)
    assert "no column Lesion" in problems_text(path, {"lesion_column": "Lesion"})


def test_bad_ids_and_unknown_image_types_are_reported(tmp_path):
    header, rows = batch_rows()
    rows[0]["ID"] = "PAT 01"
    for row in rows:
        row["wavelet-LLX_glcm_Contrast"] = "1"
    path = write_batch(tmp_path / "features.csv", [*header, "wavelet-LLX_glcm_Contrast"], rows)
    text = problems_text(path, BY_ID)
    assert f"{path}: row 1, column ID: 'PAT 01' is not a valid sample_id" in text
    assert f"{path}: column wavelet-LLX_glcm_Contrast: looks like a pyradiomics feature" in text


def test_lesion_table_problems(tmp_path):
    path = write(tmp_path / "lesions.tsv",
                 "sample_id\tlesion_id\toriginal_shape_MeshVolume\ttexture\n"
                 "P1\tL1\t10\tx\nP1\tL1\t20\tx\nP2\t\t5\tx\n")
    text = problems_text(path)
    assert f"{path}: column texture: unknown column" in text
    assert f"{path}: rows 1, 2: sample_id P1, lesion L1 occurs more than once" in text
    assert f"{path}: row 3, column lesion_id: is empty" in text
    missing = write(tmp_path / "nosample.tsv", "patient\toriginal_glcm_Contrast\nP1\t1\n")
    assert "missing column sample_id" in problems_text(missing)
    table, problems = check_radiomics(tmp_path / "absent.tsv")
    assert table is None and "does not exist" in str(problems[0])


def test_dictionary_names_image_type_class_and_feature():
    features = radiomic_features(read_radiomics(PYRADIOMICS_CSV, BY_ID))
    dictionary = radiomics_dictionary(features, "largest").set_index("feature")
    assert list(dictionary.index) == list(features.columns[1:])
    assert dictionary.loc["rad_log-sigma-1-0-mm-3D_firstorder_Mean", "description"].startswith(
        "pyradiomics image type log-sigma-1-0-mm-3D, class firstorder, feature Mean; of the "
        "index (largest) lesion")
    assert "class glcm, feature Contrast" in dictionary.loc["rad_wavelet-LLH_glcm_Contrast",
                                                             "description"]
    generic = radiomics_dictionary(features).set_index("feature")
    assert "radiomics_settings.aggregation" in generic.loc["rad_wavelet-LLH_glcm_Contrast",
                                                           "description"]


# ------------------------------------------------- issue 13 finding 11: wide tables, lesion count


def wide_batch_output(path: Path, n_patients: int = 12, n_features: int = 2000) -> Path:
    """pyradiomics batch output shaped like a third-party extraction: 2,000 features, two
    lesions (masks) for every other patient, a third lesion as a second label of one mask."""
    import numpy as np

    rng = np.random.default_rng(0)
    families = ["original", *[f"wavelet-{w}" for w in WAVELETS]]
    classes = ["firstorder", "glcm", "glrlm", "glszm", "gldm"]
    names = ["original_shape_MeshVolume"]
    i = 0
    while len(names) < n_features:
        names.append(f"{families[i % len(families)]}_{classes[i % len(classes)]}_F{i}")
        i += 1
    header = ["ID", "Image", "Mask", "Label", "diagnostics_Versions_PyRadiomics", *names]
    rows = []
    for p in range(n_patients):
        masks = [("mask.nii.gz", "1")] + ([("lesion2.nii.gz", "1")] if p % 2 else [])
        if p == 0:
            masks.append(("mask.nii.gz", "2"))  # a multi-label mask: each label is a lesion
        for mask, label in masks:
            values = rng.uniform(1, 100, len(names))
            rows.append({"ID": f"P{p:03d}", "Image": f"p{p}/ct.nii.gz",
                         "Mask": f"p{p}/{mask}", "Label": label,
                         "diagnostics_Versions_PyRadiomics": "v3.0.1",
                         **{n: f"{v:.6g}" for n, v in zip(names, values)}})
    return write_batch(path, header, rows)


@pytest.mark.parametrize("aggregation", AGGREGATIONS)
def test_a_wide_radiomics_table_reads_without_pandas_warnings(tmp_path, aggregation):
    """2,000 features: no 'DataFrame is highly fragmented' PerformanceWarning (or any other)."""
    import warnings

    path = wide_batch_output(tmp_path / "features.csv")
    settings = {**BY_ID, "aggregation": aggregation}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lesions = read_radiomics(path, settings)
        out = radiomic_features(lesions, settings)
        dictionary = radiomics_dictionary(out, aggregation)
    assert out.shape == (12, 1 + 1 + 2000)  # sample_id, rad_n_lesions, features
    assert list(out.columns[:3]) == ["sample_id", "rad_n_lesions", "rad_original_shape_MeshVolume"]
    assert len(dictionary) == 2001


def test_lesion_count_counts_mask_and_label_pairs_and_says_so(tmp_path):
    """rad_n_lesions: one per extracted (Mask, Label); the dictionary says what is counted."""
    path = wide_batch_output(tmp_path / "features.csv", n_patients=4, n_features=20)
    out = radiomic_features(read_radiomics(path, BY_ID), BY_ID).set_index("sample_id")
    # P000: mask.nii.gz labels 1 and 2; P001, P003: two masks; P002: one mask
    assert out["rad_n_lesions"].tolist() == [2, 2, 1, 2]
    described = radiomics_dictionary(out.reset_index(), "largest").set_index("feature")
    text = described.loc["rad_n_lesions", "description"]
    assert "per Mask + Label of pyradiomics batch output" in text
    assert "tumours segmented under one label of one mask count as one" in text
