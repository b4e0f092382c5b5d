"""haicpred.report.render: a self-contained, deterministic HTML report from real model outputs."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from haicpred.features.data_checks import run_data_checks
from haicpred.modeling.final_model import METADATA_FILE, fit_final_model, write_final_model
from haicpred.modeling.cross_validation import (CV_METADATA_FILE, cross_validate_models,
                                                write_model_outputs)
from haicpred.modeling.settings import DEFAULT_SETTINGS
from haicpred.report.layout import FINAL_METADATA_FILE, OPTIONAL_FILES
from haicpred.report.render import render_report
from haicpred.io.tables import read_tsv, write_tsv
from report_helpers import EVIL, make_cohort

SETTINGS = {
    "seed": 2,
    "cv_folds": 3,
    "cv_repeats": 2,
    "n_bootstrap": 100,
    "threads": 1,
    "xgboost": {"n_estimators": 30},
    "score_baselines": {"albi_score": {"feature": "albi_score", "direction": -1}},
}
NEW_METRIC_COLUMNS = ("auprc", "threshold", "sensitivity", "specificity", "delong_p_vs_xgboost")
ABLATION = {"xgboost_clinical_only": -0.2, "xgboost_without_clinical": -0.01,
            "xgboost_radiomics_only": -0.15, "xgboost_without_radiomics": 0.004}
ABLATION_NAME = r"xgboost_(without_.+|.+_only)$"
LOBO_COLUMNS = ["held_out_batch", "model", "n", "n_events", "auc", "auc_low", "auc_high",
                "brier", "calibration_intercept", "calibration_slope", "note"]
TUNING_COLUMNS = ["scheme", "repeat", "fold", "held_out_batch", "max_depth", "learning_rate",
                  "n_estimators", "subsample", "colsample_bytree", "min_child_weight",
                  "reg_lambda", "reg_alpha", "scale_pos_weight", "inner_auc", "inner_auc_sd",
                  "inner_logloss", "n_candidates", "note"]
if "tuning" in DEFAULT_SETTINGS:  # nested tuning is the model stage's test, not this one's
    SETTINGS["tuning"] = {"enabled": False}


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    matrix, labels, dictionary, truth, planted = make_cohort()
    results = cross_validate_models(matrix, labels, dictionary, SETTINGS, truth=truth)
    out = tmp_path_factory.mktemp("model")
    write_model_outputs(results, out)
    # the final model's folder, as rule final_model writes it next to the CV's outputs
    write_final_model(fit_final_model(matrix, labels, dictionary, SETTINGS,
                                      cv_metrics=results.metrics, cv_oof=results.oof),
                      out / "final")
    write_tsv(matrix, out / "feature_matrix.tsv")
    write_tsv(labels, out / "labels.tsv")
    write_tsv(dictionary, out / "feature_dictionary.tsv")
    write_tsv(truth, out / "truth.tsv")
    write_tsv(planted, out / "planted_effects.tsv")
    return out


def optional_tables(model_dir):
    """The later stages' tables, built here with exactly their documented columns: metrics with
    the new columns and modality-ablation rows, decision curve, SHAP importance,
    leave-one-batch-out metrics and nested tuning. Hostile text in names and notes."""
    metrics = old_stage_tables(model_dir)["metrics"]
    rng = np.random.default_rng(7)
    metrics["auprc"] = [f"{v:.4f}" for v in rng.uniform(0.4, 0.8, len(metrics))]
    metrics["threshold"] = "0.5"
    metrics["sensitivity"] = [f"{v:.4f}" for v in rng.uniform(0.5, 0.9, len(metrics))]
    metrics["specificity"] = [f"{v:.4f}" for v in rng.uniform(0.5, 0.9, len(metrics))]
    metrics["delong_p_vs_xgboost"] = [
        "" if m == "xgboost" else f"{v:.6f}" for m, v in
        zip(metrics["model"], [0.0, 0.0001, *rng.uniform(0.01, 0.9, len(metrics) - 2)])]
    xgb = metrics[metrics["model"] == "xgboost"].iloc[0]
    ablation = []
    for name, delta in ABLATION.items():
        row = xgb.copy()
        row["model"] = name
        row["auc"] = f"{float(xgb['auc']) + delta:.6f}"
        row["auc_diff_vs_xgboost"] = f"{delta:.6f}"
        row["auc_diff_low"], row["auc_diff_high"] = f"{delta - 0.05:.6f}", f"{delta + 0.05:.6f}"
        row["delong_p_vs_xgboost"] = "0.2"
        ablation.append(row)
    metrics = pd.concat([metrics, pd.DataFrame(ablation)], ignore_index=True)
    oof = read_tsv(model_dir / "oof_predictions.tsv")
    oof = oof[~oof["model"].str.match(ABLATION_NAME)]
    xgb_oof = oof[oof["model"] == "xgboost"]
    oof = pd.concat([oof] + [xgb_oof.assign(model=name) for name in ABLATION],
                    ignore_index=True)
    thresholds = [f"{k / 100:.2f}" for k in range(5, 100, 5)]
    models = list(metrics["model"]) + ["treat_all", "treat_none"]
    decision = pd.DataFrame(
        [(m, t, "0" if m == "treat_none" else f"{0.4 - float(t) * 0.3:.6f}")
         for m in models for t in thresholds],
        columns=["model", "threshold", "net_benefit"])
    dictionary = read_tsv(model_dir / "feature_dictionary.tsv")
    shap = pd.DataFrame({
        "feature": list(dictionary["feature"]) + [EVIL],
        "modality": list(dictionary["modality"]) + ["clinical"],
    })
    shap["mean_abs_shap"] = [f"{v:.5f}" for v in np.linspace(0.5, 0.01, len(shap))]
    shap["rank"] = [str(i) for i in range(1, len(shap) + 1)]
    lobo = pd.DataFrame(
        [(batch, model, "70", "30", "0.71", "0.6", "0.8", "0.2", "0.1", "0.9",
          "one class in the held-out batch" if model == "albi_score" else "")
         for batch in ("siteA", EVIL) for model in ("xgboost", "logistic_baseline", "albi_score")],
        columns=LOBO_COLUMNS)
    lobo.loc[5, "note"] = EVIL
    tuning = pd.DataFrame(
        [("cv", str(r), str(f), "", "2" if f % 2 else "3", "0.05", "120", "0.8", "0.8", "1",
          "1", "0", "1", f"{0.70 + 0.01 * f:.4f}", "0.02", "0.55", "20", "")
         for r in (1, 2) for f in (1, 2, 3)]
        + [("lobo", "", "", EVIL, "2", "0.05", "80", "0.8", "0.8", "1", "1", "0", "1", "0.69",
            "0.03", "0.56", "20", "")],
        columns=TUNING_COLUMNS)
    checks = run_data_checks(read_tsv(model_dir / "feature_matrix.tsv"), dictionary,
                             read_tsv(model_dir / "labels.tsv"), None)[0]
    return {"metrics": metrics, "oof_predictions": oof, "decision_curve": decision,
            "shap_importance": shap, "lobo_metrics": lobo, "tuning": tuning,
            "data_checks": checks}


def render_from_tsvs(model_dir, out_path, with_truth=True, optional=None, metadata=None,
                     final=True):
    """As the workflow does: every table read back from TSV (strings); `optional` replaces
    metrics and OOF and adds the later stages' tables; `final`: the final model's metadata
    is given (a path that does not exist otherwise, as for a table not produced)."""
    tables = {
        name: read_tsv(model_dir / f"{name}.tsv")
        for name in ("metrics", "oof_predictions", "calibration", "feature_importance",
                     "feature_dictionary", "feature_matrix", "labels", "truth",
                     "planted_effects")
    }
    optional = dict(optional or {})
    tables["metrics"] = optional.pop("metrics", tables["metrics"])
    tables["oof_predictions"] = optional.pop("oof_predictions", tables["oof_predictions"])
    render_report(
        out_path,
        tables["metrics"],
        tables["oof_predictions"],
        tables["calibration"],
        tables["feature_importance"],
        tables["feature_dictionary"],
        tables["feature_matrix"],
        tables["labels"],
        {"model": SETTINGS},
        truth=tables["truth"] if with_truth else None,
        planted_effects=tables["planted_effects"] if with_truth else None,
        cv_metadata=metadata or model_dir / CV_METADATA_FILE,
        final_metadata=model_dir / ("final" if final else "absent") / METADATA_FILE,
        **optional,
    )
    return out_path.read_text(encoding="utf-8")


def old_stage_tables(model_dir):
    """metrics.tsv and the OOF table as the model stage wrote them before the new columns and
    ablation rows, and no optional table."""
    metrics = read_tsv(model_dir / "metrics.tsv")
    metrics = metrics[[c for c in metrics.columns if c not in NEW_METRIC_COLUMNS]]
    metrics = metrics[~metrics["model"].str.match(ABLATION_NAME)]
    return {"metrics": metrics, "decision_curve": None, "shap_importance": None,
            "lobo_metrics": None, "tuning": None}


def section(report: str, anchor: str) -> str:
    match = re.search(rf'<section id="{anchor}">(.*?)</section>', report, re.S)
    assert match, anchor
    return match.group(1)


def table_rows(fragment: str) -> int:
    """Data rows of the tables in an HTML fragment (header rows hold <th>)."""
    return sum("<td" in row for row in re.findall(r"<tr[^>]*>(.*?)</tr>", fragment, re.S))


@pytest.fixture(scope="module")
def full(model_dir):
    return optional_tables(model_dir)


@pytest.fixture(scope="module")
def report(model_dir, full, tmp_path_factory):
    return render_from_tsvs(model_dir, tmp_path_factory.mktemp("report") / "report.html",
                            optional=full)


@pytest.fixture(scope="module")
def bare_report(model_dir, tmp_path_factory):
    return render_from_tsvs(model_dir, tmp_path_factory.mktemp("bare") / "report.html",
                            optional=old_stage_tables(model_dir), final=False)


def test_report_is_self_contained(report):
    assert report.startswith("<!DOCTYPE html>")
    assert report.rstrip().endswith("</html>")
    lowered = report.lower()
    for forbidden in ('src="http', "src='http", 'href="http', "href='http", "<script",
                      "<link", "@import", "url("):
        assert forbidden not in lowered, forbidden
    assert "<style>" in report


def figures(fragment: str) -> list[tuple[str, str]]:
    """(alt, base64 PNG) of every <figure><img> in the fragment, each with a caption."""
    found = re.findall(r'<figure><img alt="([^"]*)" src="data:image/png;base64,'
                       r'([A-Za-z0-9+/=]+)"><figcaption>.+?</figcaption></figure>', fragment,
                       re.S)
    assert len(found) == fragment.count("<figure>")
    return found


def test_report_contains_figures(report):
    found = figures(report)
    assert len(found) == 5  # ROC, calibration, decision curve, importance, SHAP
    for alt, data in found:
        png = base64.b64decode(data)
        assert png.startswith(b"\x89PNG")
        assert b"Software" not in png[:200]
        assert len(alt) > 40, alt  # describes the figure, not just names it
    for anchor in ("roc", "calibration", "decision-curve", "importance", "shap"):
        assert len(figures(section(report, anchor))) == 1, anchor
    assert "xgboost AUC" in figures(section(report, "roc"))[0][0]
    for heading in ("ROC curves", "Calibration", "Feature importance", "Methods", "Software",
                    "Cohort", "Planted effects", "Clinical usefulness", "Modality ablation",
                    "Leave-one-batch-out validation", "Nested hyper-parameter tuning",
                    "SHAP summary", "Limitations", "TRIPOD+AI checklist"):
        assert f"<h2>{heading}" in report, heading
    assert "not produced" not in report


def test_report_contains_metrics(report, model_dir):
    metrics = read_tsv(model_dir / "metrics.tsv").set_index("model")
    for model in ("xgboost", "logistic_baseline", "albi_score", "oracle"):
        row = metrics.loc[model]
        ci = (f"{float(row['auc']):.3f} [{float(row['auc_low']):.3f}, "
              f"{float(row['auc_high']):.3f}]")
        assert ci in report, model
        assert f"{float(row['brier']):.3f}" in report
    gap = float(metrics.loc["oracle", "auc"]) - float(metrics.loc["xgboost", "auc"])
    assert f"XGBoost is {gap:.3f} below it" in report
    assert "Liu 2023" in report
    assert "rad_original_firstorder_Mean (#" in report and "tumor_size_cm (#" in report
    # cohort summary: patients, labelled, responders, batches and modalities
    assert "<td>150</td>" in report and "<td>140</td>" in report
    for modality in ("clinical", "derived", "radiomics", "mutation", "genotype"):
        assert f'<td class="text">{modality}</td>' in report
    assert "xgboost" in report and "0.1.0" in report
    # software: versions of this run, of the cross-validation and of the final model fit, and
    # the final model's file and hash
    meta = json.loads((model_dir / CV_METADATA_FILE).read_text())
    final = json.loads((model_dir / "final" / METADATA_FILE).read_text())
    software = section(report, "software")
    assert f"<td class=\"text\">{meta['versions']['xgboost']}</td>" in software
    assert "cross-validation (cv_metadata.json)" in software
    assert f"<td class=\"text\">{final['versions']['shap']}</td>" in software
    assert final["model_sha256"] in software
    assert "results/model/final/xgboost_model.json" in software
    assert f"{final['n_features']} features" in software
    assert "haicpred predict" in software and "haicpred score" not in report


def test_metrics_table_has_the_new_columns(report, full):
    text = section(report, "metrics")
    for header in ("AUPRC", "DeLong p vs XGBoost", "threshold", "sensitivity at threshold",
                   "specificity at threshold", "Brier", "calibration slope",
                   "calibration intercept", "AUC [95% CI]"):
        assert f">{header}</th>" in text, header
    metrics = full["metrics"].set_index("model")
    for model in ("logistic_baseline", "albi_score"):
        assert f"<td>{float(metrics.loc[model, 'auprc']):.3f}</td>" in text
        assert f"<td>{float(metrics.loc[model, 'sensitivity']):.3f}</td>" in text
    assert "&lt;0.001" in text  # the smallest DeLong p
    # ablation rows have their own table, not the main one
    assert table_rows(text) == len([m for m in metrics.index if m not in ABLATION])
    assert "xgboost_without_radiomics_x" not in text


def test_ablation_table(report):
    text = section(report, "ablation")
    assert table_rows(text) == 1 + len(ABLATION)  # xgboost (reference) and each ablation
    for name, delta in ABLATION.items():
        assert f'<td class="text">{name}</td>' in text
        assert f"{delta:+.3f} [" in text
    assert "all but clinical" in text and "radiomics features only" in text
    assert "DeLong p" in text
    # the ROC, calibration and decision figures get a second, ablation panel
    assert "modality ablations" in section(report, "roc")


def test_lobo_tuning_shap_sections(report, full):
    lobo = section(report, "lobo")
    assert table_rows(lobo) == len(full["lobo_metrics"])
    assert "0.710 [0.600, 0.800]" in lobo and "one class in the held-out batch" in lobo
    assert "ranges from 0.710 to 0.710 over 2 batches" in lobo
    tuning = section(report, "tuning")
    assert "6 of 7 training sets tuned" not in tuning  # every row has an inner AUC
    assert "7 of 7 training sets tuned" in tuning
    assert "inner-CV AUC of the chosen settings median" in tuning
    per_set = tuning[tuning.index("Per training set"):]
    assert table_rows(per_set) == len(full["tuning"])
    chosen = tuning[tuning.index("Chosen settings"):tuning.index("Per training set")]
    assert table_rows(chosen) == 3  # depth 2 (x4, with the lobo row's 80 trees: 2 sets), 3
    shap = section(report, "shap")
    assert table_rows(shap) == min(20, len(full["shap_importance"]))
    assert '<td class="text">tumor_size_cm</td>' in shap
    assert "results/model/final/shap_importance.tsv" in shap
    decision = section(report, "decision-curve")
    assert "results/model/decision_curve.tsv" in decision and "not produced" not in decision
    assert "treat-all and treat-none" in figures(decision)[0][0]
    methods = section(report, "methods")
    assert "nested cross-validation" in methods and 'href="#lobo"' in methods
    assert "(scale_pos_weight): tuned in each training set" in methods
    assert "Every training set chose different settings" not in tuning


def tripod_rows(report: str) -> list[list[str]]:
    text = section(report, "tripod")
    rows = re.findall(r"<tr>(.*?)</tr>", text, re.S)
    return [re.findall(r"<td[^>]*>(.*?)</td>", row, re.S) for row in rows if "<td" in row]


def test_tripod_checklist_links_resolve(report, bare_report):
    for text in (report, bare_report):
        ids = set(re.findall(r'\bid="([^"]+)"', text))
        links = re.findall(r'href="#([^"]+)"', text)
        assert links and set(links) <= ids, set(links) - ids
        rows = tripod_rows(text)
        assert len(rows) >= 20
        topics = " ".join(row[1] for row in rows).lower()
        for topic in ("source of data", "participants", "outcome definition", "predictors",
                      "sample size", "missing data", "tuning", "preprocessing",
                      "discrimination", "calibration", "clinical utility", "baselines",
                      "internal validation", "batch-held-out", "model specification",
                      "limitations", "fairness", "title", "abstract"):
            assert topic in topics, topic
        for item, topic, where in rows:
            assert where.startswith("not answered: ") or where.startswith('<a href="#'), where
            if where.startswith('<a href="#'):
                assert re.findall(r'href="#([^"]+)"', where)
    rows = {row[1]: row[2] for row in tripod_rows(report)}
    lobo_topic = next(t for t in rows if "batch-held-out" in t)
    assert rows[lobo_topic].startswith('<a href="#lobo">')
    assert rows["Title"].startswith("not answered: not applicable")
    bare = {row[1]: row[2] for row in tripod_rows(bare_report)}
    assert bare[lobo_topic].startswith("not answered: ")
    assert "results/model/lobo_metrics.tsv not produced" in bare[lobo_topic]


def test_absent_tables_say_not_available(bare_report):
    for anchor, path in (("lobo", "results/model/lobo_metrics.tsv"),
                         ("shap", "results/model/final/shap_importance.tsv"),
                         ("tuning", "results/model/tuning.tsv")):
        text = section(bare_report, anchor)
        assert f"Not available (file <code>{path}</code> not produced)" in text, anchor
        assert "<figure>" not in text and table_rows(text) == 0
    decision = section(bare_report, "decision-curve")
    assert "Not available (file <code>results/model/decision_curve.tsv</code> not produced)" \
        in decision
    assert len(figures(decision)) == 1  # computed from the out-of-fold probabilities instead
    assert "Not available: metrics.tsv has no" in section(bare_report, "ablation")
    assert "<code>auprc</code>" in section(bare_report, "metrics")
    assert len(figures(bare_report)) == 4  # ROC, calibration, decision curve, importance
    methods = section(bare_report, "methods")
    assert "batches are not held out" in section(bare_report, "limitations").lower()
    assert 'href="#lobo"' not in methods
    assert "(scale_pos_weight): 1;" in methods and "No hyper-parameters were tuned" in methods
    software = section(bare_report, "software")
    assert ("Not available (file <code>results/model/final/model_metadata.json</code> not "
            "produced)") in software
    assert "cross-validation (cv_metadata.json)" in software  # the CV's versions all the same


def test_text_from_data_is_escaped(report, bare_report):
    for text in (report, bare_report):
        assert EVIL not in text
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in text
    for anchor in ("lobo", "tuning", "shap", "cohort"):
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in section(report, anchor)


def test_report_is_byte_identical(model_dir, full, tmp_path, report):
    again = render_from_tsvs(model_dir, tmp_path / "again.html", optional=optional_tables(
        model_dir))
    assert again == report


def test_endpoint_from_cv_metadata(model_dir, tmp_path):
    """The cohort and labels follow cv_metadata.json's label block, not 'responders'."""
    meta = json.loads((model_dir / CV_METADATA_FILE).read_text())
    meta["label"] = {"column": "os_event_by_12_months", "name": "os_event_by_12_months",
                     "definition": "1 when os_event = 1 with os_months <= 12; " + EVIL,
                     "positive_is_favourable": False, "n_censored_before_horizon": 4,
                     "n_missing": 6, "positive_class": 1}
    text = render_from_tsvs(model_dir, tmp_path / "r.html", with_truth=False,
                            optional=old_stage_tables(model_dir), metadata=meta)
    cohort = section(text, "cohort")
    assert "os_event_by_12_months = 1" in cohort and "responders" not in cohort
    assert "4 censored before the horizon" in cohort
    assert "Label 1 is the adverse outcome" in cohort
    assert "1 when os_event = 1 with os_months &lt;= 12" in cohort and EVIL not in text
    assert "predicting os_event_by_12_months" in text
    assert "responders (CR/PR)" not in text


