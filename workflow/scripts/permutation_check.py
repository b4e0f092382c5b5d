import logging

import _bootstrap  # noqa: F401
from haicpred.features.matrix import read_feature_matrix, read_labels
from haicpred.modeling.permutation import permutation_check
from haicpred.io.tables import read_tsv, write_tsv
from haicpred.workflow import run_script

log = logging.getLogger("haicpred")


def main(snakemake):
    inputs = snakemake.input
    settings = {**snakemake.params.settings, "threads": snakemake.threads}
    table = permutation_check(read_feature_matrix(inputs.matrix), read_labels(inputs.labels),
                              read_tsv(inputs.dictionary), settings)
    log.info("permutation check: %d shuffled labellings, mean AUC %.3f (SD %.3f, range "
             "%.3f-%.3f)", len(table), table["auc"].mean(), table["auc"].std(),
             table["auc"].min(), table["auc"].max())
    write_tsv(table, snakemake.output.permutation)


run_script(snakemake, main)  # noqa: F821
