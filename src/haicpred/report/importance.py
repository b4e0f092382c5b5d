"""The report's sections on what the models use: XGBoost feature importance over the CV folds,
the final model's SHAP summary, the radiomic features inside the training folds, and the
simulation's planted effects (demo cohort only)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from haicpred.report.figures import figure_html, modality_colours
from haicpred.report.html import esc, fmt, html_table, integer, num
from haicpred.report.layout import OPTIONAL_FILES, not_available, section

TOP_FEATURES = 20


def _importance_bars(ax, values, errors, features, modalities, colour):
    positions = np.arange(len(values))[::-1]
    ax.barh(positions, values, xerr=errors, color=[colour[m] for m in modalities],
            error_kw={"elinewidth": 0.8, "ecolor": "0.3"})
    ax.set_yticks(positions)
    ax.set_yticklabels([str(f) for f in features], fontsize=8)
    shown = [m for m in colour if m in set(modalities)]
    ax.legend(handles=[Patch(color=colour[m], label=m or "unknown") for m in shown],
              loc="lower right", fontsize=8)


def _top_text(frame: pd.DataFrame, n: int = 5) -> str:
    return ", ".join(f"{f} ({m or 'unknown'})" for f, m in
                     zip(frame["feature"].head(n), frame["modality"].head(n)))


def importance_section(importance: pd.DataFrame) -> str:
    imp = importance.copy()
    imp["gain"] = num(imp["gain"])
    imp["gain_sd"] = num(imp.get("gain_sd", pd.Series(np.nan, index=imp.index)))
    imp["modality"] = imp["modality"].fillna("").astype(str) if "modality" in imp else ""
    imp = imp.sort_values(["gain", "feature"], ascending=[False, True], kind="mergesort")
    top = imp.head(TOP_FEATURES)
    colour = modality_colours(imp["modality"])
    fig = Figure(figsize=(7.2, 0.32 * max(len(top), 3) + 1.4))
    ax = fig.add_subplot(1, 1, 1)
    _importance_bars(ax, top["gain"], top["gain_sd"].fillna(0), top["feature"],
                     list(top["modality"]), colour)
    ax.set_xlim(left=0)  # a share of gain is never negative; the SD bar may reach below 0
    ax.set_xlabel("share of total gain (mean over CV folds, +/- SD)")
    ax.set_title(f"XGBoost feature importance, top {len(top)}")
    fig.tight_layout()
    rows = [
        [integer(r.get("rank")), esc(r["feature"]), esc(r.get("modality", "")),
         fmt(r["gain"], 4), fmt(r["gain_sd"], 4)]
        for _, r in top.iterrows()
    ]
    alt = (f"Horizontal bar chart of the {len(top)} features with the largest XGBoost gain "
           f"across CV folds, coloured by modality; largest first: {_top_text(top)}.")
    return section(
        "importance",
        figure_html(fig, alt, "Total gain of each feature in the XGBoost "
                    "models of all CV folds, normalised per fold to sum 1, averaged over "
                    "folds. Importance is not effect direction or causality; correlated "
                    "features share gain.")
        + html_table(["rank", "feature", "modality", "gain", "gain SD"], rows,
                     text_columns=(1, 2))
    )


def shap_section(shap: pd.DataFrame | None, scale: str = "log-odds") -> str:
    """``scale``: what a SHAP value is on (the booster's margin: log-odds for the binary
    endpoints, log relative hazard for a Cox model)."""
    if shap is None:
        return section("shap", not_available(OPTIONAL_FILES["shap_importance"]))
    shap = shap.copy()
    shap["mean_abs_shap"] = num(shap["mean_abs_shap"])
    shap["feature"] = shap["feature"].astype(str)
    shap["modality"] = (shap["modality"].fillna("").astype(str) if "modality" in shap
                        else "")
    shap = shap.sort_values(["mean_abs_shap", "feature"], ascending=[False, True],
                            kind="mergesort")
    top = shap.head(TOP_FEATURES)
    colour = modality_colours(shap["modality"])
    fig = Figure(figsize=(7.2, 0.32 * max(len(top), 3) + 1.4))
    ax = fig.add_subplot(1, 1, 1)
    _importance_bars(ax, top["mean_abs_shap"], None, top["feature"], list(top["modality"]),
                     colour)
    ax.set_xlabel(f"mean |SHAP value| ({scale})")
    ax.set_title(f"SHAP summary of the final XGBoost model, top {len(top)}")
    fig.tight_layout()
    ranks = num(top["rank"]) if "rank" in top else pd.Series(np.arange(1, len(top) + 1))
    rows = [[integer(rank), esc(f), esc(m), fmt(v, 4)] for rank, f, m, v in
            zip(ranks, top["feature"], top["modality"], top["mean_abs_shap"])]
    alt = (f"Horizontal bar chart of the {len(top)} features with the largest mean absolute "
           f"SHAP value in the final model, coloured by modality; largest first: "
           f"{_top_text(top)}.")
    return section(
        "shap",
        figure_html(fig, alt, f"Mean absolute SHAP value (exact TreeSHAP, {scale} scale) of "
                    "each feature over the patients explained by the final model (from "
                    f"<code>{OPTIONAL_FILES['shap_importance']}</code>). The size of a "
                    "feature's typical contribution to a prediction, not its direction, and "
                    "not a causal effect.")
        + html_table(["rank", "feature", "modality", "mean |SHAP|"], rows, text_columns=(1, 2))
    )


def radiomics_section(cv_metadata: dict | None, final_metadata: dict | None,
                      extraction: str = "") -> str:
    """Radiomic features per training fold (filters, ComBat) from the CV metadata, and the
    final model's radiomics step from its metadata; ``extraction``: the HTML of an extraction
    from images (haicpred.report.extraction), appended."""
    summary = (cv_metadata or {}).get("radiomics_folds_summary") or []
    if not summary:
        return section("radiomics", '<p class="note">No model used radiomic features (none in '
                       "this cohort, or none usable), so there was no radiomics step.</p>"
                       + extraction)

    def spread(entry: dict) -> str:
        if entry["min"] == entry["max"]:
            return integer(entry["min"])
        return f"{fmt(entry['median'], 0)} [{integer(entry['min'])}&ndash;{integer(entry['max'])}]"

    rows = []
    for entry in summary:
        reasons = "; ".join(f"{esc(reason)} ({count} fold{'s' if count > 1 else ''})"
                            for reason, count in entry.get("skipped_reasons", {}).items())
        rows.append([esc(entry["model"]), integer(entry["n_folds"]), spread(entry["n_in"]),
                     spread(entry["n_after_near_constant"]),
                     spread(entry["n_after_correlation"]), spread(entry["n_harmonised"]),
                     f"{entry['n_folds_harmonised']} of {entry['n_folds']}",
                     reasons or "&ndash;"])
    header = ["model", "folds", "radiomic features in", "after near-constant filter",
              "after correlation filter", "harmonised features", "folds harmonised",
              "not harmonised because"]
    text = (html_table(header, rows, text_columns=(0, 7))
            + '<p class="note">Per training fold (median [min&ndash;max]): radiomic features '
            "entering, left after dropping near-constant ones, left after dropping one of each "
            "highly correlated pair, and ComBat-harmonised (batch = sample-sheet batch). "
            "Everything is fitted on the training fold and only applied to the held-out fold; "
            "every fold is listed in <code>results/model/radiomics_folds.tsv</code>.")
    final = ((final_metadata or {}).get("radiomics_preprocessing") or {})
    if final:
        summary_final = final.get("summary", {})
        combat = final.get("harmonisation", {})
        text += (f" Final model: {integer(summary_final.get('n_in'))} radiomic features in, "
                 f"{integer(summary_final.get('n_after_correlation'))} kept; ")
        if "stand_mean" in combat:
            text += (f"{integer(len(combat.get('features', [])))} harmonised with "
                     f"{esc(combat.get('library'))} {esc(combat.get('library_version'))} "
                     f"over batches {esc(', '.join(combat.get('batches', [])))} (a patient "
                     "of another batch is scored unharmonised and flagged).")
        else:
            text += f"not harmonised: {esc(combat.get('reason', ''))}."
    return section("radiomics", text + "</p>" + extraction)


def _matching_features(name: str, features: list[str]) -> list[str]:
    """Matrix features that encode a planted variable: the same name, its ``rad_`` form, or
    a derived column named after it (``rs8099917`` -> ``rs8099917_TT``, ``rs8099917_alt_count``).
    """
    if not name:
        return []
    if name in features:
        return [name]
    if f"rad_{name}" in features:
        return [f"rad_{name}"]
    return [f for f in features if f.startswith(f"{name}_")]


# planted_effects.tsv columns of the simulator's OS/PFS rows, not shown with the response model
SURVIVAL_PLANTED_COLUMNS = ("outcome", "log_hazard_ratio", "value")


def planted_section(planted: pd.DataFrame, importance: pd.DataFrame) -> str:
    """The planted response effects (rows with outcome `response`, or all rows of a table
    without an `outcome` column) and the best-ranked matching XGBoost feature of each."""
    planted = planted.copy()
    if "outcome" in planted.columns:
        planted = planted[planted["outcome"] == "response"].reset_index(drop=True)
        planted = planted.drop(columns=[c for c in SURVIVAL_PLANTED_COLUMNS if c in planted])
    header = [esc(c) for c in planted.columns]
    key = next((c for c in ("feature", "variable") if c in planted.columns), None)
    ranks = dict(zip(importance["feature"], num(importance["rank"])))
    features = list(importance["feature"])
    if key:
        header.append("best-ranked matching feature (XGBoost importance rank of "
                      f"{len(features)})")
    text_columns = tuple(
        i for i, c in enumerate(planted.columns) if num(planted[c]).isna().all()
    ) + ((len(planted.columns),) if key else ())
    rows = []
    for _, r in planted.iterrows():
        row = ["" if pd.isna(v) else esc(v) for v in r.tolist()]
        if key:
            name = "" if pd.isna(r[key]) else str(r[key])
            matches = sorted(_matching_features(name, features), key=lambda f: ranks[f])
            row.append(f"{esc(matches[0])} (#{integer(ranks[matches[0]])})" if matches
                       else "&ndash;")
        rows.append(row)
    return section(
        "planted",
        '<p class="note">The simulation planted these effects on the response probability. '
        "A sound pipeline should rank the planted features highly; binary features with rare "
        "levels gather less gain than continuous ones, so a modest rank is not by itself a "
        "failure.</p>"
        + html_table(header, rows, text_columns=text_columns)
    )
