import logging

import _bootstrap  # noqa: F401
from haicpred.io.tables import concatenate_tables, write_tsv
from haicpred.workflow import run_script

log = logging.getLogger("haicpred")


def main(snakemake):
    merged = concatenate_tables(snakemake.input)
    log.info("%d rows from %d shard tables", len(merged), len(snakemake.input))
    write_tsv(merged, snakemake.output[0])


run_script(snakemake, main)  # noqa: F821
