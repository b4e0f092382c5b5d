"""The report's description of the cohort: its name and treatment (config ``cohort_name``,
``treatment``), the title, the outcome the models predict (cv_metadata.json's ``label`` block),
the Cohort section (labels, batches, data availability per modality, sample size), the configured
endpoint's recorded outcome, the data checks (haicpred.features.data_checks) and the single-batch
note. haicpred.report.render places them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from haicpred.features.data_checks import CHECKS, FLAG_RULE
from haicpred.features.endpoints import resolve_endpoint
from haicpred.features.matrix import not_assessed_features
from haicpred.modeling.endpoint import LABEL_DEFINITION
from haicpred.report.html import esc, fmt, html_table, integer, num, p_value, pct
from haicpred.report.layout import (FINAL_METADATA_FILE, OPTIONAL_FILES, ablation_variant,
                                    modality_key, section)

DATA_CHECKS_FILE = "results/features/data_checks.tsv"
DEFAULT_COHORT_NAME = "haicpred cohort"
DEMO_COHORT_NAME = "simulated demo cohort"
DEFAULT_TREATMENT = "HAIC"
MAX_FEATURE_ROWS = 30  # flagged per-feature rows shown (all are in data_checks.tsv)
# what "HAIC" stands for, written out in the title
_TREATMENT_NAMES = {"HAIC": "hepatic arterial infusion chemotherapy (HAIC)"}
# the feature matrix's identifier columns; every other column is a candidate feature
ID_COLUMNS = ("sample_id", "batch")


@dataclass(frozen=True)
class Outcome:
    """The endpoint the models predict, from cv_metadata.json's ``label`` block."""

    name: str
    definition: str
    favourable: bool
    block: dict

    @classmethod
    def from_metadata(cls, metadata: dict | None) -> Outcome:
        block = dict((metadata or {}).get("label") or {})
        name = str(block.get("name") or block.get("column") or "objective_response")
        favourable = block.get("positive_is_favourable")
        return cls(name, str(block.get("definition") or LABEL_DEFINITION),
                   True if favourable is None else bool(favourable), block)

    @property
    def is_response(self) -> bool:
        return self.name == "objective_response"

    @property
    def positive(self) -> str:
        return "responders (CR/PR)" if self.is_response else f"{esc(self.name)} = 1"

    @property
    def negative(self) -> str:
        return "non-responders (SD/PD)" if self.is_response else f"{esc(self.name)} = 0"

    @property
    def events(self) -> str:
        """Column header for the number of label-1 patients."""
        return "responders" if self.is_response else "label 1"

    @property
    def title(self) -> str:
        if self.is_response:
            return "objective response (mRECIST CR/PR vs SD/PD)"
        return f"{esc(self.name)} ({'favourable' if self.favourable else 'adverse'} outcome)"


def cohort_names(cohort: dict | None, simulated: bool) -> tuple[str, str]:
    """(cohort name, treatment) from the config's ``cohort_name`` and ``treatment``."""
    cohort = cohort or {}
    name = str(cohort.get("cohort_name") or "").strip()
    if not name:
        name = DEMO_COHORT_NAME if simulated else DEFAULT_COHORT_NAME
    treatment = str(cohort.get("treatment") or "").strip() or DEFAULT_TREATMENT
    return name, treatment


def titles(endpoint: str, is_response: bool, cohort_name: str, treatment: str
           ) -> tuple[str, str]:
    """(the page's <title> text, the <h1> heading), both escaped, naming the endpoint used,
    the treatment and the cohort."""
    treatment_long = esc(_TREATMENT_NAMES.get(treatment, treatment))
    if is_response:
        heading = (f"predicting objective response of hepatocellular carcinoma to "
                   f"{treatment_long}")
        short = "objective response"
    else:
        heading = (f"predicting {esc(endpoint)} after {treatment_long} for hepatocellular "
                   "carcinoma")
        short = esc(endpoint)
    return (f"haicpred: prediction of {short} after {esc(treatment)} ({esc(cohort_name)})",
            f"haicpred: {heading} &mdash; {esc(cohort_name)}")


def cohort_description(cohort_name: str, treatment: str, n_patients: int,
                       batches: list[str]) -> str:
    return (f"<p><b>Cohort</b>: {esc(cohort_name)}, {n_patients} patients treated with "
            f"{esc(treatment)}, in {len(batches)} batch{'es' if len(batches) != 1 else ''} "
            f"({', '.join(esc(b) for b in batches)}).</p>")


