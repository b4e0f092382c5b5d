"""Radiomic features from images and lesion masks, extracted with pyradiomics.

The optional first stage of the radiomics modality (issue 18): the sample sheet's `image` and
`mask` columns name a CT/MR volume and its segmentation (NIfTI or NRRD, anything SimpleITK
reads). A mask may hold several lesions as integer labels 1, 2, ...; each label is a lesion.
Every pair of a shard is checked before anything is extracted, and every problem is reported
together (a missing or unreadable file, a mask whose grid is not its image's, a mask with
non-integer or negative values, a mask without any lesion); then each lesion is extracted with
the settings of a pyradiomics parameter file, and the shard is written in exactly the layout of
pyradiomics' own batch output (`Image`, `Mask`, `Label`, `diagnostics_*`, features), which
`haicpred.radiomics.features` reads like a user's pyradiomics CSV.

Per lesion, beside pyradiomics' diagnostics, quality columns (metadata, never features):
`qc_lesion_voxels` (voxels of the label on the original grid), `qc_resampled_voxels` (after
pyradiomics' resampling), `qc_volume_change` (relative change of the label's volume that the
resampling caused) and `qc_resampling_changed_label` (true when that change exceeds
RESAMPLING_VOLUME_TOLERANCE: a lesion small against the resampled voxel, or an anisotropic
scan, whose texture then describes a different region than the one drawn).

pyradiomics is the optional extra `imaging` (pyproject.toml); `require_pyradiomics` names the
install command when it is missing.
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from haicpred.io.errors import InputError, MissingExtraError, Problem, raise_if_any
from haicpred.io.processes import pool_context

IMAGING_INSTALL = ("pip install 'setuptools==80.9.0' 'wheel==0.45.1' 'numpy==2.4.6' && "
                   "pip install --no-build-isolation -e '.[imaging]'")
ID_COLUMN, LESION_COLUMN = "sample_id", "lesion_id"
RESAMPLING_VOLUME_TOLERANCE = 0.10  # relative change of a label's volume flagged as a change
# Grid agreement demanded of an image and its mask (SimpleITK's own default is 1e-6 of the
# spacing; exports from segmentation tools round origins to about 1e-4 mm).
SPACING_TOLERANCE = 1e-4  # relative
ORIGIN_TOLERANCE = 1e-3  # in units of the smallest spacing
DIRECTION_TOLERANCE = 1e-4
QC_COLUMNS = ("qc_lesion_voxels", "qc_resampled_voxels", "qc_volume_change",
              "qc_resampling_changed_label")


def require_pyradiomics():
    """pyradiomics and SimpleITK, or an error naming the extra and its install command."""
    try:
        import radiomics
        import SimpleITK
    except ImportError as error:
        raise MissingExtraError(
            f"radiomic extraction from images (the sample sheet's image/mask columns) needs "
            f"the optional extra 'imaging' ({error.name} is not installed); install it from "
            f"the haicpred checkout with: {IMAGING_INSTALL}   (README, 'Radiomics from "
            f"images'), or give pyradiomics features as a table (config 'radiomics')"
        ) from None
    return radiomics, SimpleITK


def quiet_pyradiomics() -> None:
    """pyradiomics logs a dozen INFO lines per lesion into the job's log (the workflow's
    logging takes INFO): only its errors are kept."""
    import radiomics

    radiomics.setVerbosity(logging.ERROR)
    logging.getLogger("radiomics").setLevel(logging.ERROR)


@dataclass(frozen=True)
class ImagePair:
    """One patient's image and lesion mask, as the sample sheet names them."""

    sample_id: str
    image: str
    mask: str
    sheet: str = "sample sheet"  # the file the pair comes from, for messages


def _read(sitk, path: str, pair: ImagePair, column: str, header_only: bool):
    """The image (or only its header) and None, or None and the problem."""
    where = f"sample {pair.sample_id}, column {column}"
    if not os.path.isfile(path):
        what = "is a directory, not a file" if os.path.isdir(path) else "does not exist"
        return None, Problem(pair.sheet, where, f"file {path} {what}",
                             "fix the path (relative paths are read from the sheet's folder) "
                             "or leave both image and mask empty for a patient without images")
    try:
        if header_only:
            reader = sitk.ImageFileReader()
            reader.SetFileName(path)
            reader.ReadImageInformation()
            return reader, None
        return sitk.ReadImage(path), None
    except RuntimeError as error:
        reason = str(error).strip().splitlines()[-1] if str(error).strip() else "unreadable"
        return None, Problem(path, where, f"cannot be read as an image ({reason})",
                             "give a NIfTI (.nii, .nii.gz) or NRRD (.nrrd) volume")


