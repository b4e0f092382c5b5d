"""The frozen survival model (issue 15 point 7): XGBoost with the Cox objective (or, with the
setting ``survival_objective: aft``, the AFT objective of :mod:`haicpred.modeling.survival_aft`)
fitted on every labelled patient of a survival endpoint, with what scoring a new batch needs to
reproduce its risk and S(t) exactly, and the nomogram of the Cox model on the published factors
(point 6).

:func:`haicpred.modeling.final_model.fit_final_model` hands a survival endpoint to
:func:`fit_survival_final_model` after the inputs went through the cross-validation's checks
(:func:`haicpred.modeling.final_training.prepare_training`); the folder is written by
:func:`haicpred.modeling.final_model.write_final_model` like a binary one. Feature handling is
the cross-validation's: the survival endpoint's ``xgboost`` spec (radiomics step, Cox or AFT
booster built from ``model.xgboost`` minus the binary objective) fitted through the same
``fold_estimator``; with ``tuning.enabled`` its parameters come from
:func:`haicpred.modeling.survival_tuning.tune_cox_xgboost` run on the same patients (the AFT
booster searched on its inner ``aft-nloglik``).

What differs from the binary folder (``format_version`` :data:`SURVIVAL_FORMAT_VERSION`,
``model_kind`` ``survival``; a binary folder stays version 1):

``xgboost_model.json``   the Cox booster (``survival:cox``); its margin is the risk, the log
    relative hazard (higher = worse).
``model_metadata.json``  also ``horizons_months``, ``baseline_hazard`` (the Breslow baseline
    cumulative hazard of the labelled patients under the final booster: ``event_times`` and
    ``cumulative_hazard``, so S(t | x) = exp(-H0(t) exp(risk(x))) is reproduced exactly), the
    endpoint's time and event columns and counts, risk-group cut-offs on the risk scale (tertiles
    of the cross-validated out-of-fold xgboost risk, mean over repeats, or fixed ``[c1, c2]``),
    and ``nomogram`` (its file, factors, whether it is available and if not why).
``shap_importance.tsv``  mean |SHAP| of TreeSHAP on the Cox booster: log relative hazard scale.
``predictions.tsv``      ``sample_id, batch, labelled, risk, surv_<h>m`` per horizon,
    ``risk_group, top_contributors, warnings``.
``nomogram.json``        :mod:`haicpred.modeling.nomogram` (always written for a survival
    model; ``available`` false with the reason when no published factor carries information).

With the AFT objective (``xgboost_params.objective`` ``survival:aft``, read by
:func:`survival_objective`) the booster's margin mu(x) is the predicted log time (log months)
and the risk is -mu(x). There is no ``baseline_hazard``: ``aft`` holds what S(t) needs instead,
the error ``distribution`` (normal) and ``scale``, S(t | x) = 1 - Phi((log t - mu(x)) / scale).
Its SHAP values are TreeSHAP of the margin with the sign flipped (:func:`survival_shap`), so
that they are on the risk scale as the Cox booster's are (+ raises the risk: a shorter predicted
time), in log-time units. Risk groups, predictions and the nomogram are as for Cox.
"""

from __future__ import annotations


import numpy as np
import pandas as pd

from haicpred.io.errors import Problem, raise_if_any
from haicpred.modeling.estimators import final_estimator, fold_estimator, package_versions
from haicpred.modeling.explain import global_importance, shap_values, top_contributors
from haicpred.modeling.final_training import (FINAL_MODEL_PACKAGES, FORMAT,
                                              N_TOP_CONTRIBUTORS, NOMOGRAM_FILE,
                                              SURVIVAL_FORMAT_VERSION, FinalModel,
                                              TrainingInputs, cv_metrics_record,
                                              features_metadata, json_value, model_inputs,
                                              scoring_checks, shap_metadata, training_checksum)
