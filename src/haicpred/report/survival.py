"""The report of a time-to-event endpoint (issue 15 point 9; endpoint kind ``survival``).

:func:`survival_sections` builds every section of the page from the survival run's outputs:
the endpoint and censoring summary (patients, events, censored, median follow-up by reverse
Kaplan-Meier, excluded without follow-up, per horizon and per batch), the C-index table with
every model, baseline and oracle row present (Harrell's C with its CI, the paired difference to
XGBoost, Uno's C, IBS; each row described, from ``cv_metadata.json`` where it says more), the
time-dependent AUC, calibration at the horizons and the Kaplan-Meier curves by risk group
(:mod:`haicpred.report.survival_figures`), the nomogram when given, modality ablation,
leave-one-batch-out C-indices, tuning, importance, SHAP (on the risk scale), methods,
limitations and the TRIPOD+AI items (:mod:`haicpred.report.survival_methods`).
:func:`haicpred.report.render.render_report` dispatches here when the out-of-fold table is a
survival one (:func:`is_survival_oof`) and assembles the page the same way as for the binary
endpoints.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from haicpred.features.endpoints import resolve_endpoint
from haicpred.modeling.survival_curves import (kaplan_meier, km_median, km_survival_at,
                                               median_follow_up)
from haicpred.modeling.survival_risk_groups import km_confidence_interval
from haicpred.report.baselines import full_model_tuning
from haicpred.report.cohort import (ID_COLUMNS, Outcome, cohort_description, data_checks_body,
                                    missing_section_notes, modality_availability,
                                    single_batch_note, titles)
from haicpred.report.figures import model_colours
from haicpred.report.html import ci, esc, fmt, html_table, integer, num, pct
from haicpred.report.importance import (importance_section, planted_section, radiomics_section,
                                        shap_section)
from haicpred.report.layout import (OPTIONAL_FILES, ablation_label, ablation_variant,
                                    model_order, not_available, section)
from haicpred.report.methods import tripod_section, versions_section
from haicpred.report.survival_figures import (risk_groups_section, survival_calibration_section,
                                              td_auc_section)
from haicpred.report.survival_methods import (nomogram_block, risk_scale,
                                              survival_limitations_section,
                                              survival_methods_section, survival_tripod_items)
from haicpred.report.validation import ordered_lobo, tuned_rows, tuning_section

__all__ = ["is_survival_oof", "averaged_survival_oof", "describe_survival_model",
           "survival_sections"]

_PUBLISHED = {"cox_baseline": "Liu 2023", "cox_mei2021": "Mei 2021",
              "cox_yao_haicn": "Yao pre-HAICN"}
_INNER_METRIC = "inner_cox_nloglik"


def is_survival_oof(oof: pd.DataFrame) -> bool:
    """An out-of-fold table of the survival endpoint (time, event, risk) rather than of a
    binary one (y_true, y_prob)."""
    return {"time", "event", "risk"} <= set(oof.columns) and "y_prob" not in oof.columns


def averaged_survival_oof(oof: pd.DataFrame) -> pd.DataFrame:
    """Per model and sample: time, event, and the risk and S(h) averaged over repeats."""
    oof = oof.copy()
    values = [c for c in oof.columns if c == "risk" or (c.startswith("surv_") and c.endswith("m"))]
    for column in ("time", "event", *values):
        oof[column] = num(oof[column])
    oof["model"] = oof["model"].astype(str)
    oof["sample_id"] = oof["sample_id"].astype(str)
    spec = {"time": ("time", "first"), "event": ("event", "first"),
            **{c: (c, "mean") for c in values}}
    return oof.groupby(["model", "sample_id"], sort=True).agg(**spec).reset_index()


def _metadata_entry(name: str, cv_metadata: dict | None) -> dict:
    """What cv_metadata.json's ``baseline_factors`` records about a baseline: a Cox model
    refitted on published factors (``factor_models``) or a published score (``scores``)."""
    factors = (cv_metadata or {}).get("baseline_factors") or {}
    for group in ("factor_models", "scores"):
        entry = (factors.get(group) or {}).get(name)
        if isinstance(entry, dict):
            return entry
    return {}


def describe_survival_model(name: str, row, settings: dict, cv_metadata: dict | None) -> str:
    """The C-index table's description of a row: the fitted models by name, the others from
    cv_metadata.json (description, factors, score) or the settings' published scores."""
    n_features = integer(row.get("n_features"))
    if name == "xgboost":
        return f"XGBoost with the Cox objective, all {n_features} candidate features"
    ablation = ablation_variant(name)
    if ablation:
        modality, kind = ablation
        return (f"XGBoost Cox on the {n_features} {esc(modality)} features only" if kind == "only"
                else f"XGBoost Cox on the {n_features} features that are not {esc(modality)}")
    if name == "cox_all_features":
        return (f"Ridge-penalised Cox regression on all {n_features} candidate features "
                "(penalty chosen by an inner CV on Harrell's C)")
    if name == "oracle":
        return "Oracle: the simulation's true linear predictor of the hazard (demo only)"
    entry = _metadata_entry(name, cv_metadata)
    coverage = row.get("coverage", np.nan)
    on = (f" on the {integer(row.get('n'))} patients who have it ({100 * coverage:.0f}% "
          "coverage)" if pd.notna(coverage) and np.isfinite(coverage) else "")
    if entry.get("description"):
        text = esc(entry["description"])
        if entry.get("left_out"):
            text += "; left out: " + ", ".join(f"<code>{esc(f)}</code> ({esc(why)})"
                                               for f, why in dict(entry["left_out"]).items())
        return text + (on if "feature" in entry else "")
    score = (settings.get("score_baselines") or {}).get(name) or (
        entry if "feature" in entry else None)
    if score:
        way = "higher = worse" if int(score.get("direction", 1)) < 0 else "higher = better"
        return (f"Published score <code>{esc(score.get('feature', name))}</code> used as is "
                f"({way}), judged on its own values{on}; S(t) from a single-covariate Cox model "
                "in each training fold")
    if name in _PUBLISHED or entry.get("available"):
        factors = entry.get("available") or (settings.get("baseline_features")
                                              if name == "cox_baseline" else [])
        source = _PUBLISHED.get(name, "a configured factor set")
        return (f"Cox model refitted in each training fold on the published factors of "
                f"{esc(source)} ({', '.join(f'<code>{esc(f)}</code>' for f in factors)}); the "
                "published point table is not public")
    return esc(name)