def test_report_without_truth(model_dir, tmp_path):
    metrics = read_tsv(model_dir / "metrics.tsv")
    metrics = metrics[metrics["model"] != "oracle"]
    write_tsv(metrics, tmp_path / "metrics.tsv")
    render_report(
        tmp_path / "report.html",
        tmp_path / "metrics.tsv",
        model_dir / "oof_predictions.tsv",
        model_dir / "calibration.tsv",
        model_dir / "feature_importance.tsv",
        model_dir / "feature_dictionary.tsv",
        model_dir / "feature_matrix.tsv",
        model_dir / "labels.tsv",
        SETTINGS,
        # a path that does not exist is a table that was not produced
        lobo_metrics=tmp_path / "absent" / "lobo_metrics.tsv",
    )
    text = (tmp_path / "report.html").read_text()
    assert "below it" not in text and "Planted effects" not in text
    assert text.count("data:image/png;base64,") == 4
    assert "Not available (file <code>results/model/lobo_metrics.tsv</code>" in text


def test_workflow_passes_the_same_optional_files():
    """The report rule gets the optional tables by the paths the report names when absent."""
    rule = (Path(__file__).resolve().parents[2] / "workflow/rules/common.smk").read_text()
    for key, path in {**OPTIONAL_FILES, "final_metadata": FINAL_METADATA_FILE}.items():
        assert f'"{key}": "{path}"' in rule, key
    script = (Path(__file__).resolve().parents[2] / "workflow/scripts/report.py").read_text()
    assert 'getattr(inputs, "final_metadata", None)' in script


