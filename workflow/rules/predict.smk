# The frozen final model (results/model/final/) and scoring a new cohort with one
# (results/predictions/{name}.tsv). Logic in haicpred.modeling.final_model and haicpred.modeling.predict.


rule final_model:
    """XGBoost on every labelled patient (features handled as in the CV), its SHAP importance,
    the training cohort's predictions with risk groups, and everything needed to score a new
    cohort, in results/model/final/ (JSON, never a pickle)."""
    input:
        matrix="results/features/feature_matrix.tsv",
        dictionary="results/features/feature_dictionary.tsv",
        labels="results/features/labels.tsv",
        endpoint=endpoint_checked,  # no files: the outcome columns, checked before any job
        # the CV's xgboost metrics go into the metadata; its out-of-fold probabilities set the
        # risk-group tertiles
        metrics="results/model/metrics.tsv",
        oof="results/model/oof_predictions.tsv",
    output:
        model="results/model/final/xgboost_model.json",
        metadata="results/model/final/model_metadata.json",
        shap="results/model/final/shap_importance.tsv",
        predictions="results/model/final/predictions.tsv",
        # a survival endpoint: the nomogram of the Cox model on the published factors
        **survival_outputs(nomogram="results/model/final/nomogram.json"),
    params:
        settings=model_settings(),
        risk_groups=config["predict"]["risk_groups"],
    log:
        "logs/final_model.log",
    benchmark:
        "logs/benchmarks/final_model.tsv"
    threads: 2  # XGBoost's hist builder uses every thread given; results do not depend on it
    resources:
        mem_mb=4000,  # fit + SHAP values (samples x features float64); 537 MiB at 10,000 patients
        runtime=30,
    conda:
        "../../envs/model.yaml"
    script:
        "../scripts/final_model.py"


rule predict:
    """Score this run's cohort with a frozen model of an earlier run (config predict.model_dir):
    probability, risk group, top-3 SHAP contributors and warnings per sample. Nothing is
    trained."""
    input:
        unpack(predict_model_files),
        matrix="results/features/feature_matrix.tsv",
        dictionary="results/features/feature_dictionary.tsv",
    output:
        "results/predictions/{name}.tsv",
    wildcard_constraints:
        name="[A-Za-z0-9][A-Za-z0-9._-]*",  # as config predict.name
    params:
        model_dir=predict_model_dir(),
    log:
        "logs/predict/{name}.log",
    benchmark:
        "logs/benchmarks/predict/{name}.tsv"
    threads: 1  # one pass of a fitted booster and TreeSHAP; single-threaded is seconds
    resources:
        mem_mb=2000,  # the matrix and its SHAP values as float64
        runtime=15,
    conda:
        "../../envs/model.yaml"
    script:
        "../scripts/predict.py"
