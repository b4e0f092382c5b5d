import _bootstrap  # noqa: F401
from haicpred.provenance import batch_checksums
from haicpred.io.tables import write_tsv
from haicpred.workflow import run_script


def main(snakemake):
    write_tsv(batch_checksums(snakemake.params.records), snakemake.output[0])


run_script(snakemake, main)  # noqa: F821
