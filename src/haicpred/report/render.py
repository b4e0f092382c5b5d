"""A single, self-contained HTML report of the response models, to the clinical-prediction
reporting standard (TRIPOD+AI checklist at the end, every item linked to where it is answered).

Everything is inline: CSS in a ``<style>`` block, figures as base64 PNG data URIs drawn with
matplotlib's Agg canvas (no pyplot global state, the default style, a fixed dpi and no
``Software`` metadata so the bytes are stable). Every piece of text that comes from data is
escaped. Same inputs -> byte-identical HTML.

Inputs are the model stage's tables (DataFrames, or paths to the TSVs); tables read with
``haicpred.io.tables.read_tsv`` hold strings, so numeric columns are converted here. The tables of
the later stages (decision curve, SHAP importance, leave-one-batch-out metrics, nested tuning)
are optional: a section whose table is missing says which file was not produced.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import matplotlib.style
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from haicpred.modeling.metrics import auc_score, net_benefit, net_benefit_treat_all
from haicpred.io.versions import package_versions
from haicpred.modeling.endpoint import LABEL_DEFINITION
from haicpred.modeling.settings import DEFAULT_SETTINGS
from haicpred.report.cohort import (DATA_CHECKS_FILE, cohort_description, cohort_names,
                                    data_checks_body, recorded_outcome, single_batch_note,
                                    titles)
from haicpred.report.html import esc as _esc
from haicpred.report.html import fmt as _fmt
from haicpred.report.html import html_table as _html_table
from haicpred.report.html import integer as _int
from haicpred.report.html import num as _num
from haicpred.report.html import p_value as _p
from haicpred.report.html import pct as _pct
from haicpred.report.baselines import (SCORE_METHODS, ablation_note, baseline_notes,
                                       describe_baseline, full_model_tuning,
                                       score_roc_predictions)
from haicpred.io.tables import read_tsv, write_text

__all__ = ["OPTIONAL_FILES", "FINAL_METADATA_FILE", "SECTION_IDS", "render_report"]

MODALITY_ORDER = ["clinical", "biomarker", "derived", "mutation", "genotype", "radiomics"]
TOP_FEATURES = 20
MAX_TUNING_ROWS = 100
_ID_COLUMNS = ("sample_id", "batch")
_DPI = 100

# Where the workflow writes the optional tables; named in the "not available" notes.
OPTIONAL_FILES = {
    "decision_curve": "results/model/decision_curve.tsv",
    "shap_importance": "results/model/final/shap_importance.tsv",
    "lobo_metrics": "results/model/lobo_metrics.tsv",
    "tuning": "results/model/tuning.tsv",
}
# The frozen final model's metadata (file, sha256, features, radiomics step), also optional.
FINAL_METADATA_FILE = "results/model/final/model_metadata.json"

# Section anchors (the TRIPOD+AI checklist links to them) and titles, in report order.
SECTION_IDS = {
    "data-checks": "Data checks",
    "cohort": "Cohort",
    "metrics": "Discrimination and calibration",
    "roc": "ROC curves",
    "calibration": "Calibration",
    "decision-curve": "Clinical usefulness",
    "ablation": "Modality ablation",
    "lobo": "Leave-one-batch-out validation",
    "tuning": "Nested hyper-parameter tuning",
    "importance": "Feature importance",
    "shap": "SHAP summary (final model)",
    "radiomics": "Radiomic features inside the training folds",
    "planted": "Planted effects (simulated demo cohort)",
    "methods": "Methods",
    "limitations": "Limitations",
    "software": "Software and model availability",
    "tripod": "TRIPOD+AI checklist",
}

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
tr.flagged td { background: #fde2e1; }
tr.oracle td { font-style: italic; color: #555; }
.headline-box { background: #fff8e0; border: 1px solid #e0c860; padding: .6em 1em; }
.note { color: #555; font-size: .9em; }
.missing { color: #8a4b00; background: #fdf3e7; border-left: 3px solid #d08a30;
           padding: .3em .7em; }
nav ol { columns: 2; font-size: .92em; }
.table-wrap { overflow-x: auto; }
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


def _optional_table(value) -> pd.DataFrame | None:
    """An optional table: None, a DataFrame, or a path (a path that does not exist = absent)."""
    if isinstance(value, (str, os.PathLike)) and not Path(value).is_file():
        return None
    return _table(value)


def _ci(row, key: str = "auc") -> str:
    return f"{_fmt(row.get(key))} [{_fmt(row.get(key + '_low'))}, {_fmt(row.get(key + '_high'))}]"


def _section(anchor: str, body: str, title: str | None = None) -> str:
    title = SECTION_IDS[anchor] if title is None else title
    return f'<section id="{anchor}">\n<h2>{title}</h2>\n{body}\n</section>'


def _not_available(path: str, why: str = "") -> str:
    return (f'<p class="missing">Not available (file <code>{_esc(path)}</code> not produced)'
            f"{why}.</p>")


def _png(fig: Figure) -> str:
    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=_DPI, metadata={"Software": None})
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
        extra = {k: v for k, v in settings.items() if k in ("threads", "endpoint")}
        settings = {**settings["model"], **extra}
    out = {**DEFAULT_SETTINGS, **{k: v for k, v in settings.items() if v is not None}}
    return out


_WITHOUT = re.compile(r"^xgboost_without_(.+)$")
_ONLY = re.compile(r"^xgboost_(.+)_only$")


def _ablation(name: str) -> tuple[str, str] | None:
    """(modality, "only" | "without") for a modality-ablation row of metrics.tsv."""
    match = _WITHOUT.match(str(name))
    if match:
        return match.group(1), "without"
    match = _ONLY.match(str(name))
    if match:
        return match.group(1), "only"
    return None


def _modality_key(modality: str) -> tuple:
    return (MODALITY_ORDER.index(modality) if modality in MODALITY_ORDER
            else len(MODALITY_ORDER), modality)


def _model_order(names) -> list[str]:
    """xgboost, the logistic baseline, the other baselines by name, the oracle; modality
    ablations (xgboost_<m>_only, xgboost_without_<m>) after xgboost in modality order."""
    names = list(dict.fromkeys(str(n) for n in names))
    ablations = sorted((n for n in names if _ablation(n)),
                       key=lambda n: (*_modality_key(_ablation(n)[0]), _ablation(n)[1] != "only"))
    first = [n for n in ("xgboost", *ablations, "logistic_baseline") if n in names]
    rest = sorted(n for n in names if n not in first and n != "oracle")
    return first + rest + (["oracle"] if "oracle" in names else [])


def _panels(order: list[str], shown=None) -> list[tuple[str, list[str]]]:
    """Models split for the figures: XGBoost against the baselines, and (when there are any
    among `shown`, the models with data for the figure) XGBoost against its modality
    ablations."""
    shown = set(order if shown is None else shown)
    main = [n for n in order if not _ablation(n)]
    ablations = [n for n in order if _ablation(n) and n in shown]
    panels = [("XGBoost and baselines", main)]
    if ablations:
        panels.append(("modality ablation", [n for n in ("xgboost",) if n in order] + ablations))
    return panels


def _colours(names: list[str]) -> dict:
    """XGBoost red, the oracle grey; the others of each figure panel (baselines, ablations)
    coloured in turn, from tab20 when a panel has more than eight."""
    colours = {"xgboost": matplotlib.colormaps["tab10"].colors[3], "oracle": "0.45"}
    for _, members in _panels(list(names)):
        others = [n for n in members if n not in colours]
        if len(others) <= 8:
            base = matplotlib.colormaps["tab10"].colors
            palette = [base[i] for i in (0, 2, 4, 1, 5, 6, 8, 9)]
        else:
            base = matplotlib.colormaps["tab20"].colors
            palette = [c for i, c in enumerate(base) if i not in (6, 7)]  # reds: xgboost's
        for i, name in enumerate(others):
            colours[name] = palette[i % len(palette)]
    return colours


def _modality_colours(modalities) -> dict:
    present = set(modalities)
    order = [m for m in MODALITY_ORDER if m in present] + sorted(
        present - set(MODALITY_ORDER))
    palette = matplotlib.colormaps["tab10"].colors
    return {m: palette[i % 10] for i, m in enumerate(order)}


def _roc_points(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(y, p)
    return fpr, tpr


def _averaged_oof(oof: pd.DataFrame) -> pd.DataFrame:
    """Per model and sample: the label and the out-of-fold probability averaged over repeats."""
    oof = oof.copy()
    oof["y_prob"] = _num(oof["y_prob"])
    oof["y_true"] = _num(oof["y_true"])
    return (
        oof.groupby(["model", "sample_id"], sort=True)
        .agg(y_true=("y_true", "first"), y_prob=("y_prob", "mean"))
        .reset_index()
    )


@dataclass(frozen=True)
class _Outcome:
    """The endpoint the models predict, from cv_metadata.json's ``label`` block."""

    name: str
    definition: str
    favourable: bool
    block: dict

    @classmethod
    def from_metadata(cls, metadata: dict | None) -> _Outcome:
        block = dict((metadata or {}).get("label") or {})
        name = str(block.get("name") or block.get("column") or "objective_response")
        favourable = block.get("positive_is_favourable")
        return cls(name, str(block.get("definition") or LABEL_DEFINITION),
                   True if favourable is None else bool(favourable), block)

    @property
    def is_response(self) -> bool:
        return self.name == "objective_response"

    @property
    def positive(self) -> str:
        return "responders (CR/PR)" if self.is_response else f"{_esc(self.name)} = 1"

    @property
    def negative(self) -> str:
        return "non-responders (SD/PD)" if self.is_response else f"{_esc(self.name)} = 0"

    @property
    def events(self) -> str:
        """Column header for the number of label-1 patients."""
        return "responders" if self.is_response else "label 1"

    @property
    def title(self) -> str:
        if self.is_response:
            return "objective response (mRECIST CR/PR vs SD/PD)"
        return f"{_esc(self.name)} ({'favourable' if self.favourable else 'adverse'} outcome)"


