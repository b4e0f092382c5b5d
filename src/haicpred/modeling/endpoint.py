"""The cross-validation engine's view of an outcome: :class:`ModelEndpoint`.

The engine (:mod:`haicpred.modeling.cross_validation`, :mod:`haicpred.modeling.lobo`,
:mod:`haicpred.modeling.permutation`) knows nothing about the kind of outcome. It asks the
endpoint how labels are built from ``labels.tsv`` and checked, how the outer folds are
stratified, which models (estimators and baselines) are compared, how a fitted model's held-out
prediction is taken, how a model is tuned inside a training set, and which tables (metrics,
calibration, decision curve, published scores, out-of-fold predictions) are computed from the
out-of-fold predictions. A new kind of outcome (e.g. time to event) is a new subclass; the loop
is not edited.

:class:`BinaryEndpoint` implements the three binary kinds of :mod:`haicpred.features.endpoints`
(``objective_response``, ``survival_horizon``, ``binary_column``): labels 1/0, folds stratified
by the label, predictions = the probability of label 1, tables of
:mod:`haicpred.modeling.evaluation` and :mod:`haicpred.modeling.score_baselines`.
:func:`haicpred.modeling.outcomes.model_endpoint` gives the endpoint of the resolved
settings.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from haicpred.features.endpoints import Endpoint, endpoint_labels
from haicpred.io.errors import Problem, raise_if_any
from haicpred.modeling.estimators import ModelSpec, modality_usability, model_specs
from haicpred.modeling.evaluation import (AUC_CI_METHOD, LOBO_COLUMNS, decision_curve,
                                          held_out_metrics, metric_tables)
from haicpred.modeling.inputs import LABEL_COLUMN, PreparedData, to_float
from haicpred.modeling.metrics import auc_score
from haicpred.modeling.score_baselines import (baseline_factors, directed_scores,
                                               evaluate_score_baselines, factor_availability,
                                               with_score_rows)
from haicpred.modeling.settings import ModelSettings
from haicpred.modeling.tuning import tune_model, tuning_table

__all__ = [
    "LABEL_DEFINITION",
    "OOF_COLUMNS",
    "TUNING_SPLIT_COLUMNS",
    "BinaryEndpoint",
    "EndpointEvaluation",
    "ModelEndpoint",
    "binary_label_values",
]

LABEL_DEFINITION = (
    "objective_response = 1 when the mRECIST best response is CR or PR, 0 when SD or PD; "
    "samples with a missing best response are unlabelled (scored, never trained on)"
)
OOF_COLUMNS = ["sample_id", "model", "repeat", "fold", "y_true", "y_prob"]
# what the engine records about every search (tuning.tsv), before the endpoint's own fields
TUNING_SPLIT_COLUMNS = ("scheme", "model", "repeat", "fold", "held_out_batch")


@dataclass
class EndpointEvaluation:
    """What an endpoint computes from the out-of-fold predictions: ``metrics.tsv``,
    ``calibration.tsv``, ``decision_curve.tsv`` and ``oof_predictions.tsv`` frames (the latter
    with the rows of models evaluated here, e.g. published scores), models skipped here (with
    the reason), the names of the models evaluated here, and ``cv_metadata.json`` entries."""

    metrics: pd.DataFrame
    calibration: pd.DataFrame
    decision_curve: pd.DataFrame
    oof: pd.DataFrame
    skipped: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    metadata: dict = field(default_factory=dict)


class ModelEndpoint(ABC):
    """An outcome as the cross-validation engine sees it (see the module docstring)."""

    #: the column of the labels table the endpoint's labels are in after :meth:`labels`
    label_column: str = LABEL_COLUMN
    #: the models of the leave-one-batch-out validation
    held_out_models: tuple[str, ...] = ()
    #: lobo_metrics.tsv columns, and those of them that are counts
    held_out_columns: list[str] = ["held_out_batch", "model", "n", "note"]
    count_columns: tuple[str, ...] = ("n",)
    #: the column of permutation.tsv the permutation check's statistic is in
    permutation_statistic_name: str = "statistic"

    @property
    def uses_truth(self) -> bool:
        """Does the simulation's truth (a response probability) apply to this endpoint?"""
        return False

    @property
    def truth_column(self) -> str | None:
        """The column of the simulation's ``truth.tsv`` that is this endpoint's oracle (None:
        the truth does not apply)."""
        return "response_probability" if self.uses_truth else None

    # -- labels

    @abstractmethod
    def labels(self, labels: pd.DataFrame) -> tuple[object, pd.DataFrame]:
        """(The labels record, with ``name`` and ``summary()``; ``labels`` with the endpoint's
        labels in :attr:`label_column`)."""

    @abstractmethod
    def label_values(self, raw: pd.Series) -> tuple[pd.Series, list[Problem]]:
        """The raw label column as numbers (NaN = unlabelled) and the problems of bad values."""

    @abstractmethod
    def training_labels(self, values: pd.Series) -> np.ndarray:
        """The labelled patients' labels as the models are fitted on them."""

    @abstractmethod
    def check_class_sizes(self, outcome, y: np.ndarray, folds: int) -> None:
        """Raise (InputError) when ``folds`` stratified folds of ``y`` are not possible."""

    def stratify(self, y: np.ndarray) -> np.ndarray:
        """What the outer folds are stratified by."""
        return y

    @abstractmethod
    def counts(self, y: np.ndarray) -> dict:
        """The counts of a set of patients (``n`` and what else the tables report)."""

    @abstractmethod
    def label_metadata(self, outcome) -> dict:
        """``cv_metadata.json``'s ``label``."""

    # -- models

    @abstractmethod
    def model_specs(self, data: PreparedData) -> tuple[list[ModelSpec], list[str]]:
        """The models compared (the headline model first), and the skipped ones with why."""

    def tune(self, spec: ModelSpec, X_train: pd.DataFrame, y_train: np.ndarray,
             skip_reason: str | None) -> tuple[dict | None, dict]:
        """Nested tuning of a tunable ``spec`` on one training set: (parameters or None,
        tuning.tsv fields)."""
        raise NotImplementedError(f"{type(self).__name__} tunes no model ({spec.name})")

    def tuning_table(self, rows: list[dict]) -> pd.DataFrame:
        """``tuning.tsv`` from the rows of every search: the split's fields
        (:data:`TUNING_SPLIT_COLUMNS`) and those of :meth:`tune`."""
        return pd.DataFrame(rows) if rows else pd.DataFrame(columns=list(TUNING_SPLIT_COLUMNS))

    @abstractmethod
    def predict(self, estimator, X: pd.DataFrame) -> np.ndarray:
        """A fitted estimator's prediction for the rows of ``X`` (float): one number per row,
        or a row of numbers per row (e.g. a risk and the survival at each horizon)."""

    # -- evaluation

    @abstractmethod
    def oof_table(self, ids: np.ndarray, y: np.ndarray, predictions: dict,
                  fold_of: np.ndarray) -> pd.DataFrame:
        """``oof_predictions.tsv``: ``predictions`` maps a model to repeats x patients."""

    @abstractmethod
    def evaluate(self, data: PreparedData, predictions: dict, fold_of: np.ndarray,
                 n_features: dict, n_unlabelled: int, oof: pd.DataFrame
                 ) -> EndpointEvaluation:
        """The tables computed from the out-of-fold ``predictions`` (model -> repeats x
        patients; ``fold_of``: repeats x patients, 1-based)."""

    def metadata(self) -> dict:
        """``cv_metadata.json`` entries that describe the evaluation."""
        return {}

    def held_out_note(self, y_test: np.ndarray, y_train: np.ndarray) -> str:
        """Why a held-out batch cannot be evaluated ("" when it can)."""
        return ""

    @abstractmethod
    def held_out_metrics(self, y: np.ndarray, prediction: np.ndarray, rng) -> dict:
        """lobo_metrics.tsv's statistics of one model on one held-out batch."""

    @abstractmethod
    def permutation_statistic(self, y: np.ndarray, prediction: np.ndarray) -> float:
        """The permutation check's statistic of the repeat-averaged headline prediction."""


