"""Extraction from images and lesion masks (haicpred.radiomics.extraction) on small synthetic
NIfTI/NRRD volumes: one row per lesion in pyradiomics' batch layout, read back by the radiomics
reader; every bad pair refused at once, naming the file, the sample and what to do."""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from haicpred.io.errors import InputError
from haicpred.radiomics.extraction import (IMAGING_INSTALL, QC_COLUMNS, ImagePair, check_pairs,
                                           extract_features, quality_flags, write_batch_csv)
from haicpred.radiomics.features import radiomic_features, read_radiomics
from imaging import ct_like, require_imaging, sphere_mask, write_volume

PARAMS = "resources/radiomics_params.yaml"


@pytest.fixture(autouse=True)
def imaging():
    require_imaging()


def pair(tmp_path, sample, image=None, mask=None, suffix=".nii.gz", spacing=(1.0, 1.0, 1.0),
         mask_spacing=None, origin=(0.0, 0.0, 0.0)):
    image = ct_like() if image is None else image
    mask = sphere_mask() if mask is None else mask
    image_path = write_volume(tmp_path / f"{sample}_ct{suffix}", image, spacing, origin)
    mask_path = write_volume(tmp_path / f"{sample}_mask{suffix}", mask,
                             mask_spacing or spacing, origin)
    return ImagePair(sample, str(image_path), str(mask_path), "samples.tsv")


def test_one_row_per_lesion_in_the_batch_layout_the_reader_takes(tmp_path):
    two = sphere_mask(centres=((12, 9, 9), (12, 22, 22)), radius=4.0)
    two[two == 2] = 3  # labels need not be consecutive
    pairs = [pair(tmp_path, "HCC001", mask=two), pair(tmp_path, "HCC002", suffix=".nrrd")]
    frame = extract_features(pairs, PARAMS)
    assert list(frame["sample_id"]) == ["HCC001", "HCC001", "HCC002"]
    assert list(frame["lesion_id"]) == ["HCC001_1", "HCC001_3", "HCC002_1"]
    assert list(frame["Label"]) == [1, 3, 1]
    assert set(QC_COLUMNS) <= set(frame.columns)
    # isotropic 1 mm image, resampled to 1 mm: the label is unchanged
    assert (frame["qc_volume_change"] == 0).all()
    assert not frame["qc_resampling_changed_label"].any()
    assert (frame["qc_lesion_voxels"] == frame["original_shape_VoxelVolume"]).all()
    assert "original_glcm_JointEntropy" in frame and "diagnostics_Versions_PyRadiomics" in frame
    out = tmp_path / "batch.csv"
    write_batch_csv(frame, out)
    settings = {"aggregation": "largest"}
    lesions = read_radiomics(out, settings)
    assert list(lesions["lesion_id"]) == ["HCC001_1", "HCC001_3", "HCC002_1"]
    features = radiomic_features(lesions, settings)
    assert list(features["sample_id"]) == ["HCC001", "HCC002"]
    assert features.set_index("sample_id").loc["HCC001", "rad_n_lesions"] == 2
    assert not any(c.startswith(("rad_qc", "rad_diagnostics")) for c in features.columns)


def test_two_workers_give_the_same_table(tmp_path):
    pairs = [pair(tmp_path, f"HCC{i:03d}", image=ct_like(seed=i)) for i in range(1, 4)]
    one = extract_features(pairs, PARAMS, workers=1)
    two = extract_features(pairs, PARAMS, workers=2)
    pd.testing.assert_frame_equal(one, two)
    write_batch_csv(one, tmp_path / "a.csv")
    write_batch_csv(two, tmp_path / "b.csv")
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()


