"""What the report shows of an extraction from images: the settings, the lesions' quality
flags per batch, and the scanner effect on the features before and after harmonisation.

`extraction_summary` reads the pyradiomics parameter file (as pyradiomics resolved it) and the
extracted lesions (pyradiomics' batch layout with haicpred's `qc_*` columns).
`batch_distributions` takes the per-patient features and the patients' batches and gives, for
the BATCH_FIGURE_FEATURES features whose batch means differ most (one-way F statistic), the
per-batch quantiles before and after ComBat. This ComBat is fitted on every patient with
complete features: a picture of the cohort, never used by a model (the models harmonise inside
their training folds).
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from haicpred.radiomics.features import feature_columns
from haicpred.radiomics.preprocessing import CombatNotFitted, apply_combat, fit_combat

BATCH_FIGURE_FEATURES = 4
QUANTILES = (0.10, 0.25, 0.50, 0.75, 0.90)
DISTRIBUTION_COLUMNS = ["feature", "batch", "stage", "n", "q10", "q25", "median", "q75", "q90"]
VERSION_COLUMN = "diagnostics_Versions_PyRadiomics"


def extraction_summary(parameters: dict, params_path: str | os.PathLike,
                       lesions: pd.DataFrame, batch_of: dict[str, str]) -> dict:
    """Settings, pyradiomics version and per-batch lesion counts and quality flags."""
    lesions = lesions.assign(batch=lesions["sample_id"].map(batch_of))
    changed = lesions["qc_resampling_changed_label"].astype(str).str.lower() == "true"
    voxels = pd.to_numeric(lesions["qc_lesion_voxels"])
    per_batch = []
    for batch, rows in lesions.groupby("batch", sort=True):
        per_batch.append({"batch": str(batch), "patients": int(rows["sample_id"].nunique()),
                          "lesions": int(len(rows)),
                          "median_lesion_voxels": float(voxels[rows.index].median()),
                          "resampling_changed_label": int(changed[rows.index].sum())})
    versions = sorted(set(lesions.get(VERSION_COLUMN, pd.Series(dtype=str)).dropna()))
    features = feature_columns(lesions)
    return {"params_file": str(params_path), "settings": parameters,
            "pyradiomics_versions": versions, "features_per_lesion": len(features),
            "patients": int(lesions["sample_id"].nunique()), "lesions": int(len(lesions)),
            "resampling_changed_label": int(changed.sum()), "per_batch": per_batch}


def _f_statistic(values: pd.Series, batches: pd.Series) -> float:
    """One-way ANOVA F of a feature across batches (0 when it cannot be computed)."""
    frame = pd.DataFrame({"v": values, "b": batches}).dropna()
    groups = [g["v"].to_numpy() for _, g in frame.groupby("b")]
    if len(groups) < 2 or len(frame) <= len(groups):
        return 0.0
    grand = frame["v"].mean()
    between = sum(len(g) * (g.mean() - grand) ** 2 for g in groups) / (len(groups) - 1)
    within = sum(((g - g.mean()) ** 2).sum() for g in groups) / (len(frame) - len(groups))
    return float(between / within) if within > 0 else 0.0


def batch_distributions(features: pd.DataFrame, batch_of: dict[str, str],
                        n_features: int = BATCH_FIGURE_FEATURES) -> tuple[pd.DataFrame, str]:
    """Per-batch quantiles (raw, and ComBat-harmonised when it can be fitted) of the features
    with the strongest batch effect; the second value says why there is no harmonised stage."""
    columns = [c for c in features.columns if c.startswith("rad_original_")]
    batches = features["sample_id"].map(batch_of)
    values = features[columns].apply(pd.to_numeric)
    scores = {c: _f_statistic(values[c], batches) for c in columns}
    chosen = sorted(columns, key=lambda c: (-scores[c], c))[:n_features]
    complete = values[columns].notna().all(axis=1) & batches.notna()
    stages = {"raw": values[chosen]}
    reason = ""
    try:
        usable = [c for c in columns if values.loc[complete, c].std() > 0]
        params = fit_combat(values.loc[complete, usable].to_numpy(), batches[complete], usable)
        adjusted, _ = apply_combat(values.loc[complete, usable].to_numpy(), batches[complete],
                                   params)
        harmonised = pd.DataFrame(adjusted, columns=usable, index=values.index[complete])
        stages["harmonised"] = harmonised[[c for c in chosen if c in usable]]
    except CombatNotFitted as error:
        reason = str(error)
    rows = []
    for stage, frame in stages.items():
        for feature in frame.columns:
            for batch in sorted(batches.dropna().unique()):
                cells = frame.loc[batches.loc[frame.index] == batch, feature].dropna()
                if cells.empty:
                    continue
                q = np.quantile(cells.to_numpy(), QUANTILES)
                rows.append([feature, batch, stage, len(cells), *q])
    return pd.DataFrame(rows, columns=DISTRIBUTION_COLUMNS), reason


def write_extraction_summary(params_path, extracted_csv, features_tsv, batch_of: dict[str, str],
                             summary_json, distributions_tsv) -> dict:
    """The report's inputs of an extraction (rule radiomics_extraction_summary)."""
    import json

    from haicpred.io.tables import read_tsv, write_text, write_tsv
    from haicpred.radiomics.extraction import read_parameters

    lesions = pd.read_csv(extracted_csv, dtype=str, keep_default_na=False)
    summary = extraction_summary(read_parameters(params_path), params_path, lesions, batch_of)
    distributions, reason = batch_distributions(read_tsv(features_tsv), batch_of)
    summary["harmonisation_note"] = reason
    write_tsv(distributions, distributions_tsv)
    write_text(json.dumps(summary, indent=2, sort_keys=True, default=str) + "\n", summary_json)
    return summary
