"""The survival report, rendered from the outputs of a real small survival cross-validation
(Weibull proportional hazards with a known linear predictor) and its risk-group table."""

from __future__ import annotations

import html
import json
import re

import numpy as np
import pandas as pd
import pytest
from sksurv.nonparametric import kaplan_meier_estimator

from haicpred.io.tables import read_tsv, write_tsv
from haicpred.modeling.cross_validation import (CV_METADATA_FILE, cross_validate_models,
                                                write_model_outputs)
from haicpred.modeling.survival_curves import numbers_at_risk
from haicpred.modeling.survival_metrics import survival_metric_tables
from haicpred.modeling.survival_risk_groups import averaged_oof_risk, km_risk_groups
from haicpred.report.render import render_report
from haicpred.report.survival_figures import at_risk_times
from survival_helpers import HORIZONS, weibull_cohort

N, NO_FOLLOW_UP = 150, 5
ENDPOINT = {"kind": "survival", "time_column": "os_months", "event_column": "os_event",
            "horizons_months": list(HORIZONS)}
SETTINGS = {"seed": 2, "cv_folds": 3, "cv_repeats": 2, "n_bootstrap": 50, "threads": 1,
            "xgboost": {"n_estimators": 30}, "tuning": {"enabled": False},
            "baseline_features": ["size", "vp"], "endpoint": ENDPOINT,
            "score_baselines": {"size_score": {"feature": "size", "direction": -1}}}
HOSTILE = "<script>alert('x')</script>"


def survival_cohort():
    X, y, truth = weibull_cohort(N, 3)
    ids = [f"P{i:03d}" for i in range(N)]
    batch = np.where(np.arange(N) % 3 == 0, "B2", "B1")
    matrix = pd.concat([pd.DataFrame({"sample_id": ids, "batch": batch}), X], axis=1)
    labels = pd.DataFrame({"sample_id": ids, "batch": batch, "os_months": y["time"],
                           "os_event": y["event"].astype(float)})
    labels.loc[:NO_FOLLOW_UP - 1, ["os_months", "os_event"]] = np.nan
    dictionary = pd.DataFrame({"feature": list(X.columns),
                               "modality": ["clinical", "clinical", *["radiomics"] * 3],
                               "unit": "", "description": "synthetic"})
    return matrix, labels, dictionary, pd.Series(truth, index=ids)


def extra_rows(model_dir, truth) -> pd.DataFrame:
    """metrics.tsv (with the published score ``size_score``, evaluated by the cross-validation
    on the patients who have it) plus the rows a user's run may add, computed on these patients
    the way they are: the oracle (true linear predictor, paired with XGBoost's repeat-averaged
    out-of-fold risk) and a factor baseline named cox_mei2021."""
    metrics = read_tsv(model_dir / "metrics.tsv")
    oof = read_tsv(model_dir / "oof_predictions.tsv")
    xgb = oof[oof["model"] == "xgboost"].assign(risk=lambda t: pd.to_numeric(t["risk"]))
    xgb = xgb.groupby("sample_id").agg(time=("time", "first"), event=("event", "first"),
                                        risk=("risk", "mean"))
    time, event = pd.to_numeric(xgb["time"]), pd.to_numeric(xgb["event"]).astype(int)
    oracle, _ = survival_metric_tables(
        time, event, {"xgboost": xgb["risk"], "oracle": truth[xgb.index].to_numpy()}, {},
        HORIZONS, 50, 5)
    mei = metrics[metrics["model"] == "cox_baseline"].assign(model="cox_mei2021")
    rows = [oracle[oracle["model"] == "oracle"], mei]
    return pd.concat([metrics, *[r.astype(object) for r in rows]], ignore_index=True)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    matrix, labels, dictionary, truth = survival_cohort()
    results = cross_validate_models(matrix, labels, dictionary, SETTINGS)
    out = tmp_path_factory.mktemp("survival_model")
    write_model_outputs(results, out)
    write_tsv(km_risk_groups(read_tsv(out / "oof_predictions.tsv")), out / "km_risk_groups.tsv")
    write_tsv(extra_rows(out, truth), out / "metrics_with_baselines.tsv")
    meta = json.loads((out / CV_METADATA_FILE).read_text())
    meta["baseline_factors"] = {
        "rule": "a published score is evaluated as it is on the patients who have it",
        "factor_models": {"cox_mei2021": {
            "description": f"Cox model on the factors of the Mei 2021 nomogram {HOSTILE}",
            "available": ["size"], "left_out": {"crp": "not in the feature matrix"}}},
        "scores": {"size_score": {"feature": "size", "direction": -1, "status": "evaluated"}}}
    (out / "cv_metadata_with_baselines.json").write_text(json.dumps(meta))
    return out, matrix, labels, dictionary