# --------------------------------------------------------------------------------------------
# sections


def _sample_labels(oof: pd.DataFrame, labels: pd.DataFrame) -> dict:
    """Each trained-on sample's label as the models saw it (the endpoint's, from the
    out-of-fold table); without predictions, labels.tsv's objective_response."""
    if oof is not None and len(oof):
        return dict(zip(oof["sample_id"], _num(oof["y_true"])))
    if "objective_response" in labels:
        return dict(zip(labels["sample_id"], _num(labels["objective_response"])))
    return {}


def _cohort_section(matrix, labels, dictionary, oof, outcome: _Outcome, description: str,
                    endpoint_settings: dict | None) -> str:
    y = matrix["sample_id"].map(_sample_labels(oof, labels)).astype(float)
    n = len(matrix)
    n_lab = int(y.notna().sum())
    n_pos = int((y == 1).sum())
    block = outcome.block
    parts = [
        description,
        f"<p><b>Endpoint</b> <code>{_esc(outcome.name)}</code>: {_esc(outcome.definition)}. "
        f"Label 1 is the {'favourable' if outcome.favourable else 'adverse'} outcome.</p>"
    ]
    unlabelled = ["unlabelled (scored, not trained on)", str(n - n_lab), _pct(n - n_lab, n)]
    reasons = []
    censored = block.get("n_censored_before_horizon")
    if censored:
        reasons.append(f"{_int(censored)} censored before the horizon")
    if block.get("n_missing") is not None and (censored or not outcome.is_response):
        reasons.append(f"{_int(block.get('n_missing'))} without the outcome")
    if reasons:
        unlabelled[0] += " <span class=\"note\">(" + ", ".join(reasons) + ")</span>"
    parts.append(
        _html_table(
            ["", "count", "share"],
            [
                ["patients in the feature matrix", str(n), ""],
                [f"labelled (<code>{_esc(outcome.name)}</code> known)", str(n_lab),
                 _pct(n_lab, n)],
                [outcome.positive, str(n_pos), _pct(n_pos, n_lab) + " of labelled"],
                [outcome.negative, str(n_lab - n_pos),
                 _pct(n_lab - n_pos, n_lab) + " of labelled"],
                unlabelled,
            ],
        )
    )
    parts.append(recorded_outcome(labels, matrix["sample_id"], endpoint_settings,
                                  outcome.is_response))

    batches = matrix["batch"].fillna("(none)").astype(str)
    rows = []
    for batch in sorted(batches.unique()):
        mask = (batches == batch).to_numpy()
        yb = y[mask]
        lab, pos = int(yb.notna().sum()), int((yb == 1).sum())
        rows.append([_esc(batch), str(int(mask.sum())), str(lab), str(pos), _pct(pos, lab)])
    parts.append("<h3>Per batch</h3>")
    rate = "response rate" if outcome.is_response else "label-1 rate"
    parts.append(
        _html_table(["batch", "patients", "labelled", outcome.events, rate], rows)
    )

    modality = dict(zip(dictionary["feature"], dictionary["modality"].fillna("unknown")))
    features = [c for c in matrix.columns if c not in _ID_COLUMNS]
    groups: dict[str, list[str]] = {}
    for feature in features:
        groups.setdefault(str(modality.get(feature, "unknown")), []).append(feature)
    order = sorted(groups, key=_modality_key)
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
    events = min(n_pos, n_lab - n_pos)
    parts.append(
        f'<p class="note">Sample size: {len(features)} candidate features for {n_lab} labelled '
        f"patients; the smaller outcome class has {events} patients "
        f"({_fmt(events / len(features) if features else float('nan'), 2)} per candidate "
        "feature). Far fewer than 10 events per candidate predictor: the XGBoost model relies on "
        "shrinkage and shallow trees, and its apparent performance is only trusted out of fold."
        "</p>"
    )
    return _section("cohort", "\n".join(parts))


def _describe_model(name: str, row, settings: dict, cv_metadata: dict | None = None) -> str:
    if name == "xgboost":
        return f"XGBoost, all {_int(row.get('n_features'))} candidate features"
    ablation = _ablation(name)
    if ablation:
        modality, kind = ablation
        if kind == "only":
            return (f"XGBoost on the {_int(row.get('n_features'))} {_esc(modality)} features "
                    "only (same folds, same in-fold preprocessing)")
        return (f"XGBoost on the {_int(row.get('n_features'))} features that are not "
                f"{_esc(modality)} (everything but {_esc(modality)})")
    if name == "logistic_all_features":
        return (f"Logistic regression (median imputation, scaling, L2 penalty chosen by a "
                f"3-fold inner CV on AUC) on all {_int(row.get('n_features'))} candidate "
                "features: a nomogram-style baseline")
    if name == "oracle":
        return "Oracle: the simulation's true response probability (demo only)"
    return describe_baseline(name, row, settings, cv_metadata) or _esc(name)


def _delta(row) -> str:
    if not np.isfinite(row.get("auc_diff_vs_xgboost", np.nan)):
        return "&ndash;"
    return (f"{row['auc_diff_vs_xgboost']:+.3f} [{_fmt(row.get('auc_diff_low'))}, "
            f"{_fmt(row.get('auc_diff_high'))}]")


# optional columns of metrics.tsv: (column, header, formatter)
_OPTIONAL_METRICS = [
    ("delong_p_vs_xgboost", "DeLong p vs XGBoost", _p),
    ("auprc", "AUPRC", _fmt),
]
_OPTIONAL_METRICS_AFTER = [
    ("threshold", "threshold", _fmt),
    ("sensitivity", "sensitivity at threshold", _fmt),
    ("specificity", "specificity at threshold", _fmt),
    ("accuracy_at_0.5", "accuracy at 0.5", _fmt),
]
_NEW_METRICS = ("auprc", "threshold", "sensitivity", "specificity", "delong_p_vs_xgboost")


