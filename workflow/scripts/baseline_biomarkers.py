import logging

import _bootstrap  # noqa: F401
from haicpred.biomarkers import (baseline_features, normalise_units, on_treatment_dictionary,
                                 on_treatment_features, qc_table, read_biomarkers)
from haicpred.tables import write_tsv
from haicpred.workflow import run_script

log = logging.getLogger("haicpred")


def main(snakemake):
    settings = snakemake.params.settings
    table = read_biomarkers(snakemake.input[0])
    canonical = normalise_units(table, snakemake.input[0], settings["afp_iu_to_ng"],
                                settings["duplicates"])
    features = baseline_features(canonical, settings["cutoffs"])
    qc = qc_table(canonical)
    log.info("%d values flagged in the QC table", len(qc))
    write_tsv(qc, snakemake.output.qc)
    log.info("%d biomarker rows -> baseline features for %d samples", len(table), len(features))
    write_tsv(features, snakemake.output.features)
    # post-treatment changes: a separate table, read only by the opt-in on-treatment model
    on_treatment = on_treatment_features(canonical, settings["cutoffs"])
    log.info("on-treatment AFP/DCP changes for %d samples (AFP ratio known for %d)",
             len(on_treatment), on_treatment["post_afp_ratio"].notna().sum())
    write_tsv(on_treatment, snakemake.output.on_treatment)
    write_tsv(on_treatment_dictionary(settings["cutoffs"]),
              snakemake.output.on_treatment_dictionary)


run_script(snakemake, main)  # noqa: F821