def render(run, path, metrics="metrics.tsv", metadata=CV_METADATA_FILE, km=True,
           nomogram=None) -> str:
    out, matrix, labels, dictionary = run
    render_report(path, out / metrics, out / "oof_predictions.tsv", out / "calibration.tsv",
                  out / "feature_importance.tsv", dictionary, matrix, labels, SETTINGS,
                  cv_metadata=out / metadata, lobo_metrics=out / "lobo_metrics.tsv",
                  tuning=out / "tuning.tsv",
                  km_risk_groups=out / "km_risk_groups.tsv" if km else None,
                  nomogram=nomogram)
    return path.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def report(run, tmp_path_factory):
    return render(run, tmp_path_factory.mktemp("report") / "report.html",
                  "metrics_with_baselines.tsv", "cv_metadata_with_baselines.json")


def section(page: str, anchor: str) -> str:
    match = re.search(rf'<section id="{anchor}">(.*?)</section>', page, re.S)
    assert match, anchor
    return match.group(1)


def interval(row, key) -> str:
    """The report's "value [low, high]" of a metrics.tsv row."""
    low, high = float(row[key + "_low"]), float(row[key + "_high"])
    return f"{float(row[key]):.3f} [{low:.3f}, {high:.3f}]"


def test_survival_sections_replace_the_binary_ones(report):
    for anchor in ("data-checks", "cohort", "metrics", "td-auc", "calibration", "risk-groups",
                   "nomogram", "ablation", "lobo", "tuning", "importance", "shap", "methods",
                   "limitations", "software", "tripod"):
        section(report, anchor)
    assert 'id="roc"' not in report and 'id="decision-curve"' not in report
    assert "time to os_event (os_months)" in report
    # every link of the page (contents, TRIPOD+AI) lands on a section
    assert set(re.findall(r'href="#([\w-]+)"', report)) <= set(re.findall(r'id="([\w-]+)"',
                                                                         report))
    # figures: time-dependent AUC, calibration, Kaplan-Meier by risk group
    assert report.count("data:image/png;base64,") == 4  # and feature importance


def test_endpoint_and_censoring_summary(run, report):
    out = run[0]
    oof = read_tsv(out / "oof_predictions.tsv")
    patients = oof[oof["model"] == "xgboost"].drop_duplicates("sample_id")
    time = pd.to_numeric(patients["time"]).to_numpy()
    event = pd.to_numeric(patients["event"]).to_numpy().astype(int)
    cohort = section(report, "cohort")
    for label, count in (("with follow-up", N - NO_FOLLOW_UP), ("events", event.sum()),
                         ("censored", len(event) - event.sum()), ("no follow-up", NO_FOLLOW_UP)):
        assert re.search(rf"{label}[^<]*(?:<[^>]+>[^<]*)*?</td>\s*<td>{count}</td>", cohort), label
    # median follow-up by reverse Kaplan-Meier, from scikit-survival's censoring estimator
    times, censoring = kaplan_meier_estimator(event.astype(bool), time, reverse=True)
    median = times[np.argmax(censoring <= 0.5)]
    assert f"Median follow-up (reverse Kaplan-Meier): <b>{median:.1f} months</b>" in cohort
    for h in HORIZONS:  # events by h, censored before h, still at risk at h
        counts = [((time <= h) & (event == 1)).sum(), ((time < h) & (event == 0)).sum(),
                  (time >= h).sum()]
        assert (f'<td class="text">{h:g}</td>\n'
                + "\n".join(f"<td>{c}</td>" for c in counts)) in cohort


