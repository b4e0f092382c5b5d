"""The report's sections on validation beyond the repeated CV: leave-one-batch-out validation
(``lobo_metrics.tsv``) and the nested hyper-parameter tuning (``tuning.tsv``)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from haicpred.report.cohort import Outcome, single_batch_note
from haicpred.report.html import ci, esc, fmt, html_table, integer, num
from haicpred.report.layout import OPTIONAL_FILES, model_order, not_available, section

MAX_TUNING_ROWS = 100  # per-training-set rows shown (all are in tuning.tsv)

_LOBO_COLUMNS = ("n", "n_events", "auc", "auc_low", "auc_high", "brier",
                 "calibration_intercept", "calibration_slope")


def ordered_lobo(lobo: pd.DataFrame, numeric_columns) -> pd.DataFrame:
    """lobo_metrics.tsv with its numeric columns as numbers (absent ones empty), by held-out
    batch, then in the report's model order."""
    lobo = lobo.copy()
    for column in numeric_columns:
        lobo[column] = num(lobo[column]) if column in lobo else np.nan
    lobo["model"] = lobo["model"].astype(str)
    lobo["held_out_batch"] = lobo["held_out_batch"].fillna("(none)").astype(str)
    rank = {name: i for i, name in enumerate(model_order(lobo["model"]))}
    return lobo.assign(_rank=lobo["model"].map(rank)).sort_values(
        ["held_out_batch", "_rank"], kind="mergesort")


def lobo_section(lobo: pd.DataFrame | None, outcome: Outcome, batches: list[str]) -> str:
    if note := single_batch_note(batches):
        return section("lobo", note)
    if lobo is None:
        return section("lobo", not_available(OPTIONAL_FILES["lobo_metrics"]))
    lobo = ordered_lobo(lobo, _LOBO_COLUMNS)
    rows, classes = [], []
    for _, r in lobo.iterrows():
        note = r.get("note")
        rows.append([esc(r["held_out_batch"]), esc(r["model"]), integer(r["n"]),
                     integer(r["n_events"]), ci(r), fmt(r["brier"]),
                     fmt(r["calibration_intercept"], 2), fmt(r["calibration_slope"], 2),
                     "" if note is None or pd.isna(note) else esc(note)])
        classes.append("headline" if r["model"] == "xgboost" else "")
    header = ["held-out batch", "model", "n", outcome.events, "AUC [95% CI]", "Brier",
              "calibration intercept", "calibration slope", "note"]
    text = html_table(header, rows, text_columns=(0, 1, 8), row_classes=classes)
    x = lobo[(lobo["model"] == "xgboost") & np.isfinite(lobo["auc"])]
    summary = ""
    if len(x):
        summary = (f"<p>XGBoost AUC on a held-out batch ranges from {fmt(x['auc'].min())} to "
                   f"{fmt(x['auc'].max())} over {len(x)} batches.</p>")
    return section("lobo", summary + text
                   + '<p class="note">Each batch in turn is left out entirely: every model, '
                   "including its preprocessing, is fitted on the other batches and evaluated "
                   "on the held-out one, which approximates validation in a new centre or "
                   "sequencing run. A batch too small or with one outcome class has no AUC; "
                   "the note says why.</p>")


_TUNING_KEYS = ("scheme", "model", "repeat", "fold", "held_out_batch")
_TUNING_AFTER = ("inner_auc", "inner_auc_sd", "inner_logloss", "n_candidates", "note")


def tuning_enabled(settings: dict) -> bool:
    tuning = settings.get("tuning")
    return bool(tuning.get("enabled")) if isinstance(tuning, dict) else bool(tuning)


def tuned_rows(tuning: pd.DataFrame | None, inner: str | None = None) -> pd.DataFrame | None:
    """The rows of tuning.tsv whose parameters were chosen by inner CV (a value in the inner
    metric column ``inner``; default: the inner AUC), or None when the table is absent."""
    if tuning is None:
        return None
    inner = inner or next((c for c in tuning.columns if c == "inner_auc"), None) or next(
        (c for c in tuning.columns if re.search(r"inner.*auc|auc.*inner", c, re.I)), None)
    if inner is None:
        return tuning
    return tuning[np.isfinite(num(tuning[inner]).to_numpy())]


def _start_summary(tuning: pd.DataFrame) -> list[str]:
    """What the model of record's linear start chose over its training sets (the guard's
    per-fold record), or nothing for a model boosted from a constant."""
    if not {"start_penalty", "start_left_out"} <= set(tuning.columns):
        return []
    rows = tuning[tuning["model"] == "xgboost"] if "model" in tuning.columns else tuning
    penalty = rows["start_penalty"].fillna("").astype(str)
    rows, penalty = rows[penalty != ""], penalty[penalty != ""]
    if not len(rows):
        return []
    left_out = rows["start_left_out"].fillna("").astype(str)
    return [f"the model of record's linear start: L1 in {int((penalty == 'l1').sum())} and L2 "
            f"in {int((penalty == 'l2').sum())} of {len(rows)} training sets, the radiomic "
            f"features left out in {int((left_out == 'radiomics').sum())}"]


