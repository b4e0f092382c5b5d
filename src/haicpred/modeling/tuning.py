"""XGBoost hyper-parameter search inside a training set (the inner loop of nested CV).

:func:`tune_xgboost` is given one training set (an outer training fold of the cross-validation,
or every labelled patient for the final model) and never anything else: the outer held-out
patients cannot influence the parameters chosen for them.

Search (random search, ``tuning.n_candidates`` candidates, default 20, or one per 20 training
patients when that is fewer, at least 5 (:func:`candidate_budget`); a per-modality ablation
model searches its own feature set with the first ``tuning.ablation_candidates``, default 1: the
fixed defaults, ``n_estimators`` by early stopping on its own inner folds; settings
:class:`haicpred.modeling.settings.TuningSettings`):

==================== ============================================= ==========================
parameter            distribution                                   why
==================== ============================================= ==========================
``max_depth``        uniform on {1, 2, 3, 4}                        1 = additive, 2-4 = up to
                                                                    4-way interactions
``learning_rate``    log-uniform on [0.02, 0.3]
``n_estimators``     early stopping, up to ``max_estimators`` (500) see below
``subsample``        uniform on [0.5, 1.0]                          row subsampling
``colsample_bytree`` uniform on [0.3, 1.0]                          column subsampling
``min_child_weight`` log-uniform on [1, 20]                         hessian per leaf (~4-80
                                                                    patients)
``reg_lambda``       log-uniform on [0.1, 20]                       L2 on leaf weights
``reg_alpha``        0 with probability 1/2, else log-uniform on    L1 on leaf weights
                     [0.001, 5]
``scale_pos_weight`` 1 or n_negative / n_positive of the training  class weighting
                     set, probability 1/2 each
==================== ============================================= ==========================

Candidate 0 is always the fixed default parameters of the estimator (``model.xgboost``), so the
search can only pick something else when it does better in the inner folds. The other
candidates are drawn with ``numpy.random.default_rng(seed)``; the same seed gives the same
candidates.

Evaluation: ``tuning.inner_folds`` (default 3) stratified folds of the training set
(``StratifiedKFold(shuffle=True, random_state=seed)``). Every preprocessing step before the
XGBoost step of the estimator (the radiomics filters and ComBat,
:mod:`haicpred.radiomics.preprocessing`) is refitted on each inner training part and applied to
its inner validation part (a model boosted from a linear start, :mod:`haicpred.modeling.linear_start`:
the label-free radiomics step fitted once on the training set, the start's own CV folds and
cross-fitted starts as the inner folds, and no trees at all a candidate round count). Per
candidate, the inner folds' boosters are grown one round at a time in lock-step, and the mean
inner-validation log loss (XGBoost's own metric) is tracked after every round, as
``xgboost.cv`` does: the candidate's ``n_estimators`` is the
round count with the lowest mean log loss, found by early stopping (stop after
``tuning.early_stopping_rounds``, default 20, rounds without improvement, at most
``tuning.max_estimators``). The candidate with the lowest mean inner log loss wins (ties: the
lower candidate number); its mean inner AUC at that round (computed once, from the boosters'
predictions) is reported next to it. Log loss, not
AUC, is the criterion because it rewards calibration as well as ranking: selecting on AUC picked
candidates of 3 slow trees whose probabilities hardly leave the base rate (calibration slopes
far above 1) on the test cohorts. The early-stopped inner scores are slightly optimistic for
every candidate alike; they only rank candidates and are never reported as performance.

Determinism: inner folds, candidates and XGBoost seeds come from ``seed``; boosters are trained
single-threaded and candidates are spread over ``threads`` worker threads (XGBoost releases the
GIL), results gathered in candidate order, so the choice does not depend on the thread count.
"""

from __future__ import annotations

from collections.abc import Mapping
from copy import deepcopy
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline

from haicpred.modeling.estimators import ModelSpec, fold_estimator, xgboost_classifier
from haicpred.modeling.linear_start import START_COLUMNS, margin_log_loss, start_record
from haicpred.modeling.parallel import map_in_order
from haicpred.modeling.settings import DEFAULT_XGBOOST_PARAMS, TuningSettings