# issue 13 findings 3, 8 and 11: data checks at the top; wording that follows the configured
# endpoint, cohort and treatment; one batch


def render_for_endpoint(model_dir, out_path, endpoint: dict, label_block: dict, labels,
                        cohort=None, matrix=None):
    """The report of a run with `endpoint` configured (settings and cv_metadata agree, as in
    the workflow) and `labels` as labels.tsv."""
    meta = json.loads((model_dir / CV_METADATA_FILE).read_text())
    meta["label"] = label_block
    matrix = read_tsv(model_dir / "feature_matrix.tsv") if matrix is None else matrix
    dictionary = read_tsv(model_dir / "feature_dictionary.tsv")
    render_report(out_path, model_dir / "metrics.tsv", model_dir / "oof_predictions.tsv",
                  model_dir / "calibration.tsv", model_dir / "feature_importance.tsv",
                  dictionary, matrix, labels, {"model": SETTINGS, "endpoint": endpoint},
                  cv_metadata=meta, cohort=cohort,
                  data_checks=run_data_checks(matrix, dictionary, labels, endpoint)[0])
    return out_path.read_text(encoding="utf-8")


def survival_labels(model_dir):
    labels = read_tsv(model_dir / "labels.tsv")
    rng = np.random.default_rng(11)
    n = len(labels)
    labels["os_event"] = rng.integers(0, 2, n).astype(str)
    labels["os_months"] = [f"{v:.1f}" for v in rng.uniform(2, 40, n)]
    labels.loc[:4, ["os_event", "os_months"]] = np.nan
    return labels


