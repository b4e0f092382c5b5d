"""The time-to-event endpoint of the cross-validation engine.

:class:`SurvivalEndpoint` is a :class:`haicpred.modeling.endpoint.ModelEndpoint`: the CV loop,
leave-one-batch-out and the permutation check run it unchanged. Labels are the follow-up time
and the event of the configured columns (e.g. ``os_months``, ``os_event``), carried through the
engine as one signed number per patient (the time, negative when censored: XGBoost's Cox label)
and trained on as a structured array (:func:`haicpred.modeling.survival_estimators.survival_array`).
Outer folds are stratified on the event. Every model predicts, per patient, the risk (log
relative hazard) and S(h) at each horizon from its training set's Breslow baseline hazard.

Models: ``xgboost`` (XGBoost with the Cox objective, or with ``survival_objective: aft`` the
AFT one of :mod:`haicpred.modeling.survival_aft`) and its per-modality ablations,
``cox_all_features`` (ridge-penalised Cox on every feature, the penalty by inner CV on Harrell's
C) and the Cox models refitted in each training fold on published nomograms' factors
(``cox_baseline``: Liu 2023, ``cox_mei2021``, ``cox_yao_haicn``;
:mod:`haicpred.modeling.survival_baselines`; the published point tables are not public).
Published scores (BCLC, ALBI grade, ...) are judged on their own values as single-covariate Cox
models (:mod:`haicpred.modeling.survival_score_baselines`). With the simulation's truth, the
``oracle`` row is the true pre-treatment log hazard of the time column's outcome
(``truth.tsv`` ``os_baseline_log_hazard`` for ``os_months``, ``pfs_baseline_log_hazard`` for
``pfs_months``): its C-index and AUCs on the same patients, no S(h).

The Cox boosters are tuned inside every training set
(:mod:`haicpred.modeling.survival_tuning`).

Downstream of the out-of-fold predictions: risk groups with Kaplan-Meier curves
(:mod:`haicpred.modeling.survival_risk_groups`), the frozen model and its nomogram
(:mod:`haicpred.modeling.survival_final`, :mod:`haicpred.modeling.nomogram`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from haicpred.io.errors import Problem, raise_if_any
from haicpred.modeling.endpoint import EndpointEvaluation, ModelEndpoint
from haicpred.modeling.estimators import ModelSpec, ablation_specs, modality_usability, model_spec
from haicpred.modeling.inputs import PreparedData, to_float
from haicpred.modeling.settings import ModelSettings
from haicpred.modeling.survival_aft import AFT_DISTRIBUTION, AFT_SCALE, XGBoostAFT
from haicpred.modeling.survival_baselines import (COX_BASELINE_MODEL, REFITTED_NOTE,
                                                  factor_cox_specs)
from haicpred.modeling.survival_estimators import (PenalisedCox, XGBoostCox, cox_booster_params,
                                                   signed_time, survival_array)
from haicpred.modeling.survival_metrics import SURVIVAL_CI_METHOD, harrell_c, survival_metric_tables
from haicpred.modeling.survival_score_baselines import (OOF_KEY_COLUMNS, SURVIVAL_SCORE_RULE,
                                                        evaluate_survival_scores)
from haicpred.modeling.survival_tuning import survival_tuning_table, tune_cox_model

__all__ = ["ORACLE_COLUMNS", "SURVIVAL_LABEL_COLUMN", "SurvivalEndpoint",
           "horizon_name", "prediction_columns", "survival_oof_columns"]

# the engine's one label column: the time, negative when censored, empty when unlabelled
SURVIVAL_LABEL_COLUMN = "survival_label"
COX_ALL_MODEL = "cox_all_features"
# truth.tsv's pre-treatment oracle of each time column (a pre-treatment model cannot know the
# realised response, so the oracle is the log hazard before treatment); other columns: none
ORACLE_COLUMNS = {"os_months": "os_baseline_log_hazard", "pfs_months": "pfs_baseline_log_hazard"}


def horizon_name(horizon: float) -> str:
    return f"surv_{horizon:g}m"


def prediction_columns(predicted: np.ndarray, horizons) -> dict[str, np.ndarray]:
    """A survival model's prediction rows (the risk, then S(h) per horizon) as named columns:
    ``risk`` and ``surv_<h>m``."""
    return {"risk": predicted[:, 0],
            **{horizon_name(float(h)): predicted[:, j] for j, h in enumerate(horizons, start=1)}}


def survival_oof_columns(horizons) -> list[str]:
    return [*OOF_KEY_COLUMNS, *[horizon_name(h) for h in horizons]]


class SurvivalEndpoint(ModelEndpoint):
    """Time to an event with censoring, predicted as a risk and S(t) at the horizons."""

    label_column = SURVIVAL_LABEL_COLUMN
    held_out_models = ("xgboost", COX_BASELINE_MODEL)
    held_out_columns = ["held_out_batch", "model", "n", "n_events", "c_index", "c_index_low",
                        "c_index_high", "note"]
    count_columns = ("n", "n_events")
    permutation_statistic_name = "c_index"

    def __init__(self, settings: ModelSettings, outcome_builder):
        """``outcome_builder(labels, endpoint_settings)``: the outcome record of labels.tsv
        (``time``, ``event`` Series, NaN = no follow-up; ``name``; ``summary()``)."""
        self.settings = settings
        self.horizons = tuple(float(h) for h in settings.endpoint["horizons_months"])
        self.outcome_builder = outcome_builder
        self._booster_params = cox_booster_params(settings.xgboost)
        # XGBoost's objective (setting survival_objective); the baselines are Cox models
        self._booster_class = XGBoostAFT if settings.survival_objective == "aft" else XGBoostCox

    @property
    def truth_column(self) -> str | None:
        return ORACLE_COLUMNS.get(self.settings.endpoint.get("time_column"))

    # -- labels

    def labels(self, labels: pd.DataFrame):
        outcome = self.outcome_builder(labels, dict(self.settings.endpoint))
        y = survival_array(outcome.time.to_numpy(), outcome.event.to_numpy() == 1)
        # no follow-up: NaN time stays NaN (unlabelled)
        return outcome, labels.assign(**{SURVIVAL_LABEL_COLUMN: signed_time(y)})

    def label_values(self, raw: pd.Series) -> tuple[pd.Series, list[Problem]]:
        values = to_float(raw)
        bad = (values.isna() & raw.notna()) | (values == 0)
        problems = [Problem("labels.tsv", f"row {row + 1}",
                            f"{SURVIVAL_LABEL_COLUMN} must be a non-zero time (negative = "
                            f"censored) or empty, got {raw.iloc[row]!r}")
                    for row in np.flatnonzero(bad.to_numpy())]
        return values, problems

    def training_labels(self, values: pd.Series) -> np.ndarray:
        signed = values.to_numpy(dtype=float)
        return survival_array(np.abs(signed), signed > 0)

    def check_class_sizes(self, outcome, y: np.ndarray, folds: int) -> None:
        n, n_events = len(y), int(y["event"].sum())
        censored = n - n_events
        if n_events < folds or 0 < censored < folds:
            raise_if_any([Problem(
                "labels.tsv", f"endpoint {outcome.name}",
                f"{n} patients with follow-up, {n_events} with the event and {censored} "
                f"censored: {folds}-fold CV stratified on the event needs at least {folds} "
                "events (and, when any patient is censored, at least as many censored)",
                "add patients with follow-up or lower model.cv_folds (minimum 2)")])

    def stratify(self, y: np.ndarray) -> np.ndarray:
        return y["event"].astype(int)

    def counts(self, y: np.ndarray) -> dict:
        return {"n": len(y), "n_events": int(y["event"].sum())}

    def label_metadata(self, outcome) -> dict:
        return {"column": outcome.name, **outcome.summary()}

    # -- models

    def _cox_booster(self):
        params = self._booster_params
        horizons, seed, threads = self.horizons, self.settings.seed, self.settings.threads
        booster = self._booster_class

        def make():
            return booster(horizons, random_state=seed, n_jobs=threads, **params)

        return make

    def model_specs(self, data: PreparedData) -> tuple[list[ModelSpec], list[str]]:
        settings, radiomic_all = self.settings, set(data.radiomic)
        modality, unusable, empty = modality_usability(
            data.features, data.modality, data.X_lab, settings.radiomics.near_constant_fraction)
        make_cox_booster = self._cox_booster()
        specs = [model_spec("xgboost", data.features, make_cox_booster, radiomic_all,
                            settings.radiomics, kind="xgboost", gain_importance=True)]
        ablations, skipped = ablation_specs(data.features, settings, modality, radiomic_all,
                                            unusable, empty, make_xgboost=make_cox_booster)
        specs += ablations
        horizons, seed = self.horizons, settings.seed
        specs.append(model_spec(COX_ALL_MODEL, data.features,
                                lambda: PenalisedCox(horizons, random_state=seed),
                                radiomic_all, settings.radiomics))
        factor_specs, factor_skipped, _ = factor_cox_specs(data, settings, horizons)
        return specs + factor_specs, skipped + factor_skipped

    def tune(self, spec: ModelSpec, X_train: pd.DataFrame, y_train: np.ndarray,
             skip_reason: str | None) -> tuple[dict | None, dict]:
        return tune_cox_model(spec, X_train, y_train, self.settings.tuning,
                              self.settings.xgboost, self.settings.seed, skip_reason,
                              self._booster_class.loss_column)

    def tuning_table(self, rows: list[dict]) -> pd.DataFrame:
        return survival_tuning_table(rows, self._booster_class.loss_column)

    def predict(self, estimator, X: pd.DataFrame) -> np.ndarray:
        """Per patient: the risk, then S(h) at each horizon."""
        return np.asarray(estimator.predict(X), dtype=float)

    # -- evaluation

    def oof_table(self, ids: np.ndarray, y: np.ndarray, predictions: dict,
                  fold_of: np.ndarray) -> pd.DataFrame:
        rows = []
        for name, values in predictions.items():
            for repeat in range(fold_of.shape[0]):
                rows.append(pd.DataFrame({
                    "sample_id": ids, "model": name, "repeat": repeat + 1,
                    "fold": fold_of[repeat], "time": y["time"], "event": y["event"].astype(int),
                    **prediction_columns(values[repeat], self.horizons)}))
        oof = pd.concat(rows, ignore_index=True)
        oof = oof.sort_values(["model", "repeat", "sample_id"], kind="mergesort")
        return oof.reset_index(drop=True)[survival_oof_columns(self.horizons)]

    def evaluate(self, data: PreparedData, predictions: dict, fold_of: np.ndarray,
                 n_features: dict, n_unlabelled: int, oof: pd.DataFrame
                 ) -> EndpointEvaluation:
        """Harrell's and Uno's C, time-dependent AUC per horizon, IBS and calibration at the
        horizons of the repeat-averaged out-of-fold risk and S(t), with paired stratified
        bootstrap CIs (:func:`haicpred.modeling.survival_metrics.survival_metric_tables`); the
        published scores on their own values
        (:func:`haicpred.modeling.survival_score_baselines.evaluate_survival_scores`); the
        oracle row last when the simulation's truth is given."""
        evaluation, settings = self.settings.evaluation, self.settings
        y, time, event = data.y, data.y["time"], data.y["event"].astype(int)
        averaged = {name: values.mean(axis=0) for name, values in predictions.items()}
        risks = {name: values[:, 0] for name, values in averaged.items()}
        if data.truth_p is not None:
            risks["oracle"] = data.truth_p[data.labelled].to_numpy(dtype=float)
        metrics, calibration = survival_metric_tables(
            time, event, risks, {name: values[:, 1:] for name, values in averaged.items()},
            self.horizons, evaluation.n_bootstrap, evaluation.seed, ids=data.ids)
        metrics.insert(2, "coverage", 1.0)  # every labelled patient (scores: fewer)
        metrics.insert(4, "n_unlabelled", n_unlabelled)
        metrics.insert(5, "n_features", [n_features.get(name, pd.NA)
                                         for name in metrics["model"]])
        scores = evaluate_survival_scores(
            settings.score_baselines, data.X_lab, y, data.ids, fold_of,
            risks["xgboost"], averaged["xgboost"][:, 1:], self.horizons, evaluation,
            [horizon_name(h) for h in self.horizons])
        oracle = metrics["model"] == "oracle"
        if len(scores.metrics):
            scores.metrics["n_unlabelled"] = n_unlabelled
            metrics = pd.concat([metrics[~oracle], scores.metrics[metrics.columns],
                                 metrics[oracle]], ignore_index=True)
            calibration = pd.concat([calibration, scores.calibration], ignore_index=True)
            oof = pd.concat([oof, scores.oof], ignore_index=True).sort_values(
                ["model", "repeat", "sample_id"], kind="mergesort").reset_index(drop=True)
        for column in ("n", "n_events", "n_unlabelled", "n_features"):
            metrics[column] = metrics[column].astype("Int64")
        _, _, factors = factor_cox_specs(data, settings, self.horizons)
        # what a row is, first in its note: the oracle, a model refitted on published factors
        described = {name: entry["description"] for name, entry in factors.items()}
        described["oracle"] = self._oracle_description()
        metrics["note"] = [("; ".join(filter(None, [described[name], note]))
                            if name in described else note)
                           for name, note in zip(metrics["model"], metrics["note"])]
        metadata = {
            "c_index_ci_method": SURVIVAL_CI_METHOD.format(B=evaluation.n_bootstrap,
                                                           reference="xgboost"),
            "baseline_factors": {"rule": SURVIVAL_SCORE_RULE, "refitted": REFITTED_NOTE,
                                 "factor_models": factors, "scores": scores.availability}}
        if data.truth_p is not None:
            metadata["oracle"] = {"column": self.truth_column,
                                  "description": self._oracle_description()}
        return EndpointEvaluation(
            metrics=metrics, calibration=calibration,
            decision_curve=pd.DataFrame(columns=["model", "threshold", "net_benefit"]),
            oof=oof, skipped=list(scores.skipped), models=list(scores.metrics.get("model", [])),
            metadata=metadata)

    def _oracle_description(self) -> str:
        return (f"oracle: the simulation's true pre-treatment log hazard (truth.tsv "
                f"{self.truth_column}) on the same patients; no survival probabilities")

    def metadata(self) -> dict:
        objective = self._booster_class.objective
        return {"horizons_months": list(self.horizons),
                "survival_objective": self.settings.survival_objective,
                "xgboost_objective": (
                    f"{objective}: " + ("risk = minus the predicted log time, S(h) from the "
                                        f"{AFT_DISTRIBUTION} AFT distribution (scale "
                                        f"{AFT_SCALE:g})" if objective == "survival:aft" else
                                        "risk = the log relative hazard, S(h) from each "
                                        "training set's Breslow baseline hazard"))}

    def held_out_note(self, y_test: np.ndarray, y_train: np.ndarray) -> str:
        if not y_test["event"].any():
            return "skipped: no event in the held-out batch, so the C-index is undefined"
        if int(y_train["event"].sum()) < 2:
            return "skipped: fewer than 2 events in the other batches"
        return ""

    def held_out_metrics(self, y: np.ndarray, prediction: np.ndarray, rng) -> dict:
        """Harrell's C with its stratified-bootstrap CI on one held-out batch."""
        metrics, _ = survival_metric_tables(
            y["time"], y["event"].astype(int), {"model": prediction[:, 0]}, {}, self.horizons,
            self.settings.evaluation.n_bootstrap, int(rng.integers(2**31 - 1)))
        row = metrics.iloc[0]
        return {"c_index": float(row["c_index"]), "c_index_low": float(row["c_index_low"]),
                "c_index_high": float(row["c_index_high"])}

    def permutation_statistic(self, y: np.ndarray, prediction: np.ndarray) -> float:
        return harrell_c(y["time"], y["event"].astype(int), prediction[:, 0])