from haicpred.modeling.inputs import PreparedData
from haicpred.modeling.nomogram import fit_nomogram, unavailable_nomogram
from haicpred.modeling.score_baselines import factor_availability
from haicpred.modeling.scoring import assign_risk_groups, risk_group_cutoffs
from haicpred.modeling.survival_aft import XGBoostAFT
from haicpred.modeling.survival_baselines import BASELINE_ALPHA
from haicpred.modeling.survival_endpoint import horizon_name, prediction_columns
from haicpred.modeling.survival_estimators import XGBoostCox
from haicpred.modeling.survival_risk_groups import averaged_oof_risk
from haicpred.modeling.survival_tuning import tune_cox_xgboost
from haicpred.modeling.tuning import describe_search
from haicpred.radiomics.preprocessing import BATCH_COLUMN, RADIOMICS_MODALITY

__all__ = ["AFT_METADATA_KEYS", "SURVIVAL_METADATA_KEYS", "SURVIVAL_MODEL_KIND",
           "SURVIVAL_OBJECTIVE_KEYS", "fit_survival_final_model", "frozen_aft_model",
           "frozen_cox_model", "frozen_survival_model", "survival_objective",
           "survival_prediction_columns", "survival_shap", "survival_training_columns"]

SURVIVAL_MODEL_KIND = "survival"
# beyond the keys every final model has: what scoring a survival model needs (Cox objective)
SURVIVAL_METADATA_KEYS = ("horizons_months", "baseline_hazard")
# the same for the AFT objective: its distribution and scale, no baseline hazard
AFT_METADATA_KEYS = ("horizons_months", "aft")
# the booster objectives a survival folder may have (its xgboost_params.objective) and the
# metadata keys scoring each needs
SURVIVAL_OBJECTIVE_KEYS = {XGBoostCox.objective: SURVIVAL_METADATA_KEYS,
                           XGBoostAFT.objective: AFT_METADATA_KEYS}
RISK_DEFINITION = ("the Cox booster's margin: the log relative hazard (higher = worse, a "
                   "shorter expected time to the event)")
AFT_RISK_DEFINITION = ("minus the AFT booster's margin: minus the predicted log time to the "
                       "event, log months (higher = worse, a shorter predicted time)")


def survival_prediction_columns(horizons) -> list[str]:
    """The columns of ``haicpred.modeling.predict.predict`` for a survival model."""
    return ["sample_id", "risk", *[horizon_name(float(h)) for h in horizons], "risk_group",
            "top_contributors", "warnings"]


def survival_training_columns(horizons) -> list[str]:
    """The columns of a survival model's ``predictions.tsv`` (plus batch and labelled)."""
    columns = survival_prediction_columns(horizons)
    return [columns[0], "batch", "labelled", *columns[1:]]


def survival_objective(metadata: dict):
    """The booster objective of a survival model's metadata (``xgboost_params.objective``:
    ``survival:cox`` or ``survival:aft``); None when it is not there."""
    params = metadata.get("xgboost_params")
    return params.get("objective") if isinstance(params, dict) else None


def survival_shap(model, X: pd.DataFrame) -> tuple[pd.DataFrame, float]:
    """TreeSHAP of a survival booster on its risk scale, and the base value: the Cox booster's
    margin (log relative hazard); for the AFT booster minus its margin (minus the predicted log
    time), so that, for both, + raises the risk and values plus base value add up to the risk."""
    if isinstance(model, XGBoostAFT):
        values, base = shap_values(model.get_booster(), X)
        return -values, -base
    return shap_values(model.model_, X)


def frozen_survival_model(regressor, metadata: dict) -> XGBoostCox:
    """The frozen model of the metadata's objective (:func:`frozen_cox_model` or
    :func:`frozen_aft_model`)."""
    if survival_objective(metadata) == XGBoostAFT.objective:
        return frozen_aft_model(regressor, metadata)
    return frozen_cox_model(regressor, metadata)


def frozen_aft_model(regressor, metadata: dict) -> XGBoostAFT:
    """An :class:`XGBoostAFT` from its loaded booster (an ``xgboost.XGBRegressor``) and the
    metadata's horizons, distribution and scale: it predicts what the fitted one did, exactly."""
    model = XGBoostAFT(tuple(float(h) for h in metadata["horizons_months"]))
    model.booster_ = regressor.get_booster()
    model.distribution = str(metadata["aft"]["distribution"])
    model.scale = float(metadata["aft"]["scale"])
    return model