def _numeric_metrics(metrics: pd.DataFrame) -> pd.DataFrame:
    metrics = metrics.copy()
    for column in metrics.columns:
        if column != "model":
            metrics[column] = _num(metrics[column])
    metrics["model"] = metrics["model"].astype(str)
    return metrics.set_index("model", drop=False)


def _metrics_section(metrics: pd.DataFrame, settings: dict, outcome: _Outcome,
                     cv_metadata: dict | None = None) -> str:
    order = [n for n in _model_order(metrics["model"]) if not _ablation(n)]
    before = [c for c in _OPTIONAL_METRICS if c[0] in metrics.columns]
    coverage = "coverage" in metrics.columns
    after = [c for c in _OPTIONAL_METRICS_AFTER if c[0] in metrics.columns]
    rows, classes = [], []
    for name in order:
        row = metrics.loc[name]
        cells = [
            f"<b>{_esc(name)}</b><br><span class=\"note\">"
            f"{_describe_model(name, row, settings, cv_metadata)}</span>",
            _int(row.get("n")), *([_fmt(row.get("coverage"), 2)] if coverage else []),
            _int(row.get("n_events")),
            _ci(row),
            _fmt(row.get("auc_repeat_sd")),
            "&ndash;" if name == "xgboost" else _delta(row),
        ]
        cells += ["&ndash;" if name == "xgboost" and col == "delong_p_vs_xgboost"
                  else fmt(row.get(col)) for col, _, fmt in before]
        cells += [_fmt(row.get("brier")), _fmt(row.get("calibration_slope"), 2),
                  _fmt(row.get("calibration_intercept"), 2)]
        cells += [fmt(row.get(col)) for col, _, fmt in after]
        rows.append(cells)
        classes.append("headline" if name == "xgboost" else "oracle" if name == "oracle" else "")
    header = ["model", "n", *(["coverage"] if coverage else []), outcome.events, "AUC [95% CI]", "AUC SD over repeats",
              "&Delta;AUC vs XGBoost [95% CI]", *[h for _, h, _ in before], "Brier",
              "calibration slope", "calibration intercept", *[h for _, h, _ in after]]
    table = _html_table(header, rows, row_classes=classes)

    headline = ""
    if "xgboost" in metrics.index:
        x = metrics.loc["xgboost"]
        headline = (
            f'<div class="headline-box"><b>XGBoost out-of-fold AUC {_fmt(x.get("auc"))} '
            f'(95% CI {_fmt(x.get("auc_low"))}&ndash;{_fmt(x.get("auc_high"))})</b>, '
            f'Brier {_fmt(x.get("brier"))}, calibration slope '
            f'{_fmt(x.get("calibration_slope"), 2)}, on {_int(x.get("n"))} labelled patients '
            f'({_int(x.get("n_events"))} '
            f'{outcome.events if outcome.is_response else "with label 1"}).'
        )
        for name in order:
            if name in ("xgboost", "oracle"):
                continue
            headline += f" {_esc(name)}: AUC {_ci(metrics.loc[name])}."
        if "oracle" in metrics.index:
            o = metrics.loc["oracle"]
            gap = o.get("auc", np.nan) - x.get("auc", np.nan)
            headline += (
                f" The oracle (true simulated probability) reaches AUC {_ci(o)}: XGBoost is "
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
        "large with the slope fixed at 1 (ideal 0; &gt; 0 = risks underestimated)."
    )
    if before and before[0][0] == "delong_p_vs_xgboost":
        notes += (" DeLong p: two-sided DeLong test of equal AUC with XGBoost on the same "
                  "patients.")
    if "auprc" in metrics.columns:
        notes += (" AUPRC: area under the precision-recall curve (average precision); its "
                  "no-skill value is the label-1 prevalence.")
    if "threshold" in metrics.columns:
        notes += (" Sensitivity and specificity are those of the out-of-fold probabilities at "
                  "the model's probability threshold given in the table.")
    notes += "</p>" + baseline_notes(metrics, cv_metadata)
    missing = [c for c in _NEW_METRICS if c not in metrics.columns]
    if missing:
        notes += (f'<p class="missing">Not available: metrics.tsv has no '
                  f"{', '.join(f'<code>{c}</code>' for c in missing)} column"
                  f"{'s' if len(missing) > 1 else ''} (produced by an older model stage).</p>")
    return _section("metrics", headline + table + notes)


def _model_predictions(avg: pd.DataFrame, names, oracle):
    """(model, y, p) for each model in `names` that has predictions; the oracle from truth."""
    for name in names:
        if name == "oracle":
            if oracle is not None:
                yield name, *oracle
            continue
        part = avg[avg["model"] == name]
        if not part.empty:
            yield name, part["y_true"].to_numpy(int), part["y_prob"].to_numpy(float)


def _axes(panels) -> tuple[Figure, list]:
    fig = Figure(figsize=(6.0 if len(panels) == 1 else 11.6, 5.6))
    return fig, [fig.add_subplot(1, len(panels), i + 1) for i in range(len(panels))]


def _roc_section(avg: pd.DataFrame, order, colours, oracle) -> str:
    panels = _panels(order, set(avg["model"]))
    fig, axes = _axes(panels)
    described = []
    for ax, (title, names) in zip(axes, panels):
        ax.plot([0, 1], [0, 1], linestyle=":", color="0.6", linewidth=1)
        for name, y, p in _model_predictions(avg, names, oracle):
            if len(np.unique(y)) < 2:
                continue
            fpr, tpr = _roc_points(y, p)
            auc = auc_score(y, p)
            ax.plot(fpr, tpr, color=colours[name], linewidth=2.2 if name == "xgboost" else 1.3,
                    linestyle="--" if name == "oracle" else "-",
                    label=f"{name} (AUC {auc:.3f})")
            if f"{name} AUC {auc:.3f}" not in described:
                described.append(f"{name} AUC {auc:.3f}")
        ax.set_xlabel("1 - specificity")
        ax.set_ylabel("sensitivity")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.01)
        ax.set_title(f"ROC, {title}", fontsize=10)
        ax.legend(loc="lower right", fontsize=7)
    fig.tight_layout()
    alt = ("ROC curves, sensitivity against 1 minus specificity, of the out-of-fold "
           "probabilities averaged over repeats: " + "; ".join(described) + ".")
    caption = ("ROC curves of every model on the same labelled patients: each patient's "
               "out-of-fold probability averaged over the CV repeats (from "
               "<code>oof_predictions.tsv</code>; oracle dashed when the simulation truth is "
               "known).")
    if len(panels) > 1:
        caption += " Right: XGBoost against its modality ablations."
    return _section("roc", _figure_html(fig, alt, caption))


def _calibration_section(calibration: pd.DataFrame, order, colours, outcome: _Outcome) -> str:
    cal = calibration.copy()
    for column in ("bin", "mean_predicted", "observed_rate", "n"):
        cal[column] = _num(cal[column])
    panels = _panels(order, set(cal["model"].astype(str)))
    fig, axes = _axes(panels)
    shown = []
    for ax, (title, names) in zip(axes, panels):
        ax.plot([0, 1], [0, 1], linestyle=":", color="0.6", linewidth=1, label="ideal")
        for name in names:
            part = cal[cal["model"] == name].sort_values("bin")
            if part.empty:
                continue
            shown.append(name)
            ax.plot(part["mean_predicted"], part["observed_rate"], marker="o", markersize=4,
                    color=colours[name], linewidth=2.2 if name == "xgboost" else 1.2,
                    linestyle="--" if name == "oracle" else "-", label=name)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel("mean predicted probability (decile of predictions)")
        ax.set_ylabel("observed response rate" if outcome.is_response
                      else f"observed rate of {outcome.name} = 1")
        ax.set_title(f"Calibration, {title}", fontsize=10)
        ax.legend(loc="upper left", fontsize=7)
    fig.tight_layout()
    shown = list(dict.fromkeys(shown))
    alt = ("Calibration plot: observed rate against mean predicted probability in ten "
           f"quantile bins, with the diagonal of ideal calibration, for {', '.join(shown)}.")
    what = "objective-response rate" if outcome.is_response else f"rate of {_esc(outcome.name)} = 1"
    return _section("calibration", _figure_html(
        fig, alt, f"Observed {what} against the mean out-of-fold predicted probability in ten "
        "equal-size bins (<code>calibration.tsv</code>). Calibration slope and intercept are in "
        '<a href="#metrics">the metrics table</a>.'))


