"""Leave-one-batch-out validation: train on every other batch, test on the held-out one.

Per batch (centre or scanner) of the labelled patients, the endpoint's held-out models (for the
binary endpoints XGBoost, tuned on the training batches as in the cross-validation, and the
logistic baseline) are fitted on the other batches and evaluated on it by the endpoint
(``lobo_metrics.tsv``, :data:`haicpred.modeling.evaluation.LOBO_COLUMNS`). ComBat is switched
off for these fits: it has no estimate for a batch absent from training. Batches run on
``threads`` worker threads; the metrics are computed in batch order, so the bootstrap draws
from one generator in a fixed order.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from haicpred.modeling.endpoint import ModelEndpoint
from haicpred.modeling.estimators import ModelSpec, fold_estimator
from haicpred.modeling.inputs import PreparedData
from haicpred.modeling.parallel import map_in_order, single_threaded_blas
from haicpred.modeling.settings import CVSettings
from haicpred.modeling.tuning import unseen_batch_reason

__all__ = ["leave_one_batch_out"]


def leave_one_batch_out(data: PreparedData, specs: list[ModelSpec], endpoint: ModelEndpoint,
                        cv: CVSettings, harmonising: bool) -> tuple[pd.DataFrame, list[dict]]:
    """Train on every other batch, test on the held-out one (the endpoint's
    ``held_out_models``, a tunable one tuned on the training batches as in the CV):
    lobo_metrics rows and tuning rows. ``harmonising``: is ComBat on in the CV (then the rows
    of models with radiomic features say it was off here)."""
    chosen = [spec for spec in specs if spec.name in endpoint.held_out_models]
    batch = np.array([None if pd.isna(b) else str(b) for b in data.batch_lab], dtype=object)
    batches = sorted({b for b in batch if b is not None})
    rng = np.random.default_rng(cv.seed)

    def fit_batch(held_out: str) -> dict:
        """Held-out predictions (or a note) and tuning row of one held-out batch."""
        test = batch == held_out
        train = ~test
        y_test, y_train = data.y[test], data.y[train]
        if len(batches) < 2:
            note = "only one batch: nothing to train on"
        else:
            note = endpoint.held_out_note(y_test, y_train)
        out = {"held_out": held_out, "y_test": y_test, "counts": endpoint.counts(y_test),
               "note": note, "prediction": {}, "tuning_row": None}
        if note:
            return out
        # the held-out batch is never in training: ComBat is switched off for these fits
        skip_reason = unseen_batch_reason(data.batch_lab[train], data.batch_lab[test])
        X_train, X_test = data.X_lab.loc[train], data.X_lab.loc[test]
        tuned = None
        for spec in chosen:
            if spec.tunable:
                tuned, row = endpoint.tune(spec, X_train, y_train, skip_reason)
                out["tuning_row"] = {"scheme": "lobo", "model": spec.name, "repeat": pd.NA,
                                     "fold": pd.NA,
                                     "held_out_batch": held_out, **row}
            estimator = fold_estimator(spec, skip_reason, tuned)
            estimator.fit(X_train[spec.fit_columns], y_train)
            out["prediction"][spec.name] = endpoint.predict(estimator, X_test[spec.fit_columns])
        return out

    with single_threaded_blas():
        fitted = map_in_order(fit_batch, batches, cv.threads)
    # metrics in batch order, so the bootstrap draws from rng in a fixed order
    rows, tuning_rows = [], []
    for result in fitted:
        held_out, counts = result["held_out"], result["counts"]
        if result["note"]:
            rows += [{"held_out_batch": held_out, "model": spec.name, **counts,
                      "note": result["note"]} for spec in chosen]
            continue
        if result["tuning_row"] is not None:
            tuning_rows.append(result["tuning_row"])
        for spec in chosen:
            spec_note = ("radiomic features not harmonised: ComBat has no estimate for a "
                         "batch absent from training" if spec.radiomic and harmonising else "")
            rows.append({"held_out_batch": held_out, "model": spec.name, **counts,
                         **endpoint.held_out_metrics(result["y_test"],
                                                     result["prediction"][spec.name], rng),
                         "note": spec_note})
    lobo = pd.DataFrame(rows, columns=endpoint.held_out_columns)
    for column in endpoint.count_columns:
        lobo[column] = lobo[column].astype("Int64")
    return lobo, tuning_rows
