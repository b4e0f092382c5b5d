import _bootstrap  # noqa: F401
from haicpred.provenance import provenance, write_provenance
from haicpred.workflow import run_script


def main(snakemake):
    inputs = dict(snakemake.input.items())
    listings = dict(zip(snakemake.params.batches, inputs.pop("listings"), strict=True))
    document = provenance(dict(snakemake.params.config), inputs, listings,
                          snakemake.params.git_commit)
    write_provenance(document, snakemake.output[0])


run_script(snakemake, main)  # noqa: F821
