import logging

import _bootstrap  # noqa: F401
from haicpred.radiomics.extraction import extract_shard
from haicpred.workflow import run_script

log = logging.getLogger("haicpred")


def main(snakemake):
    records = snakemake.params.samples
    lesions = extract_shard(records, snakemake.input.params, snakemake.output[0],
                            workers=snakemake.threads, sheet=snakemake.params.sheet)
    log.info("%d lesions from %d of %d samples with images (%s, %d workers)", lesions,
             sum(1 for r in records if r.get("image")), len(records), snakemake.input.params,
             snakemake.threads)


run_script(snakemake, main)  # noqa: F821
