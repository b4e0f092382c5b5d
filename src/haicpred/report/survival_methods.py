"""The survival report's closing text (issue 15 point 9): methods, limitations and the
TRIPOD+AI items for a time-to-event model (outcome with time origin and censoring, horizons,
C-index and calibration measures, handling of censoring), and the nomogram section
(:func:`haicpred.report.nomogram.nomogram_section` of ``results/model/final/nomogram.json``, or
why it is missing: :func:`nomogram_block`)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from haicpred.report.cohort import Outcome
from haicpred.report.html import esc
from haicpred.report.layout import link, not_available, section
from haicpred.report.nomogram import nomogram_section
from haicpred.report.validation import tuning_enabled

__all__ = ["NOMOGRAM_FILE", "read_nomogram", "nomogram_block", "risk_scale", "survival_methods_section",
           "survival_limitations_section", "survival_tripod_items"]

NOMOGRAM_FILE = "results/model/final/nomogram.json"


def read_nomogram(nomogram) -> dict | None:
    """The nomogram as a dict: given as a dict, or a path to ``nomogram.json`` (absent = None)."""
    if nomogram is None or isinstance(nomogram, dict):
        return nomogram
    if isinstance(nomogram, (str, os.PathLike)) and Path(nomogram).is_file():
        return json.loads(Path(nomogram).read_text())
    return None


def risk_scale(settings: dict) -> str:
    """What XGBoost's risk (and its SHAP values) is on, by the survival objective."""
    if settings.get("survival_objective") == "aft":
        return "minus the predicted log time of the AFT model, in log-time units"
    return "log relative hazard"


def nomogram_block(nomogram: dict | None) -> tuple[str, str | None]:
    """(the nomogram section, why it is missing or None)."""
    if nomogram is None:
        return section("nomogram", not_available(NOMOGRAM_FILE)), f"{NOMOGRAM_FILE} not produced"
    return nomogram_section(nomogram), None