# --------------------------------------------------------------------------------------------
# the binary endpoints


def binary_label_values(raw_label: pd.Series, label_column: str = LABEL_COLUMN
                        ) -> tuple[pd.Series, list[Problem]]:
    """1, 0 or empty: the numbers, and a problem per row with anything else."""
    problems = []
    label = to_float(raw_label)
    bad = (label.isna() & raw_label.notna()) | ~(label.isna() | label.isin([0, 1]))
    for row in np.flatnonzero(bad.to_numpy()):
        problems.append(
            Problem(
                "labels.tsv",
                f"row {row + 1}",
                f"{label_column} must be 1, 0 or empty, got {raw_label.iloc[row]!r}",
            )
        )
    return label, problems


class BinaryEndpoint(ModelEndpoint):
    """A 1/0 outcome (:mod:`haicpred.features.endpoints`), predicted as the probability of 1."""

    held_out_models = ("xgboost", "logistic_baseline")
    held_out_columns = LOBO_COLUMNS
    count_columns = ("n", "n_events")
    permutation_statistic_name = "auc"

    def __init__(self, settings: ModelSettings):
        self.settings = settings
        self.kind = settings.endpoint["kind"]

    @property
    def uses_truth(self) -> bool:
        return self.kind == "objective_response"

    def labels(self, labels: pd.DataFrame) -> tuple[Endpoint, pd.DataFrame]:
        """The configured endpoint, and labels whose `objective_response` column holds it.

        For the default endpoint a labels.tsv that already has `objective_response` is taken as
        it is (its values are checked later, with every other input)."""
        settings = self.settings.endpoint
        if settings["kind"] == "objective_response" and LABEL_COLUMN in labels.columns:
            given = to_float(labels[LABEL_COLUMN])
            return Endpoint(LABEL_COLUMN, LABEL_DEFINITION, True, given, 0,
                            int(labels[LABEL_COLUMN].isna().sum())), labels
        try:
            endpoint = endpoint_labels(labels, dict(settings))
        except ValueError as error:
            raise_if_any([Problem("labels.tsv", f"endpoint {settings['kind']}", str(error),
                                  "fix the clinical table's outcome column")])
            raise
        return endpoint, labels.assign(**{LABEL_COLUMN: endpoint.label.map(
            lambda v: v if pd.isna(v) else str(int(v)))})

    def label_values(self, raw: pd.Series) -> tuple[pd.Series, list[Problem]]:
        return binary_label_values(raw, self.label_column)

    def training_labels(self, values: pd.Series) -> np.ndarray:
        return values.astype(int).to_numpy()

    def check_class_sizes(self, outcome, y: np.ndarray, folds: int) -> None:
        n, n_events = len(y), int(y.sum())
        if min(n_events, n - n_events) < folds:
            raise_if_any(
                [
                    Problem(
                        "labels.tsv",
                        f"column {LABEL_COLUMN}",
                        f"{n} labelled samples with {n_events} positive ({outcome.name} = 1) "
                        f"and {n - n_events} negative: {folds}-fold stratified CV needs "
                        f"at least {folds} of each class",
                        "label more samples or lower model.cv_folds (minimum 2)",
                    )
                ]
            )

    def counts(self, y: np.ndarray) -> dict:
        return {"n": len(y), "n_events": int(y.sum())}

    def label_metadata(self, outcome) -> dict:
        return {"column": outcome.name, "positive_class": 1, **outcome.summary()}

    def model_specs(self, data: PreparedData) -> tuple[list[ModelSpec], list[str]]:
        """The models of the comparison for these inputs (ablations skip unusable modalities)."""
        settings = self.settings
        modality, unusable, empty = modality_usability(
            data.features, data.modality, data.X_lab, settings.radiomics.near_constant_fraction)
        return model_specs(data.features, settings, data.radiomic, True, modality=modality,
                           unusable=unusable, empty=empty,
                           baseline_factors=factor_availability(
                               list(settings.baseline_features), data.X_lab))

    def tune(self, spec: ModelSpec, X_train: pd.DataFrame, y_train: np.ndarray,
             skip_reason: str | None) -> tuple[dict | None, dict]:
        return tune_model(spec, X_train, y_train, self.settings.tuning, self.settings.xgboost,
                          self.settings.seed, skip_reason)

    def tuning_table(self, rows: list[dict]) -> pd.DataFrame:
        return tuning_table(rows)

    def predict(self, estimator, X: pd.DataFrame) -> np.ndarray:
        """The probability of label 1."""
        return estimator.predict_proba(X)[:, 1].astype(float)

    def oof_table(self, ids: np.ndarray, y: np.ndarray, predictions: dict,
                  fold_of: np.ndarray) -> pd.DataFrame:
        rows = []
        for name, prob in predictions.items():
            for repeat in range(fold_of.shape[0]):
                rows.append(pd.DataFrame({"sample_id": ids, "model": name,
                                          "repeat": repeat + 1, "fold": fold_of[repeat],
                                          "y_true": y, "y_prob": prob[repeat].astype(float)}))
        oof = pd.concat(rows, ignore_index=True)
        oof = oof.sort_values(["model", "repeat", "sample_id"], kind="mergesort")
        return oof.reset_index(drop=True)[OOF_COLUMNS]

    def evaluate(self, data: PreparedData, predictions: dict, fold_of: np.ndarray,
                 n_features: dict, n_unlabelled: int, oof: pd.DataFrame
                 ) -> EndpointEvaluation:
        """Metrics on the repeat-averaged OOF probability (paired stratified bootstrap), the
        oracle row when the simulation's truth is given, the published scores and the decision
        curve."""
        settings = self.settings
        y = data.y
        averaged = {name: prob.mean(axis=0) for name, prob in predictions.items()}
        if data.truth_p is not None:
            averaged["oracle"] = data.truth_p[data.labelled].to_numpy(dtype=float)
        metrics, calibration = metric_tables(
            y, data.ids, averaged, predictions, n_features,
            {**self.counts(y), "n_unlabelled": n_unlabelled}, settings.evaluation)
        scores = evaluate_score_baselines(
            directed_scores(settings.score_baselines, data.outcome.favourable), data.X_lab, y,
            data.ids, fold_of, averaged["xgboost"], n_unlabelled, settings.evaluation)
        metrics, calibration, oof = with_score_rows(metrics, calibration, oof, scores)
        return EndpointEvaluation(
            metrics=metrics, calibration=calibration, decision_curve=decision_curve(y, averaged),
            oof=oof, skipped=list(scores.skipped), models=list(scores.metrics["model"]),
            metadata={"baseline_factors": baseline_factors(list(settings.baseline_features),
                                                           data.X_lab, scores)})

    def metadata(self) -> dict:
        return {"auc_ci_method": AUC_CI_METHOD.format(B=self.settings.evaluation.n_bootstrap),
                "threshold": self.settings.evaluation.threshold}

    def held_out_note(self, y_test: np.ndarray, y_train: np.ndarray) -> str:
        n, events = len(y_test), int(y_test.sum())
        if events in (0, n):
            return (f"skipped: the held-out batch has one class only ({events} of {n} "
                    f"positive), so AUC and calibration are undefined")
        if min(y_train.sum(), len(y_train) - y_train.sum()) < 2:
            return "skipped: fewer than 2 patients of a class in the other batches"
        return ""

    def held_out_metrics(self, y: np.ndarray, prediction: np.ndarray, rng) -> dict:
        return held_out_metrics(y, prediction, self.settings.evaluation.n_bootstrap, rng)

    def permutation_statistic(self, y: np.ndarray, prediction: np.ndarray) -> float:
        return auc_score(y, prediction)