def frozen_cox_model(regressor, metadata: dict) -> XGBoostCox:
    """An :class:`XGBoostCox` from its loaded booster (an ``xgboost.XGBRegressor``) and the
    metadata's horizons and Breslow baseline: it predicts what the fitted one did, exactly."""
    model = XGBoostCox(tuple(float(h) for h in metadata["horizons_months"]))
    model.model_ = regressor
    hazard = metadata["baseline_hazard"]
    model.event_times_ = np.asarray(hazard["event_times"], dtype=float)
    model.cumulative_hazard_ = np.asarray(hazard["cumulative_hazard"], dtype=float)
    return model


def _prepared(training: TrainingInputs, ids: np.ndarray, y: np.ndarray) -> PreparedData:
    """The CV engine's view of the labelled patients, for the endpoint's model specs."""
    labelled = training.labelled
    X_all = training.X.assign(**{BATCH_COLUMN: training.batch})
    X_lab = X_all.loc[labelled].reset_index(drop=True)
    features = list(training.X.columns)
    radiomic = [f for f in features
                if str(training.modality.get(f, "")).strip().lower() == RADIOMICS_MODALITY]
    return PreparedData(outcome=training.endpoint, X=training.X, X_all=X_all, X_lab=X_lab, y=y,
                        ids=ids[labelled], batch_lab=X_lab[BATCH_COLUMN].to_numpy(dtype=object),
                        labelled=labelled, truth_p=None, features=features,
                        modality=training.modality, radiomic=radiomic)


def _hyperparameters(training: TrainingInputs, data: PreparedData, spec, booster: str,
                     criterion: str) -> tuple[dict | None, str, dict | None]:
    """The tuned parameters (None: the fixed ones), where they came from, the search record."""
    settings, tuning = training.settings, training.settings.tuning
    fixed = "fixed (model.xgboost over haicpred.modeling.settings defaults)"
    if not tuning.enabled:
        return None, fixed, None
    n_events = int(data.y["event"].sum())
    if n_events < tuning.inner_folds:
        return None, (f"{fixed}: {n_events} event(s), fewer than the {tuning.inner_folds} "
                      "inner folds of the search"), None
    tuned, trace = tune_cox_xgboost(data.X_lab[spec.fit_columns], data.y, tuning, settings.seed,
                                    lambda: fold_estimator(spec, None, None),
                                    threads=settings.threads)
    record = {"search": describe_search(tuning) + (
                  f"; for the {booster} booster: inner folds stratified on the event, "
                  f"criterion the mean inner {criterion} (haicpred.modeling.survival_tuning)"),
              "chosen": tuned,
              "trace": [{k: json_value(v) for k, v in row.items()}
                        for row in trace.to_dict("records")]}
    return (tuned, "tuned on all labelled patients "
            "(haicpred.modeling.survival_tuning.tune_cox_xgboost)", record)


def _oof_risks(cv_oof: pd.DataFrame | None, ids: list[str]) -> np.ndarray | None:
    """Mean out-of-fold xgboost risk over repeats of each labelled sample: the risks
    km_risk_groups.tsv is cut on (:func:`haicpred.modeling.survival_risk_groups.averaged_oof_risk`),
    so the frozen model's risk groups are the report's."""
    if cv_oof is None:
        return None
    mean = averaged_oof_risk(cv_oof).set_index("sample_id")["risk"]
    missing = sorted(set(ids) - set(mean.index))
    if missing:
        raise ValueError(f"oof_predictions.tsv has no xgboost risk for {len(missing)} "
                         f"labelled sample(s), e.g. {missing[0]}: it is from another run")
    return mean.loc[ids].to_numpy(dtype=float)


def _nomogram(training: TrainingInputs, data: PreparedData, horizons) -> tuple[dict, dict]:
    """The published-factor nomogram (or why there is none: the file is written either way)
    and its metadata entry."""
    settings = training.settings
    factors, left_out = factor_availability(list(settings.baseline_features), data.X_lab)
    entry = {"file": NOMOGRAM_FILE, "factors": factors, "factors_left_out": left_out}
    if not factors:
        reasons = ", ".join(f"{f} ({why})" for f, why in left_out.items())
        reason = f"none of the baseline_features carries information: {reasons}"
        return unavailable_nomogram(reason), {**entry, "available": False, "reason": reason}
    try:
        _, nomogram = fit_nomogram(
            data.X_lab, data.y, factors, horizons, BASELINE_ALPHA, left_out=left_out,
            units=training.unit,
            factors_source="setting baseline_features (default: the Liu 2023 HAIC factors)")
    except ValueError as error:
        return (unavailable_nomogram(str(error)),
                {**entry, "available": False, "reason": str(error)})
    return nomogram, {**entry, "available": True}


