"""Synthetic CT volumes and lesion masks whose texture and shape follow the planted factors.

For the image path of the radiomics stage (`haicpred simulate --images`, after the cohort, from
its `lesion_truth.tsv`): each patient with radiomics gets one small contrast-CT-like volume (liver parenchyma around 60 HU) and a mask with
one integer label per lesion (the lesion table of `simulate_lesions`: the largest lesion
carries the planted signature). Per lesion:

- heterogeneity H (the planted `rad_joint_entropy` factor) sets the standard deviation of the
  lesion's smoothed intensity field: a heterogeneous lesion spreads over more grey levels, so
  its GLCM joint entropy rises;
- shape regularity R (the planted `rad_sphericity` factor) sets how far the surface departs
  from an ellipsoid (random low-order bumps): an irregular lesion has a lower sphericity;
- enhancement E moves the lesion's mean, coarseness C the smoothing of its texture;
- size, elongation and flatness come from the lesion table, shrunk so that a volume stays small
  (LESION_SCALE: the images are a model of the texture, not of the anatomy's size).

Scanner effects per batch: voxel spacing, an intensity offset and a noise level, as different
scanners and protocols give (SCANNERS). The volumes are written with SimpleITK (the imaging
extra).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy.ndimage import gaussian_filter
from scipy.special import expit

# (spacing x, y, z in mm; HU offset; noise SD multiplier) by batch index % 3
SCANNERS = (((0.9, 0.9, 1.5), 0.0, 1.0), ((1.2, 1.2, 1.2), 12.0, 1.3),
            ((0.8, 0.8, 2.0), -8.0, 0.8))
LESION_SCALE_MM_PER_CM = 2.5  # a 10 cm lesion is drawn 25 mm across
LESION_DIAMETER_RANGE_MM = (9.0, 30.0)
FIELD_OF_VIEW_MM = 56.0  # cube around the lesions
PARENCHYMA_HU, PARENCHYMA_NOISE_HU = 60.0, 8.0
LESION_HU, LESION_ENHANCEMENT_HU = 95.0, 18.0
TEXTURE_SD_HU, TEXTURE_SD_PER_H = 22.0, 0.55  # SD = 22 * exp(0.55 H + noise) HU
TEXTURE_SD_NOISE = 0.3  # what H does not explain (biology, contrast timing)
BUMP_AMPLITUDE = 0.45  # surface irregularity at R = -inf (0 at R = +inf)
BUMPS = 6


def _grid(spacing) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Physical coordinates (mm, centred) of a FIELD_OF_VIEW_MM cube, z-y-x order."""
    counts = [int(round(FIELD_OF_VIEW_MM / s)) for s in spacing[::-1]]
    axes = [(np.arange(n) - (n - 1) / 2) * s for n, s in zip(counts, spacing[::-1])]
    return np.meshgrid(*axes, indexing="ij")