def test_data_checks_section_comes_first_and_highlights_flagged_rows(report):
    """make_cohort's second batch has no mutation data: flagged, highlighted, summarised."""
    assert report.index('<section id="data-checks">') < report.index('<section id="cohort">') \
        < report.index('<section id="metrics">')
    checks = section(report, "data-checks")
    assert "data checks flagged</b>: " in checks and "batch_modality_missing" in checks
    flagged_rows = re.findall(r'<tr class="flagged">(.*?)</tr>', checks, re.S)
    assert any("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;: mutation" in row
               for row in flagged_rows)
    assert "Benjamini-Hochberg" in checks and "results/features/data_checks.tsv" in checks
    assert "<h2>Data checks</h2>" in report
    tripod = section(report, "tripod")
    assert '<a href="#data-checks">' in tripod


def test_survival_endpoint_wording(model_dir, tmp_path):
    """Finding 8: no mRECIST line under a survival endpoint; the title names the endpoint,
    the treatment and the cohort from the config."""
    endpoint = {"kind": "survival_horizon", "time_column": "os_months",
                "event_column": "os_event", "horizon_months": 12}
    block = {"name": "os_event_by_12_months", "definition": "1 when os_event = 1 by 12 months",
             "positive_is_favourable": False, "n_censored_before_horizon": 3, "n_missing": 5}
    text = render_for_endpoint(model_dir, tmp_path / "r.html", endpoint, block,
                               survival_labels(model_dir),
                               cohort={"cohort_name": "SYSUCC 2016-2020", "treatment": "TACE"})
    cohort = section(text, "cohort")
    assert "Best response" not in text and "mRECIST" not in cohort
    assert "<p><b>Cohort</b>: SYSUCC 2016-2020, 150 patients treated with TACE, in 2 batches" \
        in cohort
    assert "<code>os_event</code> and <code>os_months</code> for 145 of 150 patients" in cohort
    assert "horizon 12 months" in cohort
    title = re.search(r"<title>(.*?)</title>", text).group(1)
    heading = re.search(r"<h1>(.*?)</h1>", text).group(1)
    assert title == "haicpred: prediction of os_event_by_12_months after TACE (SYSUCC 2016-2020)"
    assert heading == ("haicpred: predicting os_event_by_12_months after TACE for "
                       "hepatocellular carcinoma &mdash; SYSUCC 2016-2020")
    assert "HAIC" not in title + heading + section(text, "decision-curve")
    checks = section(text, "data-checks")
    assert "os_event_by_12_months = 1" in checks  # the checks use the configured endpoint