def geometry_problems(image, mask, pair: ImagePair) -> list[Problem]:
    """Size, spacing, origin and direction of the mask against its image."""
    where = f"sample {pair.sample_id}"
    fix = (f"the mask must lie on its image's voxel grid ({pair.image}): re-export the "
           "segmentation from the same series, or resample it onto the image with "
           "nearest-neighbour interpolation")
    found = []
    if tuple(mask.GetSize()) != tuple(image.GetSize()):
        found.append(f"size {_shape(mask.GetSize())} vs the image's {_shape(image.GetSize())}")
    else:
        spacing_i, spacing_m = np.array(image.GetSpacing()), np.array(mask.GetSpacing())
        if np.any(np.abs(spacing_m - spacing_i) > SPACING_TOLERANCE * spacing_i):
            found.append(f"spacing {_vector(spacing_m)} vs {_vector(spacing_i)} mm")
        origin_i, origin_m = np.array(image.GetOrigin()), np.array(mask.GetOrigin())
        if np.any(np.abs(origin_m - origin_i) > ORIGIN_TOLERANCE * spacing_i.min()):
            found.append(f"origin {_vector(origin_m)} vs {_vector(origin_i)} mm")
        direction_i, direction_m = np.array(image.GetDirection()), np.array(mask.GetDirection())
        if np.any(np.abs(direction_m - direction_i) > DIRECTION_TOLERANCE):
            found.append("direction cosines differ")
    if not found:
        return []
    return [Problem(pair.mask, where, "mask geometry does not match its image: "
                    + "; ".join(found), fix)]


def _shape(size) -> str:
    return "x".join(str(s) for s in size)


def _vector(values) -> str:
    return "(" + ", ".join(f"{v:g}" for v in values) + ")"


def mask_labels(values: np.ndarray) -> np.ndarray:
    """The lesion labels of a mask array: its distinct non-zero values, ascending."""
    labels = np.unique(values)
    return labels[labels != 0]


def label_problems(values: np.ndarray, pair: ImagePair) -> list[Problem]:
    """A mask must hold non-negative integer labels, at least one of them non-zero."""
    where = f"sample {pair.sample_id}"
    if np.issubdtype(values.dtype, np.floating):
        finite = np.isfinite(values)
        if not finite.all() or np.any(values[finite] != np.round(values[finite])):
            return [Problem(pair.mask, where, "mask holds non-integer values (a probability "
                            "map or an interpolated mask?)", "threshold it and store integer "
                            "labels: 0 background, 1, 2, ... one per lesion")]
    labels = mask_labels(values)
    if labels.size == 0:
        return [Problem(pair.mask, where, "mask is empty: no lesion (no non-zero voxel)",
                        "segment the lesion(s), or leave image and mask empty for this "
                        "patient (a patient without radiomics)")]
    if labels[0] < 0:
        return [Problem(pair.mask, where, f"mask holds negative label {labels[0]:g}",
                        "store labels as 0 (background), 1, 2, ... one per lesion")]
    return []


def check_pairs(pairs: list[ImagePair]) -> dict[str, np.ndarray]:
    """Check every pair; each patient's lesion labels, or InputError with every problem."""
    _, sitk = require_pyradiomics()
    problems, labels = [], {}
    for pair in pairs:
        image, image_problem = _read(sitk, pair.image, pair, "image", header_only=True)
        mask, mask_problem = _read(sitk, pair.mask, pair, "mask", header_only=False)
        problems += [p for p in (image_problem, mask_problem) if p is not None]
        if image is None or mask is None:
            continue
        found = geometry_problems(image, mask, pair)
        values = sitk.GetArrayViewFromImage(mask)
        found += label_problems(values, pair)
        problems += found
        if not found:
            labels[pair.sample_id] = mask_labels(values).astype(int)
    raise_if_any(problems)
    return labels


def read_parameters(path: str | os.PathLike) -> dict:
    """A pyradiomics parameter file, validated by pyradiomics' own schema."""
    require_pyradiomics()
    from radiomics import featureextractor

    quiet_pyradiomics()
    try:
        extractor = featureextractor.RadiomicsFeatureExtractor(str(path))
    except Exception as error:  # pykwalify's SchemaError, yaml's errors, a missing file
        raise InputError(Problem(str(path), "parameter file", f"not a valid pyradiomics "
                                 f"parameter file: {str(error).strip().splitlines()[0]}",
                                 "see resources/radiomics_params.yaml and pyradiomics' "
                                 "'Customizing the extraction' documentation")) from None
    return {"setting": dict(extractor.settings),
            "imageType": {k: dict(v) for k, v in extractor.enabledImagetypes.items()},
            "featureClass": {k: v for k, v in extractor.enabledFeatures.items()}}