def test_texture_follows_the_image(tmp_path):
    """A heterogeneous lesion has a higher GLCM joint entropy than a smooth one."""
    smooth, rough = ct_like(seed=5), ct_like(seed=5)
    lesion = sphere_mask(radius=5.0) == 1
    rng = np.random.default_rng(7)
    smooth[lesion] = 80 + rng.integers(-5, 5, lesion.sum())
    rough[lesion] = 80 + rng.integers(-150, 150, lesion.sum())
    frame = extract_features([pair(tmp_path, "smooth", image=smooth),
                              pair(tmp_path, "rough", image=rough)], PARAMS)
    entropy = frame.set_index("sample_id")["original_glcm_JointEntropy"]
    assert entropy["rough"] > entropy["smooth"] + 1


def test_every_bad_pair_is_reported_together(tmp_path):
    good = pair(tmp_path, "GOOD")
    spacing = pair(tmp_path, "SPACING", mask_spacing=(1.0, 1.0, 2.0))
    size = ImagePair("SIZE", good.image, str(write_volume(tmp_path / "small.nii.gz",
                                                          sphere_mask(shape=(20, 32, 32)))),
                     "samples.tsv")
    shifted = ImagePair("ORIGIN", good.image, str(write_volume(
        tmp_path / "shifted.nii.gz", sphere_mask(), origin=(0.0, 0.0, 5.0))), "samples.tsv")
    empty = pair(tmp_path, "EMPTY", mask=np.zeros((24, 32, 32), dtype=np.uint8))
    soft = pair(tmp_path, "SOFT", mask=sphere_mask().astype(np.float32) * 0.7)
    missing = ImagePair("MISSING", str(tmp_path / "nowhere.nii.gz"), good.mask, "samples.tsv")
    garbage = tmp_path / "garbage.nii.gz"
    garbage.write_text("not an image\n")
    unreadable = ImagePair("GARBAGE", str(garbage), good.mask, "samples.tsv")
    with pytest.raises(InputError) as caught:
        check_pairs([good, spacing, size, shifted, empty, soft, missing, unreadable])
    problems = {p.where.split(",")[0]: p for p in caught.value.problems}
    assert set(problems) == {"sample SPACING", "sample SIZE", "sample ORIGIN", "sample EMPTY",
                             "sample SOFT", "sample MISSING", "sample GARBAGE"}
    assert "spacing (1, 1, 2) vs (1, 1, 1) mm" in problems["sample SPACING"].message
    assert problems["sample SPACING"].file == spacing.mask
    assert "size 32x32x20 vs the image's 32x32x24" in problems["sample SIZE"].message
    assert "origin" in problems["sample ORIGIN"].message
    assert "nearest-neighbour" in problems["sample SIZE"].hint
    assert "mask is empty" in problems["sample EMPTY"].message
    assert "non-integer" in problems["sample SOFT"].message
    assert "does not exist" in problems["sample MISSING"].message
    assert problems["sample MISSING"].file == "samples.tsv"
    assert "cannot be read as an image" in problems["sample GARBAGE"].message
    assert problems["sample GARBAGE"].file == str(garbage)


def test_a_bad_pair_stops_the_shard_before_any_output(tmp_path):
    out = tmp_path / "shard.csv"
    pairs = [pair(tmp_path, "GOOD"), pair(tmp_path, "EMPTY",
                                          mask=np.zeros((24, 32, 32), dtype=np.uint8))]
    with pytest.raises(InputError):
        write_batch_csv(extract_features(pairs, PARAMS), out)
    assert not out.exists() and not list(tmp_path.glob("*.partial"))


def test_quality_flags_catch_a_label_resampling_changed():
    spacing = np.array([0.7, 0.7, 5.0])
    result = {"diagnostics_Mask-original_VoxelNum": 40,
              "diagnostics_Mask-interpolated_VoxelNum": 140,
              "diagnostics_Image-interpolated_Spacing": (1.0, 1.0, 1.0)}
    flags = quality_flags(result, spacing)
    assert flags["qc_volume_change"] == pytest.approx(140 / (40 * 0.7 * 0.7 * 5.0) - 1, abs=1e-6)
    assert flags["qc_resampling_changed_label"]
    result["diagnostics_Mask-interpolated_VoxelNum"] = 100
    assert not quality_flags(result, spacing)["qc_resampling_changed_label"]


