"""haicpred's model stage against a bare reference loop doing only the necessary fits.

Both sides run in this one process on the same data: the demo's feature matrix (300 patients,
seed 1) from --data (a workflow working directory with results/features/ and
results/demo/truth.tsv, e.g. a demo run's folder), else built as model_benchmark.py's
`prepare(300, seed=1)` does (snakemake up to results/features/ in benchmarks/out/model_300_seed1).

haicpred: `cross_validation.cross_validate_models(matrix, labels, dictionary, settings, truth)`
with the settings of the workflow's rule (common.smk `model_settings()`: config `model` without
`on_treatment`, plus `endpoint`; threads=2): nested CV of every model (run_cv),
leave-one-batch-out, metrics with bootstrap CIs, calibration, decision curve, published scores,
importance, metadata (nothing written). Its time split wraps package functions during that one
run: run_cv, leave_one_batch_out, BinaryEndpoint.evaluate in wall seconds; BinaryEndpoint.tune
and RadiomicsPreprocessor.fit/transform summed over the worker threads (thread-seconds).

Reference: haicpred only LISTS what is fitted (prepare_data: labelled rows, labels, batches;
BinaryEndpoint.model_specs: models, columns, radiomic columns; tuning.sample_candidates: the
parameter sets). Fitting is plain xgboost + scikit-learn + numpy over the same outer folds
(RepeatedStratifiedKFold, same folds/repeats/seed) on 2 threads (ThreadPoolExecutor, BLAS on
one thread as in haicpred). Per outer split and tunable XGBoost model (the full one with
n_candidates candidates, each ablation with the first ablation_candidates):
StratifiedKFold(inner_folds, shuffle, seed) on the training part; per candidate lock-step
Booster.update over the inner folds on numpy DMatrix (no feature names), logloss only, stopped
after early_stopping_rounds without a better mean inner logloss (at most max_estimators);
the lowest mean logloss wins; xgboost.train refits it on the outer training part with its round
count and predicts the held-out part. With `linear_start` (the default) every XGBoost is boosted
from a plain penalised logistic start instead: the radiomics stand-in fitted once on the outer
training part, median imputation and scaling, LogisticRegressionCV per penalty (L2 and L1 for
the full model, which also tries it without the radiomic columns; L2 for the ablations) on
StratifiedKFold(inner_folds, shuffle, seed), cross-fitted margins from the chosen C's fold
refits, the candidates searched on those folds from those margins (no trees a candidate), the
trees refitted from the margins and the held-out part predicted from the full fit's margins. logistic_all_features (median imputation, scaling,
LogisticRegressionCV, same Cs, 3-fold inner CV on AUC) and logistic_baseline (LogisticRegression
C=1) with haicpred's settings. Models with radiomic columns get a numpy stand-in for haicpred's
radiomics step, fitted on each inner and outer training part: the same near-constant filter, a
per-batch location/scale adjustment (ComBat without the empirical-Bayes shrinkage; off when a
held-out batch is unseen; `exclude` left alone) and the same greedy |r| filter. Left out:
leave-one-batch-out, bootstrap CIs, calibration, decision curve, published scores, gains,
tables, metadata, the search trace (inner AUC).

Usage: python benchmarks/model_reference.py [--data DIR] [--threads 2] [--reference-first]
Prints Markdown tables and writes benchmarks/out/model_reference.json.
"""

import argparse
import contextlib
import functools
import json
import os
import sys
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import xgboost
import yaml
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import RepeatedStratifiedKFold, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
from model_benchmark import OUT, REPO, load, prepare  # noqa: E402

LOGISTIC_CS = [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0]  # haicpred's _LOGISTIC_CS
START_CS = [0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 10.0]  # haicpred's LINEAR_START_CS


def workflow_settings(threads: int) -> dict:
    """common.smk model_settings(): the model section without on_treatment, plus endpoint."""
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    settings = {k: v for k, v in config["model"].items() if k != "on_treatment"}
    return {**settings, "endpoint": config["endpoint"], "threads": threads}




def wrap(timers, owner, attribute, name, lock=threading.Lock()):
    """Sum ``owner.attribute``'s wall time and calls into ``timers[name]``; returns the undo."""
    original = getattr(owner, attribute)

    @functools.wraps(original)
    def timed(*args, **kwargs):
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            with lock:
                timers[name][0] += time.perf_counter() - start
                timers[name][1] += 1
    setattr(owner, attribute, timed)
    return lambda: setattr(owner, attribute, original)


