# The later stages' tables that the report shows when this workflow has a rule producing them
# (haicpred.report.OPTIONAL_FILES holds the same paths, for its "not produced" notes).
REPORT_OPTIONAL_INPUTS = {
    "decision_curve": "results/model/decision_curve.tsv",
    "shap_importance": "results/model/final/shap_importance.tsv",
    "lobo_metrics": "results/model/lobo_metrics.tsv",
    "tuning": "results/model/tuning.tsv",
}


def report_optional_inputs(wildcards):
    """Input function: each optional table that some rule of the workflow declares as an
    output (found when the DAG is built, after every rule file is read). A table no rule makes
    is not an input, so the report never waits for it; its section says it was not produced."""
    declared = {str(path) for rule in workflow.rules for path in rule.output}
    return {key: path for key, path in REPORT_OPTIONAL_INPUTS.items() if path in declared}


rule report:
    """Self-contained HTML report: cohort and endpoint, metrics with CIs and baselines, ROC,
    calibration, decision curve, modality ablation, leave-one-batch-out validation, nested
    tuning, feature importance, SHAP, methods, limitations and the TRIPOD+AI checklist."""
    input:
        unpack(report_optional_inputs),
        metrics="results/model/metrics.tsv",
        oof="results/model/oof_predictions.tsv",
        calibration="results/model/calibration.tsv",
        importance="results/model/feature_importance.tsv",
        metadata="results/model/model_metadata.json",
        dictionary="results/features/feature_dictionary.tsv",
        matrix="results/features/feature_matrix.tsv",
        labels="results/features/labels.tsv",
        truth=demo_files("truth.tsv"),
        planted=demo_files("planted_effects.tsv"),
    output:
        report(
            "results/report/report.html",
            caption="../report/haicpred_report.rst",
            category="Model",
        ),
    params:
        settings=model_settings(),
    log:
        "logs/report.log",
    threads: 1  # matplotlib rendering
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/report.py"