def test_binary_column_endpoint_wording(model_dir, tmp_path):
    labels = read_tsv(model_dir / "labels.tsv")
    labels["outcome_alive_1y"] = np.where(np.arange(len(labels)) % 3 == 0, "1", "0")
    labels.loc[:9, "outcome_alive_1y"] = np.nan
    endpoint = {"kind": "binary_column", "column": "outcome_alive_1y", "favourable": True}
    block = {"name": "outcome_alive_1y", "definition": "clinical column outcome_alive_1y",
             "positive_is_favourable": True, "n_missing": 10}
    text = render_for_endpoint(model_dir, tmp_path / "r.html", endpoint, block, labels)
    cohort = section(text, "cohort")
    assert "Best response" not in text
    assert "Recorded outcome <code>outcome_alive_1y</code>: 1 in 46, 0 in 94, missing in 10 of " \
        "150 patients" in cohort
    heading = re.search(r"<h1>(.*?)</h1>", text).group(1)
    # defaults: treatment HAIC, no cohort name (and no demo truth): "haicpred cohort"
    assert heading == ("haicpred: predicting outcome_alive_1y after hepatic arterial infusion "
                       "chemotherapy (HAIC) for hepatocellular carcinoma &mdash; haicpred cohort")
    assert "<p><b>Cohort</b>: haicpred cohort, 150 patients treated with HAIC" in cohort


