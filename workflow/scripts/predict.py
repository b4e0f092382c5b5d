import logging

import _bootstrap  # noqa: F401
from haicpred.features.matrix import read_feature_matrix
from haicpred.modeling.predict import predict
from haicpred.io.tables import read_tsv, write_tsv
from haicpred.workflow import run_script

log = logging.getLogger("haicpred")


def main(snakemake):
    predictions = predict(read_feature_matrix(snakemake.input.matrix),
                          read_tsv(snakemake.input.dictionary), snakemake.params.model_dir)
    log.info("risk groups: %s", ", ".join(
        f"{group} {count}" for group, count in
        predictions["risk_group"].value_counts().sort_index().items()))
    write_tsv(predictions, snakemake.output[0])


run_script(snakemake, main)  # noqa: F821
