"""pyradiomics (the `imaging` extra) for the image-extraction tests: skipped with the install
command when it is missing, except in CI (CI set), where a missing extra fails: CI must prove
the documented install and the IBSI agreement. Also small synthetic volumes written with
SimpleITK, and where the IBSI digital phantom lives (../shared/realdata/radiomics)."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest

from realdata import realdata_dir

HAVE_IMAGING = all(importlib.util.find_spec(name) is not None
                   for name in ("radiomics", "SimpleITK"))
_BASE = realdata_dir().parent if realdata_dir().name == "vcf" else realdata_dir()
RADIOMICS_DATA = Path(os.environ.get("HAICPRED_RADIOMICS_DATA", _BASE / "radiomics"))
PHANTOM_IMAGE = RADIOMICS_DATA / "ibsi1_digital_phantom" / "image" / "phantom.nii.gz"
PHANTOM_MASK = RADIOMICS_DATA / "ibsi1_digital_phantom" / "mask" / "mask.nii.gz"
PHANTOM_REFERENCE = RADIOMICS_DATA / "ibsi_1_reference_values_digital_phantom.csv"
HAVE_PHANTOM = PHANTOM_IMAGE.is_file() and PHANTOM_MASK.is_file() and PHANTOM_REFERENCE.is_file()


def require_imaging() -> None:
    """Skip (fail in CI) when the imaging extra is not installed."""
    if HAVE_IMAGING:
        return
    from haicpred.radiomics.extraction import IMAGING_INSTALL

    message = f"pyradiomics (the imaging extra) is not installed: {IMAGING_INSTALL}"
    if os.environ.get("CI"):
        pytest.fail(message + " (CI must run the image-extraction tests)")
    pytest.skip(message)


needs_phantom = pytest.mark.skipif(
    not HAVE_PHANTOM, reason=f"IBSI digital phantom not found at {RADIOMICS_DATA} "
    "(set HAICPRED_RADIOMICS_DATA)")


def write_volume(path: Path, values: np.ndarray, spacing=(1.0, 1.0, 1.0),
                 origin=(0.0, 0.0, 0.0)) -> Path:
    """A NIfTI/NRRD volume (array in z, y, x order) with the given geometry."""
    import SimpleITK as sitk

    image = sitk.GetImageFromArray(values)
    image.SetSpacing(spacing)
    image.SetOrigin(origin)
    sitk.WriteImage(image, str(path))
    return path


def ct_like(shape=(24, 32, 32), seed=1) -> np.ndarray:
    """Liver-like CT noise in HU (int16), deterministic."""
    rng = np.random.default_rng(seed)
    return (60 + 15 * rng.standard_normal(shape)).astype(np.int16)


def sphere_mask(shape=(24, 32, 32), centres=((12, 10, 10),), radius=4.0) -> np.ndarray:
    """Labels 1, 2, ...: one ball per centre."""
    z, y, x = np.indices(shape)
    mask = np.zeros(shape, dtype=np.uint8)
    for label, (cz, cy, cx) in enumerate(centres, start=1):
        mask[(z - cz) ** 2 + (y - cy) ** 2 + (x - cx) ** 2 <= radius ** 2] = label
    return mask