def _diff(row) -> str:
    value = row.get("c_index_diff_vs_xgboost", np.nan)
    if not np.isfinite(value):
        return "&ndash;"
    return (f"{value:+.3f} [{fmt(row.get('c_index_diff_low'))}, "
            f"{fmt(row.get('c_index_diff_high'))}]")


def metrics_section(metrics: pd.DataFrame, notes: pd.Series, settings: dict,
                    cv_metadata: dict | None) -> str:
    """Headline and the C-index table of every non-ablation row (models, baselines, published
    scores, oracle)."""
    order = [n for n in model_order(metrics["model"]) if not ablation_variant(n)]
    coverage = "coverage" in metrics.columns
    rows, classes = [], []
    for name in order:
        row = metrics.loc[name]
        rows.append([
            f"<b>{esc(name)}</b><br><span class=\"note\">"
            f"{describe_survival_model(name, row, settings, cv_metadata)}</span>",
            integer(row.get("n")), *([fmt(row.get("coverage"), 2)] if coverage else []),
            integer(row.get("n_events")), ci(row, "c_index"),
            "&ndash;" if name == "xgboost" else _diff(row), ci(row, "uno_c"), ci(row, "ibs")])
        classes.append("headline" if name == "xgboost" else "oracle" if name == "oracle" else "")
    header = ["model", "n", *(["coverage"] if coverage else []), "events",
              "Harrell's C [95% CI]", "&Delta;C vs XGBoost [95% CI]", "Uno's C [95% CI]",
              "IBS [95% CI]"]
    headline = ""
    if "xgboost" in metrics.index:
        x = metrics.loc["xgboost"]
        headline = (f'<div class="headline-box"><b>XGBoost out-of-fold Harrell\'s C '
                    f'{fmt(x.get("c_index"))} (95% CI {fmt(x.get("c_index_low"))}&ndash;'
                    f'{fmt(x.get("c_index_high"))})</b>, Uno\'s C {fmt(x.get("uno_c"))}, '
                    f'integrated Brier score {fmt(x.get("ibs"))}, on {integer(x.get("n"))} '
                    f'patients with follow-up ({integer(x.get("n_events"))} events).')
        for name in order:
            if name not in ("xgboost", "oracle"):
                headline += f" {esc(name)}: C {ci(metrics.loc[name], 'c_index')}."
        if "oracle" in metrics.index:
            o = metrics.loc["oracle"]
            gap = o.get("c_index", np.nan) - x.get("c_index", np.nan)
            headline += (f" The oracle (true simulated linear predictor) reaches C "
                         f"{ci(o, 'c_index')}: XGBoost is {fmt(gap)} below it")
            if np.isfinite(o.get("c_index_diff_low", np.nan)):
                headline += (f" (paired bootstrap 95% CI of the gap "
                             f"{fmt(o['c_index_diff_low'])}&ndash;{fmt(o['c_index_diff_high'])})")
            headline += "."
        headline += "</div>"
    distinct = [n for n in dict.fromkeys(notes.dropna().astype(str)) if n.strip()]
    text = ('<p class="note">All values are out of fold: each patient\'s risk and S(h) are the '
            "means of its predictions from the repeats in which it was held out. Harrell's C: "
            "share of comparable pairs (the earlier time an event) ordered by the risk, ties "
            "one half; Uno's C: inverse-probability-of-censoring weighted, truncated at the last "
            "evaluable horizon; IBS: integrated Brier score of S(t) over the horizons (lower is "
            "better). &Delta;C: the row's C minus XGBoost's on the same patients, CI from the "
            "same (paired) resamples. <i>n</i>: patients with follow-up the row is computed on; "
            "<i>coverage</i> the share of all of them (for a published score, the patients who "
            "have it). The time-dependent AUC per horizon is in "
            '<a href="#td-auc">its own section</a>.')
    if (cv_metadata or {}).get("c_index_ci_method"):
        text += " " + esc(cv_metadata["c_index_ci_method"]) + "."
    factors = (cv_metadata or {}).get("baseline_factors") or {}
    for key, what in (("refitted", "Factor baselines"), ("rule", "Published scores")):
        if isinstance(factors.get(key), str):
            text += f" {what}: {esc(factors[key])}."
    text += "</p>"
    if distinct:
        text += ('<p class="note">Notes of metrics.tsv: ' + "; ".join(esc(n) for n in distinct)
                 + ".</p>")
    skipped = (cv_metadata or {}).get("skipped_models") or []
    if skipped:
        text += ('<p class="note">Baselines incomplete or skipped: '
                 + "; ".join(esc(s) for s in skipped) + ".</p>")
    return section("metrics", headline + html_table(header, rows, row_classes=classes) + text)


