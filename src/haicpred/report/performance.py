"""The report's sections on model performance: discrimination and calibration (the metrics
table), ROC curves, calibration plot, clinical usefulness (decision curve) and modality
ablation. The baselines' descriptions come from haicpred.report.baselines."""

from __future__ import annotations

import numpy as np
import pandas as pd

from haicpred.modeling.metrics import auc_score, net_benefit, net_benefit_treat_all
from haicpred.report.baselines import ablation_note, baseline_notes, describe_baseline
from haicpred.report.cohort import Outcome
from haicpred.report.figures import (figure_html, figure_panels, model_colours, panel_axes,
                                     roc_points)
from haicpred.report.html import ci, esc, fmt, html_table, integer, num, p_value
from haicpred.report.layout import (OPTIONAL_FILES, ablation_label, ablation_variant, model_order,
                                    section)


def _describe_model(name: str, row, settings: dict, cv_metadata: dict | None = None) -> str:
    if name == "xgboost":
        start = (" boosted from a penalised logistic start" if settings.get("linear_start")
                 else "")
        return f"XGBoost{start}, all {integer(row.get('n_features'))} candidate features"
    ablation = ablation_variant(name)
    if ablation:
        modality, kind = ablation
        if kind == "only":
            return (f"XGBoost on the {integer(row.get('n_features'))} {esc(modality)} features "
                    "only (same folds, same in-fold preprocessing)")
        return (f"XGBoost on the {integer(row.get('n_features'))} features that are not "
                f"{esc(modality)} (everything but {esc(modality)})")
    if name == "logistic_all_features":
        return (f"Logistic regression (median imputation, scaling, L2 penalty chosen by a "
                f"3-fold inner CV on AUC) on all {integer(row.get('n_features'))} candidate "
                "features: a nomogram-style baseline")
    if name == "oracle":
        return "Oracle: the simulation's true response probability (demo only)"
    return describe_baseline(name, row, settings, cv_metadata) or esc(name)


def below_comparison_warning(metrics: pd.DataFrame) -> str:
    """A warning when the model of record (``xgboost``) is below its best ablation or the
    all-features logistic regression by more than the paired bootstrap CI of the difference
    allows (the CI of that model's AUC minus XGBoost's lies above 0); "" otherwise."""
    ablations = [n for n in metrics.index if ablation_variant(n)
                 and np.isfinite(metrics.loc[n].get("auc", np.nan))]
    rivals = ([max(ablations, key=lambda n: metrics.loc[n]["auc"])] if ablations else [])
    rivals += [n for n in ("logistic_all_features",) if n in metrics.index]
    above = [n for n in rivals if metrics.loc[n].get("auc_diff_low", np.nan) > 0]
    if "xgboost" not in metrics.index or not above:
        return ""
    listed = "; ".join(f"<b>{esc(n)}</b> AUC {fmt(metrics.loc[n].get('auc'))}, "
                       f"&Delta;AUC {_delta(metrics.loc[n])}" for n in above)
    return ('<p class="warning"><b>Warning: the model of record is beaten.</b> XGBoost on all '
            f"features (AUC {fmt(metrics.loc['xgboost'].get('auc'))}, the model "
            "<code>results/model/final</code> freezes) is below " + listed + ": the paired "
            "bootstrap 95% CI of the difference lies above 0. Prefer the better model's "
            "features (e.g. leave a modality out of the feature matrix) or more patients "
            "before using the frozen model.</p>")


def _delta(row) -> str:
    if not np.isfinite(row.get("auc_diff_vs_xgboost", np.nan)):
        return "&ndash;"
    return (f"{row['auc_diff_vs_xgboost']:+.3f} [{fmt(row.get('auc_diff_low'))}, "
            f"{fmt(row.get('auc_diff_high'))}]")


# optional columns of metrics.tsv: (column, header, formatter)
_OPTIONAL_METRICS = [
    ("delong_p_vs_xgboost", "DeLong p vs XGBoost", p_value),
    ("auprc", "AUPRC", fmt),
]
_OPTIONAL_METRICS_AFTER = [
    ("threshold", "threshold", fmt),
    ("sensitivity", "sensitivity at threshold", fmt),
    ("specificity", "specificity at threshold", fmt),
    ("accuracy_at_0.5", "accuracy at 0.5", fmt),
]
_NEW_METRICS = ("auprc", "threshold", "sensitivity", "specificity", "delong_p_vs_xgboost")