def test_c_index_table_with_models_baselines_scores_and_oracle(run, report):
    metrics = read_tsv(run[0] / "metrics_with_baselines.tsv").set_index("model")
    table = section(report, "metrics")
    xgb = metrics.loc["xgboost"]
    assert f"Harrell's C {float(xgb['c_index']):.3f} (95% CI {float(xgb['c_index_low']):.3f}" \
        in table
    for name in ("xgboost", "cox_all_features", "cox_baseline", "cox_mei2021", "size_score",
                 "oracle"):
        assert f"<b>{name}</b>" in table
        assert interval(metrics.loc[name], "c_index") in table
        assert interval(metrics.loc[name], "uno_c") in table
    diff = metrics.loc["cox_all_features"]
    assert (f"{float(diff['c_index_diff_vs_xgboost']):+.3f} "
            f"[{float(diff['c_index_diff_low']):.3f}" in table)
    # the oracle next to the models, and the gap
    oracle = float(metrics.loc["oracle", "c_index"])
    assert f"reaches C {interval(metrics.loc['oracle'], 'c_index')}" in table
    assert f"XGBoost is {oracle - float(xgb['c_index']):.3f} below it" in table
    # descriptions: cv_metadata.json's (escaped), the configured score with its coverage
    assert "Mei 2021 nomogram &lt;script&gt;" in table and HOSTILE not in report
    assert "<code>crp</code> (not in the feature matrix)" in table
    assert "Published scores: a published score is evaluated as it is" in table
    assert "Published score <code>size</code> used as is (higher = worse)" in table
    coverage = float(metrics.loc["size_score", "coverage"])
    assert f"({100 * coverage:.0f}% coverage)" in table and "<th>coverage</th>" in table


def test_without_oracle_or_extra_baselines(run, tmp_path):
    page = render(run, tmp_path / "plain.html", km=False)
    table = section(page, "metrics")
    assert "<b>oracle</b>" not in table and "reaches C" not in table
    assert "<b>cox_mei2021</b>" not in table  # no row; the skipped note names it
    # no km_risk_groups.tsv: tertiles computed from the OOF table, and said so
    groups = section(page, "risk-groups")
    assert "km_risk_groups.tsv</code> not produced" in groups
    assert "tertiles of the cross-validated out-of-fold xgboost risk" in groups
    assert 'Not available (file <code>results/model/final/nomogram.json</code>' in page


def test_time_dependent_auc_calibration_and_risk_groups(run, report):
    metrics = read_tsv(run[0] / "metrics.tsv").set_index("model")
    td = section(report, "td-auc")
    for h in HORIZONS:
        assert interval(metrics.loc["xgboost"], f"auc_{h:g}m") in td
    calibration = section(report, "calibration")
    assert "Calibration in the large" in calibration and "mean predicted S(36 m)" in calibration
    km = read_tsv(run[0] / "km_risk_groups.tsv")
    groups = section(report, "risk-groups")
    first = km.drop_duplicates("group")
    for group, n in zip(first["group"], first["group_n"]):
        assert f"<td class=\"text\">{group}</td>" in groups and f"<td>{n}</td>" in groups
    p = float(first["logrank_p"].iloc[0])
    expected = "p &lt; 0.001" if p < 0.001 else f"p = {p:.3f}"
    assert f"{float(first['logrank_chi2'].iloc[0]):.2f} on 2 degrees of freedom, {expected}" \
        in groups
    # numbers at risk under the plot: patients of the group still followed at 0, 12, ... months
    patients = averaged_oof_risk(read_tsv(run[0] / "oof_predictions.tsv"))
    c1, c2 = float(first["cutoff_1"].iloc[0]), float(first["cutoff_2"].iloc[0])
    member = {"low": patients["risk"] < c1, "high": patients["risk"] >= c2}
    member["intermediate"] = ~member["low"] & ~member["high"]
    ticks = at_risk_times(patients["time"].max())
    assert ticks[0] == 0 and len(ticks) > 2
    for group, rows in member.items():
        counts = numbers_at_risk(patients["time"][rows], ticks)
        assert (f'<td class="text">{group}</td>\n'
                + "\n".join(f"<td>{c}</td>" for c in counts) + "\n</tr>") in groups


def test_methods_and_tripod_for_a_survival_model(report):
    methods = html.unescape(section(report, "methods"))
    for text in ("Time origin", "Handling of censoring", "Breslow", "Uno's C",
                 "Prediction horizons: 12, 24, 36 months", "refitted on the published factors"):
        assert text in methods, text
    tripod = section(report, "tripod")
    assert "Handling of censoring" in tripod and 'href="#risk-groups"' in tripod
    assert "Class imbalance: folds stratified on the event indicator" in tripod


def test_byte_identical_across_renders(run, report, tmp_path):
    again = render(run, tmp_path / "again.html", "metrics_with_baselines.tsv",
                   "cv_metadata_with_baselines.json")
    assert again == report
