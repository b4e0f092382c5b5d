"""Wall time of the nested hyper-parameter search alone on a simulated cohort.

Builds (once) the feature matrix of a simulated cohort with the workflow (see
model_benchmark.py), then runs `haicpred.modeling.tuning.tune_xgboost` on every outer training
fold of the configured repeated stratified K-fold (5 x 5), exactly as `cross_validate_models`
does, with the config's tuning settings, and reports the wall time and the search size.

Usage: python benchmarks/nested_tuning.py [--n-patients 1000] [--cores 2]
Prints one JSON line and writes benchmarks/out/nested_tuning_<n>.json.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from model_benchmark import OUT, load, model_settings, prepare  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n-patients", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cores", type=int, default=2)
    args = parser.parse_args()
    from sklearn.model_selection import RepeatedStratifiedKFold

    from haicpred.modeling.endpoint import model_endpoint
    from haicpred.modeling.estimators import fold_estimator
    from haicpred.modeling.inputs import prepare_data
    from haicpred.modeling.settings import resolve_model_settings
    from haicpred.modeling.tuning import tune_xgboost, unseen_batch_reason

    matrix, labels, dictionary, _ = load(prepare(args.n_patients, args.seed, args.cores))
    settings = resolve_model_settings(model_settings(args.cores))
    endpoint = model_endpoint(settings)
    data = prepare_data(matrix, labels, dictionary, endpoint, settings.cv.folds,
                        settings.allow_post_treatment)
    spec = endpoint.model_specs(data)[0][0]  # the full XGBoost model
    splitter = RepeatedStratifiedKFold(n_splits=settings.cv.folds,
                                       n_repeats=settings.cv.repeats,
                                       random_state=settings.seed)
    rounds, seconds = [], []
    start = time.perf_counter()
    for train, test in splitter.split(np.zeros(data.n), data.y):
        reason = unseen_batch_reason(data.batch_lab[train], data.batch_lab[test])
        fold_start = time.perf_counter()
        params, trace = tune_xgboost(
            data.X_lab.iloc[train][spec.fit_columns], data.y[train], settings.tuning,
            settings.seed, lambda: fold_estimator(spec, reason, None), threads=settings.threads)
        seconds.append(time.perf_counter() - fold_start)
        rounds.append(int(trace["n_estimators"].sum()))
    total = time.perf_counter() - start
    tuning = settings.tuning.as_dict()
    result = {
        "benchmark": "nested_tuning", "n_patients": args.n_patients,
        "n_labelled": data.n, "n_features": len(spec.columns), "cores": args.cores,
        "cpu_count": os.cpu_count(), "load_average_1min": round(os.getloadavg()[0], 2),
        "outer_folds": len(seconds), "n_candidates": tuning["n_candidates"],
        "inner_folds": tuning["inner_folds"], "max_estimators": tuning["max_estimators"],
        "early_stopping_rounds": tuning["early_stopping_rounds"],
        "boosters_trained": len(seconds) * tuning["n_candidates"] * tuning["inner_folds"],
        "mean_best_rounds_per_candidate": round(float(np.sum(rounds))
                                                / (len(seconds) * tuning["n_candidates"]), 1),
        "wall_seconds": round(total, 1),
        "seconds_per_outer_fold": round(float(np.mean(seconds)), 1),
    }
    line = json.dumps(result)
    (OUT / f"nested_tuning_{args.n_patients}.json").write_text(line + "\n")
    print(line, flush=True)


if __name__ == "__main__":
    main()
