"""Lesions and the pyradiomics-like radiomics table.

Lesion geometry and latent texture factors per patient (the largest lesion carries the planted
radiomic signature), the feature model (shape features from ellipsoid geometry; intensity and
texture features as transforms of latent factors), and per-batch scanner effects that shift
and scale features the way different scanners and pyradiomics versions do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import expit, logit

# ---------------------------------------------------------------------------------------------
# Radiomics
# ---------------------------------------------------------------------------------------------
PYRADIOMICS_VERSIONS = ("v3.0.1", "v3.1.0", "v3.0.1")  # by batch index % 3
VOXEL_SPACINGS_MM = ((0.70, 0.70, 1.25), (0.78, 0.78, 1.00), (0.66, 0.66, 2.50))
MAX_LESIONS = 3
LATENT_BURDEN_LOADING = {"H": 0.30, "R": -0.25}
LOG_VOLUME_CENTRE, LOG_VOLUME_SCALE = 11.0, 1.5  # standardises log(MeshVolume mm^3)
OTHER_LESION_LATENT_CORRELATION = 0.6
BATCH_SHIFT_RANGE = (0.8, 1.5)  # |scanner offset| on the latent (z) scale, batches 2..B
BATCH_FEATURE_WEIGHT_RANGE = (0.6, 1.0)
BATCH_LOG_MULTIPLIER_SD = 0.15


@dataclass(frozen=True)
class RadiomicFeature:
    """Intensity/texture feature = transform(centre, scale, z), z = loadings . latents + noise.

    Latents per lesion (standard normal): H heterogeneity, R shape regularity, E enhancement,
    C coarseness, V standardised log volume.

    transform "lin": centre + scale*z; "log": centre * exp(scale*z); "unit": a proportion in
    (0, 1) moved on the logit scale; "corr": in (-1, 1).
    """

    name: str
    transform: str
    centre: float
    scale: float
    loadings: tuple[tuple[str, float], ...]
    noise: float


def _rf(name, transform, centre, scale, noise, **loadings) -> RadiomicFeature:
    return RadiomicFeature(name, transform, centre, scale, tuple(sorted(loadings.items())), noise)


SHAPE_FEATURES = ("original_shape_MeshVolume", "original_shape_Sphericity",
                  "original_shape_Maximum3DDiameter", "original_shape_MajorAxisLength",
                  "original_shape_Elongation", "original_shape_Flatness",
                  "original_shape_SurfaceVolumeRatio")
INTENSITY_FEATURES = (
    _rf("original_firstorder_Mean", "lin", 95.0, 18.0, 0.25, E=1.0),
    _rf("original_firstorder_Median", "lin", 97.0, 18.0, 0.25, E=1.0, H=-0.1),
    _rf("original_firstorder_90Percentile", "lin", 140.0, 22.0, 0.30, E=0.8, H=0.5),
    _rf("original_firstorder_10Percentile", "lin", 50.0, 20.0, 0.30, E=0.8, H=-0.5),
    _rf("original_firstorder_Variance", "log", 900.0, 0.45, 0.30, H=1.0),
    _rf("original_firstorder_Entropy", "lin", 4.2, 0.35, 0.35, H=0.9, C=-0.2),
    _rf("original_firstorder_Skewness", "lin", -0.1, 0.45, 0.80, H=0.3, E=-0.3),
    _rf("original_firstorder_Kurtosis", "log", 3.6, 0.30, 0.60, H=0.4),
    _rf("original_firstorder_Energy", "log", 9.0e8, 1.0, 0.15, V=1.4, E=0.3),
    _rf("original_glcm_Contrast", "log", 12.0, 0.5, 0.35, H=0.8, C=-0.4),
    _rf("original_glcm_Correlation", "corr", 0.45, 0.6, 0.40, C=0.7, H=-0.3),
    _rf("original_glcm_JointEntropy", "lin", 7.0, 0.8, 0.35, H=1.0),
    _rf("original_glcm_Idm", "unit", 0.42, 0.5, 0.40, H=-0.7, C=0.5),
    _rf("original_glcm_ClusterShade", "lin", -20.0, 60.0, 0.90, H=0.4, E=-0.3),
    _rf("original_glcm_JointEnergy", "log", 0.012, 0.6, 0.35, H=-0.9),
    _rf("original_glrlm_ShortRunEmphasis", "unit", 0.88, 0.5, 0.40, C=-0.8, H=0.3),
    _rf("original_glrlm_RunLengthNonUniformity", "log", 5.0e4, 1.0, 0.20, V=1.3, C=-0.3),
    _rf("original_glrlm_GrayLevelNonUniformity", "log", 3.0e3, 1.0, 0.25, V=1.2, H=-0.4),
    _rf("original_glszm_ZoneEntropy", "lin", 6.8, 0.45, 0.40, H=0.8, C=-0.3),
    _rf("original_glszm_SmallAreaEmphasis", "unit", 0.62, 0.4, 0.40, C=-0.7, H=0.3),
    _rf("original_glszm_LargeAreaEmphasis", "log", 2.0e3, 1.2, 0.50, C=0.7, V=0.5),
    _rf("original_gldm_DependenceEntropy", "lin", 7.4, 0.45, 0.35, H=0.85),
    _rf("original_gldm_DependenceNonUniformity", "log", 6.0e3, 1.0, 0.25, V=1.2, C=0.3),
    _rf("original_ngtdm_Coarseness", "log", 0.002, 0.8, 0.30, C=0.6, V=-0.7),
    _rf("original_ngtdm_Busyness", "log", 1.5, 0.9, 0.40, V=0.6, H=-0.3, C=0.4),
    _rf("wavelet-LLH_firstorder_Mean", "lin", 0.5, 3.0, 0.90, E=0.2),
    _rf("wavelet-HLL_glcm_Contrast", "log", 2.5, 0.5, 0.50, H=0.6),
    _rf("wavelet-LLL_firstorder_Entropy", "lin", 4.6, 0.35, 0.40, H=0.8),
    _rf("wavelet-HHH_glszm_ZoneEntropy", "lin", 6.2, 0.40, 0.60, H=0.5),
    _rf("log-sigma-3-0-mm-3D_firstorder_Entropy", "lin", 3.9, 0.35, 0.35, H=0.85),
    _rf("log-sigma-3-0-mm-3D_glcm_JointEntropy", "lin", 6.1, 0.7, 0.40, H=0.9),
    _rf("log-sigma-1-0-mm-3D_firstorder_Mean", "lin", -8.0, 6.0, 0.80, H=-0.3, E=0.3),
)


def simulate_lesions(patients: pd.DataFrame, design: pd.DataFrame,
                      rng: np.random.Generator) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Lesion geometry and latent texture factors; the largest lesion carries the signature.

    Returns (lesions, signature) where signature holds the patient-level latents "H" and "R"
    (standard normal; those of the largest lesion) for every patient.
    """
    n = len(patients)
    burden = patients["burden"].to_numpy()
    patient_latent = {}
    for name in ("H", "R", "E", "C"):
        loading = LATENT_BURDEN_LOADING.get(name, 0.0)
        patient_latent[name] = loading * burden + math.sqrt(1 - loading ** 2) \
            * rng.standard_normal(n)
    n_lesions = np.minimum(patients["tumor_number"].to_numpy(), MAX_LESIONS)
    n_lesions = np.maximum(1, n_lesions - (rng.random(n) < 0.2))
    patient = np.repeat(np.arange(n), n_lesions)
    rank = np.concatenate([np.arange(k) for k in n_lesions])  # 0 = largest
    largest = rank == 0
    m = len(patient)
    size = patients["tumor_size_cm"].to_numpy()[patient]
    other = np.maximum(size * rng.uniform(0.15, 0.6, m), np.minimum(0.5, 0.6 * size))
    diameter_cm = np.where(largest, size, other)
    elongation = rng.uniform(0.60, 0.95, m)
    flatness = elongation * rng.uniform(0.75, 0.95, m)
    lesions = pd.DataFrame({"patient": patient, "rank": rank, "diameter_cm": diameter_cm,
                            "elongation": elongation, "flatness": flatness})
    rho = OTHER_LESION_LATENT_CORRELATION
    for name, values in patient_latent.items():
        lesions[name] = np.where(largest, values[patient],
                                 rho * values[patient] + math.sqrt(1 - rho ** 2)
                                 * rng.standard_normal(m))
    # Lesion IDs are shuffled within a patient: L1 is not always the largest.
    order = np.lexsort((rng.random(m), patient))
    lesions["lesion_number"] = 0
    lesions.loc[order, "lesion_number"] = np.concatenate([np.arange(1, k + 1) for k in n_lesions])
    lesions["has_radiomics"] = design["has_radiomics"].to_numpy()[patient]
    lesions["batch_index"] = design["batch_index"].to_numpy()[patient]
    return lesions, {"H": patient_latent["H"], "R": patient_latent["R"]}