def run_haicpred(matrix, labels, dictionary, truth, settings):
    from haicpred.modeling import cross_validation, tuning
    from haicpred.modeling.endpoint import BinaryEndpoint
    from haicpred.modeling.linear_start import LinearStart, LinearStartXGBClassifier
    from haicpred.radiomics.preprocessing import RadiomicsPreprocessor

    timers = defaultdict(lambda: [0.0, 0])
    undo = [wrap(timers, *target) for target in (
        (cross_validation, "run_cv", "run_cv (wall)"),
        (cross_validation, "leave_one_batch_out", "leave_one_batch_out (wall)"),
        (BinaryEndpoint, "evaluate", "evaluate: metrics, CIs, scores (wall)"),
        (BinaryEndpoint, "tune", "tune, CV + LOBO (thread-s)"),
        (LinearStart, "fit", "tune: linear starts (thread-s)"),
        (tuning, "early_stopped_cv", "tune: early-stopped tree candidates (thread-s)"),
        (LinearStartXGBClassifier, "fit", "refit of each XGBoost on its training set (thread-s)"),
        (RadiomicsPreprocessor, "fit", "radiomics step fit (thread-s)"),
        (RadiomicsPreprocessor, "transform", "radiomics step transform (thread-s)"))]
    try:
        start = time.perf_counter()
        results = cross_validation.cross_validate_models(matrix, labels, dictionary, settings,
                                                         truth)
        seconds = time.perf_counter() - start
    finally:
        for restore in undo:
            restore()
    auc = results.metrics.set_index("model")["auc"]
    split = {name: {"seconds": round(value, 2), "calls": calls}
             for name, (value, calls) in timers.items()}
    return seconds, {m: float(auc[m]) for m in auc.index}, split




def fit_radiomics(X, batch, rad_idx, exclude_idx, skip_combat, rs):
    """Plain radiomics step on training rows: (columns kept, per-batch shift/scale)."""
    keep_rad, adjust = [], {}
    for j in rad_idx:  # near-constant filter
        v = X[:, j][~np.isnan(X[:, j])]
        if v.size < 2:
            continue
        _, counts = np.unique(v, return_counts=True)
        if (counts.max() < rs.near_constant_fraction * v.size
                and v.max() - v.min() > 1e-9 * max(1.0, np.abs(v).max())):
            keep_rad.append(j)
    harmonised = [j for j in keep_rad if j not in exclude_idx]
    batches = sorted(set(batch))
    if not skip_combat and len(batches) > 1 and len(harmonised) > 1:
        Z = X[:, harmonised]  # location/scale per batch towards the pooled mean and SD
        grand, pooled = np.nanmean(Z, axis=0), np.nanstd(Z, axis=0)
        for b in batches:
            rows = Z[batch == b]
            sd = np.nanstd(rows, axis=0)
            adjust[b] = (np.nanmean(rows, axis=0), np.where(sd > 0, pooled / np.where(
                sd > 0, sd, 1), 1.0), grand)
    Xh = apply_radiomics(X, batch, harmonised, adjust)
    r = np.abs(pd.DataFrame(Xh[:, keep_rad]).corr(min_periods=3).to_numpy())
    too_high = np.nan_to_num(r) > rs.max_correlation
    kept = []
    for i in range(len(keep_rad)):  # greedy: drop a column correlated with a kept one
        if not any(too_high[i, k] for k in kept):
            kept.append(i)
    rad_set = set(rad_idx)
    columns = [j for j in range(X.shape[1]) if j not in rad_set] + [keep_rad[i] for i in kept]
    return sorted(columns), harmonised, adjust


def apply_radiomics(X, batch, harmonised, adjust):
    X = X.copy()
    for b, (mean, factor, grand) in adjust.items():
        rows = batch == b
        X[np.ix_(rows, harmonised)] = (X[np.ix_(rows, harmonised)] - mean) * factor + grand
    return X


def prepared(X_tr, b_tr, X_te, b_te, spec, rs):
    """Training and held-out matrices of one model after its (plain) radiomics step."""
    if not spec["rad_idx"]:
        return X_tr, X_te
    skip = bool(set(b_te) - set(b_tr))
    columns, harmonised, adjust = fit_radiomics(X_tr, b_tr, spec["rad_idx"], spec["exclude_idx"],
                                                skip, rs)
    return (apply_radiomics(X_tr, b_tr, harmonised, adjust)[:, columns],
            apply_radiomics(X_te, b_te, harmonised, adjust)[:, columns])