__all__ = [
    "SEARCH_SPACE",
    "TUNED_PARAMETERS",
    "TRACE_COLUMNS",
    "TUNING_COLUMNS",
    "describe_search",
    "early_stopped_cv",
    "fixed_params",
    "InnerFold",
    "PREFIT_START",
    "candidate_budget",
    "inner_fold_data",
    "linear_start_folds",
    "sample_candidates",
    "split_estimator",
    "tune_model",
    "tune_xgboost",
    "tuning_table",
    "unseen_batch_reason",
]

# (kind, low, high) or (kind, choices); documented in the module docstring and docs/evaluation.md.
SEARCH_SPACE: dict = {
    "max_depth": ("choice", [1, 2, 3, 4]),
    "learning_rate": ("log_uniform", 0.02, 0.3),
    "subsample": ("uniform", 0.5, 1.0),
    "colsample_bytree": ("uniform", 0.3, 1.0),
    "min_child_weight": ("log_uniform", 1.0, 20.0),
    "reg_lambda": ("log_uniform", 0.1, 20.0),
    "reg_alpha": ("zero_or_log_uniform", 0.001, 5.0),
    "scale_pos_weight": ("choice", ["none", "balanced"]),
}
# What a tuned parameter set holds (n_estimators from early stopping).
TUNED_PARAMETERS = ["max_depth", "learning_rate", "n_estimators", "subsample",
                    "colsample_bytree", "min_child_weight", "reg_lambda", "reg_alpha",
                    "scale_pos_weight"]
TRACE_COLUMNS = ["candidate", *TUNED_PARAMETERS, "inner_logloss", "inner_auc", "inner_auc_sd",
                 "chosen"]
# tuning.tsv: per XGBoost model and outer training fold (scheme cv) or held-out batch (scheme
# lobo), the tuned parameters (:func:`tune_model`'s fields after the split's)
TUNING_COLUMNS = ["scheme", "model", "repeat", "fold", "held_out_batch", *TUNED_PARAMETERS,
                  "inner_logloss", "inner_auc", "inner_auc_sd", "n_candidates", *START_COLUMNS,
                  "note"]

# the key of tune_xgboost's params holding the fitted linear start (not a tuned parameter:
# handed to the final fit on the same rows, which reuses it instead of fitting it again)
PREFIT_START = "prefit_start"

# sampled values are rounded so that tables and JSON show them without float noise
_DIGITS = 4


# a small training set gets fewer candidates: one per this many patients (at least
# MIN_CANDIDATES, at most tuning.n_candidates)
PATIENTS_PER_CANDIDATE = 20
MIN_CANDIDATES = 5


