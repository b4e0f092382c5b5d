import logging

import _bootstrap  # noqa: F401
from haicpred.genomics.genotypes import snp_genotypes
from haicpred.io.resources import read_snps
from haicpred.io.tables import write_tsv
from haicpred.workflow import run_script

log = logging.getLogger("haicpred")


def main(snakemake):
    genotypes = snp_genotypes(snakemake.params.samples, read_snps(snakemake.input.snps))
    called = genotypes.drop(columns="sample_id").notna().any(axis=1).sum()
    log.info("%d samples, %d with at least one genotype called", len(genotypes), called)
    write_tsv(genotypes, snakemake.output[0])


run_script(snakemake, main)  # noqa: F821
