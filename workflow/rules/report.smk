rule report:
    """Self-contained HTML report: data checks, cohort and endpoint, metrics with CIs and baselines, ROC,
    calibration, decision curve, modality ablation, leave-one-batch-out validation, nested
    tuning, feature importance, SHAP, methods, limitations and the TRIPOD+AI checklist."""
    input:
        unpack(report_optional_inputs),
        metrics="results/model/metrics.tsv",
        oof="results/model/oof_predictions.tsv",
        calibration="results/model/calibration.tsv",
        importance="results/model/feature_importance.tsv",
        cv_metadata="results/model/cv_metadata.json",
        dictionary="results/features/feature_dictionary.tsv",
        matrix="results/features/feature_matrix.tsv",
        labels="results/features/labels.tsv",
        data_checks="results/features/data_checks.tsv",
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
        cohort={"cohort_name": config["cohort_name"], "treatment": config["treatment"]},
    log:
        "logs/report.log",
    benchmark:
        "logs/benchmarks/report.tsv"
    threads: 1  # matplotlib rendering
    resources:
        mem_mb=2000,  # matplotlib figures of every model's curves: 480 MiB at 10,000 patients
        runtime=10,  # 6 s at 10,000 patients
    conda:
        "../../envs/report.yaml"
    script:
        "../scripts/report.py"