def _decision_curves_from_oof(avg: pd.DataFrame, order, oracle) -> pd.DataFrame:
    thresholds = np.round(np.arange(0.05, 0.801, 0.01), 2)
    rows = []
    y_ref = None
    for name, y, p in _model_predictions(avg, order, oracle):
        y_ref = y if y_ref is None else y_ref
        rows += [(name, t, net_benefit(y, p, t)) for t in thresholds]
    if y_ref is not None:
        rows += [("treat_all", t, net_benefit_treat_all(y_ref, t)) for t in thresholds]
        rows += [("treat_none", t, 0.0) for t in thresholds]
    return pd.DataFrame(rows, columns=["model", "threshold", "net_benefit"])


def _decision_section(curves: pd.DataFrame | None, avg, order, colours, oracle,
                      outcome: _Outcome, treatment: str) -> str:
    source = f"<code>{OPTIONAL_FILES['decision_curve']}</code>"
    note = ""
    if curves is None:
        note = (f'<p class="missing">Not available (file {source} not produced): the net '
                "benefit below is computed here from the repeat-averaged out-of-fold "
                "probabilities.</p>")
        curves = _decision_curves_from_oof(avg, order, oracle)
    curves = curves.copy()
    curves["model"] = curves["model"].astype(str)
    curves["threshold"] = _num(curves["threshold"])
    curves["net_benefit"] = _num(curves["net_benefit"])
    references = ("treat_all", "treat_none")
    names = _model_order(n for n in curves["model"] if n not in references)
    colours = {**_colours(names), **colours}
    panels = [(t, [n for n in ns if n in names]) for t, ns in _panels(names)]
    fig, axes = _axes(panels)
    finite = curves["net_benefit"][np.isfinite(curves["net_benefit"])]
    top = float(finite.max()) if len(finite) else 0.5
    for ax, (title, members) in zip(axes, panels):
        for name in members:
            part = curves[curves["model"] == name].sort_values("threshold", kind="mergesort")
            ax.plot(part["threshold"], part["net_benefit"], color=colours[name],
                    linewidth=2.2 if name == "xgboost" else 1.2,
                    linestyle="--" if name == "oracle" else "-", label=name)
        for name, style in zip(references, ("-.", "-")):
            part = curves[curves["model"] == name].sort_values("threshold", kind="mergesort")
            if not part.empty:
                ax.plot(part["threshold"], part["net_benefit"], color="0.3", linewidth=1,
                        linestyle=style, label=name.replace("_", " "))
        ax.set_ylim(-0.05, max(top, 0.05) + 0.05)
        ax.set_xlabel("threshold probability of response" if outcome.is_response
                      else f"threshold probability of {outcome.name} = 1")
        ax.set_ylabel("net benefit")
        ax.set_title(f"Decision curve, {title}", fontsize=10)
        ax.legend(loc="upper right", fontsize=7)
    fig.tight_layout()
    thresholds = curves["threshold"][np.isfinite(curves["threshold"])]
    span = (f" over thresholds {_fmt(thresholds.min(), 2)} to {_fmt(thresholds.max(), 2)}"
            if len(thresholds) else "")
    alt = (f"Decision curve: net benefit against threshold probability{span} for "
           f"{', '.join(names)}, with the treat-all and treat-none reference lines.")
    if outcome.is_response:
        caption = (f"Net benefit of selecting patients for {_esc(treatment)} when their "
                   "predicted response probability exceeds the threshold, compared with "
                   "treating everyone or no one")
    else:
        caption = (f"Net benefit of acting on the patients whose predicted probability of "
                   f"{_esc(outcome.name)} = 1 exceeds the threshold, compared with acting on "
                   "everyone or no one")
    caption += (f" (from {source})." if note == "" else
                " (computed from the out-of-fold probabilities).")
    return _section("decision-curve", note + _figure_html(fig, alt, caption))


def _ablation_section(metrics: pd.DataFrame, tuned: bool = True) -> str:
    names = [n for n in _model_order(metrics["model"]) if _ablation(n)]
    if not names:
        return _section("ablation", '<p class="missing">Not available: metrics.tsv has no '
                        "<code>xgboost_&lt;modality&gt;_only</code> or "
                        "<code>xgboost_without_&lt;modality&gt;</code> rows.</p>")
    has_p = "delong_p_vs_xgboost" in metrics.columns
    rows, classes = [], []
    for name in (["xgboost"] if "xgboost" in metrics.index else []) + names:
        row = metrics.loc[name]
        if name == "xgboost":
            modality, variant = "all", "all candidate features (reference)"
        else:
            modality, kind = _ablation(name)
            variant = (f"{_esc(modality)} features only" if kind == "only"
                       else f"all but {_esc(modality)}")
            modality = _esc(modality)
        cells = [_esc(name), modality, variant, _int(row.get("n_features")), _ci(row),
                 "&ndash;" if name == "xgboost" else _delta(row)]
        if has_p:
            cells.append("&ndash;" if name == "xgboost" else _p(row.get("delong_p_vs_xgboost")))
        cells += [_fmt(row.get("brier")), _fmt(row.get("calibration_slope"), 2)]
        rows.append(cells)
        classes.append("headline" if name == "xgboost" else "")
    header = ["model", "modality", "features used", "features", "AUC [95% CI]",
              "&Delta;AUC vs XGBoost [95% CI]", *(["DeLong p"] if has_p else []), "Brier",
              "calibration slope"]
    return _section("ablation", _html_table(header, rows, text_columns=(0, 1, 2),
                                            row_classes=classes)
                    + '<p class="note">XGBoost refitted in the same folds on one modality only, '
                    "and on everything but one modality. A &Delta;AUC of the "
                    "&ldquo;all but&rdquo; row whose CI excludes 0 means the modality adds "
                    "discrimination to the others; an &ldquo;only&rdquo; row shows what the "
                    "modality carries on its own. A row is absent when it would repeat another "
                    "(e.g. a modality with no usable features)." + ablation_note(tuned) + "</p>")


_LOBO_COLUMNS = ("n", "n_events", "auc", "auc_low", "auc_high", "brier",
                 "calibration_intercept", "calibration_slope")