def test_one_batch_says_lobo_is_not_applicable(model_dir, tmp_path):
    """Finding 11: a single-centre cohort gets one sentence, not an empty table."""
    matrix = read_tsv(model_dir / "feature_matrix.tsv").assign(batch="centre1")
    labels = read_tsv(model_dir / "labels.tsv").assign(batch="centre1")
    endpoint = {"kind": "objective_response"}
    block = {"name": "objective_response", "definition": "CR/PR vs SD/PD",
             "positive_is_favourable": True}
    text = render_for_endpoint(model_dir, tmp_path / "r.html", endpoint, block, labels,
                               matrix=matrix, cohort={"treatment": "TACE"})
    lobo = section(text, "lobo")
    assert "Not applicable: one batch</b> (centre1)" in lobo and table_rows(lobo) == 0
    assert "Best response (mRECIST): " in section(text, "cohort")
    assert "selecting patients for TACE when" in section(text, "decision-curve")
    heading = re.search(r"<h1>(.*?)</h1>", text).group(1)
    assert heading == ("haicpred: predicting objective response of hepatocellular carcinoma "
                       "to TACE &mdash; haicpred cohort")
    assert "not applicable: one batch" in section(text, "tripod")
    assert 'href="#lobo"' not in section(text, "methods")


def test_cohort_name_and_treatment_config_keys(tmp_path):
    """Defaults "" and HAIC (schema and the shipped config agree); an empty treatment is
    refused naming the key."""
    import yaml

    from haicpred.cohort import load_config
    from haicpred.io.errors import InputError

    repo = Path(__file__).resolve().parents[2]
    shipped = yaml.safe_load((repo / "config" / "config.yaml").read_text())
    assert shipped["cohort_name"] == "" and shipped["treatment"] == "HAIC"
    (tmp_path / "empty.yaml").write_text("{}\n")
    config = load_config(tmp_path / "empty.yaml")
    assert config["cohort_name"] == "" and config["treatment"] == "HAIC"
    (tmp_path / "bad.yaml").write_text("treatment: ''\n")
    with pytest.raises(InputError, match="treatment"):
        load_config(tmp_path / "bad.yaml")