def booster_params(candidate, base, pos_weight, seed):
    spw = candidate["scale_pos_weight"]
    return {"objective": "binary:logistic", "eval_metric": "logloss", "tree_method": "hist",
            "max_bin": base.get("max_bin", 256), "gamma": base.get("gamma", 0.0), "seed": seed,
            "nthread": 1, "max_depth": candidate["max_depth"], "eta": candidate["learning_rate"],
            "subsample": candidate["subsample"], "colsample_bytree": candidate["colsample_bytree"],
            "min_child_weight": candidate["min_child_weight"], "lambda": candidate["reg_lambda"],
            "alpha": candidate["reg_alpha"],
            "scale_pos_weight": pos_weight if spw == "balanced" else 1.0 if spw == "none"
            else float(spw)}


def early_stopped(params, folds, max_rounds, patience, start=np.inf):
    """(best round count, its mean inner logloss): lock-step over the inner folds; ``start``:
    the loss with no trees (a linear start's)."""
    boosters = [xgboost.Booster(params, [train, valid]) for train, valid in folds]
    best_rounds, best_loss = 0, start
    for it in range(max_rounds):
        losses = []
        for booster, (train, valid) in zip(boosters, folds):
            booster.update(train, it)
            losses.append(float(booster.eval_set([(valid, "v")], it).rsplit(":", 1)[1]))
        loss = float(np.mean(losses))
        if loss < best_loss:
            best_rounds, best_loss = it + 1, loss
        elif it + 1 - best_rounds >= patience:
            break
    return best_rounds, best_loss


LIBLINEAR = threading.Lock()  # liblinear's random state is the C library's global one


def plain_start(a, y, seed, folds, penalties, group):
    """The linear start in plain scikit-learn: (cross-fitted margins, margin function, folds,
    columns kept). ``group``: column indices it may leave out (radiomics) or None."""
    empty = np.isnan(a).all(axis=0)
    medians = np.nanmedian(np.where(empty, 0.0, a), axis=0)
    filled = np.where(np.isnan(a), medians, a)
    means, sd = filled.mean(axis=0), filled.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    z = (filled - means) / sd
    cv = list(StratifiedKFold(folds, shuffle=True, random_state=seed).split(z, y))
    best = None
    for left_out in ([None, group] if group else [None]):
        keep = np.ones(z.shape[1], dtype=bool)
        if left_out:
            keep[left_out] = False
        for penalty in penalties:
            extra = ({"solver": "liblinear", "intercept_scaling": 10.0, "l1_ratios": (1.0,),
                      "random_state": seed} if penalty == "l1" else {"l1_ratios": (0.0,)})
            with LIBLINEAR if penalty == "l1" else contextlib.nullcontext():
                fit = LogisticRegressionCV(Cs=START_CS, cv=cv, scoring="neg_log_loss",
                                           max_iter=2000, use_legacy_attributes=False,
                                           **extra).fit(z[:, keep], y)
            loss = -float(np.max(np.mean(fit.scores_, axis=0)))
            if best is None or loss < best[0] - 1e-12:
                best = (loss, penalty, keep, fit)
    _, penalty, keep, fit = best
    c = float(np.ravel(fit.C_)[0])
    paths, chosen = np.asarray(fit.coefs_paths_), list(fit.Cs_).index(c)
    oof = np.empty(len(y))
    for k, (_, va) in enumerate(cv):  # each fold's model at the chosen C
        w = paths[k, 0, chosen, 0]
        oof[va] = z[np.ix_(va, keep)] @ w[:-1] + w[-1]
    coef, intercept = np.ravel(fit.coef_), float(np.ravel(fit.intercept_)[0])

    def margin(b):
        zb = (np.where(np.isnan(b), medians, b) - means) / sd
        return zb[:, keep] @ coef + intercept

    return oof, margin, cv, keep


def start_loss(y, m):
    return float(np.mean(np.logaddexp(0.0, -m) + (1 - y) * m))


