"""A single, self-contained HTML report of the response models, to the clinical-prediction
reporting standard (TRIPOD+AI checklist at the end, every item linked to where it is answered).

Everything is inline: CSS in a ``<style>`` block, figures as base64 PNG data URIs drawn with
matplotlib's Agg canvas (no pyplot global state, the default style, a fixed dpi and no
``Software`` metadata so the bytes are stable). Every piece of text that comes from data is
escaped. Same inputs -> byte-identical HTML.

Inputs are the model stage's tables (DataFrames, or paths to the TSVs); tables read with
``haicpred.io.tables.read_tsv`` hold strings, so numeric columns are converted here. The tables of
the later stages (decision curve, SHAP importance, leave-one-batch-out metrics, nested tuning)
are optional: a section whose table is missing says which file was not produced.

This module reads the inputs and assembles the page; the sections are written by
haicpred.report.cohort (data checks, cohort), haicpred.report.performance (metrics, ROC,
calibration, decision curve, ablation), haicpred.report.validation (leave-one-batch-out,
tuning), haicpred.report.importance (importance, SHAP, radiomics, planted effects) and
haicpred.report.methods (methods, limitations, software, TRIPOD+AI), laid out by
haicpred.report.layout. A survival run's sections come from haicpred.report.survival (with
haicpred.report.survival_figures and haicpred.report.survival_methods).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import matplotlib.style
import numpy as np
import pandas as pd

from haicpred.io.tables import read_tsv, write_text
from haicpred.modeling.settings import DEFAULT_SETTINGS
from haicpred.report.baselines import full_model_tuning, score_roc_predictions
from haicpred.report.cohort import (ID_COLUMNS, Outcome, cohort_description, cohort_names,
                                    cohort_section, data_checks_body, missing_section_notes,
                                    titles)
from haicpred.report.extraction import extraction_block
from haicpred.report.figures import model_colours
from haicpred.report.html import esc, num
from haicpred.report.importance import (importance_section, planted_section, radiomics_section,
                                        shap_section)
from haicpred.report.layout import (FINAL_METADATA_FILE, OPTIONAL_FILES, SECTION_IDS, link,
                                    model_order, section)
from haicpred.report.methods import (limitations_section, methods_section, tripod_section,
                                     versions_section)
from haicpred.report.performance import (ablation_section, calibration_section, decision_section,
                                         metrics_section, numeric_metrics, roc_section)
from haicpred.report.survival import is_survival_oof, survival_sections
from haicpred.report.survival_methods import read_nomogram
from haicpred.report.validation import lobo_section, tuned_rows, tuning_enabled, tuning_section

# OPTIONAL_FILES, FINAL_METADATA_FILE and SECTION_IDS are defined in haicpred.report.layout and
# exported here too: with render_report they are the report's entry point for the workflow script.
__all__ = ["OPTIONAL_FILES", "FINAL_METADATA_FILE", "SECTION_IDS", "render_report"]


_CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto;
       max-width: 1100px; color: #222; line-height: 1.45; padding: 0 1em; }
h1 { font-size: 1.6em; border-bottom: 2px solid #444; padding-bottom: .2em; }
h2 { font-size: 1.25em; margin-top: 1.8em; border-bottom: 1px solid #bbb; }
table { border-collapse: collapse; margin: .6em 0 1em 0; font-size: .92em; }
th, td { border: 1px solid #ccc; padding: .25em .6em; text-align: right; }
th { background: #f0f0f0; }
td.text, th.text { text-align: left; }
tr.headline td { font-weight: bold; background: #fff8e0; }
tr.flagged td { background: #fde2e1; }
tr.oracle td { font-style: italic; color: #555; }
.headline-box { background: #fff8e0; border: 1px solid #e0c860; padding: .6em 1em; }
.note { color: #555; font-size: .9em; }
.warning { color: #8a1010; background: #fde2e1; border-left: 3px solid #c03030;
           padding: .3em .7em; }
.missing { color: #8a4b00; background: #fdf3e7; border-left: 3px solid #d08a30;
           padding: .3em .7em; }
nav ol { columns: 2; font-size: .92em; }
.table-wrap { overflow-x: auto; }
figure { margin: 1em 0; }
figcaption { font-size: .9em; color: #444; }
img { max-width: 100%; height: auto; }
code { background: #f4f4f4; padding: 0 .2em; }
"""


def _table(value) -> pd.DataFrame | None:
    if value is None:
        return None
    if isinstance(value, (str, os.PathLike)):
        return read_tsv(value)
    return value.copy()


def _optional_table(value) -> pd.DataFrame | None:
    """An optional table: None, a DataFrame, or a path (a path that does not exist = absent)."""
    if isinstance(value, (str, os.PathLike)) and not Path(value).is_file():
        return None
    return _table(value)