def _patients(averaged: pd.DataFrame) -> pd.DataFrame:
    """One row per patient with follow-up (time, event): those of xgboost, else the first
    model."""
    names = model_order(averaged["model"].unique())
    name = "xgboost" if "xgboost" in names else names[0]
    return averaged[averaged["model"] == name][["sample_id", "time", "event"]]


def cohort_section(matrix, dictionary, patients: pd.DataFrame, outcome: Outcome,
                   endpoint: dict, description: str) -> str:
    """The endpoint and censoring summary, per horizon and per batch, data availability and
    the events per candidate feature."""
    n = len(matrix)
    time, event = patients["time"].to_numpy(float), patients["event"].to_numpy(int)
    n_lab, n_events = len(time), int(event.sum())
    block = outcome.block
    excluded = block.get("n_excluded_no_follow_up")
    excluded = n - n_lab if excluded is None else int(excluded)
    follow_up, median_survival = median_follow_up(time, event), km_median(time, event)
    parts = [description, (
        f"<p><b>Endpoint</b> <code>{esc(outcome.name)}</code>: {esc(outcome.definition)}. Time "
        f"origin: the start of treatment; time column <code>{esc(endpoint.get('time_column'))}"
        f"</code> (months), event column <code>{esc(endpoint.get('event_column'))}</code> (1 = "
        "event, 0 = censored at the last follow-up).</p>")]
    parts.append(html_table(["", "count", "share"], [
        ["patients in the feature matrix", str(n), ""],
        ["with follow-up (trained on and evaluated)", str(n_lab), pct(n_lab, n)],
        ["events", str(n_events), pct(n_events, n_lab) + " of those with follow-up"],
        ["censored", str(n_lab - n_events), pct(n_lab - n_events, n_lab)
         + " of those with follow-up"],
        ["excluded: no follow-up (scored, not trained on)", str(excluded), pct(excluded, n)],
    ]))
    parts.append(
        f"<p>Median follow-up (reverse Kaplan-Meier): <b>{fmt(follow_up, 1)} months</b>; "
        f"follow-up times {fmt(time.min(), 1)}&ndash;{fmt(time.max(), 1)} months. Median "
        "survival (Kaplan-Meier): "
        + (f"<b>{fmt(median_survival, 1)} months</b>" if np.isfinite(median_survival)
           else "not reached") + ".</p>")
    curve = kaplan_meier(time, event)
    low, high = km_confidence_interval(curve["survival"], curve["std_err"])
    rows = []
    horizons = [float(h) for h in endpoint.get("horizons_months", [])]
    for horizon, survival in zip(horizons, km_survival_at(time, event, horizons)):
        index = np.searchsorted(curve["time"].to_numpy(), horizon, side="right") - 1
        band = ("" if index < 0 or not np.isfinite(survival)
                else f" [{fmt(low[index])}, {fmt(high[index])}]")
        rows.append([f"{horizon:g}", str(int(((time <= horizon) & (event == 1)).sum())),
                     str(int(((time < horizon) & (event == 0)).sum())),
                     str(int((time >= horizon).sum())), fmt(survival) + band])
    parts.append("<h3>At the prediction horizons</h3>" + html_table(
        ["horizon (months)", "events by then", "censored before", "still at risk",
         "Kaplan-Meier S(h) [95% CI]"], rows))
    batch = matrix.set_index(matrix["sample_id"].astype(str))["batch"].fillna("(none)")
    batch = batch.astype(str)
    patient_batch = patients["sample_id"].map(batch).to_numpy()
    rows = []
    for name in sorted(batch.unique()):
        mask = patient_batch == name
        rows.append([esc(name), str(int((batch == name).sum())), str(int(mask.sum())),
                     str(int(event[mask].sum())), str(int(mask.sum() - event[mask].sum())),
                     fmt(median_follow_up(time[mask], event[mask]), 1) if mask.any()
                     else "&ndash;"])
    parts.append("<h3>Per batch</h3>" + html_table(
        ["batch", "patients", "with follow-up", "events", "censored",
         "median follow-up (months)"], rows))
    parts += modality_availability(matrix, dictionary)
    features = [c for c in matrix.columns if c not in ID_COLUMNS]
    parts.append(
        f'<p class="note">Sample size: {len(features)} candidate features for {n_lab} patients '
        f"with follow-up and {n_events} events ("
        f"{fmt(n_events / len(features) if features else float('nan'), 2)} events per "
        "candidate feature). The XGBoost model relies on shrinkage and shallow trees, and its "
        "apparent performance is only trusted out of fold.</p>")
    return section("cohort", "\n".join(parts))