def _objective_entries(model: XGBoostCox) -> dict:
    """The metadata entries that depend on the booster's objective: the model, the risk's
    definition, what S(t) needs (the Breslow baseline or the AFT distribution), the booster's
    parameters and what its SHAP values are."""
    params = {**model.booster_params(), "objective": model.objective,
              "eval_metric": model.eval_metric, "tree_method": "hist"}
    if not isinstance(model, XGBoostAFT):
        return {
            "model": "haicpred.modeling.survival_estimators.XGBoostCox (xgboost survival:cox)",
            "risk": RISK_DEFINITION,
            "survival": {"baseline_hazard": {
                "method": ("Breslow estimate (tied events share one risk set) over the labelled "
                           "patients, under the final booster's risks "
                           "(haicpred.modeling.survival_estimators.breslow_cumulative_hazard)"),
                "survival": ("S(t | x) = exp(-H0(t) exp(risk(x))), H0 a step function: the "
                             "cumulative_hazard of the last event time <= t, 0 before the first"),
                "event_times": [float(t) for t in model.event_times_],
                "cumulative_hazard": [float(h) for h in model.cumulative_hazard_],
            }},
            "xgboost_params": params,
            "shap": ("shap.TreeExplainer (exact TreeSHAP) on the Cox booster, log relative "
                     "hazard scale"),
        }
    return {
        "model": "haicpred.modeling.survival_aft.XGBoostAFT (xgboost survival:aft)",
        "risk": AFT_RISK_DEFINITION,
        "survival": {"aft": {
            "objective": model.objective,
            "distribution": model.distribution,
            "scale": float(model.scale),
            "model": ("log T = mu(x) + scale * Z, Z standard normal; mu(x) the booster's margin "
                      "(output_margin), the predicted log time in log months"),
            "survival": ("S(t | x) = 1 - Phi((log t - mu(x)) / scale), Phi the standard normal "
                         "distribution function "
                         "(haicpred.modeling.survival_aft.aft_survival); risk(x) = -mu(x)"),
            "baseline_hazard": ("none: an AFT model's survival comes from its distribution, "
                                "not from a Breslow baseline hazard"),
        }},
        "xgboost_params": {**params, "aft_loss_distribution": model.distribution,
                           "aft_loss_distribution_scale": float(model.scale)},
        "shap": ("shap.TreeExplainer (exact TreeSHAP) on the AFT booster's margin (the "
                 "predicted log time, log months), sign flipped onto the risk scale (risk = "
                 "-margin): values plus base_value add up to the risk, + raises the risk (a "
                 "shorter predicted time)"),
    }