def survival_methods_section(settings: dict, outcome: Outcome, endpoint: dict, tuned: bool,
                             lobo: bool, models, has_oracle: bool,
                             cv_metadata: dict | None) -> str:
    from haicpred.modeling.settings import DEFAULT_XGBOOST_PARAMS

    folds, repeats = settings.get("cv_folds"), settings.get("cv_repeats")
    params = {**DEFAULT_XGBOOST_PARAMS, **(settings.get("xgboost") or {})}
    params = {k: v for k, v in params.items() if k not in ("objective", "eval_metric",
                                                           "scale_pos_weight")}
    param_text = ", ".join(f"{esc(k)}={esc(params[k])}" for k in sorted(params))
    horizons = ", ".join(f"{float(h):g}" for h in endpoint.get("horizons_months", []))
    time_column, event_column = endpoint.get("time_column"), endpoint.get("event_column")
    if tuned:
        tuning = ("The Cox boosters' hyper-parameters were tuned by nested cross-validation: "
                  "an inner cross-validation inside each outer training fold chose them on the "
                  "inner Cox negative log partial likelihood, with early stopping on it; the "
                  'outer held-out fold never took part (<a href="#tuning">choices per '
                  "fold</a>). ")
    elif tuning_enabled(settings):
        tuning = "Tuning was configured, but its per-fold table was not given to this report. "
    else:
        tuning = "No hyper-parameters were tuned on the data (fixed, regularised settings). "
    ci_method = (cv_metadata or {}).get("c_index_ci_method") or (
        f"95% CIs from {settings.get('n_bootstrap')} bootstrap resamples stratified on the "
        "event indicator, the same resamples for every model (paired differences)")
    external = (' Every batch was also held out in turn (<a href="#lobo">leave-one-batch-out '
                "validation</a>).") if lobo else ""
    models = set(models)
    baselines = sorted(m for m in models if m.startswith("cox_") and m != "cox_all_features")
    text = (
        f"<p><b>Outcome.</b> <code>{esc(outcome.name)}</code>: {esc(outcome.definition)}. "
        f"Time origin: the start of treatment; <code>{esc(time_column)}</code> holds the months "
        f"from it to the event (<code>{esc(event_column)}</code> = 1) or to the last follow-up "
        f"(<code>{esc(event_column)}</code> = 0: censored then). Prediction horizons: {horizons} "
        "months. "
        "<b>Handling of censoring.</b> Every patient with follow-up is used, censored or not: a "
        "censored patient counts as event-free up to the censoring time and no patient is "
        "dropped for being censored before a horizon. The models are fitted on the Cox partial "
        "likelihood (censored patients in the risk sets until censored). Harrell's C compares "
        "only the pairs whose order is known; Uno's C, the time-dependent AUC and the integrated "
        "Brier score weight patients by the inverse probability of remaining uncensored "
        "(Kaplan-Meier estimate of the censoring distribution); the observed survival of "
        "calibration and of the risk groups is Kaplan-Meier. All of these assume censoring "
        "independent of the outcome given the predictors. Patients without follow-up (both "
        "cells empty) are excluded and counted in the cohort section. "
        f"<b>Validation.</b> Repeated {esc(folds)}-fold cross-validation stratified on the event "
        f"indicator ({esc(repeats)} repeats, seed {esc(settings.get('seed'))}); in every "
        "training fold each model, with all of its preprocessing, was fitted from scratch and "
        "the held-out fold only predicted. " + tuning + "Performance is measured on each "
        "patient's out-of-fold risk and S(h) averaged over repeats. " + esc(ci_method) + "."
        + external + " "
        f"<b>Models.</b> XGBoost with the Cox objective (<code>survival:cox</code>; "
        f"tree_method=hist; {param_text}) on all candidate features, and on each modality "
        "alone or left out (ablations); "
        + ("a ridge-penalised Cox regression on all candidate features (median imputation, "
           "scaling, penalty chosen by an inner CV on Harrell's C); "
           if "cox_all_features" in models else "")
        + ("Cox models refitted in every training fold on the factors of published HAIC "
           f"nomograms ({', '.join(f'<code>{esc(b)}</code>' for b in baselines)}): the "
           "published point tables are not public, so each is <i>refitted on the published "
           "factors</i>, never the published model itself; " if baselines else "")
        + "published scores (when configured) judged on their own values in their published "
        "direction, with a single-covariate Cox model per training fold for their survival "
        "probabilities. "
        "<b>Survival probabilities.</b> S(h) = exp(&minus;H<sub>0</sub>(h)&middot;"
        "exp(risk)), with H<sub>0</sub> the Breslow baseline cumulative hazard of each training "
        "fold, so every model predicts S(t) at the horizons. "
        "<b>Performance measures.</b> Harrell's C (tied risks count one half) with its 95% CI "
        "and the paired difference to XGBoost; Uno's C truncated at the last evaluable horizon; "
        "the cumulative/dynamic time-dependent AUC at each horizon; the integrated Brier score "
        "over the horizons; calibration at each horizon as mean predicted S(h) against the "
        "Kaplan-Meier S(h) of each risk decile; Kaplan-Meier curves of risk groups with the "
        "log-rank test. "
        "<b>Missing data.</b> Missing predictor values were left missing: XGBoost handles them "
        "natively; the Cox models impute the training fold's median. "
        "<b>Predictors.</b> Only baseline (pre-treatment) predictors; post-treatment and "
        "outcome columns are refused. "
        f"<b>Model output.</b> Per patient a risk ({risk_scale(settings)}; higher = earlier "
        "event), S(h) at each horizon and a risk group (low, intermediate, high).")
    if has_oracle:
        text += (" <b>Oracle.</b> For the simulated demo cohort the true linear predictor of "
                 "the hazard is known; its C-index on the same patients is the best any model "
                 "could reach.")
    return section("methods", text + "</p>")