def ablation_section(metrics: pd.DataFrame) -> str:
    names = [n for n in model_order(metrics["model"]) if ablation_variant(n)]
    if not names:
        return section("ablation", '<p class="missing">Not available: metrics.tsv has no '
                       "modality-ablation rows.</p>")
    rows, classes = [], []
    for name in (["xgboost"] if "xgboost" in metrics.index else []) + names:
        row = metrics.loc[name]
        modality, variant = ablation_label(name)
        rows.append([esc(name), modality, variant, integer(row.get("n_features")),
                     ci(row, "c_index"), "&ndash;" if name == "xgboost" else _diff(row),
                     fmt(row.get("uno_c")), fmt(row.get("ibs"))])
        classes.append("headline" if name == "xgboost" else "")
    return section("ablation", html_table(
        ["model", "modality", "features used", "features", "Harrell's C [95% CI]",
         "&Delta;C vs XGBoost [95% CI]", "Uno's C", "IBS"], rows, text_columns=(0, 1, 2),
        row_classes=classes) + '<p class="note">XGBoost Cox refitted in the same folds on one '
        "modality only, and on everything but one modality. A &Delta;C of an &ldquo;all "
        "but&rdquo; row whose CI excludes 0 means the modality adds discrimination to the "
        "others.</p>")


def lobo_section(lobo: pd.DataFrame | None, batches: list[str]) -> str:
    if note := single_batch_note(batches):
        return section("lobo", note)
    if lobo is None:
        return section("lobo", not_available(OPTIONAL_FILES["lobo_metrics"]))
    lobo = ordered_lobo(lobo, ("n", "n_events", "c_index", "c_index_low", "c_index_high"))
    rows = [[esc(r["held_out_batch"]), esc(r["model"]), integer(r["n"]), integer(r["n_events"]),
             ci(r, "c_index"), "" if pd.isna(r.get("note")) else esc(r.get("note"))]
            for _, r in lobo.iterrows()]
    classes = ["headline" if m == "xgboost" else "" for m in lobo["model"]]
    x = lobo[(lobo["model"] == "xgboost") & np.isfinite(lobo["c_index"])]
    summary = (f"<p>XGBoost's C-index on a held-out batch ranges from {fmt(x['c_index'].min())} "
               f"to {fmt(x['c_index'].max())} over {len(x)} batches.</p>" if len(x) else "")
    return section("lobo", summary + html_table(
        ["held-out batch", "model", "n", "events", "Harrell's C [95% CI]", "note"], rows,
        text_columns=(0, 1, 5), row_classes=classes) + '<p class="note">Each batch in turn is '
        "left out entirely: every model, including its preprocessing, is fitted on the other "
        "batches and evaluated on the held-out one. A batch without an event has no C-index; "
        "the note says why.</p>")