def _extract_pair(job: tuple[ImagePair, tuple[int, ...], str]) -> list[dict]:
    """Every lesion of one patient (runs in a worker process)."""
    pair, labels, params = job
    _, sitk = require_pyradiomics()
    from radiomics import featureextractor

    quiet_pyradiomics()
    extractor = featureextractor.RadiomicsFeatureExtractor(params)
    image, mask = sitk.ReadImage(pair.image), sitk.ReadImage(pair.mask)
    spacing = np.array(image.GetSpacing())
    rows = []
    for label in labels:
        try:
            result = extractor.execute(image, mask, label=int(label))
        except (ValueError, AssertionError) as error:  # pyradiomics' checks of the label
            raise InputError(Problem(pair.mask, f"sample {pair.sample_id}, label {label}",
                                     f"pyradiomics refused the lesion: {error}",
                                     "check the segmentation (a lesion of a few voxels, or "
                                     "one thinner than minimumROIDimensions)")) from None
        rows.append({ID_COLUMN: pair.sample_id, LESION_COLUMN: f"{pair.sample_id}_{label}",
                     "Image": pair.image, "Mask": pair.mask, "Label": int(label),
                     **quality_flags(result, spacing), **{k: _cell(v) for k, v in result.items()}})
    return rows


def quality_flags(result: dict, spacing: np.ndarray) -> dict:
    """The label's voxels before and after resampling and the relative volume change."""
    original = int(result["diagnostics_Mask-original_VoxelNum"])
    resampled = int(result.get("diagnostics_Mask-interpolated_VoxelNum", original))
    resampled_spacing = np.array(result.get("diagnostics_Image-interpolated_Spacing", spacing),
                                 dtype=float)
    before = original * float(np.prod(spacing))
    after = resampled * float(np.prod(resampled_spacing))
    change = (after - before) / before
    return {"qc_lesion_voxels": original, "qc_resampled_voxels": resampled,
            "qc_volume_change": round(change, 6),
            "qc_resampling_changed_label": bool(abs(change) > RESAMPLING_VOLUME_TOLERANCE)}


def _cell(value):
    """pyradiomics returns numpy scalars and 0-d arrays for features, tuples and dicts for
    diagnostics: numbers stay numbers, the rest is written as pyradiomics' batch CSV does."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if isinstance(value, (np.floating, np.integer)):
        value = value.item()
    return value if isinstance(value, (int, float, str, bool)) else str(value)


def extract_features(pairs: list[ImagePair], params: str | os.PathLike,
                     workers: int = 1) -> pd.DataFrame:
    """Check every pair, then extract every lesion; one row per lesion in sheet order."""
    labels = check_pairs(pairs)
    read_parameters(params)
    jobs = [(pair, tuple(int(v) for v in labels[pair.sample_id]), str(params))
            for pair in pairs]
    if workers > 1 and len(jobs) > 1:
        with ProcessPoolExecutor(min(workers, len(jobs)), mp_context=pool_context()) as pool:
            per_pair = list(pool.map(_extract_pair, jobs))
    else:
        per_pair = [_extract_pair(job) for job in jobs]
    rows = [row for found in per_pair for row in found]
    return pd.DataFrame(rows)


def write_batch_csv(frame: pd.DataFrame, path: str | os.PathLike) -> None:
    """pyradiomics' batch layout, written atomically (no partial file on failure)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".partial")
    try:
        frame.to_csv(temporary, index=False, lineterminator="\n")
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def extract_shard(records: list[dict], params: str | os.PathLike, out: str | os.PathLike,
                  workers: int = 1, sheet: str = "sample sheet") -> int:
    """One shard's sheet records (those with an image) to `out`; an empty file when none has
    one. Returns the number of lesions."""
    pairs = [ImagePair(r["sample_id"], r["image"], r["mask"], sheet) for r in records
             if r.get("image")]
    if not pairs:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_bytes(b"")
        return 0
    frame = extract_features(pairs, params, workers)
    write_batch_csv(frame, out)
    return len(frame)


def join_shards(paths: list[str | os.PathLike], out: str | os.PathLike) -> int:
    """The shards' lesions in one batch-layout file, in the order given (empty shards have
    none). Returns the number of lesions."""
    frames = [pd.read_csv(path, dtype=str, keep_default_na=False) for path in paths
              if os.path.getsize(path) > 0]
    if not frames:
        raise InputError(Problem("sample sheet", "image/mask", "no shard holds a lesion",
                                 "give image and mask paths, or drop the empty columns"))
    # as text: every value is written back exactly as its shard wrote it
    write_batch_csv(pd.concat(frames, ignore_index=True), out)
    return sum(len(frame) for frame in frames)
