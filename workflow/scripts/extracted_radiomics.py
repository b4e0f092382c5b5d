import logging

import _bootstrap  # noqa: F401
from haicpred.radiomics.extraction import join_shards
from haicpred.workflow import run_script

log = logging.getLogger("haicpred")


def main(snakemake):
    lesions = join_shards(list(snakemake.input), snakemake.output[0])
    log.info("%d lesions from %d shards", lesions, len(snakemake.input))


run_script(snakemake, main)  # noqa: F821
