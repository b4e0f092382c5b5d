# haicpred: HCC response to hepatic arterial infusion chemotherapy (HAIC).
# Stages live in workflow/rules/; logic lives in the haicpred package (src/haicpred).
import os
import sys

from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version

min_version("9.0")
sys.path.insert(0, os.path.join(workflow.basedir, "src"))  # the checkout's package

from haicpred.cohort import read_config_file
from haicpred.io.errors import InputError

# Snakemake's own loader says only "Config file is not valid JSON or YAML": read the default
# config first, so a broken one is named with its line and column. (Files given with
# --configfile are loaded by snakemake before this file runs: `haicpred validate --config`
# names their line.)
if os.path.isfile("config/config.yaml"):
    _, _yaml_problems = read_config_file("config/config.yaml")
    if _yaml_problems:
        raise WorkflowError(str(InputError(_yaml_problems)))


configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/simulate.smk"
include: "workflow/rules/genomics.smk"
include: "workflow/rules/clinical.smk"
include: "workflow/rules/radiomics.smk"
include: "workflow/rules/features.smk"
include: "workflow/rules/model.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/predict.smk"
include: "workflow/rules/provenance.smk"


report: "workflow/report/workflow.rst"


# Said once per run (by the snakemake the user started, before the first job; in its console
# and .snakemake/log), not by every shard's job: panel genes this build cannot assess.
onstart:
    from snakemake.logging import logger
    from haicpred.io.resources import not_assessed_message

    _note = not_assessed_message(config["panel"], config["genome_build"])
    if _note:
        logger.warning(_note)


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
