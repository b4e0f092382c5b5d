import logging

import _bootstrap  # noqa: F401
from haicpred.biomarkers import baseline_biomarkers, read_biomarkers
from haicpred.tables import write_tsv
from haicpred.workflow import run_script

log = logging.getLogger("haicpred")


def main(snakemake):
    settings = snakemake.params.settings
    table = read_biomarkers(snakemake.input[0])
    features = baseline_biomarkers(table, snakemake.input[0],
                                   afp_iu_to_ng=settings["afp_iu_to_ng"],
                                   cutoffs=settings["cutoffs"])
    log.info("%d biomarker rows -> baseline features for %d samples", len(table), len(features))
    write_tsv(features, snakemake.output[0])


run_script(snakemake, main)  # noqa: F821