def recorded_outcome(labels: pd.DataFrame, sample_ids: pd.Series, endpoint_settings: dict | None,
                     is_response: bool) -> str:
    """The configured endpoint's outcome as recorded in labels.tsv, for the matrix's patients:
    best response for objective_response, event and time columns for survival_horizon, the
    column's values for binary_column. Nothing about an outcome the endpoint does not use
    (and nothing when the settings do not say which non-response endpoint the models used)."""
    endpoint = resolve_endpoint(endpoint_settings)
    if is_response != (endpoint["kind"] == "objective_response"):
        return ""
    table = labels.set_index("sample_id").reindex(sample_ids)
    n = len(table)
    if endpoint["kind"] == "objective_response":
        if "best_response" not in table:
            return "<p>Best response (mRECIST): not recorded.</p>"
        counts = table["best_response"].fillna("missing").value_counts()
        order = [c for c in ("CR", "PR", "SD", "PD") if c in counts.index]
        order += sorted(c for c in counts.index if c not in order)
        return "<p>Best response (mRECIST): " + ", ".join(
            f"{esc(c)} {int(counts[c])}" for c in order) + ".</p>"
    if endpoint["kind"] == "survival_horizon":
        event_column, time_column = endpoint["event_column"], endpoint["time_column"]
        event = num(table[event_column]) if event_column in table else pd.Series(np.nan)
        time = num(table[time_column]) if time_column in table else pd.Series(np.nan)
        both = event.notna().to_numpy() & time.notna().to_numpy()
        text = (f"<p>Recorded outcome: <code>{esc(event_column)}</code> and "
                f"<code>{esc(time_column)}</code> for {int(both.sum())} of {n} patients "
                f"({int((event[both] == 1).sum())} events")
        if both.any():
            text += (f", median follow-up time {np.median(time[both]):.1f} months, range "
                     f"{time[both].min():.1f}-{time[both].max():.1f}")
        return text + f"); horizon {float(endpoint['horizon_months']):g} months.</p>"
    column = endpoint["column"]
    values = num(table[column]) if column in table else pd.Series(np.nan, index=range(n))
    return (f"<p>Recorded outcome <code>{esc(column)}</code>: 1 in {int((values == 1).sum())}, "
            f"0 in {int((values == 0).sum())}, missing in {int(values.isna().sum())} of {n} "
            "patients.</p>")


def missing_section_notes(metrics: pd.DataFrame, data_checks, batch_names: list[str],
                          lobo_metrics, tuning, shap_importance, cv_metadata: dict | None,
                          final_metadata: dict | None) -> dict[str, str]:
    """Why the sections every report has (data checks, leave-one-batch-out, tuning, SHAP,
    ablation, radiomics, software) show nothing, by anchor, for the TRIPOD+AI checklist."""
    missing = {}
    if data_checks is None:
        missing["data-checks"] = f"{DATA_CHECKS_FILE} not produced"
    if len(batch_names) == 1:
        missing["lobo"] = "not applicable: one batch"
    elif lobo_metrics is None:
        missing["lobo"] = f"{OPTIONAL_FILES['lobo_metrics']} not produced"
    if tuning is None:
        missing["tuning"] = f"{OPTIONAL_FILES['tuning']} not produced"
    if shap_importance is None:
        missing["shap"] = f"{OPTIONAL_FILES['shap_importance']} not produced"
    if not any(ablation_variant(n) for n in metrics["model"]):
        missing["ablation"] = "metrics.tsv has no modality-ablation rows"
    if not (cv_metadata or {}).get("radiomics_folds_summary"):
        missing["radiomics"] = "no model used radiomic features"
    if not (final_metadata or {}).get("model_sha256"):
        missing["software"] = f"{FINAL_METADATA_FILE} not produced"
    return missing


def single_batch_note(batches: list[str]) -> str | None:
    """The leave-one-batch-out section's whole text for a single-batch cohort."""
    if len(batches) != 1:
        return None
    return (f"<p><b>Not applicable: one batch</b> ({esc(batches[0])}). Leave-one-batch-out "
            "validation needs at least two batches: there is no other centre or sequencing "
            "run to train on. Validation is internal (cross-validation) only, and ComBat "
            "batch harmonisation of the radiomic features did not apply either.</p>")


