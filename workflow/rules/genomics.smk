# Genomic jobs run per shard of a batch (config genomics.shard_size samples), never per sample:
# a Snakemake job and a Python start-up cost about a second each, which would dominate.


rule panel_mutations:
    """FOHAIC-1 panel mutations of one shard's exome VCFs or MAFs, with a per-record audit."""
    input:
        vcfs=shard_files("exome_vcf"),
        mafs=shard_files("exome_maf"),  # a batch MAF is read once per shard job
        panel=config["panel"],
    output:
        features="results/features/shards/{batch}/{shard}/mutations.tsv",
        audit="results/features/shards/{batch}/{shard}/variants.tsv",
    params:
        samples=shard_samples,
        min_vaf=config["mutations"]["min_vaf"],
        min_depth=config["mutations"]["min_depth"],
        genome_build=config["genome_build"],
        # indexes of unindexed BGZF inputs, shared by the batch's shards; never beside the input
        index_dir=lambda wildcards: f"results/index/{wildcards.batch}",
    log:
        "logs/panel_mutations/{batch}.{shard}.log",
    benchmark:
        "logs/benchmarks/panel_mutations/{batch}.{shard}.tsv"
    threads: 2  # worker processes over the shard's files (1.9x faster on 2 cores)
    resources:
        # one VCF per worker, streamed: 285 MiB measured for 500 simulated VCFs. A MAF is read
        # whole, 100,000 rows at a time: 251 MiB for a 376,000-row cohort MAF.
        mem_mb=2000,
        runtime=60,
    conda:
        "../../envs/genomics.yaml"
    script:
        "../scripts/panel_mutations.py"


rule snp_genotypes:
    """IL-28B and GALNT14 genotypes of one shard from its genotype VCF(s),
    falling back to the exome VCF's normal column where that covers the SNP."""
    input:
        vcfs=shard_files("genotype_vcf"),
        exomes=shard_files("exome_vcf"),
        snps=config["snps"],
    output:
        "results/features/shards/{batch}/{shard}/genotypes.tsv",
    params:
        samples=shard_samples,
    log:
        "logs/snp_genotypes/{batch}.{shard}.log",
    benchmark:
        "logs/benchmarks/snp_genotypes/{batch}.{shard}.tsv"
    threads: 1  # a handful of indexed look-ups per genotype VCF
    resources:
        mem_mb=1000,
        runtime=30,
    conda:
        "../../envs/genomics.yaml"
    script:
        "../scripts/snp_genotypes.py"


rule merge_variant_audit:
    """One audit table per batch (results/variants/<batch>.tsv) from its shards."""
    input:
        every_shard("results/features/shards/{batch}/{shard}/variants.tsv"),
    output:
        "results/variants/{batch}.tsv",
    log:
        "logs/merge_variant_audit/{batch}.log",
    benchmark:
        "logs/benchmarks/merge_variant_audit/{batch}.tsv"
    threads: 1  # a concatenation
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../../envs/tables.yaml"
    script:
        "../scripts/concatenate_tables.py"


rule merge_batch_features:
    """Concatenate per-shard genomic features (mutations or genotypes) into one table."""
    input:
        every_shard("results/features/shards/{batch}/{shard}/{kind}.tsv"),
    output:
        "results/features/{kind}.tsv",
    wildcard_constraints:
        kind="mutations|genotypes",
    log:
        "logs/merge_batch_features/{kind}.log",
    benchmark:
        "logs/benchmarks/merge_batch_features/{kind}.tsv"
    threads: 1  # a concatenation
    resources:
        mem_mb=2000,  # all batches in memory: ~10 MB at 10,000 samples
        runtime=10,
    conda:
        "../../envs/tables.yaml"
    script:
        "../scripts/concatenate_tables.py"