def _lobo_section(lobo: pd.DataFrame | None, outcome: _Outcome, batches: list[str]) -> str:
    if note := single_batch_note(batches):
        return _section("lobo", note)
    if lobo is None:
        return _section("lobo", _not_available(OPTIONAL_FILES["lobo_metrics"]))
    lobo = lobo.copy()
    for column in _LOBO_COLUMNS:
        lobo[column] = _num(lobo[column]) if column in lobo else np.nan
    lobo["model"] = lobo["model"].astype(str)
    lobo["held_out_batch"] = lobo["held_out_batch"].fillna("(none)").astype(str)
    rank = {name: i for i, name in enumerate(_model_order(lobo["model"]))}
    lobo = lobo.assign(_rank=lobo["model"].map(rank)).sort_values(
        ["held_out_batch", "_rank"], kind="mergesort")
    rows, classes = [], []
    for _, r in lobo.iterrows():
        note = r.get("note")
        rows.append([_esc(r["held_out_batch"]), _esc(r["model"]), _int(r["n"]),
                     _int(r["n_events"]), _ci(r), _fmt(r["brier"]),
                     _fmt(r["calibration_intercept"], 2), _fmt(r["calibration_slope"], 2),
                     "" if note is None or pd.isna(note) else _esc(note)])
        classes.append("headline" if r["model"] == "xgboost" else "")
    header = ["held-out batch", "model", "n", outcome.events, "AUC [95% CI]", "Brier",
              "calibration intercept", "calibration slope", "note"]
    text = _html_table(header, rows, text_columns=(0, 1, 8), row_classes=classes)
    x = lobo[(lobo["model"] == "xgboost") & np.isfinite(lobo["auc"])]
    summary = ""
    if len(x):
        summary = (f"<p>XGBoost AUC on a held-out batch ranges from {_fmt(x['auc'].min())} to "
                   f"{_fmt(x['auc'].max())} over {len(x)} batches.</p>")
    return _section("lobo", summary + text
                    + '<p class="note">Each batch in turn is left out entirely: every model, '
                    "including its preprocessing, is fitted on the other batches and evaluated "
                    "on the held-out one, which approximates validation in a new centre or "
                    "sequencing run. A batch too small or with one outcome class has no AUC; "
                    "the note says why.</p>")


_TUNING_KEYS = ("scheme", "model", "repeat", "fold", "held_out_batch")
_TUNING_AFTER = ("inner_auc", "inner_auc_sd", "inner_logloss", "n_candidates", "note")


def _tuning_enabled(settings: dict) -> bool:
    tuning = settings.get("tuning")
    return bool(tuning.get("enabled")) if isinstance(tuning, dict) else bool(tuning)


def _tuned_rows(tuning: pd.DataFrame | None) -> pd.DataFrame | None:
    """The rows of tuning.tsv whose parameters were chosen by inner CV (an inner AUC), or None
    when the table is absent."""
    if tuning is None:
        return None
    inner = next((c for c in tuning.columns if c == "inner_auc"), None) or next(
        (c for c in tuning.columns if re.search(r"inner.*auc|auc.*inner", c, re.I)), None)
    if inner is None:
        return tuning
    return tuning[np.isfinite(_num(tuning[inner]).to_numpy())]


def _tuning_section(tuning: pd.DataFrame | None, settings: dict) -> str:
    if tuning is None:
        why = (": the model settings ask for tuning" if _tuning_enabled(settings) else
               ': hyper-parameters were fixed (see <a href="#methods">Methods</a>)')
        return _section("tuning", _not_available(OPTIONAL_FILES["tuning"], why))
    tuning = tuning.reset_index(drop=True)
    columns = list(tuning.columns)
    inner = "inner_auc" if "inner_auc" in columns else next(
        (c for c in columns if re.search(r"inner.*auc|auc.*inner", c, re.I)), None)
    keys = [c for c in _TUNING_KEYS if c in columns]
    after = [c for c in (inner, *_TUNING_AFTER) if c and c in columns]
    after = list(dict.fromkeys(after))
    params = [c for c in columns if c not in keys and c not in after]

    def cell(column, value):
        if value is None or (not isinstance(value, str) and pd.isna(value)):
            return ""
        if column in (inner, "inner_auc_sd", "inner_logloss"):
            return _fmt(value)
        try:
            number = float(value)
        except (TypeError, ValueError):
            return _esc(value)
        if np.isfinite(number) and number.is_integer():
            return str(int(number))
        return _esc(value)

    tuned = _tuned_rows(tuning)
    text = ""
    if "scheme" in columns:
        counts = tuning["scheme"].fillna("").astype(str).value_counts()
        text += ("<p>Rows: " + ", ".join(f"{_esc(k)} {v}" for k, v in sorted(counts.items()))
                 + " (<code>cv</code>: an outer training fold of the repeated CV; "
                 "<code>lobo</code>: the training part of a leave-one-batch-out split).</p>")
    if len(tuned) == 0:
        notes = sorted(set(tuning["note"].dropna().astype(str))) if "note" in columns else []
        text += ('<p class="missing">No fold was tuned'
                 + (": " + "; ".join(_esc(n) for n in notes if n) if any(notes) else "")
                 + ". Every fold used the fixed parameters below.</p>")
        fixed = tuning.head(1)
        text += _html_table([_esc(c) for c in params],
                            [[cell(c, fixed[c].iloc[0]) for c in params]], text_columns=())
        return _section("tuning", text)
    summary = [f"{len(tuned)} of {len(tuning)} training sets tuned by inner cross-validation"]
    if inner:
        values = _num(tuned[inner])
        summary.append(f"inner-CV AUC of the chosen settings median {_fmt(values.median())} "
                       f"[{_fmt(values.min())}&ndash;{_fmt(values.max())}]")
    text += "<p>" + "; ".join(summary) + ".</p>"
    chosen = pd.Series([" | ".join(cell(c, tuned[c].iloc[i]) for c in params)
                        for i in range(len(tuned))], dtype=object).value_counts()
    if params and chosen.max() == 1:
        text += (f"<p>Every training set chose different settings ({len(tuned)} distinct "
                 "combinations; the per-set table below lists them).</p>")
    elif params:
        chosen = sorted(chosen.items(), key=lambda kv: (-kv[1], kv[0]))
        text += "<h3>Chosen settings and how often</h3>" + _html_table(
            [" | ".join(_esc(c) for c in params), "training sets"],
            [[k, str(v)] for k, v in chosen])
    shown_columns = [c for c in keys + params + after
                     if tuning[c].map(lambda v: cell(c, v)).ne("").any()]
    shown = tuning.head(MAX_TUNING_ROWS)
    rows = [[cell(c, shown[c].iloc[i]) for c in shown_columns] for i in range(len(shown))]
    text += "<h3>Per training set</h3>" + _html_table(
        [_esc(c) for c in shown_columns], rows,
        text_columns=tuple(i for i, c in enumerate(shown_columns)
                           if c in ("scheme", "model", "held_out_batch", "note")))
    if len(tuning) > MAX_TUNING_ROWS:
        text += (f'<p class="note">First {MAX_TUNING_ROWS} of {len(tuning)} rows; all are in '
                 f"<code>{OPTIONAL_FILES['tuning']}</code>.</p>")
    text += ('<p class="note">Nested cross-validation: in every outer training set an inner '
             "cross-validation chose the hyper-parameters, which were then refitted on the "
             "whole outer training set; the outer held-out patients, on which every reported "
             "performance is measured, never took part in the choice.</p>")
    return _section("tuning", text)


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


def _importance_section(importance: pd.DataFrame) -> str:
    imp = importance.copy()
    imp["gain"] = _num(imp["gain"])
    imp["gain_sd"] = _num(imp.get("gain_sd", pd.Series(np.nan, index=imp.index)))
    imp["modality"] = imp["modality"].fillna("").astype(str) if "modality" in imp else ""
    imp = imp.sort_values(["gain", "feature"], ascending=[False, True], kind="mergesort")
    top = imp.head(TOP_FEATURES)
    colour = _modality_colours(imp["modality"])
    fig = Figure(figsize=(7.2, 0.32 * max(len(top), 3) + 1.4))
    ax = fig.add_subplot(1, 1, 1)
    _importance_bars(ax, top["gain"], top["gain_sd"].fillna(0), top["feature"],
                     list(top["modality"]), colour)
    ax.set_xlim(left=0)  # a share of gain is never negative; the SD bar may reach below 0
    ax.set_xlabel("share of total gain (mean over CV folds, +/- SD)")
    ax.set_title(f"XGBoost feature importance, top {len(top)}")
    fig.tight_layout()
    rows = [
        [_int(r.get("rank")), _esc(r["feature"]), _esc(r.get("modality", "")),
         _fmt(r["gain"], 4), _fmt(r["gain_sd"], 4)]
        for _, r in top.iterrows()
    ]
    alt = (f"Horizontal bar chart of the {len(top)} features with the largest XGBoost gain "
           f"across CV folds, coloured by modality; largest first: {_top_text(top)}.")
    return _section(
        "importance",
        _figure_html(fig, alt, "Total gain of each feature in the XGBoost "
                     "models of all CV folds, normalised per fold to sum 1, averaged over "
                     "folds. Importance is not effect direction or causality; correlated "
                     "features share gain.")
        + _html_table(["rank", "feature", "modality", "gain", "gain SD"], rows,
                      text_columns=(1, 2))
    )