def data_checks_body(checks: pd.DataFrame | None) -> str:
    """One-line summary, the flag rule, and a table: every cohort-level check, and the
    flagged per-feature and per-batch-modality rows (all rows are in data_checks.tsv);
    flagged rows highlighted."""
    if checks is None:
        return (f'<p class="missing">Not available (file <code>{DATA_CHECKS_FILE}</code> not '
                "produced).</p>")
    checks = checks.copy()
    checks["flagged"] = checks["flagged"].astype(str)
    flagged = checks[checks["flagged"] == "yes"]
    if len(flagged):
        counts = flagged["check"].value_counts()
        summary = (f'<p class="headline-box"><b>{len(flagged)} of {len(checks)} data checks '
                   "flagged</b>: " + ", ".join(f"{int(counts[c])} {esc(c)}" for c in CHECKS
                                               if c in counts.index)
                   + ". A model can learn such structure instead of biology: read the flagged "
                   "rows before the metrics.</p>")
    else:
        summary = f"<p><b>No data check flagged</b> ({len(checks)} checks).</p>"
    detailed = ("feature_missingness_vs_label", "batch_modality_missing")
    shown = checks[~checks["check"].isin(detailed) | (checks["flagged"] == "yes")]
    features = shown[shown["check"] == "feature_missingness_vs_label"]
    hidden = max(len(features) - MAX_FEATURE_ROWS, 0)
    if hidden:
        shown = shown.drop(features.index[MAX_FEATURE_ROWS:])
    rows, classes = [], []
    for _, r in shown.iterrows():
        statistic = num([r["statistic"]]).iloc[0]
        rows.append([esc(r["check"]), esc(r["subject"] if pd.notna(r["subject"]) else ""),
                     "&ndash;" if not np.isfinite(statistic) else f"{statistic:.3f}",
                     p_value(r["p_value"]), esc(r["flagged"]), esc(r["message"])])
        classes.append("flagged" if r["flagged"] == "yes" else "")
    more = (f"; {hidden} further flagged feature rows are only in the file" if hidden else "")
    return (summary + html_table(["check", "subject", "statistic", "p", "flagged", "message"],
                                 rows, text_columns=(0, 1, 4, 5), row_classes=classes)
            + '<p class="note">Computed among the labelled patients of the endpoint before any '
            "model is fitted; nothing is dropped or changed. Rule: " + esc(FLAG_RULE) + ". "
            f"Shown: every modality and batch check, and the flagged per-feature and "
            f"per-batch-modality rows; every row is in <code>{DATA_CHECKS_FILE}</code>"
            f"{more}.</p>")


def _sample_labels(oof: pd.DataFrame, labels: pd.DataFrame) -> dict:
    """Each trained-on sample's label as the models saw it (the endpoint's, from the
    out-of-fold table); without predictions, labels.tsv's objective_response."""
    if oof is not None and len(oof):
        return dict(zip(oof["sample_id"], num(oof["y_true"])))
    if "objective_response" in labels:
        return dict(zip(labels["sample_id"], num(labels["objective_response"])))
    return {}


def modality_availability(matrix: pd.DataFrame, dictionary: pd.DataFrame) -> list[str]:
    """The "Data availability per modality" heading and table: features, samples with any
    value, non-missing cells, and the share with any value per batch."""
    n = len(matrix)
    batches = matrix["batch"].fillna("(none)").astype(str)
    modality = dict(zip(dictionary["feature"], dictionary["modality"].fillna("unknown")))
    features = [c for c in matrix.columns if c not in ID_COLUMNS]
    groups: dict[str, list[str]] = {}
    for feature in features:
        groups.setdefault(str(modality.get(feature, "unknown")), []).append(feature)
    order = sorted(groups, key=modality_key)
    batch_names = sorted(batches.unique())
    header = ["modality", "features", "samples with any value", "non-missing cells"]
    header += [f"any value: {esc(b)}" for b in batch_names]
    rows = []
    for mod in order:
        present = matrix[groups[mod]].notna()
        any_value = present.any(axis=1).to_numpy()
        row = [
            esc(mod),
            str(len(groups[mod])),
            f"{int(any_value.sum())} ({pct(any_value.sum(), n)})",
            pct(present.to_numpy().sum(), present.size),
        ]
        for batch in batch_names:
            mask = (batches == batch).to_numpy()
            row.append(pct(any_value[mask].sum(), mask.sum()))
        rows.append(row)
    return ["<h3>Data availability per modality</h3>", html_table(header, rows),
            *not_assessed_note(dictionary)]


