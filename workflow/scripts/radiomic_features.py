import _bootstrap  # noqa: F401
from haicpred.radiomics import radiomic_features, read_radiomics
from haicpred.tables import write_tsv
from haicpred.workflow import run_script


def main(snakemake):
    write_tsv(radiomic_features(read_radiomics(snakemake.input[0])), snakemake.output[0])


run_script(snakemake, main)  # noqa: F821
