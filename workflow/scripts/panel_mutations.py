import logging

import _bootstrap  # noqa: F401
from haicpred.genomics.mutations import panel_mutations, summarise_audit
from haicpred.io.resources import read_panel
from haicpred.io.tables import write_tsv
from haicpred.workflow import run_script

log = logging.getLogger("haicpred")


def main(snakemake):
    params = snakemake.params
    features, audit = panel_mutations(params.samples, read_panel(snakemake.input.panel),
                                      min_vaf=params.min_vaf, min_depth=params.min_depth,
                                      genome_build=params.genome_build,
                                      index_dir=params.index_dir, threads=snakemake.threads)
    kept = (audit["decision"] == "kept").sum()
    log.info("%d samples (%d with an exome VCF or MAF): %d of %d panel-region calls kept; "
             "%d mutation-positive", len(features), features["panel_mutations"].notna().sum(),
             kept, len(audit), (features["fohaic1_mutation_positive"] == 1).sum())
    log.info("audit reasons: %s", summarise_audit(audit))
    write_tsv(features, snakemake.output.features)
    write_tsv(audit, snakemake.output.audit)


run_script(snakemake, main)  # noqa: F821
