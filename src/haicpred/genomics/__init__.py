"""Genomic stage: VCF access, panel mutations, SNP genotypes."""