def _shap_section(shap: pd.DataFrame | None) -> str:
    if shap is None:
        return _section("shap", _not_available(OPTIONAL_FILES["shap_importance"]))
    shap = shap.copy()
    shap["mean_abs_shap"] = _num(shap["mean_abs_shap"])
    shap["feature"] = shap["feature"].astype(str)
    shap["modality"] = (shap["modality"].fillna("").astype(str) if "modality" in shap
                        else "")
    shap = shap.sort_values(["mean_abs_shap", "feature"], ascending=[False, True],
                            kind="mergesort")
    top = shap.head(TOP_FEATURES)
    colour = _modality_colours(shap["modality"])
    fig = Figure(figsize=(7.2, 0.32 * max(len(top), 3) + 1.4))
    ax = fig.add_subplot(1, 1, 1)
    _importance_bars(ax, top["mean_abs_shap"], None, top["feature"], list(top["modality"]),
                     colour)
    ax.set_xlabel("mean |SHAP value| (log-odds)")
    ax.set_title(f"SHAP summary of the final XGBoost model, top {len(top)}")
    fig.tight_layout()
    ranks = _num(top["rank"]) if "rank" in top else pd.Series(np.arange(1, len(top) + 1))
    rows = [[_int(rank), _esc(f), _esc(m), _fmt(v, 4)] for rank, f, m, v in
            zip(ranks, top["feature"], top["modality"], top["mean_abs_shap"])]
    alt = (f"Horizontal bar chart of the {len(top)} features with the largest mean absolute "
           f"SHAP value in the final model, coloured by modality; largest first: "
           f"{_top_text(top)}.")
    return _section(
        "shap",
        _figure_html(fig, alt, "Mean absolute SHAP value (exact TreeSHAP, log-odds scale) of "
                     "each feature over the patients explained by the final model (from "
                     f"<code>{OPTIONAL_FILES['shap_importance']}</code>). The size of a "
                     "feature's typical contribution to a prediction, not its direction, and "
                     "not a causal effect.")
        + _html_table(["rank", "feature", "modality", "mean |SHAP|"], rows, text_columns=(1, 2))
    )


def _radiomics_section(cv_metadata: dict | None, final_metadata: dict | None) -> str:
    """Radiomic features per training fold (filters, ComBat) from the CV metadata, and the
    final model's radiomics step from its metadata."""
    summary = (cv_metadata or {}).get("radiomics_folds_summary") or []
    if not summary:
        return _section("radiomics", '<p class="note">No model used radiomic features (none in '
                        "this cohort, or none usable), so there was no radiomics step.</p>")

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
    text = (_html_table(header, rows, text_columns=(0, 7))
            + '<p class="note">Per training fold (median [min&ndash;max]): radiomic features '
            "entering, left after dropping near-constant ones, left after dropping one of each "
            "highly correlated pair, and ComBat-harmonised (batch = sample-sheet batch). "
            "Everything is fitted on the training fold and only applied to the held-out fold; "
            "every fold is listed in <code>results/model/radiomics_folds.tsv</code>.")
    final = ((final_metadata or {}).get("radiomics_preprocessing") or {})
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
    return _section("radiomics", text + "</p>")


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
    return _section(
        "planted",
        '<p class="note">The simulation planted these effects on the response probability. '
        "A sound pipeline should rank the planted features highly; binary features with rare "
        "levels gather less gain than continuous ones, so a modest rank is not by itself a "
        "failure.</p>"
        + _html_table(header, rows, text_columns=text_columns)
    )


def _methods_section(settings: dict, has_oracle: bool, outcome: _Outcome, tuned: bool,
                     lobo: bool, has_tuning_table: bool = False, models=(),
                     tuned_weights: pd.Series | None = None) -> str:
    folds, repeats = settings.get("cv_folds"), settings.get("cv_repeats")
    params = settings.get("xgboost") or {}
    from haicpred.modeling.settings import DEFAULT_XGBOOST_PARAMS

    params = {**DEFAULT_XGBOOST_PARAMS, **params}
    param_text = ", ".join(f"{_esc(k)}={_esc(params[k])}" for k in sorted(params))
    scores = settings.get("score_baselines") or {}
    score_text = ", ".join(
        f"{_esc(n)} (<code>{_esc(s.get('feature'))}</code>, "
        f"{'higher = worse' if int(s.get('direction', 1)) < 0 else 'higher = better'})"
        for n, s in sorted(scores.items())
    ) or "none"
    if tuned:
        tuning = ("XGBoost's hyper-parameters were tuned by nested cross-validation: an inner "
                  "cross-validation inside each outer training fold chose them, and the outer "
                  'held-out fold never took part (<a href="#tuning">choices per fold</a>); '
                  "the settings below are the starting values. ")
    elif _tuning_enabled(settings) and not has_tuning_table:
        tuning = ("Tuning was configured, but its per-fold table "
                  f"(<code>{OPTIONAL_FILES['tuning']}</code>) was not given to this report. ")
    else:
        tuning = ("No hyper-parameters were tuned on the data (fixed, regularised settings), "
                  "so no nested cross-validation was required. ")
    weight = _esc((settings.get("xgboost") or {}).get("scale_pos_weight", 1))
    if tuned_weights is not None and len(tuned_weights):
        weight = ('tuned in each training set (<a href="#tuning">chosen</a> '
                  f"{_fmt(tuned_weights.min(), 2)}&ndash;{_fmt(tuned_weights.max(), 2)})")
    external = (' Every batch was also held out in turn (<a href="#lobo">leave-one-batch-out '
                "validation</a>).") if lobo else ""
    text = (
        "<p>"
        f"<b>Outcome.</b> <code>{_esc(outcome.name)}</code>: {_esc(outcome.definition)}. "
        f"<b>Validation.</b> Repeated stratified {_esc(folds)}-fold cross-validation "
        f"({_esc(repeats)} repeats, seed {_esc(settings.get('seed'))}). In every training fold "
        "each model, including all of its preprocessing, was fitted from scratch inside an "
        "scikit-learn pipeline; the held-out fold was only predicted. " + tuning +
        "Performance is reported on each patient's out-of-fold probability averaged "
        "over repeats, with 95% confidence intervals from "
        f"{_esc(settings.get('n_bootstrap'))} stratified bootstrap resamples; the SD of the "
        "per-repeat AUCs shows the variability due to the fold assignment." + external + " "
        "<b>Class imbalance.</b> Folds are stratified by the label; no patients are "
        f"resampled. XGBoost's positive-class weight (scale_pos_weight): {weight}; a weight "
        "other than 1 moves the predicted probabilities away from the cohort's prevalence "
        '(see <a href="#calibration">Calibration</a>). '
        f"<b>Models.</b> XGBoost (tree_method=hist; {param_text}) on all candidate features; "
        "a logistic regression (L2, C=1) on the Liu 2023 factors with information in the data "
        "(a factor without values or with one value only is left out and named); "
        + ("a logistic regression on all candidate features (L2 penalty chosen by an inner "
           "CV in each training fold); " if "logistic_all_features" in models else "") +
        SCORE_METHODS.format(scores=score_text) + ". "
        "<b>Data preparation.</b> Laboratory values converted to canonical units and checked "
        "against plausible ranges; exome variants filtered (PASS, VAF, depth, consequence) "
        "before panel genes are called mutated. "
        "<b>Radiomics.</b> For every model using radiomic features, inside each training "
        "fold: radiomic features that are near-constant (most frequent value &ge; "
        f"{_esc(settings.get('radiomics_near_constant_fraction'))} of the values) are dropped, "
        "the rest harmonised across batches with ComBat (neuroCombat; method "
        f"{_esc((settings.get('harmonisation') or {}).get('method'))}) fitted on the training "
        "fold only and applied to the held-out fold, then of each pair with |Pearson r| &gt; "
        f"{_esc(settings.get('radiomics_max_correlation'))} the later one is dropped; a fold "
        "whose held-out batch is absent from its training part, or where ComBat cannot be "
        'fitted, is left unharmonised (see <a href="#radiomics">the radiomics table</a>). '
        "<b>Missing data.</b> Missing values were left missing (never set to 0): XGBoost "
        "handles them natively (learned default split directions); the logistic baseline uses "
        "the median of the training fold; published scores are judged only on the patients "
        "who have them. Patients without the outcome are "
        "not trained on and are counted in the cohort table. "
        "<b>Predictors.</b> Only baseline (pre-treatment) predictors: columns named "
        "<code>post_*</code>, features whose dictionary modality is post_treatment and outcome "
        "columns are refused. "
        "<b>Model output.</b> A probability of label 1 per patient; the thresholds in the "
        "metrics table and the decision curve only illustrate its use. "
        "<b>Final model.</b> XGBoost refitted on all labelled patients and saved in XGBoost's "
        "JSON format with its metadata (feature list, settings, versions, sha256) in "
        "<code>results/model/final/</code>; unlabelled patients are scored by it but never "
        "trained on."
    )
    if has_oracle:
        text += (" <b>Oracle.</b> For the simulated demo cohort the true response probability "
                 "is known; its AUC against the realised labels is the best any model could "
                 "reach on these patients.")
    return _section("methods", text + "</p>")


