"""A single, self-contained HTML report of the response models.

Everything is inline: CSS in a ``<style>`` block, figures as base64 PNG data URIs drawn with
matplotlib's Agg canvas (no pyplot global state, the default style, and no ``Software``
metadata so the bytes are stable). Every piece of text that comes from data is escaped.
Same inputs -> byte-identical HTML.

Inputs are the model stage's tables (DataFrames, or paths to the TSVs); tables read with
``haicpred.tables.read_tsv`` hold strings, so numeric columns are converted here.
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
from pathlib import Path

import matplotlib
import matplotlib.style
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from haicpred.metrics import auc_score
from haicpred.model import DEFAULT_SETTINGS, LABEL_DEFINITION, package_versions
from haicpred.tables import read_tsv, write_text

__all__ = ["render_report"]

MODALITY_ORDER = ["clinical", "biomarker", "derived", "mutation", "genotype", "radiomics"]
TOP_FEATURES = 20
_ID_COLUMNS = ("sample_id", "batch")

_CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto;
       max-width: 1100px; color: #222; line-height: 1.45; padding: 0 1em; }
h1 { font-size: 1.6em; border-bottom: 2px solid #444; padding-bottom: .2em; }
h2 { font-size: 1.25em; margin-top: 1.8em; border-bottom: 1px solid #bbb; }
table { border-collapse: collapse; margin: .6em 0 1em 0; font-size: .92em; }
th, td { border: 1px solid #ccc; padding: .25em .6em; text-align: right; }
th { background: #f0f0f0; }
td.text, th.text { text-align: left; }
tr.headline td { font-weight: bold; background: #fff8e0; }
tr.oracle td { font-style: italic; color: #555; }
.headline-box { background: #fff8e0; border: 1px solid #e0c860; padding: .6em 1em; }
.note { color: #555; font-size: .9em; }
figure { margin: 1em 0; }
figcaption { font-size: .9em; color: #444; }
img { max-width: 100%; height: auto; }
code { background: #f4f4f4; padding: 0 .2em; }
"""


# --------------------------------------------------------------------------------------------
# helpers


def _table(value) -> pd.DataFrame | None:
    if value is None:
        return None
    if isinstance(value, (str, os.PathLike)):
        return read_tsv(value)
    return value.copy()


def _num(series) -> pd.Series:
    """Float64 with NaN for missing (text, nullable dtypes and pd.NA all accepted)."""
    values = pd.to_numeric(pd.Series(series), errors="coerce")
    return pd.Series(values.to_numpy(dtype=float, na_value=np.nan), index=values.index)


def _esc(value) -> str:
    return html.escape(str(value), quote=True)


def _fmt(value, digits: int = 3) -> str:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return "&ndash;"
    if not np.isfinite(value):
        return "&ndash;"
    text = f"{value:.{digits}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def _int(value) -> str:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return "&ndash;"
    return "&ndash;" if not np.isfinite(value) else str(int(round(value)))


def _pct(part: float, whole: float) -> str:
    return "&ndash;" if not whole else f"{100.0 * part / whole:.1f}%"


def _html_table(header: list[str], rows: list[list[str]], text_columns=(0,), row_classes=None):
    """Cells are already-escaped HTML fragments."""
    out = ["<table>", "<tr>"]
    for i, name in enumerate(header):
        cls = ' class="text"' if i in text_columns else ""
        out.append(f"<th{cls}>{name}</th>")
    out.append("</tr>")
    for r, row in enumerate(rows):
        cls = row_classes[r] if row_classes else ""
        out.append(f'<tr class="{cls}">' if cls else "<tr>")
        for i, cell in enumerate(row):
            tcls = ' class="text"' if i in text_columns else ""
            out.append(f"<td{tcls}>{cell}</td>")
        out.append("</tr>")
    out.append("</table>")
    return "\n".join(out)


def _png(fig: Figure) -> str:
    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _figure_html(fig: Figure, alt: str, caption: str) -> str:
    data = _png(fig)
    return (
        f'<figure><img alt="{_esc(alt)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{caption}</figcaption></figure>"
    )


