import logging

import _bootstrap  # noqa: F401
import pandas as pd
from haicpred.io.tables import read_tsv, write_tsv
from haicpred.workflow import run_script

log = logging.getLogger("haicpred")


def main(snakemake):
    merged = pd.concat([read_tsv(path) for path in snakemake.input], ignore_index=True)
    log.info("%d rows from %d shard tables", len(merged), len(snakemake.input))
    write_tsv(merged.sort_values("sample_id", kind="stable"), snakemake.output[0])


run_script(snakemake, main)  # noqa: F821