def tuning_section(tuning: pd.DataFrame | None, settings: dict, inner: str | None = None,
                   inner_label: str = "inner-CV AUC") -> str:
    """``inner``: the column of the inner-CV metric of the chosen settings (default: the inner
    AUC), named ``inner_label`` in the summary."""
    if tuning is None:
        why = (": the model settings ask for tuning" if tuning_enabled(settings) else
               ': hyper-parameters were fixed (see <a href="#methods">Methods</a>)')
        return section("tuning", not_available(OPTIONAL_FILES["tuning"], why))
    tuning = tuning.reset_index(drop=True)
    columns = list(tuning.columns)
    inner = inner or ("inner_auc" if "inner_auc" in columns else next(
        (c for c in columns if re.search(r"inner.*auc|auc.*inner", c, re.I)), None))
    keys = [c for c in _TUNING_KEYS if c in columns]
    after = [c for c in (inner, *_TUNING_AFTER) if c and c in columns]
    after = list(dict.fromkeys(after))
    params = [c for c in columns if c not in keys and c not in after]

    def cell(column, value):
        if value is None or (not isinstance(value, str) and pd.isna(value)):
            return ""
        if column in (inner, "inner_auc_sd", "inner_logloss"):
            return fmt(value)
        try:
            number = float(value)
        except (TypeError, ValueError):
            return esc(value)
        if np.isfinite(number) and number.is_integer():
            return str(int(number))
        return esc(value)

    tuned = tuned_rows(tuning, inner)
    text = ""
    if "scheme" in columns:
        counts = tuning["scheme"].fillna("").astype(str).value_counts()
        text += ("<p>Rows: " + ", ".join(f"{esc(k)} {v}" for k, v in sorted(counts.items()))
                 + " (<code>cv</code>: an outer training fold of the repeated CV; "
                 "<code>lobo</code>: the training part of a leave-one-batch-out split).</p>")
    if len(tuned) == 0:
        notes = sorted(set(tuning["note"].dropna().astype(str))) if "note" in columns else []
        text += ('<p class="missing">No fold was tuned'
                 + (": " + "; ".join(esc(n) for n in notes if n) if any(notes) else "")
                 + ". Every fold used the fixed parameters below.</p>")
        fixed = tuning.head(1)
        text += html_table([esc(c) for c in params],
                           [[cell(c, fixed[c].iloc[0]) for c in params]], text_columns=())
        return section("tuning", text)
    summary = [f"{len(tuned)} of {len(tuning)} training sets tuned by inner cross-validation"]
    if inner:
        values = num(tuned[inner])
        summary.append(f"{inner_label} of the chosen settings median {fmt(values.median())} "
                       f"[{fmt(values.min())}&ndash;{fmt(values.max())}]")
    summary += _start_summary(tuning)
    text += "<p>" + "; ".join(summary) + ".</p>"
    chosen = pd.Series([" | ".join(cell(c, tuned[c].iloc[i]) for c in params)
                        for i in range(len(tuned))], dtype=object).value_counts()
    if params and chosen.max() == 1:
        text += (f"<p>Every training set chose different settings ({len(tuned)} distinct "
                 "combinations; the per-set table below lists them).</p>")
    elif params:
        chosen = sorted(chosen.items(), key=lambda kv: (-kv[1], kv[0]))
        text += "<h3>Chosen settings and how often</h3>" + html_table(
            [" | ".join(esc(c) for c in params), "training sets"],
            [[k, str(v)] for k, v in chosen])
    shown_columns = [c for c in keys + params + after
                     if tuning[c].map(lambda v: cell(c, v)).ne("").any()]
    shown = tuning.head(MAX_TUNING_ROWS)
    rows = [[cell(c, shown[c].iloc[i]) for c in shown_columns] for i in range(len(shown))]
    text += "<h3>Per training set</h3>" + html_table(
        [esc(c) for c in shown_columns], rows,
        text_columns=tuple(i for i, c in enumerate(shown_columns)
                           if c in ("scheme", "model", "held_out_batch", "note")))
    if len(tuning) > MAX_TUNING_ROWS:
        text += (f'<p class="note">First {MAX_TUNING_ROWS} of {len(tuning)} rows; all are in '
                 f"<code>{OPTIONAL_FILES['tuning']}</code>.</p>")
    text += ('<p class="note">Nested cross-validation: in every outer training set an inner '
             "cross-validation chose the hyper-parameters, which were then refitted on the "
             "whole outer training set; the outer held-out patients, on which every reported "
             "performance is measured, never took part in the choice.</p>")
    return section("tuning", text)
