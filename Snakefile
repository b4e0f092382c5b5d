# haicpred: HCC response to hepatic arterial infusion chemotherapy (HAIC).
# Stages live in workflow/rules/; logic lives in the haicpred package (src/haicpred).
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/simulate.smk"
include: "workflow/rules/genomics.smk"
include: "workflow/rules/tables.smk"
include: "workflow/rules/features.smk"
include: "workflow/rules/model.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/predict.smk"
include: "workflow/rules/provenance.smk"


report: "workflow/report/workflow.rst"


# Run by snakemake itself (on a cluster: on the login node), never submitted: `all` only
# collects targets, the merges concatenate small per-shard tables in less time than a queue wait.
localrules:
    all,
    merge_variant_audit,
    merge_batch_features,


rule all:
    default_target: True
    input:
        "results/features/feature_matrix.tsv",
        "results/features/feature_dictionary.tsv",
        "results/features/data_checks.tsv",  # training and scoring runs alike
        # training run: CV, final model, report; a run with predict.model_dir set trains
        # nothing and scores its cohort with that model (workflow/rules/predict.smk)
        lambda wildcards: training_targets(
            "results/model/metrics.tsv",
            "results/model/oof_predictions.tsv",
            "results/model/final/model_metadata.json",
            "results/report/report.html",
        ),
        lambda wildcards: prediction_targets(),
        "results/provenance.json",
        lambda wildcards: expand("results/variants/{batch}.tsv", batch=batches()),
        # the opt-in on-treatment variant (model.on_treatment)
        lambda wildcards: (
            ["results/model_on_treatment/metrics.tsv"] if on_treatment_enabled() else []
        ),