def _limitations_section(metrics: pd.DataFrame, lobo: bool, simulated: bool,
                         n_features: int, n_small: int) -> str:
    items = []
    if lobo:
        items.append("Validation is internal: cross-validation and leave-one-batch-out on the "
                     "same cohort. No independent external cohort was analysed; held-out "
                     "batches share the cohort's selection and protocols.")
    else:
        items.append("Validation is internal only (cross-validation). Batches are not held "
                     "out, so batch effects (scanner, sequencing run, centre) may inflate or "
                     "deflate the estimates, and no external cohort was analysed.")
    items.append(f"Sample size: the smaller outcome class has {n_small} patients for "
                 f"{n_features} candidate features; estimates are imprecise (see the CIs) and "
                 "small differences between models are not evidence of superiority.")
    if "xgboost" in metrics.index:
        slope = metrics.loc["xgboost"].get("calibration_slope", np.nan)
        if np.isfinite(slope) and slope < 0.9:
            items.append(f"XGBoost's out-of-fold calibration slope is {_fmt(slope, 2)} (&lt; 1):"
                         " its predicted probabilities are too extreme and should be "
                         "recalibrated before being read as risks.")
    items.append("Fairness: performance was not evaluated by sex, age or aetiology (HBV, HCV, "
                 "other); a model trained on one population may not transfer to another.")
    items.append("Missing data are handled by the model (XGBoost's default directions): if a "
                 "modality is missing for different reasons in another centre, the learned "
                 "missingness pattern may not transfer.")
    items.append("Feature importance and SHAP values describe the model, not causal effects.")
    if simulated:
        items.append("The demo cohort is simulated: its results show that the pipeline works, "
                     "not how well HAIC response can be predicted in patients.")
    return _section("limitations", "<ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>")


def _versions_section(cv_metadata: dict | None, final_metadata: dict | None) -> str:
    here = package_versions(("matplotlib", "numpy", "pandas", "scikit-learn", "scipy"))
    fitted = [(title, versions) for title, versions in (
        ("cross-validation (cv_metadata.json)", (cv_metadata or {}).get("versions") or {}),
        ("final model (final/model_metadata.json)",
         (final_metadata or {}).get("versions") or {})) if versions]
    names = sorted(set(here).union(*(set(versions) for _, versions in fitted)))
    header = ["package", "report (this run)"] + [title for title, _ in fitted]
    rows = []
    for name in names:
        rows.append([_esc(name), _esc(here.get(name, "")) or "&ndash;"]
                    + [_esc(versions.get(name, "")) or "&ndash;" for _, versions in fitted])
    text = _html_table(header, rows, text_columns=tuple(range(len(header))))
    folder = FINAL_METADATA_FILE.rsplit("/", 1)[0]
    if final_metadata and final_metadata.get("model_sha256"):
        text += (f'<p class="note">Final model: <code>{_esc(folder)}/'
                 f'{_esc(final_metadata.get("model_file", ""))}</code>, '
                 f"sha256 <code>{_esc(final_metadata['model_sha256'])}</code>, "
                 f"{_esc(final_metadata.get('n_features', ''))} features. It is saved in "
                 "XGBoost's JSON format next to <code>model_metadata.json</code> (features in "
                 "order with their training ranges, settings, radiomics step, risk-group "
                 "cut-offs, versions); <code>haicpred predict</code> applies it to a new "
                 "feature matrix.</p>")
    else:
        text += _not_available(FINAL_METADATA_FILE)
    skipped = (cv_metadata or {}).get("skipped_models") or []
    if skipped:
        text += ('<p class="note">Baselines incomplete or skipped: '
                 + "; ".join(_esc(s) for s in skipped) + ".</p>")
    return _section("software", text)


def _link(anchor: str) -> str:
    return f'<a href="#{anchor}">{SECTION_IDS[anchor]}</a>'


def _tripod_section(missing: dict[str, str]) -> str:
    """The TRIPOD+AI (Collins et al., BMJ 2024) items that apply to this analysis, each with
    the sections answering it; `missing` maps an anchor whose section has no content to why."""
    na = "not applicable"
    items = [
        ("1", "Title", [], f"{na}: a generated analysis report, not a manuscript"),
        ("2", "Abstract", [], f"{na}: the publication's structured abstract; the headline "
         f"result is summarised in {_link('metrics')}"),
        ("5a", "Source of data", ["cohort"], None),
        ("5b", "Dates of accrual and follow-up", [],
         "the input tables carry no dates"),
        ("6a, 6b", "Participants: who is included and labelled", ["cohort"], None),
        ("7", "Data preparation and quality checks", ["data-checks", "methods", "radiomics"],
         None),
        ("8a", "Outcome definition", ["cohort", "methods"], None),
        ("9a", "Predictors: which, per modality, and their availability",
         ["cohort", "methods"], None),
        ("10", "Sample size (events per candidate feature)", ["cohort", "limitations"], None),
        ("11", "Missing data", ["data-checks", "cohort", "methods"], None),
        ("12a, 12c", "Analytical methods: model types, preprocessing inside the training "
         "folds, hyper-parameter tuning", ["methods", "radiomics", "tuning"], None),
        ("12c", "Internal validation", ["methods", "metrics"], None),
        ("12e", "Performance measures: discrimination with CI, calibration, clinical utility",
         ["metrics", "roc", "calibration", "decision-curve"], None),
        ("12e, 23a", "Model comparison with baselines and modality ablation",
         ["metrics", "ablation"], None),
        ("12d, 23b", "Heterogeneity across clusters: external / batch-held-out validation",
         ["lobo"], None),
        ("13", "Class imbalance", ["methods"], None),
        ("14", "Fairness", [], "performance by sex, age or aetiology is not computed (named "
         f"in {_link('limitations')})"),
        ("15", "Model output", ["methods", "metrics"], None),
        ("20a, 20b", "Participant flow and characteristics", ["cohort"], None),
        ("21", "Participants and outcome events in each analysis", ["cohort", "metrics", "lobo"],
         None),
        ("22", "Model specification and availability", ["software", "importance", "shap"], None),
        ("23a", "Model performance with confidence intervals", ["metrics"], None),
        ("26", "Limitations", ["limitations"], None),
    ]
    rows = []
    for item, topic, anchors, reason in items:
        answered = [a for a in anchors if a not in missing]
        gaps = [a for a in anchors if a in missing]
        if answered:
            cell = "; ".join(_link(a) for a in answered)
            if gaps:
                cell += " (" + "; ".join(f"{SECTION_IDS[a]}: not available, {missing[a]}"
                                         for a in gaps) + ")"
        else:
            why = reason or "; ".join(f"{SECTION_IDS[a]}: {missing[a]}" for a in gaps)
            cell = f"not answered: {why}"
        rows.append([_esc(item), topic, cell])
    return _section(
        "tripod",
        '<p class="note">TRIPOD+AI (Collins et al., BMJ 2024) items relevant to a '
        "model-development analysis, with the sections of this report that answer them. Items "
        "about the study protocol, registration, ethics, funding and patient involvement belong "
        "to the publication and are left out.</p>"
        + _html_table(["item", "topic", "where answered"], rows, text_columns=(0, 1, 2))
    )


