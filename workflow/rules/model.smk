rule cross_validate_models:
    """Repeated stratified K-fold CV of XGBoost and baselines; final model in XGBoost JSON."""
    input:
        matrix="results/features/feature_matrix.tsv",
        dictionary="results/features/feature_dictionary.tsv",
        labels="results/features/labels.tsv",
        truth=demo_files("truth.tsv"),
    output:
        metrics="results/model/metrics.tsv",
        oof="results/model/oof_predictions.tsv",
        calibration="results/model/calibration.tsv",
        importance="results/model/feature_importance.tsv",
        predictions="results/model/predictions.tsv",
        radiomics_folds="results/model/radiomics_folds.tsv",
        model="results/model/xgboost_model.json",
        metadata="results/model/model_metadata.json",
    params:
        settings=model_settings(),
    log:
        "logs/cross_validate_models.log",
    threads: 2  # XGBoost's hist builder uses every thread given; results do not depend on it
    resources:
        mem_mb=4000,  # K x R fits on a matrix of at most a few hundred MB
        runtime=120,
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
        truth=demo_files("truth.tsv"),
    output:
        metrics="results/model_on_treatment/metrics.tsv",
        oof="results/model_on_treatment/oof_predictions.tsv",
        calibration="results/model_on_treatment/calibration.tsv",
        importance="results/model_on_treatment/feature_importance.tsv",
        predictions="results/model_on_treatment/predictions.tsv",
        radiomics_folds="results/model_on_treatment/radiomics_folds.tsv",
        model="results/model_on_treatment/xgboost_model.json",
        metadata="results/model_on_treatment/model_metadata.json",
    params:
        settings=model_settings(allow_post_treatment=True),
    log:
        "logs/cross_validate_on_treatment.log",
    threads: 2  # as cross_validate_models
    resources:
        mem_mb=4000,
        runtime=120,
    conda:
        "../../envs/model.yaml"
    script:
        "../scripts/cross_validate_models.py"
