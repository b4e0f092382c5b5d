rule cross_validate_models:
    """Nested repeated stratified K-fold CV of XGBoost (tuned inside every training fold),
    per-modality ablations and baselines; leave-one-batch-out. No final model: rule final_model
    writes the one frozen model (results/model/final/)."""
    input:
        matrix="results/features/feature_matrix.tsv",
        dictionary="results/features/feature_dictionary.tsv",
        labels="results/features/labels.tsv",
        endpoint=endpoint_checked,  # no files: the outcome columns, checked before any job
        truth=demo_files("truth.tsv"),
    output:
        metrics="results/model/metrics.tsv",
        oof="results/model/oof_predictions.tsv",
        calibration="results/model/calibration.tsv",
        importance="results/model/feature_importance.tsv",
        radiomics_folds="results/model/radiomics_folds.tsv",
        decision_curve="results/model/decision_curve.tsv",
        lobo_metrics="results/model/lobo_metrics.tsv",
        tuning="results/model/tuning.tsv",
        cv_metadata="results/model/cv_metadata.json",
    params:
        settings=model_settings(),
    log:
        "logs/cross_validate_models.log",
    benchmark:
        "logs/benchmarks/cross_validate_models.tsv"
    threads: 2  # XGBoost's hist builder uses every thread given; results do not depend on it
    resources:
        # measured (benchmarks/scale.py, 10,000 patients, 112 features): 883 MiB peak, 133 s
        # without tuning; memory grows with the feature count (radiomics), so 4 GB
        mem_mb=4000,
        runtime=240,  # nested tuning adds 60 inner boosters per outer fold: 1,000 patients 238 s
    conda:
        "../../envs/model.yaml"
    script:
        "../scripts/cross_validate_models.py"


rule cross_validate_on_treatment:
    """Opt-in (model.on_treatment) on-treatment variant: the feature matrix joined with the
    post-treatment AFP/DCP changes, the only model allowed post-treatment predictors."""
    input:
        matrix="results/features/feature_matrix.tsv",
        dictionary="results/features/feature_dictionary.tsv",
        on_treatment="results/features/on_treatment.tsv",
        on_treatment_dictionary="results/features/on_treatment_dictionary.tsv",
        labels="results/features/labels.tsv",
        endpoint=endpoint_checked,  # no files: the outcome columns, checked before any job
        truth=demo_files("truth.tsv"),
    output:
        metrics="results/model_on_treatment/metrics.tsv",
        oof="results/model_on_treatment/oof_predictions.tsv",
        calibration="results/model_on_treatment/calibration.tsv",
        importance="results/model_on_treatment/feature_importance.tsv",
        radiomics_folds="results/model_on_treatment/radiomics_folds.tsv",
        decision_curve="results/model_on_treatment/decision_curve.tsv",
        lobo_metrics="results/model_on_treatment/lobo_metrics.tsv",
        tuning="results/model_on_treatment/tuning.tsv",
        cv_metadata="results/model_on_treatment/cv_metadata.json",
    params:
        settings=model_settings(allow_post_treatment=True),
    log:
        "logs/cross_validate_on_treatment.log",
    benchmark:
        "logs/benchmarks/cross_validate_on_treatment.tsv"
    threads: 2  # as cross_validate_models
    resources:
        mem_mb=4000,
        runtime=240,
    conda:
        "../../envs/model.yaml"
    script:
        "../scripts/cross_validate_models.py"


rule permutation_check:
    """On demand only (not in `all`): XGBoost's cross-validated AUC with shuffled labels,
    model.permutations times; without leakage the AUCs scatter around 0.5."""
    input:
        matrix="results/features/feature_matrix.tsv",
        dictionary="results/features/feature_dictionary.tsv",
        labels="results/features/labels.tsv",
        endpoint=endpoint_checked,  # no files: the outcome columns, checked before any job
    output:
        permutation="results/model/permutation.tsv",
    params:
        settings=model_settings(),
    log:
        "logs/permutation_check.log",
    benchmark:
        "logs/benchmarks/permutation_check.tsv"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=120,  # one fixed-parameter K x R CV per permutation
    conda:
        "../../envs/model.yaml"
    script:
        "../scripts/permutation_check.py"


rule survival_risk_groups:
    """Survival endpoint only (the report's input): low/intermediate/high risk groups of the
    repeat-averaged out-of-fold XGBoost risk (predict.risk_groups: tertiles or two cut-offs on
    the risk scale), their Kaplan-Meier curves with numbers at risk, and the log-rank test."""
    input:
        oof="results/model/oof_predictions.tsv",
    output:
        km="results/model/km_risk_groups.tsv",
    params:
        risk_groups=config["predict"]["risk_groups"],
    log:
        "logs/survival_risk_groups.log",
    benchmark:
        "logs/benchmarks/survival_risk_groups.tsv"
    threads: 1  # a sort and three Kaplan-Meier curves
    resources:
        mem_mb=1000,  # the OOF table (patients x models x repeats rows)
        runtime=10,
    conda:
        "../../envs/model.yaml"
    script:
        "../scripts/survival_risk_groups.py"
