"""haicpred.report: a self-contained, deterministic HTML report from real model outputs."""

from __future__ import annotations

import base64
import json
import re

import numpy as np
import pandas as pd
import pytest

from haicpred.model import cross_validate_models, write_model_outputs
from haicpred.report import render_report
from haicpred.tables import read_tsv, write_tsv

SETTINGS = {
    "seed": 2,
    "cv_folds": 3,
    "cv_repeats": 2,
    "n_bootstrap": 100,
    "threads": 1,
    "xgboost": {"n_estimators": 30},
    "score_baselines": {"albi_score": {"feature": "albi_score", "direction": -1}},
}
EVIL = '<script>alert("x")</script>'


def make_cohort(n: int = 150, seed: int = 4):
    rng = np.random.default_rng(seed)
    ids = [f"P{i:03d}" for i in range(n)]
    batch = np.where(np.arange(n) % 2 == 0, "siteA", EVIL)
    matrix = pd.DataFrame({"sample_id": ids, "batch": batch})
    matrix["tumor_size_cm"] = rng.gamma(3.0, 2.5, n)
    matrix["albi_score"] = rng.normal(-2.4, 0.5, n)
    matrix["afp_ge_400"] = rng.integers(0, 2, n).astype(float)
    matrix["rad_original_firstorder_Mean"] = rng.normal(size=n)
    matrix["FGFR4_mutated"] = rng.integers(0, 2, n).astype(float)
    matrix.loc[batch == EVIL, "FGFR4_mutated"] = np.nan  # no exomes in one batch
    matrix["rs8099917_TT"] = rng.integers(0, 2, n).astype(float)
    lin = -0.3 * (matrix["tumor_size_cm"] - 7.5) + 1.2 * matrix["rad_original_firstorder_Mean"]
    prob = 1 / (1 + np.exp(-lin))
    y = (rng.random(n) < prob).astype(float)
    y[:10] = np.nan
    labels = pd.DataFrame(
        {
            "sample_id": ids,
            "batch": batch,
            "best_response": np.where(np.isnan(y), None, np.where(y == 1, "PR", "PD")),
            "objective_response": y,
        }
    )
    modality = {
        "tumor_size_cm": "clinical",
        "albi_score": "derived",
        "afp_ge_400": "derived",
        "rad_original_firstorder_Mean": "radiomics",
        "FGFR4_mutated": "mutation",
        "rs8099917_TT": "genotype",
    }
    dictionary = pd.DataFrame(
        {"feature": list(modality), "modality": list(modality.values()), "unit": "",
         "description": ""}
    )
    truth = pd.DataFrame({"sample_id": ids, "response_probability": prob})
    planted = pd.DataFrame(
        {
            "feature": ["tumor_size_cm", "rad_original_firstorder_Mean", "hidden_thing"],
            "effect_log_odds": [-0.3, 1.2, 0.5],
            "note": ["per cm", "per SD", EVIL],
        }
    )
    return matrix, labels, dictionary, truth, planted


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    matrix, labels, dictionary, truth, planted = make_cohort()
    results = cross_validate_models(matrix, labels, dictionary, SETTINGS, truth=truth)
    out = tmp_path_factory.mktemp("model")
    write_model_outputs(results, out)
    write_tsv(matrix, out / "feature_matrix.tsv")
    write_tsv(labels, out / "labels.tsv")
    write_tsv(dictionary, out / "feature_dictionary.tsv")
    write_tsv(truth, out / "truth.tsv")
    write_tsv(planted, out / "planted_effects.tsv")
    return out


def render_from_tsvs(model_dir, out_path, with_truth=True):
    """As the workflow does: every table read back from TSV (strings)."""
    tables = {
        name: read_tsv(model_dir / f"{name}.tsv")
        for name in ("metrics", "oof_predictions", "calibration", "feature_importance",
                     "feature_dictionary", "feature_matrix", "labels", "truth",
                     "planted_effects")
    }
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
        model_metadata=model_dir / "model_metadata.json",
    )
    return out_path.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def report(model_dir, tmp_path_factory):
    return render_from_tsvs(model_dir, tmp_path_factory.mktemp("report") / "report.html")


def test_report_is_self_contained(report):
    assert report.startswith("<!DOCTYPE html>")
    assert report.rstrip().endswith("</html>")
    lowered = report.lower()
    for forbidden in ('src="http', "src='http", 'href="http', "href='http", "<script",
                      "<link", "@import", "url("):
        assert forbidden not in lowered, forbidden
    assert "<style>" in report


def test_report_contains_figures(report):
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', report)
    assert len(images) == 4  # ROC, calibration, decision curve, importance
    for data in images:
        png = base64.b64decode(data)
        assert png.startswith(b"\x89PNG")
        assert b"Software" not in png[:200]
    for heading in ("ROC curves", "Calibration", "Feature importance", "Methods", "Software",
                    "Cohort", "Planted effects"):
        assert f"<h2>{heading}" in report, heading


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
    # software: versions of this run and of the model fit, and the model's hash
    meta = json.loads((model_dir / "model_metadata.json").read_text())
    assert meta["model_sha256"] in report
    assert f"<td class=\"text\">{meta['versions']['xgboost']}</td>" in report


def test_text_from_data_is_escaped(report):
    assert EVIL not in report
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in report


def test_report_is_byte_identical(model_dir, tmp_path, report):
    again = render_from_tsvs(model_dir, tmp_path / "again.html")
    assert again == report


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
    )
    text = (tmp_path / "report.html").read_text()
    assert "below it" not in text and "Planted effects" not in text
    assert text.count("data:image/png;base64,") == 4
