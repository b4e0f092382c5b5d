"""The report's closing sections: methods, limitations, software and model availability
(package versions, the final model's file), and the TRIPOD+AI checklist linking each item to
the sections that answer it."""

from __future__ import annotations

import numpy as np
import pandas as pd

from haicpred.io.versions import package_versions
from haicpred.report.baselines import SCORE_METHODS
from haicpred.report.cohort import Outcome
from haicpred.report.html import esc, fmt, html_table
from haicpred.report.layout import (FINAL_METADATA_FILE, OPTIONAL_FILES, SECTION_IDS, link,
                                    not_available, section)
from haicpred.report.validation import tuning_enabled


# the model of record's linear start (haicpred.modeling.linear_start), as the methods say it
LINEAR_START_METHODS = (
    ", boosted from a penalised logistic regression fitted in the same training fold: median "
    "imputation and standardisation, an L2 or L1 (lasso) penalty and its strength chosen by a "
    "{folds}-fold CV on log loss, which also decides whether the radiomic features enter at all "
    "(all features against all but radiomics: a guard against a high-dimensional modality "
    "drowning the signal); each training patient's starting log-odds comes from the model "
    "fitted on the other folds (cross-fitting), the trees are grown from those starts and "
    "add only what lowers the inner-fold log loss (no trees when nothing does); the "
    "ablation rows are boosted from their own L2-penalised starts on all their columns")


