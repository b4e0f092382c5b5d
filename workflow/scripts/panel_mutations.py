import _bootstrap  # noqa: F401
from haicpred.mutations import panel_mutations
from haicpred.resources import read_panel
from haicpred.tables import write_tsv
from haicpred.workflow import run_script


def main(snakemake):
    features, audit = panel_mutations(snakemake.params.samples, read_panel(snakemake.input.panel),
                                      min_vaf=snakemake.params.min_vaf,
                                      min_depth=snakemake.params.min_depth)
    write_tsv(features, snakemake.output.features)
    write_tsv(audit, snakemake.output.audit)


run_script(snakemake, main)  # noqa: F821
