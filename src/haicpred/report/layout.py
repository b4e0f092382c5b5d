"""The report's layout, shared by its section modules: the sections' anchors and titles in
report order, the optional tables' paths (named in the "not available" notes), the section,
"not available" and link fragments, and the order of the models and modalities in its tables
and figures (modality-ablation rows are recognised by their names)."""

from __future__ import annotations

import re

from haicpred.report.html import esc

# Where the workflow writes the optional tables; named in the "not available" notes.
OPTIONAL_FILES = {
    "decision_curve": "results/model/decision_curve.tsv",
    "shap_importance": "results/model/final/shap_importance.tsv",
    "lobo_metrics": "results/model/lobo_metrics.tsv",
    "tuning": "results/model/tuning.tsv",
}
# The frozen final model's metadata (file, sha256, features, radiomics step), also optional.
FINAL_METADATA_FILE = "results/model/final/model_metadata.json"

# Section anchors (the TRIPOD+AI checklist links to them) and titles, in report order.
# td-auc, risk-groups and nomogram belong to the survival endpoint's report only
# (haicpred.report.survival); roc and decision-curve to the binary endpoints' only.
SECTION_IDS = {
    "data-checks": "Data checks",
    "cohort": "Cohort",
    "metrics": "Discrimination and calibration",
    "roc": "ROC curves",
    "td-auc": "Time-dependent AUC",
    "calibration": "Calibration",
    "decision-curve": "Clinical usefulness",
    "risk-groups": "Kaplan-Meier curves by risk group",
    "nomogram": "Nomogram",
    "ablation": "Modality ablation",
    "lobo": "Leave-one-batch-out validation",
    "tuning": "Nested hyper-parameter tuning",
    "importance": "Feature importance",
    "shap": "SHAP summary (final model)",
    "radiomics": "Radiomic features inside the training folds",
    "planted": "Planted effects (simulated demo cohort)",
    "methods": "Methods",
    "limitations": "Limitations",
    "software": "Software and model availability",
    "tripod": "TRIPOD+AI checklist",
}


def section(anchor: str, body: str, title: str | None = None) -> str:
    """A section of the page, titled from SECTION_IDS unless `title` is given."""
    title = SECTION_IDS[anchor] if title is None else title
    return f'<section id="{anchor}">\n<h2>{title}</h2>\n{body}\n</section>'


def not_available(path: str, why: str = "") -> str:
    """The note of a section whose input file was not produced."""
    return (f'<p class="missing">Not available (file <code>{esc(path)}</code> not produced)'
            f"{why}.</p>")


def link(anchor: str) -> str:
    return f'<a href="#{anchor}">{SECTION_IDS[anchor]}</a>'


# modalities in the order of the report's tables and figures; others follow by name
MODALITY_ORDER = ["clinical", "biomarker", "derived", "mutation", "genotype", "radiomics"]
_WITHOUT = re.compile(r"^xgboost_without_(.+)$")
_ONLY = re.compile(r"^xgboost_(.+)_only$")


def ablation_variant(name: str) -> tuple[str, str] | None:
    """(modality, "only" | "without") for a modality-ablation row of metrics.tsv."""
    match = _WITHOUT.match(str(name))
    if match:
        return match.group(1), "without"
    match = _ONLY.match(str(name))
    if match:
        return match.group(1), "only"
    return None


def ablation_label(name: str) -> tuple[str, str]:
    """The ablation table's modality and feature-set cells (escaped) of an ``xgboost`` or
    modality-ablation row."""
    if name == "xgboost":
        return "all", "all candidate features (reference)"
    modality, kind = ablation_variant(name)
    variant = (f"{esc(modality)} features only" if kind == "only"
               else f"all but {esc(modality)}")
    return esc(modality), variant


def modality_key(modality: str) -> tuple:
    return (MODALITY_ORDER.index(modality) if modality in MODALITY_ORDER
            else len(MODALITY_ORDER), modality)


def model_order(names) -> list[str]:
    """xgboost, the logistic baseline, the other baselines by name, the oracle; modality
    ablations (xgboost_<m>_only, xgboost_without_<m>) after xgboost in modality order."""
    names = list(dict.fromkeys(str(n) for n in names))
    ablations = sorted((n for n in names if ablation_variant(n)),
                       key=lambda n: (*modality_key(ablation_variant(n)[0]),
                                      ablation_variant(n)[1] != "only"))
    first = [n for n in ("xgboost", *ablations, "logistic_baseline") if n in names]
    rest = sorted(n for n in names if n not in first and n != "oracle")
    return first + rest + (["oracle"] if "oracle" in names else [])