def methods_section(settings: dict, has_oracle: bool, outcome: Outcome, tuned: bool,
                    lobo: bool, has_tuning_table: bool = False, models=(),
                    tuned_weights: pd.Series | None = None) -> str:
    folds, repeats = settings.get("cv_folds"), settings.get("cv_repeats")
    params = settings.get("xgboost") or {}
    from haicpred.modeling.settings import DEFAULT_XGBOOST_PARAMS

    params = {**DEFAULT_XGBOOST_PARAMS, **params}
    param_text = ", ".join(f"{esc(k)}={esc(params[k])}" for k in sorted(params))
    scores = settings.get("score_baselines") or {}
    score_text = ", ".join(
        f"{esc(n)} (<code>{esc(s.get('feature'))}</code>, "
        f"{'higher = worse' if int(s.get('direction', 1)) < 0 else 'higher = better'})"
        for n, s in sorted(scores.items())
    ) or "none"
    if tuned:
        tuning = ("XGBoost's hyper-parameters were tuned by nested cross-validation: an inner "
                  "cross-validation inside each outer training fold chose them, and the outer "
                  'held-out fold never took part (<a href="#tuning">choices per fold</a>); '
                  "the settings below are the starting values. ")
    elif tuning_enabled(settings) and not has_tuning_table:
        tuning = ("Tuning was configured, but its per-fold table "
                  f"(<code>{OPTIONAL_FILES['tuning']}</code>) was not given to this report. ")
    else:
        tuning = ("No hyper-parameters were tuned on the data (fixed, regularised settings), "
                  "so no nested cross-validation was required. ")
    weight = esc((settings.get("xgboost") or {}).get("scale_pos_weight", 1))
    if tuned_weights is not None and len(tuned_weights):
        weight = ('tuned in each training set (<a href="#tuning">chosen</a> '
                  f"{fmt(tuned_weights.min(), 2)}&ndash;{fmt(tuned_weights.max(), 2)})")
    external = (' Every batch was also held out in turn (<a href="#lobo">leave-one-batch-out '
                "validation</a>).") if lobo else ""
    text = (
        "<p>"
        f"<b>Outcome.</b> <code>{esc(outcome.name)}</code>: {esc(outcome.definition)}. "
        f"<b>Validation.</b> Repeated stratified {esc(folds)}-fold cross-validation "
        f"({esc(repeats)} repeats, seed {esc(settings.get('seed'))}). In every training fold "
        "each model, including all of its preprocessing, was fitted from scratch inside an "
        "scikit-learn pipeline; the held-out fold was only predicted. " + tuning +
        "Performance is reported on each patient's out-of-fold probability averaged "
        "over repeats, with 95% confidence intervals from "
        f"{esc(settings.get('n_bootstrap'))} stratified bootstrap resamples; the SD of the "
        "per-repeat AUCs shows the variability due to the fold assignment." + external + " "
        "<b>Class imbalance.</b> Folds are stratified by the label; no patients are "
        f"resampled. XGBoost's positive-class weight (scale_pos_weight): {weight}; a weight "
        "other than 1 moves the predicted probabilities away from the cohort's prevalence "
        '(see <a href="#calibration">Calibration</a>). '
        f"<b>Models.</b> XGBoost (tree_method=hist; {param_text}) on all candidate features"
        + (LINEAR_START_METHODS.format(folds=esc((settings.get("tuning") or {}).get(
            "inner_folds", 3))) if settings.get("linear_start") else "") + "; "
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
        f"{esc(settings.get('radiomics_near_constant_fraction'))} of the values) are dropped, "
        "the rest harmonised across batches with ComBat (neuroCombat; method "
        f"{esc((settings.get('harmonisation') or {}).get('method'))}) fitted on the training "
        "fold only and applied to the held-out fold, then of each pair with |Pearson r| &gt; "
        f"{esc(settings.get('radiomics_max_correlation'))} the later one is dropped; a fold "
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
    return section("methods", text + "</p>")


def limitations_section(metrics: pd.DataFrame, lobo: bool, simulated: bool,
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
            items.append(f"XGBoost's out-of-fold calibration slope is {fmt(slope, 2)} (&lt; 1):"
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
    return section("limitations", "<ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>")


def versions_section(cv_metadata: dict | None, final_metadata: dict | None) -> str:
    here = package_versions(("matplotlib", "numpy", "pandas", "scikit-learn", "scipy"))
    fitted = [(title, versions) for title, versions in (
        ("cross-validation (cv_metadata.json)", (cv_metadata or {}).get("versions") or {}),
        ("final model (final/model_metadata.json)",
         (final_metadata or {}).get("versions") or {})) if versions]
    names = sorted(set(here).union(*(set(versions) for _, versions in fitted)))
    header = ["package", "report (this run)"] + [title for title, _ in fitted]
    rows = []
    for name in names:
        rows.append([esc(name), esc(here.get(name, "")) or "&ndash;"]
                    + [esc(versions.get(name, "")) or "&ndash;" for _, versions in fitted])
    text = html_table(header, rows, text_columns=tuple(range(len(header))))
    folder = FINAL_METADATA_FILE.rsplit("/", 1)[0]
    if final_metadata and final_metadata.get("model_sha256"):
        text += (f'<p class="note">Final model: <code>{esc(folder)}/'
                 f'{esc(final_metadata.get("model_file", ""))}</code>, '
                 f"sha256 <code>{esc(final_metadata['model_sha256'])}</code>, "
                 f"{esc(final_metadata.get('n_features', ''))} features. It is saved in "
                 "XGBoost's JSON format next to <code>model_metadata.json</code> (features in "
                 "order with their training ranges, settings, radiomics step, risk-group "
                 "cut-offs, versions); <code>haicpred predict</code> applies it to a new "
                 "feature matrix.</p>")
    else:
        text += not_available(FINAL_METADATA_FILE)
    skipped = (cv_metadata or {}).get("skipped_models") or []
    if skipped:
        text += ('<p class="note">Baselines incomplete or skipped: '
                 + "; ".join(esc(s) for s in skipped) + ".</p>")
    return section("software", text)


def _binary_tripod_items() -> list:
    na = "not applicable"
    return [
        ("1", "Title", [], f"{na}: a generated analysis report, not a manuscript"),
        ("2", "Abstract", [], f"{na}: the publication's structured abstract; the headline "
         f"result is summarised in {link('metrics')}"),
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
         f"in {link('limitations')})"),
        ("15", "Model output", ["methods", "metrics"], None),
        ("20a, 20b", "Participant flow and characteristics", ["cohort"], None),
        ("21", "Participants and outcome events in each analysis", ["cohort", "metrics", "lobo"],
         None),
        ("22", "Model specification and availability", ["software", "importance", "shap"], None),
        ("23a", "Model performance with confidence intervals", ["metrics"], None),
        ("26", "Limitations", ["limitations"], None),
    ]


def tripod_section(missing: dict[str, str], items: list | None = None) -> str:
    """The TRIPOD+AI (Collins et al., BMJ 2024) items that apply to this analysis, each with
    the sections answering it; `missing` maps an anchor whose section has no content to why.
    `items`: (item, topic, anchors, reason when none answers it); default: the binary
    endpoints' items (haicpred.report.survival_methods has the survival endpoint's)."""
    items = _binary_tripod_items() if items is None else items
    rows = []
    for item, topic, anchors, reason in items:
        answered = [a for a in anchors if a not in missing]
        gaps = [a for a in anchors if a in missing]
        if answered:
            cell = "; ".join(link(a) for a in answered)
            if gaps:
                cell += " (" + "; ".join(f"{SECTION_IDS[a]}: not available, {missing[a]}"
                                         for a in gaps) + ")"
        else:
            why = reason or "; ".join(f"{SECTION_IDS[a]}: {missing[a]}" for a in gaps)
            cell = f"not answered: {why}"
        rows.append([esc(item), topic, cell])
    return section(
        "tripod",
        '<p class="note">TRIPOD+AI (Collins et al., BMJ 2024) items relevant to a '
        "model-development analysis, with the sections of this report that answer them. Items "
        "about the study protocol, registration, ethics, funding and patient involvement belong "
        "to the publication and are left out.</p>"
        + html_table(["item", "topic", "where answered"], rows, text_columns=(0, 1, 2))
    )
