import logging

import _bootstrap  # noqa: F401
from haicpred.radiomics.extraction_summary import write_extraction_summary
from haicpred.workflow import run_script

log = logging.getLogger("haicpred")


def main(snakemake):
    summary = write_extraction_summary(
        snakemake.input.params, snakemake.input.extracted, snakemake.input.features,
        snakemake.params.batches, snakemake.output.summary, snakemake.output.distributions)
    log.info("%d lesions of %d patients; %d with the label's volume changed by resampling%s",
             summary["lesions"], summary["patients"], summary["resampling_changed_label"],
             f"; not harmonised: {summary['harmonisation_note']}"
             if summary["harmonisation_note"] else "")


run_script(snakemake, main)  # noqa: F821