def test_missing_extra_names_the_install_command():
    code = ("import sys; sys.modules['radiomics'] = None\n"
            "from haicpred.radiomics.extraction import require_pyradiomics\n"
            "require_pyradiomics()")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode != 0
    assert "MissingExtraError" in result.stderr and "'imaging'" in result.stderr
    assert IMAGING_INSTALL in result.stderr


def test_extraction_summary_and_report_block(tmp_path):
    """The report's view of an extraction: settings, lesions per batch with quality flags, and
    the per-batch distributions raw and harmonised, for the features with the largest scanner
    effect (here the lesion's intensities, shifted by 40 HU in batch b2)."""
    from haicpred.io.tables import write_tsv
    from haicpred.radiomics.extraction import read_parameters
    from haicpred.radiomics.extraction_summary import batch_distributions, extraction_summary
    from haicpred.report.extraction import extraction_block

    pairs, batch_of = [], {}
    for i in range(8):
        image = ct_like(seed=20 + i)
        lesion = sphere_mask(radius=5.0) == 1
        image[lesion] += np.int16(40 if i % 2 else 0) + np.int16(i)  # scanner of batch b2
        pairs.append(pair(tmp_path, f"P{i}", image=image))
        batch_of[f"P{i}"] = "b2" if i % 2 else "b1"
    frame = extract_features(pairs, PARAMS)
    write_batch_csv(frame, tmp_path / "extracted.csv")
    lesions = pd.read_csv(tmp_path / "extracted.csv", dtype=str, keep_default_na=False)
    summary = extraction_summary(read_parameters(PARAMS), PARAMS, lesions, batch_of)
    assert summary["lesions"] == 8 and summary["patients"] == 8
    assert [b["lesions"] for b in summary["per_batch"]] == [4, 4]
    assert summary["settings"]["setting"]["binWidth"] == 25
    assert summary["pyradiomics_versions"] == ["v3.0.1"]
    features = radiomic_features(read_radiomics(tmp_path / "extracted.csv", {}), {})
    distributions, reason = batch_distributions(features, batch_of)
    assert reason == ""
    assert set(distributions["stage"]) == {"raw", "harmonised"}
    strongest = distributions["feature"].iloc[0]
    assert distributions["feature"].nunique() == 4
    # the strongest scanner effect is on an intensity-location feature (all shifted by 40 HU)
    assert strongest.startswith("rad_original_firstorder_"), strongest
    raw = distributions[(distributions["stage"] == "raw")
                        & (distributions["feature"] == strongest)]
    medians = raw.set_index("batch")["median"]
    assert medians["b2"] - medians["b1"] > 30
    harmonised = distributions[(distributions["stage"] == "harmonised")
                               & (distributions["feature"] == strongest)]
    shift = harmonised.set_index("batch")["median"]
    assert abs(shift["b2"] - shift["b1"]) < medians["b2"] - medians["b1"]
    write_tsv(distributions, tmp_path / "distributions.tsv")
    html = extraction_block({**summary, "harmonisation_note": reason}, distributions)
    assert "Extraction from images" in html and "binWidth 25" in html
    assert "<td class=\"text\">b2</td>" in html and "data:image/png;base64," in html


@pytest.mark.parametrize("workers", [1, 2])
def test_a_lesion_too_small_for_pyradiomics_names_sample_and_label(tmp_path, workers):
    """minimumROISize (27 voxels in resources/radiomics_params.yaml): a 7-voxel label stops
    the shard with the sample and the label, also when a worker process finds it."""
    mask = sphere_mask()
    mask[2, 2:4, 2:4] = 2
    mask[3, 2:4, 2:3] = 2
    pairs = [pair(tmp_path, "OK"), pair(tmp_path, "TINY", mask=mask)]
    with pytest.raises(InputError) as caught:
        extract_features(pairs, PARAMS, workers=workers)
    (problem,) = caught.value.problems
    assert problem.where == "sample TINY, label 2" and problem.file == pairs[1].mask
    assert "pyradiomics refused the lesion" in problem.message