def _model_settings(settings: dict | None) -> dict:
    """Accept the model section or the whole config; fill defaults without complaining."""
    settings = dict(settings or {})
    if isinstance(settings.get("model"), dict):
        extra = {k: v for k, v in settings.items() if k in ("threads", "endpoint")}
        settings = {**settings["model"], **extra}
    out = {**DEFAULT_SETTINGS, **{k: v for k, v in settings.items() if v is not None}}
    return out


def _averaged_oof(oof: pd.DataFrame) -> pd.DataFrame:
    """Per model and sample: the label and the out-of-fold probability averaged over repeats."""
    oof = oof.copy()
    oof["y_prob"] = num(oof["y_prob"])
    oof["y_true"] = num(oof["y_true"])
    return (
        oof.groupby(["model", "sample_id"], sort=True)
        .agg(y_true=("y_true", "first"), y_prob=("y_prob", "mean"))
        .reset_index()
    )


def _contents(present: list[str]) -> str:
    return ("<nav><h2>Contents</h2><ol>"
            + "".join(f"<li>{link(a)}</li>" for a in present) + "</ol></nav>")


def render_report(
    out_path,
    metrics,
    oof,
    calibration,
    importance,
    dictionary,
    matrix,
    labels,
    settings,
    truth=None,
    planted_effects=None,
    cv_metadata=None,
    final_metadata=None,
    decision_curve=None,
    shap_importance=None,
    lobo_metrics=None,
    tuning=None,
    data_checks=None,
    cohort=None,
    km_risk_groups=None,
    nomogram=None,
    extraction_summary=None,
    batch_distributions=None,
) -> None:
    """Write the self-contained HTML report to ``out_path``.

    Tables may be DataFrames or TSV paths. ``settings`` is the model settings (or the whole
    config with a ``model`` section). ``truth`` (sample_id, response_probability) and
    ``planted_effects`` are given for the simulated demo cohort only. ``cv_metadata``
    (optional; dict or path to the cross-validation's ``cv_metadata.json``) names the endpoint
    (its ``label`` block) and adds the package versions of the cross-validation, the skipped
    models and the radiomics fold summary. ``final_metadata`` (optional; dict, or a path to
    ``results/model/final/model_metadata.json``, absent = not produced) adds the final model's
    file, sha256, feature count, radiomics step and versions.

    Optional tables (None, or a path that does not exist, = not produced; the section says so):
    ``decision_curve`` (model, threshold, net_benefit, with the ``treat_all`` and
    ``treat_none`` references; without it the curve is computed from ``oof``),
    ``shap_importance`` (feature, modality, mean_abs_shap, rank), ``lobo_metrics``
    (held_out_batch, model, n, n_events, auc, auc_low, auc_high, brier, calibration_intercept,
    calibration_slope, note), ``tuning`` (repeat, fold, the chosen parameters, inner AUC) and
    ``data_checks`` (haicpred.features.data_checks). ``cohort``: the config's ``cohort_name`` and
    ``treatment`` (title and cohort description).

    A survival run (endpoint kind ``survival``: ``oof`` has ``time, event, risk``) gets the
    survival report (haicpred.report.survival); its optional inputs: ``km_risk_groups`` (the
    table of haicpred.modeling.survival_risk_groups, ``results/model/km_risk_groups.tsv``;
    absent = tertiles computed from ``oof``, said in the section) and ``nomogram`` (OPTIONAL
    HOOK: the dict, or a path to ``results/model/final/nomogram.json``, drawn by
    ``haicpred.report.nomogram.nomogram_section`` when that module exists; absent = the
    section says not produced). Both are ignored for the binary endpoints.

    Radiomics extracted from images (haicpred.radiomics.extraction_summary):
    ``extraction_summary`` (dict, or a path to ``results/radiomics/extraction_summary.json``)
    and ``batch_distributions`` (table or path) add the settings, the lesions per batch and the
    scanner-effect figure to the radiomics section.
    """
    if isinstance(extraction_summary, (str, os.PathLike)):
        extraction_summary = json.loads(Path(extraction_summary).read_text())
    with matplotlib.style.context("default"):
        extraction = extraction_block(extraction_summary, _optional_table(batch_distributions))
    if isinstance(cv_metadata, (str, os.PathLike)):
        cv_metadata = json.loads(Path(cv_metadata).read_text())
    if isinstance(final_metadata, (str, os.PathLike)):
        final_metadata = (json.loads(Path(final_metadata).read_text())
                          if Path(final_metadata).is_file() else None)
    metrics, oof, calibration, importance = map(_table, (metrics, oof, calibration, importance))
    dictionary, matrix, labels = map(_table, (dictionary, matrix, labels))
    truth, planted_effects = _table(truth), _table(planted_effects)
    decision_curve, shap_importance, lobo_metrics, tuning, data_checks = map(
        _optional_table, (decision_curve, shap_importance, lobo_metrics, tuning, data_checks))
    cohort_name, treatment = cohort_names(cohort, simulated=truth is not None)
    if is_survival_oof(oof):
        with matplotlib.style.context("default"):
            sections, page_title, title, outcome_line = survival_sections(
                metrics=metrics, oof=oof, calibration=calibration, importance=importance,
                dictionary=dictionary, matrix=matrix, settings=_model_settings(settings),
                truth=truth, planted_effects=planted_effects, cv_metadata=cv_metadata,
                final_metadata=final_metadata, shap_importance=shap_importance,
                lobo_metrics=lobo_metrics, tuning=tuning, data_checks=data_checks,
                cohort_name=cohort_name, treatment=treatment,
                km_risk_groups=_optional_table(km_risk_groups),
                nomogram=read_nomogram(nomogram), extraction=extraction)
        _write_page(out_path, sections, page_title, title, outcome_line)
        return
    batch_names = sorted(matrix["batch"].fillna("(none)").astype(str).unique())
    lobo_applies = lobo_metrics is not None and len(batch_names) > 1
    settings, tuning = _model_settings(settings), full_model_tuning(tuning)
    outcome = Outcome.from_metadata(cv_metadata)
    metrics = numeric_metrics(metrics)

    order = model_order(list(metrics["model"]) + list(oof["model"].astype(str).unique()))
    avg = _averaged_oof(oof)
    oracle = None
    if truth is not None and "xgboost" in set(avg["model"]):
        ref = avg[avg["model"] == "xgboost"][["sample_id", "y_true"]]
        tp = dict(zip(truth["sample_id"], num(truth["response_probability"])))
        p = ref["sample_id"].map(tp).to_numpy(float)
        keep = np.isfinite(p)
        oracle = (ref["y_true"].to_numpy(int)[keep], p[keep])
        if "oracle" not in order:
            order.append("oracle")
    colours = model_colours(order)

    with matplotlib.style.context("default"):
        sections = {
            "data-checks": section("data-checks", data_checks_body(data_checks)),
            "cohort": cohort_section(
                matrix, labels, dictionary, oof, outcome,
                cohort_description(cohort_name, treatment, len(matrix), batch_names),
                settings.get("endpoint")),
            "metrics": metrics_section(metrics, settings, outcome, cv_metadata),
            "roc": roc_section(score_roc_predictions(avg, matrix, cv_metadata), order, colours,
                               oracle),
            "calibration": calibration_section(calibration, order, colours, outcome),
            "decision-curve": decision_section(decision_curve, avg, order, colours, oracle,
                                               outcome, treatment),
            "ablation": ablation_section(metrics, tuning_enabled(settings)),
            "lobo": lobo_section(lobo_metrics, outcome, batch_names),
            "tuning": tuning_section(tuning, settings),
            "importance": importance_section(importance),
            "shap": shap_section(shap_importance),
            "radiomics": radiomics_section(cv_metadata, final_metadata, extraction),
        }
    if planted_effects is not None:
        sections["planted"] = planted_section(planted_effects, importance)

    n_features = sum(c not in ID_COLUMNS for c in matrix.columns)
    labelled = avg.drop_duplicates("sample_id")["y_true"]
    n_small = int(min((labelled == 1).sum(), (labelled == 0).sum()))
    tuned = tuned_rows(tuning)
    sections["methods"] = methods_section(settings, oracle is not None, outcome,
                                          tuned is not None and len(tuned) > 0,
                                          lobo_applies, tuning is not None,
                                          set(metrics["model"]),
                                          num(tuned["scale_pos_weight"]).dropna()
                                          if tuned is not None and "scale_pos_weight" in tuned
                                          else None)
    sections["limitations"] = limitations_section(metrics, lobo_applies,
                                                  truth is not None, n_features, n_small)
    sections["software"] = versions_section(cv_metadata, final_metadata)

    missing = missing_section_notes(metrics, data_checks, batch_names, lobo_metrics, tuning,
                                    shap_importance, cv_metadata, final_metadata)
    sections["tripod"] = tripod_section(missing)
    page_title, title = titles(outcome.name, outcome.is_response, cohort_name, treatment)
    _write_page(out_path, sections, page_title, title, outcome.title)


def _write_page(out_path, sections: dict, page_title: str, title: str, outcome: str) -> None:
    """The page: head, title, the outcome line, contents and the sections in report order."""
    import haicpred

    present = [a for a in SECTION_IDS if a in sections]
    body = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f"<title>{page_title}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        f"<h1>{title}</h1>",
        f'<p class="note">Generated by haicpred {esc(haicpred.__version__)}. Outcome: '
        f"{outcome}.</p>",
        _contents(present),
        *(sections[a] for a in present),
        "</body>",
        "</html>",
        "",
    ]
    write_text("\n".join(body), Path(out_path))
