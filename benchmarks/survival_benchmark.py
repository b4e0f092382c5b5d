"""The survival endpoint on simulated cohorts: out-of-fold C-index against the oracle, the
permutation check, and the model stage's time and peak memory.

Each cohort's feature matrix is built by the workflow (model_benchmark.prepare: snakemake up to
results/features/, 3 batches), then, with the config's model settings and the endpoint
``{kind: survival, time_column: os_months, event_column: os_event}`` (horizons 12, 24, 36):

``--mode acceptance`` (issue 15): ``cross_validate_models`` (5 x 5 outer CV, nested tuning as
    configured) per seed; Harrell's C of XGBoost, ``cox_all_features`` and the oracle (the
    simulator's true pre-treatment log hazard, ``os_baseline_log_hazard`` of truth.tsv, on the
    same patients).
``--mode permutation``: the permutation check (``permutation_check``: fixed-parameter XGBoost
    CV with time and event shuffled together over patients), ``--permutations`` times.
``--mode stage``: the model stage as the workflow runs it, in this process: cross-validation,
    final model; wall time and peak resident memory (sampled every 0.1 s).

Usage: python benchmarks/survival_benchmark.py --mode acceptance --n-patients 1000 --seeds 1 2 3
Prints one JSON line per run and writes benchmarks/out/survival_<mode>_<n>_seed<seed>.json.
"""

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path

import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from model_benchmark import OUT, load, model_settings, prepare  # noqa: E402

SURVIVAL = {"kind": "survival", "time_column": "os_months", "event_column": "os_event",
            "horizons_months": [12, 24, 36]}
ORACLE_COLUMN = "os_baseline_log_hazard"


class PeakMemory:
    """Peak resident memory of this process and its children, sampled in a thread."""

    def __init__(self, interval: float = 0.1):
        self.interval, self.peak, self._stop = interval, 0, threading.Event()

    def _sample(self):
        me = psutil.Process()
        while not self._stop.is_set():
            try:
                rss = me.memory_info().rss + sum(c.memory_info().rss
                                                 for c in me.children(recursive=True))
            except psutil.Error:
                rss = 0
            self.peak = max(self.peak, rss)
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    @property
    def mib(self) -> float:
        return round(self.peak / 2**20, 1)


def _settings(cores: int, **overrides) -> dict:
    return model_settings(cores, endpoint=SURVIVAL, **overrides)


def _c(metrics, model: str) -> dict | None:
    if model not in metrics.index:
        return None
    row = metrics.loc[model]
    return {"c_index": round(float(row["c_index"]), 4),
            "low": round(float(row["c_index_low"]), 4),
            "high": round(float(row["c_index_high"]), 4)}


def acceptance(n: int, seed: int, cores: int) -> dict:
    from haicpred.modeling.cross_validation import cross_validate_models
    from haicpred.modeling.survival_metrics import harrell_c

    matrix, labels, dictionary, truth = load(prepare(n, seed, cores))
    start = time.perf_counter()
    results = cross_validate_models(matrix, labels, dictionary, _settings(cores), truth=truth)
    seconds = time.perf_counter() - start
    metrics = results.metrics.set_index("model")
    # the oracle by definition, on the patients the models were judged on
    oof = results.oof[results.oof["model"] == "xgboost"].drop_duplicates("sample_id")
    true_risk = truth.set_index("sample_id")[ORACLE_COLUMN].astype(float)
    oracle = harrell_c(oof["time"].to_numpy(float), oof["event"].to_numpy(int),
                       true_risk.loc[oof["sample_id"]].to_numpy())
    xgb = float(metrics.loc["xgboost", "c_index"])
    cox = float(metrics.loc["cox_all_features", "c_index"])
    return {
        "benchmark": "survival_acceptance", "n_patients": n, "seed": seed,
        "n_labelled": int(metrics.loc["xgboost", "n"]),
        "n_events": int(metrics.loc["xgboost", "n_events"]),
        "censored_fraction": round(1 - float(metrics.loc["xgboost", "n_events"])
                                   / float(metrics.loc["xgboost", "n"]), 3),
        "cores": cores, "cross_validate_seconds": round(seconds, 1),
        "c_index": {m: _c(metrics, m) for m in metrics.index},
        "oracle_c_index": round(oracle, 4),
        "xgboost_minus_oracle": round(xgb - oracle, 4),
        "xgboost_minus_cox_all_features": round(xgb - cox, 4),
    }


def permutation(n: int, seed: int, cores: int, permutations: int) -> dict:
    from haicpred.modeling.permutation import permutation_check

    matrix, labels, dictionary, _ = load(prepare(n, seed, cores))
    start = time.perf_counter()
    table = permutation_check(matrix, labels, dictionary,
                              _settings(cores, permutations=permutations))
    seconds = time.perf_counter() - start
    values = table["c_index"].to_numpy(float)
    return {"benchmark": "survival_permutation", "n_patients": n, "seed": seed,
            "permutations": len(values), "mean_c_index": round(float(values.mean()), 4),
            "sd_c_index": round(float(values.std(ddof=1)), 4),
            "min": round(float(values.min()), 4), "max": round(float(values.max()), 4),
            "seconds": round(seconds, 1)}


def stage(n: int, seed: int, cores: int, tuning: bool) -> dict:
    from haicpred.modeling.cross_validation import cross_validate_models
    from haicpred.modeling.final_model import fit_final_model

    matrix, labels, dictionary, truth = load(prepare(n, seed, cores))
    overrides = {} if tuning else {"tuning": {"enabled": False}}
    settings = _settings(cores, **overrides)
    with PeakMemory() as memory:
        start = time.perf_counter()
        results = cross_validate_models(matrix, labels, dictionary, settings, truth=truth)
        cv_seconds = time.perf_counter() - start
        start = time.perf_counter()
        fit_final_model(matrix, labels, dictionary, settings, cv_metrics=results.metrics,
                        cv_oof=results.oof)
        final_seconds = time.perf_counter() - start
    return {"benchmark": "survival_model_stage", "n_patients": n, "seed": seed,
            "n_features": int(matrix.shape[1] - 2), "tuning": tuning, "cores": cores,
            "cpu_count": os.cpu_count(), "load_average_1min": round(os.getloadavg()[0], 2),
            "cross_validate_seconds": round(cv_seconds, 1),
            "final_model_seconds": round(final_seconds, 1), "peak_rss_mib": memory.mib}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=["acceptance", "permutation", "stage"],
                        default="acceptance")
    parser.add_argument("--n-patients", type=int, default=1000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--permutations", type=int, default=20)
    parser.add_argument("--no-tuning", action="store_true", help="stage: nested tuning off")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    results = []
    for seed in args.seeds:
        if args.mode == "acceptance":
            result = acceptance(args.n_patients, seed, args.cores)
        elif args.mode == "permutation":
            result = permutation(args.n_patients, seed, args.cores, args.permutations)
        else:
            result = stage(args.n_patients, seed, args.cores, not args.no_tuning)
        line = json.dumps(result)
        (OUT / f"survival_{args.mode}_{args.n_patients}_seed{seed}.json").write_text(line + "\n")
        print(line, flush=True)
        results.append(result)
    if args.mode == "acceptance" and len(results) > 1:
        gaps = [r["xgboost_minus_oracle"] for r in results]
        over_cox = [r["xgboost_minus_cox_all_features"] for r in results]
        print(json.dumps({"mean_xgboost_minus_oracle": round(float(np.mean(gaps)), 4),
                          "mean_xgboost_minus_cox_all_features":
                              round(float(np.mean(over_cox)), 4)}), flush=True)


if __name__ == "__main__":
    main()