def _lesion_region(coords, centre, radii, regularity, rng) -> np.ndarray:
    """Voxels inside an ellipsoid whose radius is modulated by random low-order bumps."""
    z, y, x = (c - o for c, o in zip(coords, centre))
    scaled = np.stack([x / radii[0], y / radii[1], z / radii[2]])
    rho = np.sqrt((scaled ** 2).sum(axis=0)) + 1e-9
    unit = scaled / rho
    directions = rng.normal(size=(BUMPS, 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    orders, phases = rng.integers(2, 5, BUMPS), rng.uniform(0, 2 * np.pi, BUMPS)
    bumps = sum(np.cos(order * np.tensordot(d, unit, axes=1) + phase)
                for d, order, phase in zip(directions, orders, phases)) / np.sqrt(BUMPS)
    amplitude = BUMP_AMPLITUDE * expit(-1.5 * regularity)
    return rho < 1.0 + amplitude * bumps


def patient_volume(patient_lesions: pd.DataFrame, batch_index: int,
                   rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, tuple]:
    """(CT in HU as int16, mask as uint8 labels = lesion_number, spacing x-y-z) of one patient."""
    spacing, offset, noise = SCANNERS[batch_index % len(SCANNERS)]
    coords = _grid(spacing)
    shape = coords[0].shape
    image = PARENCHYMA_HU + PARENCHYMA_NOISE_HU * noise * gaussian_filter(
        rng.standard_normal(shape), 0.8) * 2.0
    mask = np.zeros(shape, dtype=np.uint8)
    n = len(patient_lesions)
    # lesions side by side along x, largest first
    for position, lesion in enumerate(patient_lesions.sort_values("rank").itertuples()):
        diameter = float(np.clip(lesion.diameter_cm * LESION_SCALE_MM_PER_CM,
                                 *LESION_DIAMETER_RANGE_MM))
        if n > 1:
            diameter = min(diameter, FIELD_OF_VIEW_MM / n - 4)
        radii = (diameter / 2, diameter / 2 * lesion.elongation, diameter / 2 * lesion.flatness)
        centre_x = (position + 0.5) * FIELD_OF_VIEW_MM / n - FIELD_OF_VIEW_MM / 2
        region = _lesion_region(coords, (0.0, 0.0, centre_x), radii, lesion.R, rng)
        region &= mask == 0
        smoothing = 0.7 * np.exp(0.4 * lesion.C) / min(spacing)
        field = gaussian_filter(rng.standard_normal(shape), smoothing)
        field /= field[region].std() + 1e-9
        texture = TEXTURE_SD_HU * np.exp(TEXTURE_SD_PER_H * lesion.H
                                         + TEXTURE_SD_NOISE * rng.standard_normal())
        image[region] = (LESION_HU + LESION_ENHANCEMENT_HU * lesion.E
                         + texture * field[region])
        mask[region] = int(lesion.lesion_number)
    image = image + offset
    return np.round(image).astype(np.int16), mask, spacing


def write_patient_images(folder: Path, sample_id: str, patient_lesions: pd.DataFrame,
                         batch_index: int, rng: np.random.Generator) -> tuple[str, str]:
    """`images/<sample>_ct.nii.gz` and `_mask.nii.gz` under `folder`; their relative paths."""
    import SimpleITK as sitk

    image, mask, spacing = patient_volume(patient_lesions, batch_index, rng)
    paths = []
    for name, values in (("ct", image), ("mask", mask)):
        volume = sitk.GetImageFromArray(values)
        volume.SetSpacing(spacing)
        relative = f"images/{sample_id}_{name}.nii.gz"
        (folder / "images").mkdir(parents=True, exist_ok=True)
        sitk.WriteImage(volume, str(folder / relative), True)
        paths.append(relative)
    return paths[0], paths[1]


IMAGE_SHEET = "samples_images.tsv"
IMAGE_STREAM = 11  # the seed's child stream for images (simulate_cohort uses 0-10)


def write_cohort_images(folder: str | Path, seed: int) -> Path:
    """CT volumes and masks of a simulated cohort's patients with radiomics (from its
    `lesion_truth.tsv`) into `folder/images`, and `folder/samples_images.tsv`: the sample sheet
    with `image` and `mask` columns (empty for a patient without imaging). Written into a
    staging folder first: an interrupted run leaves no partial images."""
    import shutil

    from haicpred.io.tables import read_tsv, write_tsv
    from haicpred.radiomics.extraction import require_pyradiomics
    from haicpred.simulate.radiomics import LESION_TRUTH

    require_pyradiomics()
    folder = Path(folder)
    rng = np.random.default_rng(seed).spawn(IMAGE_STREAM + 1)[IMAGE_STREAM]
    lesions = read_tsv(folder / LESION_TRUTH)
    for column in ("rank", "lesion_number", "batch_index"):
        lesions[column] = lesions[column].astype(int)
    for column in ("diameter_cm", "elongation", "flatness", "H", "R", "E", "C"):
        lesions[column] = lesions[column].astype(float)
    lesions = lesions[lesions["has_radiomics"].astype(str).str.lower() == "true"]
    staging = folder / "images.partial"
    shutil.rmtree(staging, ignore_errors=True)
    paths = {}
    try:
        for sample_id, patient in lesions.groupby("sample_id", sort=True):
            paths[sample_id] = write_patient_images(staging, sample_id, patient,
                                                    int(patient["batch_index"].iloc[0]), rng)
        shutil.rmtree(folder / "images", ignore_errors=True)
        if paths:
            (staging / "images").rename(folder / "images")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    sheet = read_tsv(folder / "samples.tsv")
    sheet["image"] = [paths.get(s, ("", ""))[0] for s in sheet["sample_id"]]
    sheet["mask"] = [paths.get(s, ("", ""))[1] for s in sheet["sample_id"]]
    write_tsv(sheet, folder / IMAGE_SHEET)
    return folder / IMAGE_SHEET