def numeric_metrics(metrics: pd.DataFrame) -> pd.DataFrame:
    metrics = metrics.copy()
    for column in metrics.columns:
        if column != "model":
            metrics[column] = num(metrics[column])
    metrics["model"] = metrics["model"].astype(str)
    return metrics.set_index("model", drop=False)


def metrics_section(metrics: pd.DataFrame, settings: dict, outcome: Outcome,
                    cv_metadata: dict | None = None) -> str:
    order = [n for n in model_order(metrics["model"]) if not ablation_variant(n)]
    before = [c for c in _OPTIONAL_METRICS if c[0] in metrics.columns]
    coverage = "coverage" in metrics.columns
    after = [c for c in _OPTIONAL_METRICS_AFTER if c[0] in metrics.columns]
    rows, classes = [], []
    for name in order:
        row = metrics.loc[name]
        cells = [
            f"<b>{esc(name)}</b><br><span class=\"note\">"
            f"{_describe_model(name, row, settings, cv_metadata)}</span>",
            integer(row.get("n")), *([fmt(row.get("coverage"), 2)] if coverage else []),
            integer(row.get("n_events")),
            ci(row),
            fmt(row.get("auc_repeat_sd")),
            "&ndash;" if name == "xgboost" else _delta(row),
        ]
        cells += ["&ndash;" if name == "xgboost" and col == "delong_p_vs_xgboost"
                  else formatter(row.get(col)) for col, _, formatter in before]
        cells += [fmt(row.get("brier")), fmt(row.get("calibration_slope"), 2),
                  fmt(row.get("calibration_intercept"), 2)]
        cells += [formatter(row.get(col)) for col, _, formatter in after]
        rows.append(cells)
        classes.append("headline" if name == "xgboost" else "oracle" if name == "oracle" else "")
    header = ["model", "n", *(["coverage"] if coverage else []), outcome.events, "AUC [95% CI]",
              "AUC SD over repeats", "&Delta;AUC vs XGBoost [95% CI]", *[h for _, h, _ in before],
              "Brier", "calibration slope", "calibration intercept", *[h for _, h, _ in after]]
    table = html_table(header, rows, row_classes=classes)

    headline = ""
    if "xgboost" in metrics.index:
        x = metrics.loc["xgboost"]
        headline = (
            f'<div class="headline-box"><b>XGBoost out-of-fold AUC {fmt(x.get("auc"))} '
            f'(95% CI {fmt(x.get("auc_low"))}&ndash;{fmt(x.get("auc_high"))})</b>, '
            f'Brier {fmt(x.get("brier"))}, calibration slope '
            f'{fmt(x.get("calibration_slope"), 2)}, on {integer(x.get("n"))} labelled patients '
            f'({integer(x.get("n_events"))} '
            f'{outcome.events if outcome.is_response else "with label 1"}).'
        )
        for name in order:
            if name in ("xgboost", "oracle"):
                continue
            headline += f" {esc(name)}: AUC {ci(metrics.loc[name])}."
        if "oracle" in metrics.index:
            o = metrics.loc["oracle"]
            gap = o.get("auc", np.nan) - x.get("auc", np.nan)
            headline += (
                f" The oracle (true simulated probability) reaches AUC {ci(o)}: XGBoost is "
                f"{fmt(gap)} below it"
            )
            if np.isfinite(o.get("auc_diff_low", np.nan)):
                headline += (f" (paired bootstrap 95% CI of the gap {fmt(o['auc_diff_low'])}"
                             f"&ndash;{fmt(o['auc_diff_high'])})")
            headline += "."
        headline += "</div>"
    headline += below_comparison_warning(metrics)
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
    return section("metrics", headline + table + notes)


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


def roc_section(avg: pd.DataFrame, order, colours, oracle) -> str:
    panels = figure_panels(order, set(avg["model"]))
    fig, axes = panel_axes(panels)
    described = []
    for ax, (title, names) in zip(axes, panels):
        ax.plot([0, 1], [0, 1], linestyle=":", color="0.6", linewidth=1)
        for name, y, p in _model_predictions(avg, names, oracle):
            if len(np.unique(y)) < 2:
                continue
            fpr, tpr = roc_points(y, p)
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
    return section("roc", figure_html(fig, alt, caption))


