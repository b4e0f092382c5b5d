import _bootstrap  # noqa: F401
from haicpred.features.matrix import read_feature_matrix, read_labels
from haicpred.report.layout import OPTIONAL_FILES
from haicpred.report.render import render_report
from haicpred.io.tables import read_tsv
from haicpred.workflow import run_script


def main(snakemake):
    inputs = snakemake.input
    # the later stages' tables, when the rule has them as inputs (workflow/rules/report.smk)
    optional = {key: read_tsv(getattr(inputs, key)) for key in OPTIONAL_FILES
                if getattr(inputs, key, None)}
    render_report(
        out_path=snakemake.output[0],
        metrics=read_tsv(inputs.metrics),
        oof=read_tsv(inputs.oof),
        calibration=read_tsv(inputs.calibration),
        importance=read_tsv(inputs.importance),
        dictionary=read_tsv(inputs.dictionary),
        matrix=read_feature_matrix(inputs.matrix),
        labels=read_labels(inputs.labels),
        settings=snakemake.params.settings,
        truth=read_tsv(inputs.truth[0]) if inputs.truth else None,
        planted_effects=read_tsv(inputs.planted[0]) if inputs.planted else None,
        cv_metadata=inputs.cv_metadata,
        # the final model's metadata, when this workflow has the final_model rule
        final_metadata=getattr(inputs, "final_metadata", None),
        data_checks=inputs.data_checks,
        cohort=snakemake.params.cohort,
        # survival endpoint only: the risk groups' Kaplan-Meier table and the nomogram, when
        # the rule has them as inputs (absent: tertiles computed from the OOF table; the
        # nomogram section says not produced)
        km_risk_groups=getattr(inputs, "km_risk_groups", None),
        nomogram=getattr(inputs, "nomogram", None),
        # radiomics extracted from images: settings, lesions per batch, scanner-effect figure
        extraction_summary=getattr(inputs, "extraction_summary", None),
        batch_distributions=getattr(inputs, "batch_distributions", None),
        **optional,
    )


run_script(snakemake, main)  # noqa: F821