def survival_limitations_section(lobo: bool, simulated: bool, n_features: int, n_events: int,
                                 censored_fraction: float) -> str:
    items = [
        "Validation is internal: cross-validation" + (" and leave-one-batch-out on the same "
                                                      "cohort" if lobo else " only")
        + "; no independent external cohort was analysed.",
        f"Sample size: {n_events} events for {n_features} candidate features; estimates are "
        "imprecise (see the CIs) and small differences between models are not evidence of "
        "superiority.",
        f"{100 * censored_fraction:.0f}% of the patients with follow-up are censored. Every "
        "measure assumes censoring independent of the outcome given the predictors (patients "
        "lost to follow-up because they are sicker would bias them); Harrell's C also depends "
        "on the follow-up's length (Uno's C, truncated at the last horizon, less so).",
        "The Cox baselines assume proportional hazards; S(t) of every model uses the Breslow "
        "baseline hazard of its training fold, which assumes the same baseline hazard in a "
        "new cohort (see the calibration at the horizons).",
        "Fairness: performance was not evaluated by sex, age or aetiology (HBV, HCV, other).",
        "Feature importance and SHAP values describe the model, not causal effects.",
    ]
    if simulated:
        items.append("The demo cohort is simulated: its results show that the pipeline works, "
                     "not how well survival after HAIC can be predicted in patients.")
    return section("limitations", "<ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>")


def survival_tripod_items() -> list[tuple[str, str, list[str], str | None]]:
    """The TRIPOD+AI items of a time-to-event model, each with the sections answering it
    (:func:`haicpred.report.methods.tripod_section`'s ``items``)."""
    na = "not applicable"
    return [
        ("1", "Title", [], f"{na}: a generated analysis report, not a manuscript"),
        ("2", "Abstract", [], f"{na}: the publication's structured abstract; the headline "
         f"result is summarised in {link('metrics')}"),
        ("5a", "Source of data", ["cohort"], None),
        ("5b", "Dates of accrual and follow-up: follow-up duration (median by reverse "
         "Kaplan-Meier); the input tables carry no calendar dates", ["cohort"], None),
        ("6a, 6b", "Participants: who is included; patients without follow-up", ["cohort"],
         None),
        ("7", "Data preparation and quality checks", ["data-checks", "methods", "radiomics"],
         None),
        ("8a", "Outcome definition: event, time origin, censoring and prediction horizons",
         ["cohort", "methods"], None),
        ("9a", "Predictors: which, per modality, and their availability",
         ["cohort", "methods"], None),
        ("10", "Sample size (events per candidate feature)", ["cohort", "limitations"], None),
        ("11", "Missing data", ["data-checks", "cohort", "methods"], None),
        ("12a, 12c", "Analytical methods: Cox-objective XGBoost, penalised Cox, preprocessing "
         "inside the training folds, hyper-parameter tuning", ["methods", "radiomics", "tuning"],
         None),
        ("12a", "Handling of censoring (all censored patients kept; partial likelihood, IPCW, "
         "Kaplan-Meier)", ["methods"], None),
        ("12c", "Internal validation", ["methods", "metrics"], None),
        ("12e", "Performance measures: C-index with CI, time-dependent AUC at the horizons, "
         "integrated Brier score, calibration at the horizons, risk groups",
         ["metrics", "td-auc", "calibration", "risk-groups"], None),
        ("12e, 23a", "Model comparison with baselines (refitted on published factors, "
         "published scores) and modality ablation", ["metrics", "ablation"], None),
        ("12d, 23b", "Heterogeneity across clusters: batch-held-out validation", ["lobo"],
         None),
        ("13", "Class imbalance: folds stratified on the event indicator; no resampling",
         ["methods"], None),
        ("14", "Fairness", [], "performance by sex, age or aetiology is not computed (named "
         f"in {link('limitations')})"),
        ("15", "Model output: risk, S(t) at the horizons, risk group",
         ["methods", "risk-groups", "nomogram"], None),
        ("20a, 20b", "Participant flow and characteristics, events and censoring", ["cohort"],
         None),
        ("21", "Participants and outcome events in each analysis", ["cohort", "metrics", "lobo"],
         None),
        ("22", "Model specification and availability", ["software", "importance", "shap",
                                                       "nomogram"], None),
        ("23a", "Model performance with confidence intervals", ["metrics", "td-auc"], None),
        ("26", "Limitations", ["limitations"], None),
    ]