def calibration_section(calibration: pd.DataFrame, order, colours, outcome: Outcome) -> str:
    cal = calibration.copy()
    for column in ("bin", "mean_predicted", "observed_rate", "n"):
        cal[column] = num(cal[column])
    panels = figure_panels(order, set(cal["model"].astype(str)))
    fig, axes = panel_axes(panels)
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
    what = "objective-response rate" if outcome.is_response else f"rate of {esc(outcome.name)} = 1"
    return section("calibration", figure_html(
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


def decision_section(curves: pd.DataFrame | None, avg, order, colours, oracle,
                     outcome: Outcome, treatment: str) -> str:
    source = f"<code>{OPTIONAL_FILES['decision_curve']}</code>"
    note = ""
    if curves is None:
        note = (f'<p class="missing">Not available (file {source} not produced): the net '
                "benefit below is computed here from the repeat-averaged out-of-fold "
                "probabilities.</p>")
        curves = _decision_curves_from_oof(avg, order, oracle)
    curves = curves.copy()
    curves["model"] = curves["model"].astype(str)
    curves["threshold"] = num(curves["threshold"])
    curves["net_benefit"] = num(curves["net_benefit"])
    references = ("treat_all", "treat_none")
    names = model_order(n for n in curves["model"] if n not in references)
    colours = {**model_colours(names), **colours}
    panels = [(t, [n for n in ns if n in names]) for t, ns in figure_panels(names)]
    fig, axes = panel_axes(panels)
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
    span = (f" over thresholds {fmt(thresholds.min(), 2)} to {fmt(thresholds.max(), 2)}"
            if len(thresholds) else "")
    alt = (f"Decision curve: net benefit against threshold probability{span} for "
           f"{', '.join(names)}, with the treat-all and treat-none reference lines.")
    if outcome.is_response:
        caption = (f"Net benefit of selecting patients for {esc(treatment)} when their "
                   "predicted response probability exceeds the threshold, compared with "
                   "treating everyone or no one")
    else:
        caption = (f"Net benefit of acting on the patients whose predicted probability of "
                   f"{esc(outcome.name)} = 1 exceeds the threshold, compared with acting on "
                   "everyone or no one")
    caption += (f" (from {source})." if note == "" else
                " (computed from the out-of-fold probabilities).")
    return section("decision-curve", note + figure_html(fig, alt, caption))


def ablation_section(metrics: pd.DataFrame, tuned: bool = True) -> str:
    names = [n for n in model_order(metrics["model"]) if ablation_variant(n)]
    if not names:
        return section("ablation", '<p class="missing">Not available: metrics.tsv has no '
                       "<code>xgboost_&lt;modality&gt;_only</code> or "
                       "<code>xgboost_without_&lt;modality&gt;</code> rows.</p>")
    has_p = "delong_p_vs_xgboost" in metrics.columns
    rows, classes = [], []
    for name in (["xgboost"] if "xgboost" in metrics.index else []) + names:
        row = metrics.loc[name]
        modality, variant = ablation_label(name)
        cells = [esc(name), modality, variant, integer(row.get("n_features")), ci(row),
                 "&ndash;" if name == "xgboost" else _delta(row)]
        if has_p:
            cells.append("&ndash;" if name == "xgboost"
                         else p_value(row.get("delong_p_vs_xgboost")))
        cells += [fmt(row.get("brier")), fmt(row.get("calibration_slope"), 2)]
        rows.append(cells)
        classes.append("headline" if name == "xgboost" else "")
    header = ["model", "modality", "features used", "features", "AUC [95% CI]",
              "&Delta;AUC vs XGBoost [95% CI]", *(["DeLong p"] if has_p else []), "Brier",
              "calibration slope"]
    return section("ablation", html_table(header, rows, text_columns=(0, 1, 2),
                                          row_classes=classes)
                   + '<p class="note">XGBoost refitted in the same folds on one modality only, '
                   "and on everything but one modality. A &Delta;AUC of the "
                   "&ldquo;all but&rdquo; row whose CI excludes 0 means the modality adds "
                   "discrimination to the others; an &ldquo;only&rdquo; row shows what the "
                   "modality carries on its own. A row is absent when it would repeat another "
                   "(e.g. a modality with no usable features)." + ablation_note(tuned) + "</p>")
