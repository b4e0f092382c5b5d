import _bootstrap  # noqa: F401
from haicpred.genotypes import snp_genotypes
from haicpred.resources import read_snps
from haicpred.tables import write_tsv
from haicpred.workflow import run_script


def main(snakemake):
    genotypes = snp_genotypes(snakemake.params.samples, read_snps(snakemake.input.snps))
    write_tsv(genotypes, snakemake.output[0])


run_script(snakemake, main)  # noqa: F821