def linear_start_fit(X_tr, y_tr, b_tr, X_te, b_te, spec, candidates, n, pos_weight, s):
    """One linear-start XGBoost: radiomics step once on the training part, the start, the
    search on its folds from its cross-fitted margins (0 rounds a candidate), refit, predict."""
    t, rs = s.tuning, s.radiomics
    columns, a, v = list(range(X_tr.shape[1])), X_tr, X_te
    if spec["rad_idx"]:
        columns, harmonised, adjust = fit_radiomics(X_tr, b_tr, spec["rad_idx"],
                                                    spec["exclude_idx"],
                                                    bool(set(b_te) - set(b_tr)), rs)
        a = apply_radiomics(X_tr, b_tr, harmonised, adjust)[:, columns]
        v = apply_radiomics(X_te, b_te, harmonised, adjust)[:, columns]
    rad = set(spec["rad_idx"])
    group = ([i for i, j in enumerate(columns) if j in rad]
             if spec["name"] == "xgboost" and len(rad) < X_tr.shape[1] else None)
    penalties = ("l2", "l1") if spec["name"] == "xgboost" else ("l2",)
    oof, margin, cv, keep = plain_start(a, y_tr, s.seed, t.inner_folds, penalties, group)
    a = np.where(keep, a, np.nan)  # a group left out is hidden from the trees too
    folds = [(xgboost.DMatrix(a[tr], label=y_tr[tr], base_margin=oof[tr]),
              xgboost.DMatrix(a[va], label=y_tr[va], base_margin=oof[va])) for tr, va in cv]
    zero = float(np.mean([start_loss(y_tr[va], oof[va]) for _, va in cv]))
    scored = [(early_stopped(booster_params(c, s.xgboost, pos_weight, s.seed), folds,
                             t.max_estimators, t.early_stopping_rounds, zero), c)
              for c in candidates[:n]]
    (rounds, _), chosen = min(scored, key=lambda item: item[0][1])
    if rounds == 0:
        return 1 / (1 + np.exp(-margin(v)))
    booster = xgboost.train(booster_params(chosen, s.xgboost, pos_weight, s.seed),
                            xgboost.DMatrix(a, label=y_tr, base_margin=oof),
                            num_boost_round=rounds)
    return booster.predict(xgboost.DMatrix(v, base_margin=margin(v)))


def reference_split(train, test, X, y, batch, specs, candidates, s):
    t, rs = s.tuning, s.radiomics
    y_tr = y[train]
    n_pos = int(y_tr.sum())
    pos_weight = float(f"{(len(y_tr) - n_pos) / n_pos:.4g}")
    inner = list(StratifiedKFold(t.inner_folds, shuffle=True, random_state=s.seed)
                 .split(np.zeros(len(train)), y_tr))
    out = {}
    for spec in specs:
        X_tr, X_te = X[np.ix_(train, spec["idx"])], X[np.ix_(test, spec["idx"])]
        b_tr, b_te = batch[train], batch[test]
        if spec["kind"] == "xgboost" and s.linear_start:
            n = t.n_candidates if spec["name"] == "xgboost" else min(t.ablation_candidates,
                                                                     t.n_candidates)
            out[spec["name"]] = linear_start_fit(X_tr, y_tr, b_tr, X_te, b_te, spec,
                                                 candidates, n, pos_weight, s)
        elif spec["kind"] == "xgboost":
            folds = []
            for i_tr, i_va in inner:
                a, v = prepared(X_tr[i_tr], b_tr[i_tr], X_tr[i_va], b_tr[i_va], spec, rs)
                folds.append((xgboost.DMatrix(a, label=y_tr[i_tr]),
                              xgboost.DMatrix(v, label=y_tr[i_va])))
            n = t.n_candidates if spec["name"] == "xgboost" else min(t.ablation_candidates,
                                                                     t.n_candidates)
            scored = [(early_stopped(booster_params(c, s.xgboost, pos_weight, s.seed), folds,
                                     t.max_estimators, t.early_stopping_rounds), c)
                      for c in candidates[:n]]
            (rounds, _), chosen = min(scored, key=lambda item: item[0][1])
            a, v = prepared(X_tr, b_tr, X_te, b_te, spec, rs)
            booster = xgboost.train(booster_params(chosen, s.xgboost, pos_weight, s.seed),
                                    xgboost.DMatrix(a, label=y_tr), num_boost_round=rounds)
            out[spec["name"]] = booster.predict(xgboost.DMatrix(v))
        else:
            a, v = prepared(X_tr, b_tr, X_te, b_te, spec, rs)
            if spec["name"] == "logistic_baseline":
                model = LogisticRegression(C=1.0, max_iter=1000)
            else:
                model = LogisticRegressionCV(
                    Cs=LOGISTIC_CS, cv=StratifiedKFold(3, shuffle=True, random_state=s.seed),
                    scoring="roc_auc", max_iter=2000, l1_ratios=(0.0,),
                    use_legacy_attributes=False)
            pipe = make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True),
                                 StandardScaler(), model).fit(a, y_tr)
            out[spec["name"]] = pipe.predict_proba(v)[:, 1]
    return out