def candidate_budget(n_candidates: int, n_patients: int) -> int:
    """How many of the ``n_candidates`` a training set of ``n_patients`` tries: inner folds of
    a few dozen patients cannot tell 20 candidates apart (their inner log losses differ by
    less than their noise, and the best of many noisy scores is the luckiest, not the best);
    on the 300-patient demo 10 candidates gave the same AUC as 20 in 3/4 of the time."""
    return min(n_candidates, max(MIN_CANDIDATES, n_patients // PATIENTS_PER_CANDIDATE))


def sample_candidates(n_candidates: int, seed: int, defaults: dict) -> list[dict]:
    """``n_candidates`` parameter sets: the ``defaults`` first, then random draws.

    ``scale_pos_weight`` is ``"none"`` (1) or ``"balanced"`` (n_negative / n_positive, resolved
    by :func:`tune_xgboost` on its training set).
    """
    rng = np.random.default_rng(seed)
    first = {key: defaults.get(key) for key in SEARCH_SPACE}
    first["scale_pos_weight"] = "none" if defaults.get("scale_pos_weight") in (None, 1,
                                                                               1.0) else float(
        defaults["scale_pos_weight"])
    candidates = [first]
    for _ in range(n_candidates - 1):
        candidate = {}
        for name, spec in SEARCH_SPACE.items():  # fixed order: same draws for the same seed
            kind = spec[0]
            if kind == "choice":
                value = spec[1][int(rng.integers(len(spec[1])))]
            elif kind == "uniform":
                value = round(float(rng.uniform(spec[1], spec[2])), _DIGITS)
            elif kind == "log_uniform":
                value = float(np.exp(rng.uniform(np.log(spec[1]), np.log(spec[2]))))
                value = float(f"{value:.{_DIGITS}g}")
            else:  # zero_or_log_uniform: both draws are always made, so the stream is fixed
                zero = rng.random() < 0.5
                value = float(np.exp(rng.uniform(np.log(spec[1]), np.log(spec[2]))))
                value = 0.0 if zero else float(f"{value:.{_DIGITS}g}")
            candidate[name] = value
        candidates.append(candidate)
    return candidates


def unseen_batch_reason(train_batches, test_batches) -> str | None:
    """Why ComBat cannot be used for this split (held-out batches absent from training)."""
    seen = {str(b) for b in train_batches if not pd.isna(b)}
    unseen = sorted({str(b) for b in test_batches if not pd.isna(b)} - seen)
    if unseen:
        return "held-out batch(es) not in the training fold: " + ", ".join(unseen)
    return None


def split_estimator(estimator):
    """(preprocessing steps before the model, the XGBoost model)."""
    if isinstance(estimator, Pipeline):
        return estimator.steps[:-1], estimator.steps[-1][1]
    return [], estimator


def _booster_params(model, candidate: dict, pos_weight: float) -> tuple[dict, float]:
    """The booster parameters of ``model`` with ``candidate`` applied, single-threaded."""
    model = clone(model)
    spw = candidate["scale_pos_weight"]
    weight = pos_weight if spw == "balanced" else 1.0 if spw == "none" else float(spw)
    model.set_params(**{k: v for k, v in candidate.items() if k != "scale_pos_weight"},
                     scale_pos_weight=weight)
    params = {k: v for k, v in model.get_xgb_params().items() if v is not None}
    params.update(n_jobs=1, eval_metric=["logloss"])
    return params, weight


@dataclass(frozen=True)
class InnerFold:
    """One inner fold's preprocessed training and validation values and their labels."""

    x_train: np.ndarray
    label_train: np.ndarray
    x_valid: np.ndarray
    label_valid: np.ndarray
    # the linear start's log-odds (LinearStartXGBClassifier), boosting starts from them
    margin_train: np.ndarray | None = None
    margin_valid: np.ndarray | None = None

    def matrices(self):
        """A fresh (train, validation) DMatrix pair. Fresh for every candidate: XGBoost fills
        some of a DMatrix's caches lazily on first use (the Cox objective's label order), and
        boosters of candidates running in parallel threads must not race to fill them."""
        import xgboost

        return (xgboost.DMatrix(self.x_train, label=self.label_train,
                                base_margin=self.margin_train),
                xgboost.DMatrix(self.x_valid, label=self.label_valid,
                                base_margin=self.margin_valid))

    def start_log_loss(self) -> float:
        """The log loss of the linear start alone on the validation part."""
        return margin_log_loss(self.label_valid, self.margin_valid)

    def start_auc(self) -> float:
        """The AUC of the linear start alone on the validation part."""
        from sklearn.metrics import roc_auc_score

        y = self.label_valid
        return float(roc_auc_score(y, self.margin_valid)) if 0 < y.sum() < len(y) else np.nan


def linear_start_folds(X, y, steps, model) -> tuple[list[InnerFold], object]:
    """Inner folds of a linear-start model: the preprocessing steps (label-free: the
    radiomics filters and ComBat) fitted once on the training set, the start fitted on it,
    its CV folds as the inner folds and its cross-fitted log-odds as the margins (the stacking
    convention: a validation part's margins come from a model fitted without it). Returns the
    folds and the fitted start (the final fit on the same rows reuses it)."""
    if steps:
        X = Pipeline([(name, clone(step)) for name, step in steps]).fit_transform(X, y)
    start, X = model.fit_start(X, y)
    values, label, margin = _values(X), np.asarray(y), start.oof_margin_
    folds = [InnerFold(values[train], label[train], values[valid], label[valid],
                       margin[train], margin[valid]) for train, valid in start.folds_]
    return folds, start


def inner_fold_data(X, y, steps, folds: int, seed: int, strata=None, label=None
                    ) -> list[InnerFold]:
    """Per inner fold, the training and validation values, preprocessing fitted on train.

    Folds are stratified on ``strata`` (default ``y``); the label is ``label`` (default ``y``;
    a Cox booster's is the signed time). The values carry no column names: a DMatrix with
    feature names makes every boosting round check them from Python (XGBoost decodes each
    name from C on every update/eval call: 70% of the demo's nested search time), and the
    search's boosters are thrown away."""
    strata = y if strata is None else strata
    label = y if label is None else label

    batches = X["batch"].to_numpy(dtype=object) if "batch" in X.columns else None
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    data = []
    for train, valid in splitter.split(np.zeros(len(y)), strata):
        x_train, x_valid = X.iloc[train], X.iloc[valid]
        if steps:
            pre = Pipeline([(name, clone(step)) for name, step in steps])
            reason = unseen_batch_reason(batches[train], batches[valid]) if (
                batches is not None) else None
            if reason and "radiomics" in pre.named_steps:
                pre.set_params(radiomics__skip_reason=reason)
            x_train = pre.fit_transform(x_train, y[train])
            x_valid = pre.transform(x_valid)
        data.append(InnerFold(_values(x_train), np.asarray(label)[train], _values(x_valid),
                              np.asarray(label)[valid]))
    return data


def _values(x) -> np.ndarray:
    if isinstance(x, pd.DataFrame):
        return x.to_numpy(dtype=np.float64, na_value=np.nan)
    return np.asarray(x, dtype=np.float64)


def _eval_scores(text: str) -> dict[str, float]:
    """metric -> value from a ``Booster.eval_set`` line ``[i]\tvalid-logloss:x\tvalid-auc:y``."""
    scores = dict(part.split("-", 1)[1].rsplit(":", 1) for part in text.split("\t")[1:])
    return {name: float(value) for name, value in scores.items()}


def early_stopped_cv(params: dict, data: list[InnerFold], max_rounds: int, patience: int,
                     loss: str = "logloss", score: str | None = "auc", prepare=None,
                     matrices: list | None = None) -> tuple[int, float, float, float]:
    """Lock-step boosting over the inner folds: (best round count, its mean ``loss``, mean
    ``score``, SD of ``score``; NaN without a score). ``params`` must evaluate ``loss``; the
    score (``auc``: the validation AUC) is computed once, at the best round count.
    ``prepare`` turns each fresh DMatrix into what the objective needs (AFT: its bounds).
    Folds with a linear start (``margin_valid``) may keep no trees at all (round count 0).
    ``matrices``: the folds' DMatrix pairs, built once for candidates evaluated one after the
    other (default: fresh ones, safe for candidates in parallel threads)."""
    import xgboost

    if matrices is None:
        matrices = [fold.matrices() for fold in data]
    if prepare is not None:
        matrices = [(prepare(train), prepare(valid)) for train, valid in matrices]
    boosters = [xgboost.Booster(params, [train, valid]) for train, valid in matrices]
    best_rounds, best_loss = 0, np.inf
    if data and data[0].margin_valid is not None and loss == "logloss":
        # boosting from a linear start: no trees at all is a candidate round count
        best_loss = float(np.mean([fold.start_log_loss() for fold in data]))
    for iteration in range(max_rounds):
        losses = []
        for booster, (train, valid) in zip(boosters, matrices):
            booster.update(train, iteration)
            losses.append(_eval_scores(booster.eval_set([(valid, "valid")], iteration))[loss])
        mean = float(np.mean(losses))
        if mean < best_loss:
            best_rounds, best_loss = iteration + 1, mean
        elif iteration + 1 - best_rounds >= patience:
            break
    if score is None:
        return best_rounds, best_loss, float("nan"), float("nan")
    aucs = [_validation_auc(booster, valid, fold, best_rounds)
            for booster, (_, valid), fold in zip(boosters, matrices, data)]
    return (best_rounds, best_loss, float(np.mean(aucs)),
            float(np.std(aucs, ddof=1)) if len(aucs) > 1 else float("nan"))


def _validation_auc(booster, valid, fold: InnerFold, rounds: int) -> float:
    """The validation part's AUC after ``rounds`` rounds (0: the linear start alone)."""
    from sklearn.metrics import roc_auc_score

    if rounds == 0:
        return fold.start_auc()
    y = fold.label_valid
    if not 0 < y.sum() < len(y):
        return float("nan")
    return float(roc_auc_score(y, booster.predict(valid, output_margin=True,
                                                  iteration_range=(0, rounds))))


def tune_xgboost(X: pd.DataFrame, y, tuning: TuningSettings, seed: int, make_estimator=None,
                 threads: int = 1, base_params: Mapping | None = None
                 ) -> tuple[dict, pd.DataFrame]:
    """Random search with early stopping over :data:`SEARCH_SPACE` on one training set.

    ``X``: the training rows, the columns the estimator is fitted on (with ``batch`` when the
    estimator starts with the radiomics step). ``y``: their 0/1 labels. ``tuning``: the
    search's settings (:class:`haicpred.modeling.settings.TuningSettings`). ``seed``: inner
    folds, candidates and XGBoost's random state. ``make_estimator``: returns a fresh, unfitted
    estimator as the CV fits it, an ``xgboost.XGBClassifier`` or a ``Pipeline`` whose last step
    is one; the steps before it are refitted on every inner training part, and the
    classifier's own parameters are candidate 0 and the base every candidate changes. Default:
    the plain classifier of ``base_params`` (the resolved ``xgboost`` settings; default
    :data:`haicpred.modeling.settings.DEFAULT_XGBOOST_PARAMS`), ``X`` then being the model's
    input columns (a ``batch`` column is dropped). ``threads``: worker threads over the
    candidates (the result does not depend on it).

    Returns ``(params, trace)`` (the lowest mean inner log loss wins): ``params`` maps every
    name of :data:`TUNED_PARAMETERS` to the chosen value (``scale_pos_weight`` as a number,
    ``n_estimators`` from early stopping), to be given to the classifier's ``set_params`` (for a
    Pipeline: ``model__<name>``); ``trace`` has :data:`TRACE_COLUMNS`, one row per candidate.
    Raises ValueError when a class has fewer patients than inner folds.
    """
    if make_estimator is None:
        params = DEFAULT_XGBOOST_PARAMS if base_params is None else base_params

        def make_estimator():
            return xgboost_classifier(params, seed, threads)

        X = X.drop(columns=["batch"], errors="ignore")
    y = np.asarray(y, dtype=int)
    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    if min(n_pos, n_neg) < tuning.inner_folds:
        raise ValueError(f"tuning needs at least {tuning.inner_folds} patients of each class "
                         f"(inner folds), got {n_pos} positive and {n_neg} negative")
    pos_weight = float(f"{n_neg / n_pos:.{_DIGITS}g}")
    X = X.reset_index(drop=True)
    steps, model = split_estimator(make_estimator())
    start = None
    if getattr(model, "linear_start", False):
        data, start = linear_start_folds(X, y, steps, model)
    else:
        data = inner_fold_data(X, y, steps, tuning.inner_folds, seed)
    candidates = sample_candidates(candidate_budget(tuning.n_candidates, len(y)), seed,
                                   model.get_params())

    # candidates one after the other share one DMatrix pair per inner fold; in parallel
    # threads each gets its own (InnerFold.matrices)
    shared = [fold.matrices() for fold in data] if threads == 1 else None

    def evaluate(candidate):
        params, weight = _booster_params(model, candidate, pos_weight)
        rounds, loss, auc, sd = early_stopped_cv(params, data, tuning.max_estimators,
                                                 tuning.early_stopping_rounds,
                                                 matrices=shared)
        return {**candidate, "scale_pos_weight": weight, "n_estimators": rounds,
                "inner_logloss": loss, "inner_auc": auc, "inner_auc_sd": sd}

    rows = map_in_order(evaluate, candidates, threads)
    trace = pd.DataFrame(rows)
    trace.insert(0, "candidate", np.arange(len(trace)))
    best = int(np.argmin(trace["inner_logloss"].to_numpy()))  # first of equal minima
    trace["chosen"] = (trace["candidate"] == best).astype(int)
    trace = trace[TRACE_COLUMNS]
    chosen = trace.iloc[best]
    params = {}
    for name in TUNED_PARAMETERS:
        value = chosen[name]
        params[name] = int(value) if name in ("max_depth", "n_estimators") else float(value)
    if start is not None:
        params[PREFIT_START] = start
    return params, trace


def describe_search(tuning: TuningSettings) -> str:
    """One sentence for the metadata and logs."""
    return (f"random search, {tuning.n_candidates} candidates at most (one per "
            f"{PATIENTS_PER_CANDIDATE} training patients, at least {MIN_CANDIDATES}; candidate "
            f"0 = the fixed defaults; each per-modality ablation searches its own feature set with the first "
            f"{min(tuning.ablation_candidates, tuning.n_candidates)}), "
            f"{tuning.inner_folds}-fold stratified inner CV on the training set "
            f"only, n_estimators by early stopping on the mean inner log loss (patience "
            f"{tuning.early_stopping_rounds}, at most {tuning.max_estimators}); space: "
            + "; ".join(f"{k} {deepcopy(v)[0]} {v[1:]}" for k, v in SEARCH_SPACE.items()))


def fixed_params(xgboost_params: Mapping) -> dict:
    """The fixed parameters in the shape of a tuned set (for tuning.tsv rows)."""
    out = {name: xgboost_params.get(name) for name in TUNED_PARAMETERS}
    if out["scale_pos_weight"] is None:
        out["scale_pos_weight"] = 1.0
    return out


def tune_model(spec: ModelSpec, X_train: pd.DataFrame, y_train: np.ndarray,
               tuning: TuningSettings, xgboost_params: Mapping, seed: int,
               skip_reason: str | None) -> tuple[dict | None, dict]:
    """Nested tuning of ``spec`` on one training set: (params or None, tuning.tsv fields).

    None (the fixed parameters ``xgboost_params``) when tuning is off or a class has fewer
    patients than inner folds; the note says which. The search runs on one thread: the
    cross-validation's training sets are already spread over the worker threads.
    """
    smallest = int(min(y_train.sum(), len(y_train) - y_train.sum()))
    if not tuning.enabled or smallest < tuning.inner_folds:
        note = ("tuning disabled: fixed parameters" if not tuning.enabled else
                f"fixed parameters: {smallest} patient(s) of a class in the training set, "
                f"fewer than the {tuning.inner_folds} inner folds")
        return None, {**fixed_params(xgboost_params), "inner_logloss": np.nan,
                      "inner_auc": np.nan, "inner_auc_sd": np.nan, "n_candidates": 0,
                      "note": note}
    if spec.name != "xgboost":  # an ablation: the first candidates of the same search
        tuning = tuning.with_candidates(min(tuning.ablation_candidates, tuning.n_candidates))
    params, trace = tune_xgboost(X_train[spec.fit_columns], y_train, tuning, seed,
                                 lambda: fold_estimator(spec, skip_reason, None), threads=1)
    chosen = trace[trace["chosen"] == 1].iloc[0]
    return params, {**params, **start_record(params.get(PREFIT_START)),
                    "inner_logloss": float(chosen["inner_logloss"]),
                    "inner_auc": float(chosen["inner_auc"]),
                    "inner_auc_sd": float(chosen["inner_auc_sd"]),
                    "n_candidates": len(trace), "note": ""}


def tuning_table(rows: list[dict], columns: list[str] = TUNING_COLUMNS) -> pd.DataFrame:
    """``tuning.tsv`` from the rows of :func:`tune_model` (or another search's, with its
    ``columns``) with their split's fields; counts as integers."""
    table = pd.DataFrame(rows, columns=columns)
    for column in ("repeat", "fold", "max_depth", "n_estimators", "n_candidates",
                   "start_n_selected"):
        if column in table.columns:
            table[column] = table[column].astype("Int64")
    return table
