import logging

import _bootstrap  # noqa: F401
from haicpred.clinical.biomarkers import (baseline_features, biomarker_dictionary, normalise_units,
                                          on_treatment_dictionary, on_treatment_features, qc_table,
                                          read_biomarkers, unknown_analyte_units)
from haicpred.io.tables import write_tsv
from haicpred.workflow import run_script

log = logging.getLogger("haicpred")


def main(snakemake):
    settings = snakemake.params.settings
    table = read_biomarkers(snakemake.input[0])
    canonical = normalise_units(table, snakemake.input[0], settings["afp_iu_to_ng"],
                                settings["duplicates"], settings["unknown_analytes"])
    features = baseline_features(canonical, settings["cutoffs"])
    unknown = unknown_analyte_units(canonical)
    if unknown:
        log.info("%d analyte(s) haicpred does not know kept as features in their own unit: %s",
                 len(unknown), ", ".join(f"{a} ({u})" for a, u in unknown.items()))
    # their units reach the feature dictionary through this table
    write_tsv(biomarker_dictionary(settings["cutoffs"], canonical), snakemake.output.dictionary)
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
