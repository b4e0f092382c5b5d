"""The genomic stage: ``vcf/`` (reading real callers' VCF/BCF files, by concern), ``mutations``
(rule ``panel_mutations``: FOHAIC-1 panel mutations and the variant audit) and ``genotypes``
(rule ``snp_genotypes``: IL-28B and other SNP genotypes)."""