def not_assessed_note(dictionary: pd.DataFrame) -> list[str]:
    """The report's one note on the panel genes the run's genome build cannot assess (their
    columns are marked in the feature dictionary); nothing when every gene was assessed."""
    by_reason: dict[tuple[str, str], list[str]] = {}
    for feature, key in not_assessed_features(dictionary).items():
        by_reason.setdefault(key, []).append(feature)
    notes = []
    for (build, reason), features in by_reason.items():
        columns = ", ".join(f"<code>{esc(f)}</code>" for f in features)
        notes.append(f'<p class="missing"><b>Not assessed on {esc(build)}</b>: {columns} '
                     f"&mdash; {esc(reason)}. These columns are empty (missing, not 0) for every "
                     "patient; <code>panel_mutations</code> and "
                     "<code>fohaic1_mutation_positive</code> count the assessed genes only.</p>")
    return notes


def cohort_section(matrix, labels, dictionary, oof, outcome: Outcome, description: str,
                   endpoint_settings: dict | None) -> str:
    y = matrix["sample_id"].map(_sample_labels(oof, labels)).astype(float)
    n = len(matrix)
    n_lab = int(y.notna().sum())
    n_pos = int((y == 1).sum())
    block = outcome.block
    parts = [
        description,
        f"<p><b>Endpoint</b> <code>{esc(outcome.name)}</code>: {esc(outcome.definition)}. "
        f"Label 1 is the {'favourable' if outcome.favourable else 'adverse'} outcome.</p>"
    ]
    unlabelled = ["unlabelled (scored, not trained on)", str(n - n_lab), pct(n - n_lab, n)]
    reasons = []
    censored = block.get("n_censored_before_horizon")
    if censored:
        reasons.append(f"{integer(censored)} censored before the horizon")
    if block.get("n_missing") is not None and (censored or not outcome.is_response):
        reasons.append(f"{integer(block.get('n_missing'))} without the outcome")
    if reasons:
        unlabelled[0] += " <span class=\"note\">(" + ", ".join(reasons) + ")</span>"
    parts.append(
        html_table(
            ["", "count", "share"],
            [
                ["patients in the feature matrix", str(n), ""],
                [f"labelled (<code>{esc(outcome.name)}</code> known)", str(n_lab),
                 pct(n_lab, n)],
                [outcome.positive, str(n_pos), pct(n_pos, n_lab) + " of labelled"],
                [outcome.negative, str(n_lab - n_pos),
                 pct(n_lab - n_pos, n_lab) + " of labelled"],
                unlabelled,
            ],
        )
    )
    parts.append(recorded_outcome(labels, matrix["sample_id"], endpoint_settings,
                                  outcome.is_response))

    batches = matrix["batch"].fillna("(none)").astype(str)
    rows = []
    for batch in sorted(batches.unique()):
        mask = (batches == batch).to_numpy()
        yb = y[mask]
        lab, pos = int(yb.notna().sum()), int((yb == 1).sum())
        rows.append([esc(batch), str(int(mask.sum())), str(lab), str(pos), pct(pos, lab)])
    parts.append("<h3>Per batch</h3>")
    rate = "response rate" if outcome.is_response else "label-1 rate"
    parts.append(
        html_table(["batch", "patients", "labelled", outcome.events, rate], rows)
    )

    parts += modality_availability(matrix, dictionary)
    features = [c for c in matrix.columns if c not in ID_COLUMNS]
    events = min(n_pos, n_lab - n_pos)
    parts.append(
        f'<p class="note">Sample size: {len(features)} candidate features for {n_lab} labelled '
        f"patients; the smaller outcome class has {events} patients "
        f"({fmt(events / len(features) if features else float('nan'), 2)} per candidate "
        "feature). Far fewer than 10 events per candidate predictor: the XGBoost model relies on "
        "shrinkage and shallow trees, and its apparent performance is only trusted out of fold."
        "</p>"
    )
    return section("cohort", "\n".join(parts))
