"""The radiomics section's part on an extraction from images: the pyradiomics settings, the
lesions and their quality flags per batch, and the scanner effect per batch before and after
ComBat (haicpred.radiomics.extraction_summary)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from haicpred.report.figures import figure_html
from haicpred.report.html import esc, fmt, html_table, integer, num

# the settings a reader of a radiomics paper looks for first (IBSI reporting items)
SHOWN_SETTINGS = ("resampledPixelSpacing", "interpolator", "binWidth", "binCount", "normalize",
                  "resegmentRange", "minimumROISize", "minimumROIDimensions", "force2D")


def _value(value) -> str:
    if value is None:
        return "none"
    if isinstance(value, (list, tuple)):
        return " &times; ".join(esc(v) for v in value)
    return esc(value)


def settings_text(summary: dict) -> str:
    settings = summary.get("settings", {})
    given = settings.get("setting", {})
    shown = [f"{esc(key)} {_value(given[key])}" for key in SHOWN_SETTINGS if key in given]
    image_types = ", ".join(esc(k) + (f" ({esc(v)})" if v else "")
                            for k, v in settings.get("imageType", {}).items())
    classes = ", ".join(esc(k) for k in settings.get("featureClass", {}))
    versions = ", ".join(esc(v) for v in summary.get("pyradiomics_versions", [])) or "unknown"
    return (f"<p>Radiomic features were extracted from the images and lesion masks named in the "
            f"sample sheet with pyradiomics {versions}, parameter file "
            f"<code>{esc(summary.get('params_file', ''))}</code>: {'; '.join(shown)}; image "
            f"types {image_types}; feature classes {classes} "
            f"({integer(summary.get('features_per_lesion'))} features per lesion). "
            f"{integer(summary.get('lesions'))} lesions of {integer(summary.get('patients'))} "
            "patients; every non-zero label of a mask is a lesion, and the patient's lesions "
            "are combined as the radiomics settings say.</p>")


def batch_table(summary: dict) -> str:
    rows = [[esc(entry["batch"]), integer(entry["patients"]), integer(entry["lesions"]),
             fmt(entry["median_lesion_voxels"], 0), integer(entry["resampling_changed_label"])]
            for entry in summary.get("per_batch", [])]
    return (html_table(["batch", "patients with images", "lesions",
                        "median voxels per lesion", "lesions whose volume resampling changed "
                        "by > 10%"], rows)
            + '<p class="note">Per lesion, <code>results/radiomics/extracted.csv</code> holds '
            "pyradiomics' diagnostics and the quality columns <code>qc_lesion_voxels</code>, "
            "<code>qc_resampled_voxels</code>, <code>qc_volume_change</code> and "
            "<code>qc_resampling_changed_label</code>: a lesion small against the resampled "
            "voxel, or drawn on thick slices, describes a different region after resampling."
            "</p>")


def distributions_figure(distributions: pd.DataFrame, note: str) -> str:
    """Per feature, each batch's 10-25-50-75-90th percentiles, raw and harmonised."""
    table = distributions.copy()
    for column in ("q10", "q25", "median", "q75", "q90"):
        table[column] = num(table[column])
    features = list(dict.fromkeys(table["feature"]))
    stages = [s for s in ("raw", "harmonised") if s in set(table["stage"])]
    fig = Figure(figsize=(11.6, 2.6 * len(features)))
    for row, feature in enumerate(features):
        of_feature = table[table["feature"] == feature]
        low, high = of_feature["q10"].min(), of_feature["q90"].max()
        margin = 0.05 * (high - low) if high > low else 1.0
        for column, stage in enumerate(stages):
            ax = fig.add_subplot(len(features), 2, 2 * row + column + 1)
            rows = of_feature[of_feature["stage"] == stage]
            ax.set_ylim(low - margin, high + margin)  # raw and harmonised on one scale
            positions = np.arange(len(rows))
            ax.vlines(positions, rows["q10"], rows["q90"], color="#555")
            ax.bar(positions, rows["q75"] - rows["q25"], bottom=rows["q25"], width=0.5,
                   color="#9ecae1", edgecolor="#3182bd")
            ax.hlines(rows["median"], positions - 0.25, positions + 0.25, color="#08519c")
            ax.set_xticks(positions, rows["batch"].astype(str))
            ax.set_title(f"{feature.removeprefix('rad_')}: {stage}", fontsize=9)
    fig.tight_layout()
    caption = ("Each batch's 10th-90th (line) and 25th-75th (box) percentiles and median of the "
               "four radiomic features whose batch means differ most, as extracted (left) and "
               "after ComBat fitted on every patient (right). A picture of the scanner effect "
               "and of what harmonisation removes; the models fit ComBat inside their training "
               "folds only.")
    if note:
        caption += f" Not harmonised: {esc(note)}."
    return figure_html(fig, "radiomic feature distributions by batch", caption)


def extraction_block(summary: dict | None, distributions: pd.DataFrame | None) -> str:
    """The HTML added to the radiomics section when the features were extracted here."""
    if not summary:
        return ""
    text = "<h3>Extraction from images</h3>" + settings_text(summary) + batch_table(summary)
    if distributions is not None and len(distributions):
        text += distributions_figure(distributions, summary.get("harmonisation_note", ""))
    return text