def survival_sections(*, metrics, oof, calibration, importance, dictionary, matrix, settings,
                      truth, planted_effects, cv_metadata, final_metadata, shap_importance,
                      lobo_metrics, tuning, data_checks, cohort_name, treatment,
                      km_risk_groups=None, nomogram=None, extraction=""):
    """(sections by anchor, the page's <title> and <h1>, the outcome line) of a survival run.
    ``metrics`` as read (strings or numbers); ``settings`` the resolved model settings."""
    notes = metrics["note"] if "note" in metrics.columns else pd.Series(dtype=object)
    metrics = metrics.drop(columns=["note"], errors="ignore").copy()
    for column in metrics.columns:
        if column != "model":
            metrics[column] = num(metrics[column])
    metrics["model"] = metrics["model"].astype(str)
    metrics = metrics.set_index("model", drop=False)
    endpoint = resolve_endpoint(settings.get("endpoint")) if settings.get("endpoint") else {}
    if endpoint.get("kind") != "survival":
        endpoint = {"kind": "survival", **((cv_metadata or {}).get("settings") or {}).get(
            "endpoint", {})}
    if not endpoint.get("horizons_months"):
        endpoint["horizons_months"] = list((cv_metadata or {}).get("horizons_months") or [])
    outcome = Outcome.from_metadata(cv_metadata)
    averaged = averaged_survival_oof(oof)
    patients = _patients(averaged)
    order = model_order(list(metrics["model"]) + list(averaged["model"].unique()))
    colours = model_colours(order)
    batch_names = sorted(matrix["batch"].fillna("(none)").astype(str).unique())
    lobo_applies = lobo_metrics is not None and len(batch_names) > 1
    tuning = full_model_tuning(tuning)
    horizons = [float(h) for h in endpoint.get("horizons_months", [])]
    nomogram_html, nomogram_missing = nomogram_block(nomogram)
    sections = {
        "data-checks": section("data-checks", data_checks_body(data_checks)),
        "cohort": cohort_section(matrix, dictionary, patients, outcome, endpoint,
                                 cohort_description(cohort_name, treatment, len(matrix),
                                                    batch_names)),
        "metrics": metrics_section(metrics, notes, settings, cv_metadata),
        "td-auc": td_auc_section(metrics, order, colours),
        "calibration": survival_calibration_section(calibration, averaged, order, colours),
        "risk-groups": risk_groups_section(km_risk_groups, oof, horizons),
        "nomogram": nomogram_html,
        "ablation": ablation_section(metrics),
        "lobo": lobo_section(lobo_metrics, batch_names),
        "tuning": tuning_section(tuning, settings, inner=_INNER_METRIC,
                                 inner_label="inner-CV Cox negative log partial likelihood"),
        "importance": importance_section(importance),
        "shap": shap_section(shap_importance, scale=risk_scale(settings)),
        "radiomics": radiomics_section(cv_metadata, final_metadata, extraction),
    }
    if planted_effects is not None:
        sections["planted"] = planted_section(planted_effects, importance)
    tuned = tuned_rows(tuning, _INNER_METRIC) if tuning is not None else None
    n_features = sum(c not in ID_COLUMNS for c in matrix.columns)
    n_events = int(patients["event"].sum())
    sections["methods"] = survival_methods_section(
        settings, outcome, endpoint, tuned is not None and len(tuned) > 0, lobo_applies,
        set(metrics["model"]), "oracle" in metrics.index, cv_metadata)
    sections["limitations"] = survival_limitations_section(
        lobo_applies, truth is not None, n_features, n_events,
        1 - n_events / len(patients) if len(patients) else float("nan"))
    sections["software"] = versions_section(cv_metadata, final_metadata)

    missing = missing_section_notes(metrics, data_checks, batch_names, lobo_metrics, tuning,
                                    shap_importance, cv_metadata, final_metadata)
    if nomogram_missing:
        missing["nomogram"] = nomogram_missing
    sections["tripod"] = tripod_section(missing, survival_tripod_items())
    event_text = (f"time to {endpoint.get('event_column')} ({endpoint.get('time_column')})"
                  if endpoint.get("event_column") else outcome.name)
    page_title, title = titles(event_text, False, cohort_name, treatment)
    outcome_line = (f"{esc(event_text)}, censored survival; horizons "
                    f"{', '.join(f'{h:g}' for h in horizons)} months")
    return sections, page_title, title, outcome_line
