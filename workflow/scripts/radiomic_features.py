import logging

import _bootstrap  # noqa: F401
from haicpred.radiomics.features import radiomic_features, read_radiomics, resolve_settings
from haicpred.io.tables import write_tsv
from haicpred.workflow import run_script

log = logging.getLogger("haicpred")


def main(snakemake):
    settings = resolve_settings(snakemake.params.settings)
    lesions = read_radiomics(snakemake.input[0], settings)
    features = radiomic_features(lesions, settings)
    log.info("%d lesions -> %d samples x %d features (aggregation %s, image types %s, "
             "feature classes %s)", len(lesions), len(features), features.shape[1] - 1,
             settings["aggregation"], settings["image_types"], settings["feature_classes"])
    write_tsv(features, snakemake.output[0])


run_script(snakemake, main)  # noqa: F821