def test_a_beaten_model_of_record_is_flagged(model_dir, tmp_path):
    """The warning appears exactly when the paired CI of (best ablation or all-features
    logistic) minus XGBoost lies above 0."""
    metrics = read_tsv(model_dir / "metrics.tsv")
    numeric = metrics.set_index("model")
    ablations = numeric[numeric.index.str.startswith("xgboost_")]
    rivals = [ablations["auc"].astype(float).idxmax(), "logistic_all_features"]
    beaten = any(float(numeric.loc[name, "auc_diff_low"]) > 0 for name in rivals)
    warning = "the model of record is beaten"
    assert (warning in render_from_tsvs(model_dir, tmp_path / "as_is.html")) == beaten
    changed = metrics.copy()
    row = changed["model"] == "logistic_all_features"
    xgb = float(numeric.loc["xgboost", "auc"])
    changed.loc[row, ["auc", "auc_diff_vs_xgboost", "auc_diff_low", "auc_diff_high"]] = [
        str(xgb + 0.06), "0.06", "0.02", "0.1"]
    html = render_from_tsvs(model_dir, tmp_path / "beaten.html", optional={"metrics": changed})
    assert warning in html
    assert "<b>logistic_all_features</b> AUC" in section(html, "metrics")
    changed.loc[row, "auc_diff_low"] = "-0.01"  # the CI reaches 0: no warning
    html = render_from_tsvs(model_dir, tmp_path / "close.html", optional={"metrics": changed})
    assert (warning in html) == any(float(numeric.loc[name, "auc_diff_low"]) > 0
                                    for name in rivals[:1])


