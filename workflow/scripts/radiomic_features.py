import logging

import _bootstrap  # noqa: F401
from haicpred.radiomics import radiomic_features, read_radiomics
from haicpred.tables import write_tsv
from haicpred.workflow import run_script

log = logging.getLogger("haicpred")


def main(snakemake):
    lesions = read_radiomics(snakemake.input[0])
    features = radiomic_features(lesions)
    log.info("%d lesions -> %d samples x %d features", len(lesions), len(features),
             features.shape[1] - 1)
    write_tsv(features, snakemake.output[0])


run_script(snakemake, main)  # noqa: F821
