import logging
from pathlib import Path

import _bootstrap  # noqa: F401
from haicpred.features.matrix import read_feature_matrix, read_labels
from haicpred.modeling.final_model import fit_final_model, write_final_model
from haicpred.io.tables import read_tsv
from haicpred.workflow import run_script

log = logging.getLogger("haicpred")


def main(snakemake):
    inputs = snakemake.input
    final = fit_final_model(
        matrix=read_feature_matrix(inputs.matrix),
        labels=read_labels(inputs.labels),
        dictionary=read_tsv(inputs.dictionary),
        settings={**snakemake.params.settings, "threads": snakemake.threads},
        cv_metrics=read_tsv(inputs.metrics),
        cv_oof=read_tsv(inputs.oof),
        risk_groups=snakemake.params.risk_groups,
    )
    metadata = final.metadata
    log.info("final model: %d labelled patients (%d with %s), %d features; %s",
             metadata["n"], metadata["n_events"], metadata["risk_groups"]["probability_of"],
             metadata["n_features"], metadata["hyperparameters"])
    log.info("risk groups: %s, cut-offs %s", metadata["risk_groups"]["rule"],
             ", ".join(f"{c:.3f}" for c in metadata["risk_groups"]["cutoffs"]))
    top = final.shap_importance.head(8)
    log.info("largest mean |SHAP|: %s", ", ".join(
        f"{row.feature} ({row.mean_abs_shap:.3f})" for row in top.itertuples()))
    write_final_model(final, Path(snakemake.output.model).parent)


run_script(snakemake, main)  # noqa: F821
