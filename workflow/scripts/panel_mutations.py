import logging

import _bootstrap  # noqa: F401
from haicpred.mutations import panel_mutations
from haicpred.resources import read_panel
from haicpred.tables import write_tsv
from haicpred.workflow import run_script

log = logging.getLogger("haicpred")


def main(snakemake):
    features, audit = panel_mutations(snakemake.params.samples, read_panel(snakemake.input.panel),
                                      min_vaf=snakemake.params.min_vaf,
                                      min_depth=snakemake.params.min_depth)
    kept = (audit["decision"] == "kept").sum()
    log.info("%d samples (%d with an exome VCF): %d of %d panel-region records kept; "
             "%d mutation-positive", len(features), features["panel_mutations"].notna().sum(),
             kept, len(audit), (features["fohaic1_mutation_positive"] == 1).sum())
    write_tsv(features, snakemake.output.features)
    write_tsv(audit, snakemake.output.audit)


run_script(snakemake, main)  # noqa: F821
