import logging

import _bootstrap  # noqa: F401
from haicpred.features.data_checks import run_data_checks, summary_line
from haicpred.features.matrix import read_feature_matrix
from haicpred.io.tables import read_tsv, write_tsv
from haicpred.workflow import run_script

log = logging.getLogger("haicpred")


def main(snakemake):
    inputs = snakemake.input
    checks, summary = run_data_checks(read_feature_matrix(inputs.matrix),
                                      read_tsv(inputs.dictionary), read_tsv(inputs.labels),
                                      snakemake.params.endpoint)
    log.info("data checks for endpoint %s: %d labelled patients in %d batch(es)",
             summary["endpoint"], summary["n_labelled"], summary["n_batches"])
    line = summary_line(checks)
    (log.warning if summary["n_flagged"] else log.info)("%s", line)
    write_tsv(checks, snakemake.output.checks)


run_script(snakemake, main)  # noqa: F821