def fit_survival_final_model(training: TrainingInputs, matrix: pd.DataFrame,
                             cv_metrics: pd.DataFrame | None = None,
                             cv_oof: pd.DataFrame | None = None,
                             risk_groups="tertiles") -> FinalModel:
    """Fit the Cox (or AFT) booster (and its radiomics step) on every labelled patient; explain
    and score every sample of the matrix; fit the nomogram. ``cv_metrics``/``cv_oof``:
    ``metrics.tsv`` and ``oof_predictions.tsv`` of the survival cross-validation of the same data
    and settings."""
    settings, outcome = training.settings, training.endpoint
    X, labelled = training.X, training.labelled
    ids = matrix["sample_id"].astype(str).to_numpy()
    y = training.model_outcome.training_labels(training.y[labelled])
    n, n_events = len(y), int(y["event"].sum())
    event_column = settings.endpoint["event_column"]
    if n_events == 0:
        raise_if_any([Problem("labels.tsv", f"column {event_column}",
                              f"{n} patients with follow-up, none with the event: the Cox "
                              "model needs events", "check the endpoint's event column")])
    data = _prepared(training, ids, y)
    specs, _ = training.model_outcome.model_specs(data)
    spec = next(s for s in specs if s.name == "xgboost")
    booster = final_estimator(fold_estimator(spec, None, None))
    tuned, params_source, tuning_record = _hyperparameters(
        training, data, spec, "AFT" if isinstance(booster, XGBoostAFT) else "Cox",
        booster.eval_metric)
    estimator = fold_estimator(spec, None, tuned)
    estimator.fit(data.X_lab[spec.fit_columns], y)
    model = final_estimator(estimator)
    X_model, preprocessor = model_inputs(estimator, spec, data.X_all, X)
    model_features = list(X_model.columns)
    horizons = tuple(model.horizons)
    predicted = model.predict(X_model)
    risk = predicted[:, 0]

    values, base_value = survival_shap(model, X_model)
    importance = global_importance(values.loc[labelled], training.modality)
    top = top_contributors(values, N_TOP_CONTRIBUTORS, missing=X[model_features].isna())

    oof = _oof_risks(cv_oof, list(ids[labelled]))
    source = (("the cross-validated out-of-fold xgboost risks (mean over repeats) of the "
               f"{n} labelled patients") if oof is not None
              else f"the final model's risks on the {n} labelled patients")
    groups = risk_group_cutoffs(risk_groups, oof if oof is not None else risk[labelled], source,
                                scale="risk")
    entries = _objective_entries(model)
    groups["risk_of"] = f"{outcome.name}: {entries['risk']}"

    ranges, warnings, cohort_missing = scoring_checks(training, model_features, preprocessor)
    predictions = pd.DataFrame({"sample_id": ids, "batch": matrix[BATCH_COLUMN].to_numpy(),
                                "labelled": labelled.astype(int),
                                **prediction_columns(predicted, horizons)})
    predictions = predictions.assign(risk_group=assign_risk_groups(risk, groups),
                                     top_contributors=top, warnings=warnings)
    predictions = predictions.sort_values("sample_id", kind="mergesort").reset_index(drop=True)

    nomogram, nomogram_entry = _nomogram(training, data, horizons)
    summary = outcome.summary()
    metadata = {
        "format": FORMAT,
        "format_version": SURVIVAL_FORMAT_VERSION,
        "model_kind": SURVIVAL_MODEL_KIND,
        "model": entries["model"],
        **features_metadata(training, model_features, ranges, list(X.columns), data.radiomic,
                            preprocessor),
        "endpoint": {"kind": SURVIVAL_MODEL_KIND,
                     "time_column": settings.endpoint["time_column"],
                     "event_column": event_column, "column": outcome.name, **summary},
        "horizons_months": list(horizons),
        "risk": entries["risk"],
        **entries["survival"],  # baseline_hazard (Cox) or aft
        "n": n,
        "n_events": n_events,
        "n_censored": n - n_events,
        "n_unlabelled": int((~labelled).sum()),
        "modalities_missing_for_every_sample": cohort_missing,
        "training_data": {
            "sha256": training_checksum(training, ids),
            "definition": (
                "sha256 of the TSV of the labelled rows: sample_id, batch, the candidate "
                "features in matrix order, label (the time, negative when censored); rows by "
                "sample_id, floats %.17g, empty = missing, \\n line ends, UTF-8 "
                "(haicpred.modeling.final_model.training_data_sha256)"),
            "n_rows": n,
        },
        "xgboost_params": entries["xgboost_params"],
        "hyperparameters": params_source,
        "tuning": tuning_record,
        "settings": settings.as_dict(),
        "allow_post_treatment": settings.allow_post_treatment,
        "cv_metrics": cv_metrics_record(cv_metrics),
        "risk_groups": groups,
        "shap": shap_metadata(entries["shap"], base_value, n),
        "nomogram": nomogram_entry,
        "versions": package_versions(FINAL_MODEL_PACKAGES),
    }
    return FinalModel(model=model, preprocessor=preprocessor, metadata=metadata,
                      shap_importance=importance, predictions=predictions,
                      prediction_columns=survival_training_columns(horizons), nomogram=nomogram)