def run_reference(matrix, labels, dictionary, settings):
    from haicpred.modeling.outcomes import model_endpoint
    from haicpred.modeling.inputs import prepare_data
    from haicpred.modeling.settings import resolve_model_settings
    from haicpred.modeling.tuning import sample_candidates

    start = time.perf_counter()
    s = resolve_model_settings(settings)  # listing only: rows, labels, specs, candidates
    endpoint = model_endpoint(s)
    data = prepare_data(matrix.reset_index(drop=True), labels, dictionary, endpoint,
                        s.cv.folds, s.allow_post_treatment)
    features = data.features
    X = data.X_lab[features].to_numpy(dtype=np.float64, na_value=np.nan)
    y, batch = data.y, np.array([str(b) for b in data.batch_lab], dtype=object)
    exclude = set(s.radiomics.harmonisation.exclude)
    specs = []
    for spec in endpoint.model_specs(data)[0]:
        pos = {f: i for i, f in enumerate(spec.columns)}
        specs.append({"name": spec.name, "kind": spec.kind,
                      "idx": [features.index(f) for f in spec.columns],
                      "rad_idx": [pos[f] for f in spec.radiomic],
                      "exclude_idx": {pos[f] for f in spec.radiomic if f in exclude
                                      or s.radiomics.harmonisation.method != "combat"}})
    candidates = sample_candidates(s.tuning.n_candidates, s.seed, s.xgboost)
    splits = list(RepeatedStratifiedKFold(n_splits=s.cv.folds, n_repeats=s.cv.repeats,
                                          random_state=s.seed).split(np.zeros(len(y)), y))
    with threadpool_limits(limits=1, user_api="blas"), ThreadPoolExecutor(s.threads) as pool:
        results = list(pool.map(lambda tt: reference_split(*tt, X, y, batch, specs, candidates,
                                                           s), splits))
    seconds = time.perf_counter() - start
    auc = {}
    for spec in specs:
        oof = np.full((s.cv.repeats, len(y)), np.nan)
        for k, ((_, test), result) in enumerate(zip(splits, results)):
            oof[k // s.cv.folds, test] = result[spec["name"]]
        auc[spec["name"]] = float(roc_auc_score(y, oof.mean(axis=0)))
    return seconds, auc, specs, len(y)




def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--reference-first", action="store_true")  # an order check
    args = parser.parse_args()
    work = args.data or prepare(300, seed=1, cores=args.threads)
    matrix, labels, dictionary, truth = load(work)
    settings = workflow_settings(args.threads)
    load_before = os.getloadavg()[0]
    if args.reference_first:
        r_seconds, r_auc, specs, n_labelled = run_reference(matrix, labels, dictionary, settings)
    h_seconds, h_auc, split = run_haicpred(matrix, labels, dictionary, truth, settings)
    if not args.reference_first:
        r_seconds, r_auc, specs, n_labelled = run_reference(matrix, labels, dictionary, settings)
    result = {
        "benchmark": "model_reference", "data": str(work), "threads": args.threads,
        "order": "reference first" if args.reference_first else "haicpred first",
        "cpu_count": os.cpu_count(), "load_average_1min_before": round(load_before, 2),
        "load_average_1min_after": round(os.getloadavg()[0], 2),
        "n_labelled": n_labelled, "outer_splits": settings["cv_folds"]
        * settings["cv_repeats"], "tuning": settings["tuning"],
        "tuned_models": [s["name"] for s in specs if s["kind"] == "xgboost"],
        "haicpred_seconds": round(h_seconds, 1), "reference_seconds": round(r_seconds, 1),
        "ratio": round(h_seconds / r_seconds, 2), "haicpred_split": split,
        "auc": {name: {"haicpred": round(h_auc[name], 3), "reference": round(auc, 3)}
                for name, auc in r_auc.items()},
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "model_reference.json").write_text(json.dumps(result, indent=1) + "\n")
    print(f"| | haicpred | reference | ratio |\n|---|---|---|---|\n| wall s | {h_seconds:.1f} | "
          f"{r_seconds:.1f} | {h_seconds / r_seconds:.2f} |")
    for name, entry in result["auc"].items():
        print(f"| AUC {name} | {entry['haicpred']:.3f} | {entry['reference']:.3f} | |")
    print("\n| haicpred step | seconds | calls |\n|---|---|---|")
    for name, entry in split.items():
        print(f"| {name} | {entry['seconds']:.1f} | {entry['calls']} |")

if __name__ == "__main__":
    main()
