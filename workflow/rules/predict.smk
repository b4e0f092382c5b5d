# The frozen final model (results/model/final/) and scoring a new cohort with one
# (results/predictions/{name}.tsv). Logic in haicpred.final_model and haicpred.predict.


def predict_model_dir():
    """config predict.model_dir: the results/model/final folder of an earlier training run."""
    return config["predict"]["model_dir"]


def training_targets(*paths):
    """`paths` in a training run; nothing in a scoring run (predict.model_dir set)."""
    return [] if predict_model_dir() else list(paths)


def prediction_targets():
    """results/predictions/<predict.name>.tsv in a scoring run; nothing in a training run."""
    return [f"results/predictions/{config['predict']['name']}.tsv"] if predict_model_dir() else []


def predict_model_files(wildcards):
    """The frozen model's two files: inputs, so a replaced model rescores the cohort."""
    folder = predict_model_dir()
    if not folder:
        raise WorkflowError(
            "results/predictions/ needs a trained model: set predict.model_dir to the "
            "results/model/final folder of a training run, e.g. "
            "--config predict='{model_dir: /path/to/results/model/final, name: batch7}'")
    return {"model": os.path.join(folder, "xgboost_model.json"),
            "metadata": os.path.join(folder, "model_metadata.json")}


rule final_model:
    """XGBoost on every labelled patient (features handled as in the CV), its SHAP importance,
    the training cohort's predictions with risk groups, and everything needed to score a new
    cohort, in results/model/final/ (JSON, never a pickle)."""
    input:
        matrix="results/features/feature_matrix.tsv",
        dictionary="results/features/feature_dictionary.tsv",
        labels="results/features/labels.tsv",
        # the CV's xgboost metrics go into the metadata; its out-of-fold probabilities set the
        # risk-group tertiles
        metrics="results/model/metrics.tsv",
        oof="results/model/oof_predictions.tsv",
    output:
        model="results/model/final/xgboost_model.json",
        metadata="results/model/final/model_metadata.json",
        shap="results/model/final/shap_importance.tsv",
        predictions="results/model/final/predictions.tsv",
    params:
        settings=model_settings(),
        risk_groups=config["predict"]["risk_groups"],
    log:
        "logs/final_model.log",
    threads: 2  # XGBoost's hist builder uses every thread given; results do not depend on it
    resources:
        mem_mb=4000,  # one fit plus SHAP values (samples x features float64) of the matrix
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
    threads: 1  # one pass of a fitted booster and TreeSHAP; single-threaded is seconds
    resources:
        mem_mb=2000,  # the matrix and its SHAP values as float64
        runtime=15,
    conda:
        "../../envs/model.yaml"
    script:
        "../scripts/predict.py"
