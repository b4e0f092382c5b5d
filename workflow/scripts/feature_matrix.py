import logging

import _bootstrap  # noqa: F401
from haicpred.clinical.clinical_table import read_clinical
from haicpred.features.endpoints import endpoint_labels
from haicpred.clinical.extra_modalities import read_extra_modalities
from haicpred.features.matrix import build_feature_matrix
from haicpred.io.resources import not_assessed_genes, read_panel
from haicpred.io.samples import load_sample_sheet
from haicpred.io.tables import read_tsv, write_tsv
from haicpred.workflow import run_script

log = logging.getLogger("haicpred")


def main(snakemake):
    inputs = snakemake.input
    extra_paths = dict(zip(snakemake.params.extra_modality_names, inputs.extra_modalities,
                           strict=True))  # modality -> table, in config order
    matrix, dictionary, labels = build_feature_matrix(
        sheet=load_sample_sheet(inputs.samples),
        clinical=read_clinical(inputs.clinical),
        mutations=read_tsv(inputs.mutations),
        genotypes=read_tsv(inputs.genotypes),
        biomarkers=read_tsv(inputs.biomarkers),
        biomarker_dictionary=read_tsv(inputs.biomarker_dictionary),
        radiomics=read_tsv(inputs.radiomics[0]) if inputs.radiomics else None,
        cutoffs=snakemake.params.cutoffs,
        extra_modalities=read_extra_modalities(extra_paths),
        radiomics_aggregation=snakemake.params.radiomics_aggregation,
        not_assessed=not_assessed_genes(read_panel(inputs.panel)),
        genome_build=snakemake.params.genome_build,
    )
    endpoint = endpoint_labels(labels, snakemake.params.endpoint)  # the configured endpoint
    log.info("feature matrix: %d samples x %d features; %d labelled for endpoint %s",
             len(matrix), len(dictionary), endpoint.label.notna().sum(), endpoint.name)
    write_tsv(matrix, snakemake.output.matrix)
    write_tsv(dictionary, snakemake.output.dictionary)
    write_tsv(labels, snakemake.output.labels)


run_script(snakemake, main)  # noqa: F821