def test_the_linear_starts_choices_are_summarised_per_training_set():
    """tuning.tsv of a linear-start run: the report counts the start's penalty and how often
    the radiomics guard left the radiomic features out, over the model of record's rows."""
    from haicpred.modeling.tuning import TUNING_COLUMNS as STAGE_COLUMNS
    from haicpred.report.validation import tuning_section

    rows = []
    for fold, (penalty, left_out) in enumerate([("l2", ""), ("l1", "radiomics"),
                                                ("l2", "radiomics"), ("l2", "")], start=1):
        for model in ("xgboost", "xgboost_clinical_only"):
            rows.append({"scheme": "cv", "model": model, "repeat": 1, "fold": fold,
                         "max_depth": 2, "learning_rate": 0.05, "n_estimators": fold - 1,
                         "inner_auc": 0.7, "inner_logloss": 0.6, "n_candidates": 11,
                         "start_penalty": penalty if model == "xgboost" else "l2",
                         "start_c": 0.1, "start_left_out": left_out if model == "xgboost"
                         else "", "start_n_selected": 40})
    text = tuning_section(pd.DataFrame(rows, columns=STAGE_COLUMNS), {})
    assert ("linear start: L1 in 1 and L2 in 3 of 4 training sets, the radiomic features "
            "left out in 2") in text
    plain = pd.DataFrame(rows, columns=STAGE_COLUMNS).assign(start_penalty="",
                                                             start_left_out="")
    assert "linear start" not in tuning_section(plain, {})