def _contents(present: list[str]) -> str:
    return ("<nav><h2>Contents</h2><ol>"
            + "".join(f"<li>{_link(a)}</li>" for a in present) + "</ol></nav>")


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
    cv_metadata=None,
    final_metadata=None,
    decision_curve=None,
    shap_importance=None,
    lobo_metrics=None,
    tuning=None,
    data_checks=None,
    cohort=None,
) -> None:
    """Write the self-contained HTML report to ``out_path``.

    Tables may be DataFrames or TSV paths. ``settings`` is the model settings (or the whole
    config with a ``model`` section). ``truth`` (sample_id, response_probability) and
    ``planted_effects`` are given for the simulated demo cohort only. ``cv_metadata``
    (optional; dict or path to the cross-validation's ``cv_metadata.json``) names the endpoint
    (its ``label`` block) and adds the package versions of the cross-validation, the skipped
    models and the radiomics fold summary. ``final_metadata`` (optional; dict, or a path to
    ``results/model/final/model_metadata.json``, absent = not produced) adds the final model's
    file, sha256, feature count, radiomics step and versions.

    Optional tables (None, or a path that does not exist, = not produced; the section says so):
    ``decision_curve`` (model, threshold, net_benefit, with the ``treat_all`` and
    ``treat_none`` references; without it the curve is computed from ``oof``),
    ``shap_importance`` (feature, modality, mean_abs_shap, rank), ``lobo_metrics``
    (held_out_batch, model, n, n_events, auc, auc_low, auc_high, brier, calibration_intercept,
    calibration_slope, note), ``tuning`` (repeat, fold, the chosen parameters, inner AUC) and
    ``data_checks`` (haicpred.features.data_checks). ``cohort``: the config's ``cohort_name`` and
    ``treatment`` (title and cohort description).
    """
    if isinstance(cv_metadata, (str, os.PathLike)):
        cv_metadata = json.loads(Path(cv_metadata).read_text())
    if isinstance(final_metadata, (str, os.PathLike)):
        final_metadata = (json.loads(Path(final_metadata).read_text())
                          if Path(final_metadata).is_file() else None)
    metrics, oof, calibration, importance = map(_table, (metrics, oof, calibration, importance))
    dictionary, matrix, labels = map(_table, (dictionary, matrix, labels))
    truth, planted_effects = _table(truth), _table(planted_effects)
    decision_curve, shap_importance, lobo_metrics, tuning, data_checks = map(
        _optional_table, (decision_curve, shap_importance, lobo_metrics, tuning, data_checks))
    cohort_name, treatment = cohort_names(cohort, simulated=truth is not None)
    batch_names = sorted(matrix["batch"].fillna("(none)").astype(str).unique())
    lobo_applies = lobo_metrics is not None and len(batch_names) > 1
    settings, tuning = _model_settings(settings), full_model_tuning(tuning)
    outcome = _Outcome.from_metadata(cv_metadata)
    metrics = _numeric_metrics(metrics)

    order = _model_order(list(metrics["model"]) + list(oof["model"].astype(str).unique()))
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

    with matplotlib.style.context("default"):
        sections = {
            "data-checks": _section("data-checks", data_checks_body(data_checks)),
            "cohort": _cohort_section(
                matrix, labels, dictionary, oof, outcome,
                cohort_description(cohort_name, treatment, len(matrix), batch_names),
                settings.get("endpoint")),
            "metrics": _metrics_section(metrics, settings, outcome, cv_metadata),
            "roc": _roc_section(score_roc_predictions(avg, matrix, cv_metadata), order, colours,
                                oracle),
            "calibration": _calibration_section(calibration, order, colours, outcome),
            "decision-curve": _decision_section(decision_curve, avg, order, colours, oracle,
                                                outcome, treatment),
            "ablation": _ablation_section(metrics, _tuning_enabled(settings)),
            "lobo": _lobo_section(lobo_metrics, outcome, batch_names),
            "tuning": _tuning_section(tuning, settings),
            "importance": _importance_section(importance),
            "shap": _shap_section(shap_importance),
            "radiomics": _radiomics_section(cv_metadata, final_metadata),
        }
    if planted_effects is not None:
        sections["planted"] = _planted_section(planted_effects, importance)

    n_features = sum(c not in _ID_COLUMNS for c in matrix.columns)
    labelled = avg.drop_duplicates("sample_id")["y_true"]
    n_small = int(min((labelled == 1).sum(), (labelled == 0).sum()))
    tuned = _tuned_rows(tuning)
    sections["methods"] = _methods_section(settings, oracle is not None, outcome,
                                           tuned is not None and len(tuned) > 0,
                                           lobo_applies, tuning is not None,
                                           set(metrics["model"]),
                                           _num(tuned["scale_pos_weight"]).dropna()
                                           if tuned is not None and "scale_pos_weight" in tuned
                                           else None)
    sections["limitations"] = _limitations_section(metrics, lobo_applies,
                                                   truth is not None, n_features, n_small)
    sections["software"] = _versions_section(cv_metadata, final_metadata)

    missing = {}
    if data_checks is None:
        missing["data-checks"] = f"{DATA_CHECKS_FILE} not produced"
    if len(batch_names) == 1:
        missing["lobo"] = "not applicable: one batch"
    elif lobo_metrics is None:
        missing["lobo"] = f"{OPTIONAL_FILES['lobo_metrics']} not produced"
    if tuning is None:
        missing["tuning"] = f"{OPTIONAL_FILES['tuning']} not produced"
    if shap_importance is None:
        missing["shap"] = f"{OPTIONAL_FILES['shap_importance']} not produced"
    if not any(_ablation(n) for n in metrics["model"]):
        missing["ablation"] = "metrics.tsv has no modality-ablation rows"
    if not (cv_metadata or {}).get("radiomics_folds_summary"):
        missing["radiomics"] = "no model used radiomic features"
    if not (final_metadata or {}).get("model_sha256"):
        missing["software"] = f"{FINAL_METADATA_FILE} not produced"
    sections["tripod"] = _tripod_section(missing)

    import haicpred

    present = [a for a in SECTION_IDS if a in sections]
    page_title, title = titles(outcome.name, outcome.is_response, cohort_name, treatment)
    body = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f"<title>{page_title}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        f"<h1>{title}</h1>",
        f'<p class="note">Generated by haicpred {_esc(haicpred.__version__)}. Outcome: '
        f"{outcome.title}.</p>",
        _contents(present),
        *(sections[a] for a in present),
        "</body>",
        "</html>",
        "",
    ]
    write_text("\n".join(body), Path(out_path))