def _shape_features(lesions: pd.DataFrame, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Ellipsoid-like geometry: MeshVolume ~ (pi/6) * a*b*c with a the max diameter (mm)."""
    m = len(lesions)
    major = lesions["diameter_cm"].to_numpy() * 10.0 * 0.97
    elongation, flatness = lesions["elongation"].to_numpy(), lesions["flatness"].to_numpy()
    volume = math.pi / 6 * major ** 3 * elongation * flatness
    sphericity = 0.45 + 0.45 * expit(0.3 + 0.9 * lesions["R"].to_numpy()
                                     + rng.normal(0, 0.25, m))
    surface = math.pi ** (1 / 3) * (6 * volume) ** (2 / 3) / sphericity
    return {
        "original_shape_MeshVolume": volume,
        "original_shape_Sphericity": sphericity,
        "original_shape_Maximum3DDiameter": major / 0.97 * (1 + np.abs(rng.normal(0, 0.03, m))),
        "original_shape_MajorAxisLength": major,
        "original_shape_Elongation": elongation,
        "original_shape_Flatness": flatness,
        "original_shape_SurfaceVolumeRatio": surface / volume,
    }


def _scanner_effects(n_batches: int, rng: np.random.Generator):
    """Per batch and feature: (shift, log multiplier) on the latent z scale; batch1 = 0."""
    k = len(INTENSITY_FEATURES)
    offset = rng.uniform(*BATCH_SHIFT_RANGE, n_batches) * np.where(
        np.arange(n_batches) % 2 == 1, 1.0, -1.0)
    offset[0] = 0.0
    sign = np.where(rng.random(k) < 0.7, 1.0, -1.0)
    weight = rng.uniform(*BATCH_FEATURE_WEIGHT_RANGE, k)
    shift = offset[:, None] * sign[None, :] * weight[None, :]
    log_mult = BATCH_LOG_MULTIPLIER_SD * rng.standard_normal((n_batches, k))
    log_mult[0] = 0.0
    return shift, log_mult


def _transform(feature: RadiomicFeature, z: np.ndarray) -> np.ndarray:
    if feature.transform == "lin":
        return feature.centre + feature.scale * z
    if feature.transform == "log":
        return feature.centre * np.exp(feature.scale * z)
    if feature.transform == "unit":
        return expit(logit(feature.centre) + feature.scale * z)
    if feature.transform == "corr":
        return 2 * expit(logit((feature.centre + 1) / 2) + feature.scale * z) - 1
    raise ValueError(f"unknown transform {feature.transform}")


def radiomics_table(design, lesions, rng) -> pd.DataFrame:
    """pyradiomics-like rows per lesion for patients with imaging; scanner effects by batch."""
    n_batches = int(design["batch_index"].max()) + 1
    shift, log_mult = _scanner_effects(n_batches, rng)
    shape = _shape_features(lesions, rng)
    batch = lesions["batch_index"].to_numpy()
    latents = {name: lesions[name].to_numpy() for name in ("H", "R", "E", "C")}
    latents["V"] = (np.log(shape["original_shape_MeshVolume"]) - LOG_VOLUME_CENTRE) \
        / LOG_VOLUME_SCALE
    spacing = np.asarray([np.prod(s) for s in VOXEL_SPACINGS_MM])[batch % len(VOXEL_SPACINGS_MM)]
    voxels = np.round(shape["original_shape_MeshVolume"] * rng.uniform(1.00, 1.04, len(batch))
                      / spacing).astype(int)
    table = pd.DataFrame({
        "sample_id": design["sample_id"].to_numpy()[lesions["patient"].to_numpy()],
        "lesion_id": "L" + lesions["lesion_number"].astype(str),
        "diagnostics_Versions_PyRadiomics":
            np.asarray(PYRADIOMICS_VERSIONS)[batch % len(PYRADIOMICS_VERSIONS)],
        "diagnostics_Mask-original_VoxelNum": np.maximum(voxels, 1),
    })
    for name in SHAPE_FEATURES:
        table[name] = [f"{v:.6g}" for v in shape[name]]
    for j, feature in enumerate(INTENSITY_FEATURES):
        z = sum(w * latents[name] for name, w in feature.loadings) \
            + feature.noise * rng.standard_normal(len(batch))
        z = z * np.exp(log_mult[batch, j]) + shift[batch, j]
        table[feature.name] = [f"{v:.6g}" for v in _transform(feature, z)]
    table = table[lesions["has_radiomics"].to_numpy()]
    return table.sort_values(["sample_id", "lesion_id"], kind="mergesort", ignore_index=True)


LESION_TRUTH = "lesion_truth.tsv"
LESION_TRUTH_COLUMNS = ("lesion_number", "rank", "diameter_cm", "elongation", "flatness",
                        "H", "R", "E", "C", "has_radiomics")


def lesion_truth(design: pd.DataFrame, lesions: pd.DataFrame) -> pd.DataFrame:
    """Every simulated lesion with its geometry and latent factors (H heterogeneity, R shape
    regularity, E enhancement, C coarseness; rank 0 = the largest, which carries the planted
    signature): what the image simulator (haicpred.simulate.images) draws."""
    table = lesions[list(LESION_TRUTH_COLUMNS)].copy()
    table.insert(0, "sample_id", design["sample_id"].to_numpy()[lesions["patient"].to_numpy()])
    table.insert(1, "batch_index", lesions["batch_index"].to_numpy())
    return table.sort_values(["sample_id", "lesion_number"], kind="mergesort", ignore_index=True)
