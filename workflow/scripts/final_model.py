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
    groups = metadata["risk_groups"]
    # a binary model's groups split a probability, a survival model's a risk (log hazard)
    log.info("final model: %d labelled patients (%d with %s), %d features; %s",
             metadata["n"], metadata["n_events"],
             groups.get("probability_of") or f"the event of {metadata['endpoint']['name']}",
             metadata["n_features"], metadata["hyperparameters"])
    log.info("risk groups: %s, cut-offs %s", groups["rule"],
             ", ".join(f"{c:.3f}" for c in groups["cutoffs"]))
    if final.nomogram is not None and final.nomogram["available"]:
        log.info("nomogram of the Cox model refitted on the published factors (%s): %s",
                 ", ".join(f["name"] for f in final.nomogram["factors"]),
                 Path(snakemake.output.model).parent / "nomogram.json")
    elif final.nomogram is not None:
        log.warning("no nomogram: %s", final.nomogram["reason"])
    top = final.shap_importance.head(8)
    log.info("largest mean |SHAP|: %s", ", ".join(
        f"{row.feature} ({row.mean_abs_shap:.3f})" for row in top.itertuples()))
    write_final_model(final, Path(snakemake.output.model).parent)


run_script(snakemake, main)  # noqa: F821