def _model_settings(settings: dict | None) -> dict:
    """Accept the model section or the whole config; fill defaults without complaining."""
    settings = dict(settings or {})
    if isinstance(settings.get("model"), dict):
        extra = {k: v for k, v in settings.items() if k == "threads"}
        settings = {**settings["model"], **extra}
    out = {**DEFAULT_SETTINGS, **{k: v for k, v in settings.items() if v is not None}}
    return out


def _model_order(names) -> list[str]:
    names = list(dict.fromkeys(names))
    first = [n for n in ("xgboost", "xgboost_radiomics_only", "xgboost_without_radiomics",
                         "logistic_baseline") if n in names]
    rest = sorted(n for n in names if n not in first and n != "oracle")
    return first + rest + (["oracle"] if "oracle" in names else [])


def _colours(names: list[str]) -> dict:
    palette = matplotlib.colormaps["tab10"].colors
    colours = {}
    other = 0
    for name in names:
        if name == "xgboost":
            colours[name] = palette[3]
        elif name == "oracle":
            colours[name] = "0.45"
        else:
            colours[name] = palette[[0, 2, 4, 1, 5, 6, 8, 9][other % 8]]
            other += 1
    return colours


def _roc_points(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(y, p)
    return fpr, tpr


def _averaged_oof(oof: pd.DataFrame) -> pd.DataFrame:
    oof = oof.copy()
    oof["y_prob"] = _num(oof["y_prob"])
    oof["y_true"] = _num(oof["y_true"])
    return (
        oof.groupby(["model", "sample_id"], sort=True)
        .agg(y_true=("y_true", "first"), y_prob=("y_prob", "mean"))
        .reset_index()
    )


# --------------------------------------------------------------------------------------------
# sections


def _cohort_section(matrix, labels, dictionary) -> str:
    label = _num(labels["objective_response"]) if "objective_response" in labels else None
    label_map = dict(zip(labels["sample_id"], label)) if label is not None else {}
    y = matrix["sample_id"].map(label_map).astype(float)
    n = len(matrix)
    n_lab = int(y.notna().sum())
    n_resp = int((y == 1).sum())
    parts = ["<h2>Cohort</h2>"]
    parts.append(
        _html_table(
            ["", "count", "share"],
            [
                ["patients in the feature matrix", str(n), ""],
                ["labelled (mRECIST best response known)", str(n_lab), _pct(n_lab, n)],
                ["responders (CR/PR)", str(n_resp), _pct(n_resp, n_lab) + " of labelled"],
                ["non-responders (SD/PD)", str(n_lab - n_resp),
                 _pct(n_lab - n_resp, n_lab) + " of labelled"],
                ["unlabelled (scored, not trained on)", str(n - n_lab), _pct(n - n_lab, n)],
            ],
        )
    )
    if "best_response" in labels:
        counts = labels.set_index("sample_id")["best_response"].reindex(matrix["sample_id"])
        counts = counts.fillna("missing").value_counts()
        order = [c for c in ("CR", "PR", "SD", "PD") if c in counts.index]
        order += sorted(c for c in counts.index if c not in order)
        parts.append("<p>Best response (mRECIST): " + ", ".join(
            f"{_esc(c)} {int(counts[c])}" for c in order) + ".</p>")

    batches = matrix["batch"].fillna("(none)").astype(str)
    rows = []
    for batch in sorted(batches.unique()):
        mask = (batches == batch).to_numpy()
        yb = y[mask]
        lab, resp = int(yb.notna().sum()), int((yb == 1).sum())
        rows.append([_esc(batch), str(int(mask.sum())), str(lab), str(resp), _pct(resp, lab)])
    parts.append("<h3>Per batch</h3>")
    parts.append(
        _html_table(["batch", "patients", "labelled", "responders", "response rate"], rows)
    )

    modality = dict(zip(dictionary["feature"], dictionary["modality"].fillna("unknown")))
    features = [c for c in matrix.columns if c not in _ID_COLUMNS]
    groups: dict[str, list[str]] = {}
    for feature in features:
        groups.setdefault(str(modality.get(feature, "unknown")), []).append(feature)
    order = [m for m in MODALITY_ORDER if m in groups]
    order += sorted(m for m in groups if m not in order)
    batch_names = sorted(batches.unique())
    header = ["modality", "features", "samples with any value", "non-missing cells"]
    header += [f"any value: {_esc(b)}" for b in batch_names]
    rows = []
    for mod in order:
        present = matrix[groups[mod]].notna()
        any_value = present.any(axis=1).to_numpy()
        row = [
            _esc(mod),
            str(len(groups[mod])),
            f"{int(any_value.sum())} ({_pct(any_value.sum(), n)})",
            _pct(present.to_numpy().sum(), present.size),
        ]
        for batch in batch_names:
            mask = (batches == batch).to_numpy()
            row.append(_pct(any_value[mask].sum(), mask.sum()))
        rows.append(row)
    parts.append("<h3>Data availability per modality</h3>")
    parts.append(_html_table(header, rows))
    events = min(n_resp, n_lab - n_resp)
    parts.append(
        f'<p class="note">{len(features)} candidate features for {n_lab} labelled patients; '
        f"the smaller outcome class has {events} patients "
        f"({_fmt(events / len(features) if features else float('nan'), 2)} per candidate "
        "feature). Far fewer than 10 events per candidate predictor: the XGBoost model relies on "
        "shrinkage and shallow trees, and its apparent performance is only trusted out of fold."
        "</p>"
    )
    return "\n".join(parts)


def _describe_model(name: str, row, settings: dict) -> str:
    if name == "xgboost":
        return f"XGBoost, all {_int(row.get('n_features'))} candidate features"
    if name == "xgboost_radiomics_only":
        return (f"XGBoost on the {_int(row.get('n_features'))} radiomic features only "
                "(same folds, same in-fold radiomics preprocessing)")
    if name == "xgboost_without_radiomics":
        return (f"XGBoost on the {_int(row.get('n_features'))} non-radiomic features "
                "(everything but radiomics)")
    if name == "logistic_baseline":
        feats = ", ".join(_esc(f) for f in settings.get("baseline_features", []))
        return (f"Logistic regression (median imputation, scaling) on "
                f"{_int(row.get('n_features'))} of the Liu 2023 factors [{feats}]")
    if name == "oracle":
        return "Oracle: the simulation's true response probability (demo only)"
    spec = (settings.get("score_baselines") or {}).get(name)
    if spec:
        way = "higher = worse" if int(spec.get("direction", 1)) < 0 else "higher = better"
        return (f"Published score <code>{_esc(spec.get('feature', name))}</code> used as is "
                f"({way}), logistic recalibration only")
    return _esc(name)


def _metrics_section(metrics: pd.DataFrame, settings: dict) -> tuple[str, str]:
    metrics = metrics.copy()
    for column in metrics.columns:
        if column != "model":
            metrics[column] = _num(metrics[column])
    metrics = metrics.set_index("model", drop=False)
    order = _model_order(metrics["model"])
    rows, classes = [], []
    for name in order:
        row = metrics.loc[name]
        diff = "&ndash;"
        if name != "xgboost" and np.isfinite(row.get("auc_diff_vs_xgboost", np.nan)):
            diff = (f"{row['auc_diff_vs_xgboost']:+.3f} [{_fmt(row.get('auc_diff_low'))}, "
                    f"{_fmt(row.get('auc_diff_high'))}]")
        rows.append(
            [
                f"<b>{_esc(name)}</b><br><span class=\"note\">"
                f"{_describe_model(name, row, settings)}</span>",
                _int(row.get("n")),
                _int(row.get("n_events")),
                f"{_fmt(row.get('auc'))} [{_fmt(row.get('auc_low'))}, "
                f"{_fmt(row.get('auc_high'))}]",
                _fmt(row.get("auc_repeat_sd")),
                diff,
                _fmt(row.get("brier")),
                _fmt(row.get("calibration_slope"), 2),
                _fmt(row.get("calibration_intercept"), 2),
                _fmt(row.get("accuracy_at_0.5")),
            ]
        )
        classes.append("headline" if name == "xgboost" else "oracle" if name == "oracle" else "")
    header = ["model", "n", "responders", "AUC [95% CI]", "AUC SD over repeats",
              "&Delta;AUC vs XGBoost [95% CI]", "Brier", "calibration slope",
              "calibration intercept", "accuracy at 0.5"]
    table = _html_table(header, rows, row_classes=classes)

    headline = ""
    if "xgboost" in metrics.index:
        x = metrics.loc["xgboost"]
        headline = (
            f'<div class="headline-box"><b>XGBoost out-of-fold AUC {_fmt(x.get("auc"))} '
            f'(95% CI {_fmt(x.get("auc_low"))}&ndash;{_fmt(x.get("auc_high"))})</b>, '
            f'Brier {_fmt(x.get("brier"))}, calibration slope '
            f'{_fmt(x.get("calibration_slope"), 2)}, on {_int(x.get("n"))} labelled patients '
            f'({_int(x.get("n_events"))} responders).'
        )
        for name in order:
            if name in ("xgboost", "oracle"):
                continue
            b = metrics.loc[name]
            headline += (f" {_esc(name)}: AUC {_fmt(b.get('auc'))}"
                         f" [{_fmt(b.get('auc_low'))}, {_fmt(b.get('auc_high'))}].")
        if "oracle" in metrics.index:
            o = metrics.loc["oracle"]
            gap = o.get("auc", np.nan) - x.get("auc", np.nan)
            headline += (
                f" The oracle (true simulated probability) reaches AUC {_fmt(o.get('auc'))} "
                f"[{_fmt(o.get('auc_low'))}, {_fmt(o.get('auc_high'))}]: XGBoost is "
                f"{_fmt(gap)} below it"
            )
            if np.isfinite(o.get("auc_diff_low", np.nan)):
                headline += (f" (paired bootstrap 95% CI of the gap {_fmt(o['auc_diff_low'])}"
                             f"&ndash;{_fmt(o['auc_diff_high'])})")
            headline += "."
        headline += "</div>"
    notes = (
        '<p class="note">All values are out of fold: each patient\'s probability is the mean of '
        "its predictions from the repeats in which it was held out. 95% CIs: stratified "
        "bootstrap of those probabilities; &Delta;AUC CIs use the same (paired) resamples. "
        "Calibration slope: <i>b</i> in logit P(y) = <i>a</i> + <i>b</i>&middot;logit(p) "
        "(ideal 1; &lt; 1 = predictions too extreme); calibration intercept: calibration-in-the-"
        "large with the slope fixed at 1 (ideal 0; &gt; 0 = risks underestimated).</p>"
    )
    return "<h2>Discrimination and calibration</h2>\n" + headline + table + notes, headline


def _model_predictions(avg: pd.DataFrame, order, oracle):
    """(model, y, p) for each model in `order` that has predictions; the oracle from truth."""
    for name in order:
        if name == "oracle":
            if oracle is not None:
                yield name, *oracle
            continue
        part = avg[avg["model"] == name]
        if not part.empty:
            yield name, part["y_true"].to_numpy(int), part["y_prob"].to_numpy(float)


def _roc_figure(avg: pd.DataFrame, order, colours, oracle) -> str:
    fig = Figure(figsize=(6.0, 5.6))
    ax = fig.add_subplot(1, 1, 1)
    ax.plot([0, 1], [0, 1], linestyle=":", color="0.6", linewidth=1)
    for name, y, p in _model_predictions(avg, order, oracle):
        if len(np.unique(y)) < 2:
            continue
        fpr, tpr = _roc_points(y, p)
        ax.plot(fpr, tpr, color=colours[name], linewidth=2.2 if name == "xgboost" else 1.4,
                linestyle="--" if name == "oracle" else "-",
                label=f"{name} (AUC {auc_score(y, p):.3f})")
    ax.set_xlabel("1 - specificity")
    ax.set_ylabel("sensitivity")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_title("ROC, out-of-fold probability averaged over repeats")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return _figure_html(fig, "ROC curves", "ROC curves of every model on the same labelled "
                        "patients (out-of-fold; oracle dashed when the simulation truth is known).")


def _calibration_figure(calibration: pd.DataFrame, order, colours) -> str:
    cal = calibration.copy()
    for column in ("bin", "mean_predicted", "observed_rate", "n"):
        cal[column] = _num(cal[column])
    fig = Figure(figsize=(6.0, 5.6))
    ax = fig.add_subplot(1, 1, 1)
    ax.plot([0, 1], [0, 1], linestyle=":", color="0.6", linewidth=1, label="ideal")
    for name in order:
        part = cal[cal["model"] == name].sort_values("bin")
        if part.empty:
            continue
        ax.plot(part["mean_predicted"], part["observed_rate"], marker="o", markersize=4,
                color=colours[name], linewidth=2.2 if name == "xgboost" else 1.2,
                linestyle="--" if name == "oracle" else "-", label=name)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("mean predicted probability (decile of predictions)")
    ax.set_ylabel("observed response rate")
    ax.set_title("Calibration (10 quantile bins)")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    return _figure_html(fig, "Calibration plot", "Observed objective-response rate against the "
                        "mean out-of-fold predicted probability in ten equal-size bins.")


def _decision_figure(avg: pd.DataFrame, order, colours, oracle) -> str:
    thresholds = np.round(np.arange(0.05, 0.801, 0.01), 2)
    fig = Figure(figsize=(6.4, 4.6))
    ax = fig.add_subplot(1, 1, 1)
    prevalence = None
    for name, y, p in _model_predictions(avg, order, oracle):
        n = len(y)
        prevalence = y.mean()
        benefit = []
        for t in thresholds:
            pick = p >= t
            tp = np.sum(pick & (y == 1)) / n
            fp = np.sum(pick & (y == 0)) / n
            benefit.append(tp - fp * t / (1 - t))
        ax.plot(thresholds, benefit, color=colours[name],
                linewidth=2.2 if name == "xgboost" else 1.2,
                linestyle="--" if name == "oracle" else "-", label=name)
    if prevalence is not None:
        treat_all = prevalence - (1 - prevalence) * thresholds / (1 - thresholds)
        ax.plot(thresholds, treat_all, color="0.3", linewidth=1, linestyle="-.",
                label="treat all")
        ax.axhline(0, color="0.3", linewidth=1, label="treat none")
        ax.set_ylim(-0.05, max(prevalence, 0.05) + 0.05)
    ax.set_xlabel("threshold probability of response")
    ax.set_ylabel("net benefit")
    ax.set_title("Decision curve (out-of-fold)")
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    return _figure_html(fig, "Decision curve", "Net benefit of selecting patients for HAIC when "
                        "their predicted response probability exceeds the threshold, compared "
                        "with treating everyone or no one.")


def _radiomics_section(model_metadata: dict | None) -> str:
    """Radiomic features per training fold (filters, ComBat) from the model metadata."""
    summary = (model_metadata or {}).get("radiomics_folds_summary") or []
    if not summary:
        return ""

    def spread(entry: dict) -> str:
        if entry["min"] == entry["max"]:
            return _int(entry["min"])
        return f"{_fmt(entry['median'], 0)} [{_int(entry['min'])}&ndash;{_int(entry['max'])}]"

    rows = []
    for entry in summary:
        reasons = "; ".join(f"{_esc(reason)} ({count} fold{'s' if count > 1 else ''})"
                            for reason, count in entry.get("skipped_reasons", {}).items())
        rows.append([_esc(entry["model"]), _int(entry["n_folds"]), spread(entry["n_in"]),
                     spread(entry["n_after_near_constant"]),
                     spread(entry["n_after_correlation"]), spread(entry["n_harmonised"]),
                     f"{entry['n_folds_harmonised']} of {entry['n_folds']}",
                     reasons or "&ndash;"])
    header = ["model", "folds", "radiomic features in", "after near-constant filter",
              "after correlation filter", "harmonised features", "folds harmonised",
              "not harmonised because"]
    text = ("<h2>Radiomic features inside the training folds</h2>\n"
            + _html_table(header, rows, text_columns=(0, 7))
            + '<p class="note">Per training fold (median [min&ndash;max]): radiomic features '
            "entering, left after dropping near-constant ones, left after dropping one of each "
            "highly correlated pair, and ComBat-harmonised (batch = sample-sheet batch). "
            "Everything is fitted on the training fold and only applied to the held-out fold; "
            "every fold is listed in <code>results/model/radiomics_folds.tsv</code>.")
    final = ((model_metadata or {}).get("radiomics_preprocessing") or {})
    if final:
        summary_final = final.get("summary", {})
        combat = final.get("harmonisation", {})
        text += (f" Final model: {_int(summary_final.get('n_in'))} radiomic features in, "
                 f"{_int(summary_final.get('n_after_correlation'))} kept; ")
        if "stand_mean" in combat:
            text += (f"{_int(len(combat.get('features', [])))} harmonised with "
                     f"{_esc(combat.get('library'))} {_esc(combat.get('library_version'))} "
                     f"over batches {_esc(', '.join(combat.get('batches', [])))} (a patient "
                     "of another batch is scored unharmonised and flagged).")
        else:
            text += f"not harmonised: {_esc(combat.get('reason', ''))}."
    return text + "</p>"


def _importance_section(importance: pd.DataFrame) -> str:
    imp = importance.copy()
    imp["gain"] = _num(imp["gain"])
    imp["gain_sd"] = _num(imp.get("gain_sd", pd.Series(np.nan, index=imp.index)))
    imp["modality"] = imp["modality"].fillna("").astype(str) if "modality" in imp else ""
    imp = imp.sort_values(["gain", "feature"], ascending=[False, True], kind="mergesort")
    top = imp.head(TOP_FEATURES)
    modalities = [m for m in MODALITY_ORDER if m in set(imp["modality"])]
    modalities += sorted(set(imp["modality"]) - set(modalities))
    palette = matplotlib.colormaps["tab10"].colors
    colour = {m: palette[i % 10] for i, m in enumerate(modalities)}
    fig = Figure(figsize=(7.2, 0.32 * max(len(top), 3) + 1.4))
    ax = fig.add_subplot(1, 1, 1)
    positions = np.arange(len(top))[::-1]
    ax.barh(positions, top["gain"], xerr=top["gain_sd"].fillna(0),
            color=[colour[m] for m in top["modality"]],
            error_kw={"elinewidth": 0.8, "ecolor": "0.3"})
    ax.set_yticks(positions)
    ax.set_yticklabels([str(f) for f in top["feature"]], fontsize=8)
    ax.set_xlabel("share of total gain (mean over CV folds, +/- SD)")
    ax.set_title(f"XGBoost feature importance, top {len(top)}")
    from matplotlib.patches import Patch

    shown = [m for m in modalities if m in set(top["modality"])]
    ax.legend(handles=[Patch(color=colour[m], label=m or "unknown") for m in shown],
              loc="lower right", fontsize=8)
    fig.tight_layout()
    rows = [
        [_int(r.get("rank")), _esc(r["feature"]), _esc(r.get("modality", "")),
         _fmt(r["gain"], 4), _fmt(r["gain_sd"], 4)]
        for _, r in top.iterrows()
    ]
    return (
        "<h2>Feature importance</h2>\n"
        + _figure_html(fig, "Feature importance", "Total gain of each feature in the XGBoost "
                       "models of all CV folds, normalised per fold to sum 1, averaged over "
                       "folds. Importance is not effect direction or causality; correlated "
                       "features share gain.")
        + _html_table(["rank", "feature", "modality", "gain", "gain SD"], rows,
                      text_columns=(1, 2))
    )


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


def _planted_section(planted: pd.DataFrame, importance: pd.DataFrame) -> str:
    planted = planted.copy()
    header = [_esc(c) for c in planted.columns]
    key = next((c for c in ("feature", "variable") if c in planted.columns), None)
    ranks = dict(zip(importance["feature"], _num(importance["rank"])))
    features = list(importance["feature"])
    if key:
        header.append("best-ranked matching feature (XGBoost importance rank of "
                      f"{len(features)})")
    text_columns = tuple(
        i for i, c in enumerate(planted.columns) if _num(planted[c]).isna().all()
    ) + ((len(planted.columns),) if key else ())
    rows = []
    for _, r in planted.iterrows():
        row = ["" if pd.isna(v) else _esc(v) for v in r.tolist()]
        if key:
            name = "" if pd.isna(r[key]) else str(r[key])
            matches = sorted(_matching_features(name, features), key=lambda f: ranks[f])
            row.append(f"{_esc(matches[0])} (#{_int(ranks[matches[0]])})" if matches
                       else "&ndash;")
        rows.append(row)
    return (
        "<h2>Planted effects (simulated demo cohort)</h2>\n"
        '<p class="note">The simulation planted these effects on the response probability. '
        "A sound pipeline should rank the planted features highly; binary features with rare "
        "levels gather less gain than continuous ones, so a modest rank is not by itself a "
        "failure.</p>"
        + _html_table(header, rows, text_columns=text_columns)
    )


def _methods_section(settings: dict, metrics: pd.DataFrame, has_oracle: bool,
                     outcome: str = LABEL_DEFINITION) -> str:
    folds, repeats = settings.get("cv_folds"), settings.get("cv_repeats")
    params = settings.get("xgboost") or {}
    from haicpred.model import DEFAULT_XGBOOST_PARAMS

    params = {**DEFAULT_XGBOOST_PARAMS, **params}
    param_text = ", ".join(f"{_esc(k)}={_esc(params[k])}" for k in sorted(params))
    scores = settings.get("score_baselines") or {}
    score_text = ", ".join(
        f"{_esc(n)} (<code>{_esc(s.get('feature'))}</code>, "
        f"{'higher = worse' if int(s.get('direction', 1)) < 0 else 'higher = better'})"
        for n, s in sorted(scores.items())
    ) or "none"
    text = (
        "<h2>Methods</h2>\n<p>"
        f"<b>Outcome.</b> {_esc(outcome)}. "
        f"<b>Validation.</b> Repeated stratified {_esc(folds)}-fold cross-validation "
        f"({_esc(repeats)} repeats, seed {_esc(settings.get('seed'))}). In every training fold "
        "each model, including all of its preprocessing, was fitted from scratch inside an "
        "scikit-learn pipeline; the held-out fold was only predicted. No hyper-parameters were "
        "tuned on the data (fixed, regularised settings), so no nested cross-validation was "
        "required. Performance is reported on each patient's out-of-fold probability averaged "
        "over repeats, with 95% confidence intervals from "
        f"{_esc(settings.get('n_bootstrap'))} stratified bootstrap resamples; the SD of the "
        "per-repeat AUCs shows the variability due to the fold assignment. "
        f"<b>Models.</b> XGBoost (tree_method=hist; {param_text}) on all candidate features; "
        "a logistic regression (L2, C=1) on the Liu 2023 factors present in the data; "
        f"published scores used as they are: {score_text}, turned into probabilities by a "
        "logistic recalibration (intercept and non-negative slope) fitted in the training fold. "
        "<b>Radiomics.</b> For every model using radiomic features, inside each training "
        "fold: radiomic features that are near-constant (most frequent value &ge; "
        f"{_esc(settings.get('radiomics_near_constant_fraction'))} of the values) are dropped, "
        "the rest harmonised across batches with ComBat (neuroCombat; method "
        f"{_esc((settings.get('harmonisation') or {}).get('method'))}) fitted on the training "
        "fold only and applied to the held-out fold, then of each pair with |Pearson r| &gt; "
        f"{_esc(settings.get('radiomics_max_correlation'))} the later one is dropped; a fold "
        "whose held-out batch is absent from its training part, or where ComBat cannot be "
        "fitted, is left unharmonised (see the radiomics table above). "
        "<b>Missing data.</b> Missing values were left missing (never set to 0): XGBoost "
        "handles them natively (learned default split directions); the logistic baseline and "
        "the scores use the median of the training fold. "
        "<b>Predictors.</b> Only baseline (pre-treatment) predictors: columns named "
        "<code>post_*</code>, features whose dictionary modality is post_treatment and outcome "
        "columns are refused. "
        "<b>Final model.</b> XGBoost refitted on all labelled patients and saved in XGBoost's "
        "JSON format with its metadata (feature list, settings, versions, sha256); unlabelled "
        "patients are scored by it but never trained on. "
        "<b>Caveats.</b> Internal validation only; batches are not held out, so batch "
        "effects (scanner, sequencing run) may inflate or deflate the estimates."
    )
    if has_oracle:
        text += (" <b>Oracle.</b> For the simulated demo cohort the true response probability "
                 "is known; its AUC against the realised labels is the best any model could "
                 "reach on these patients.")
    return text + "</p>"


def _versions_section(model_metadata: dict | None) -> str:
    here = package_versions(("matplotlib", "numpy", "pandas", "scikit-learn", "scipy"))
    fitted = (model_metadata or {}).get("versions") or {}
    names = sorted(set(here) | set(fitted))
    header = ["package", "report (this run)"]
    if fitted:
        header.append("model fit (model_metadata.json)")
    rows = []
    for name in names:
        row = [_esc(name), _esc(here.get(name, "")) or "&ndash;"]
        if fitted:
            row.append(_esc(fitted.get(name, "")) or "&ndash;")
        rows.append(row)
    text = "<h2>Software</h2>\n" + _html_table(header, rows, text_columns=(0, 1, 2))
    if model_metadata and model_metadata.get("model_sha256"):
        text += (f'<p class="note">Final model: {_esc(model_metadata.get("model_file", ""))}, '
                 f"sha256 <code>{_esc(model_metadata['model_sha256'])}</code>, "
                 f"{_esc(model_metadata.get('n_features', ''))} features.</p>")
    skipped = (model_metadata or {}).get("skipped_models") or []
    if skipped:
        text += ('<p class="note">Baselines incomplete or skipped: '
                 + "; ".join(_esc(s) for s in skipped) + ".</p>")
    return text


# --------------------------------------------------------------------------------------------
# entry point


def render_report(
    out_path,
    metrics,
    oof,
    calibration,
    importance,
    dictionary,
    matrix,
    labels,
    settings,
    truth=None,
    planted_effects=None,
    model_metadata=None,
) -> None:
    """Write the self-contained HTML report to ``out_path``.

    Tables may be DataFrames or TSV paths. ``settings`` is the model settings (or the whole
    config with a ``model`` section). ``truth`` (sample_id, response_probability) and
    ``planted_effects`` are given for the simulated demo cohort only. ``model_metadata``
    (optional; dict or path to ``model_metadata.json``) adds the package versions the model was
    fitted with and the model file's sha256 to the software section.
    """
    if isinstance(model_metadata, (str, os.PathLike)):
        model_metadata = json.loads(Path(model_metadata).read_text())
    metrics, oof, calibration, importance = map(_table, (metrics, oof, calibration, importance))
    dictionary, matrix, labels = map(_table, (dictionary, matrix, labels))
    truth, planted_effects = _table(truth), _table(planted_effects)
    settings = _model_settings(settings)

    order = _model_order(list(metrics["model"]) + list(oof["model"].unique()))
    colours = _colours(order)
    avg = _averaged_oof(oof)
    oracle = None
    if truth is not None and "xgboost" in set(avg["model"]):
        ref = avg[avg["model"] == "xgboost"][["sample_id", "y_true"]]
        tp = dict(zip(truth["sample_id"], _num(truth["response_probability"])))
        p = ref["sample_id"].map(tp).to_numpy(float)
        keep = np.isfinite(p)
        oracle = (ref["y_true"].to_numpy(int)[keep], p[keep])
        if "oracle" not in order:
            order.append("oracle")
            colours = _colours(order)

    metrics_html, _ = _metrics_section(metrics, settings)
    with matplotlib.style.context("default"):
        figures = (
            "<h2>ROC curves</h2>\n" + _roc_figure(avg, order, colours, oracle)
            + "<h2>Calibration</h2>\n" + _calibration_figure(calibration, order, colours)
            + "<h2>Clinical usefulness</h2>\n" + _decision_figure(avg, order, colours, oracle)
        )
        importance_html = _importance_section(importance)

    import haicpred

    body = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        "<title>haicpred: prediction of objective response to HAIC</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        "<h1>haicpred: predicting objective response of hepatocellular carcinoma to hepatic "
        "arterial infusion chemotherapy (HAIC)</h1>",
        f'<p class="note">Generated by haicpred {_esc(haicpred.__version__)}. Outcome: mRECIST '
        "objective response (CR/PR vs SD/PD).</p>",
        _cohort_section(matrix, labels, dictionary),
        metrics_html,
        figures,
        importance_html,
        _radiomics_section(model_metadata),
    ]
    if planted_effects is not None:
        body.append(_planted_section(planted_effects, importance))
    body += [
        _methods_section(settings, metrics, oracle is not None,
                         ((model_metadata or {}).get("label") or {}).get("definition",
                                                                          LABEL_DEFINITION)),
        _versions_section(model_metadata),
        "</body>",
        "</html>",
        "",
    ]
    write_text("\n".join(body), Path(out_path))
