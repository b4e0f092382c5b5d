import logging
from pathlib import Path

import _bootstrap  # noqa: F401
from haicpred.features.matrix import join_on_treatment, read_feature_matrix, read_labels
from haicpred.modeling.cross_validation import cross_validate_models, write_model_outputs
from haicpred.io.tables import read_tsv
from haicpred.workflow import run_script

log = logging.getLogger("haicpred")


def main(snakemake):
    inputs = snakemake.input
    settings = {**snakemake.params.settings, "threads": snakemake.threads}
    matrix, dictionary = read_feature_matrix(inputs.matrix), read_tsv(inputs.dictionary)
    if "on_treatment" in inputs.keys():  # the opt-in on-treatment variant
        post_dictionary = read_tsv(inputs.on_treatment_dictionary)
        matrix, dictionary = join_on_treatment(matrix, dictionary, read_tsv(inputs.on_treatment),
                                               post_dictionary)
        log.info("on-treatment variant: post-treatment features allowed (%d added)",
                 len(post_dictionary))
    results = cross_validate_models(
        matrix=matrix,
        labels=read_labels(inputs.labels),
        dictionary=dictionary,
        settings=settings,
        truth=read_tsv(inputs.truth[0]) if inputs.truth else None,
    )
    # a survival endpoint's models are judged by Harrell's C, the binary ones by the AUC
    statistic, label = (("c_index", "C") if "c_index" in results.metrics.columns
                        else ("auc", "AUC"))
    for row in results.metrics.to_dict("records"):
        log.info("%s: %s %.3f [%.3f, %.3f] on %d labelled samples", row["model"], label,
                 row[statistic], row[f"{statistic}_low"], row[f"{statistic}_high"], row["n"])
    write_model_outputs(results, Path(snakemake.output.metrics).parent)


run_script(snakemake, main)  # noqa: F821
