rule panel_mutations:
    """FOHAIC-1 panel mutations of one batch's exome VCFs, with a per-record audit."""
    input:
        vcfs=batch_files("exome_vcf"),
        panel=config["panel"],
    output:
        features="results/features/batches/{batch}/mutations.tsv",
        audit="results/variants/{batch}.tsv",
    params:
        samples=batch_samples,
        min_vaf=config["mutations"]["min_vaf"],
        min_depth=config["mutations"]["min_depth"],
    log:
        "logs/panel_mutations/{batch}.log",
    threads: 1  # one pass over each VCF's panel regions; htslib decompression is single-threaded here
    resources:
        mem_mb=1000,  # one VCF open at a time; per-record rows only for panel regions
        runtime=60,
    conda:
        "../../envs/genomics.yaml"
    script:
        "../scripts/panel_mutations.py"


rule snp_genotypes:
    """IL-28B and GALNT14 genotypes of one batch from its genotype VCF(s)."""
    input:
        vcfs=batch_files("genotype_vcf"),
        snps=config["snps"],
    output:
        "results/features/batches/{batch}/genotypes.tsv",
    params:
        samples=batch_samples,
    log:
        "logs/snp_genotypes/{batch}.log",
    threads: 1  # a handful of indexed look-ups per genotype VCF
    resources:
        mem_mb=1000,
        runtime=30,
    conda:
        "../../envs/genomics.yaml"
    script:
        "../scripts/snp_genotypes.py"


rule merge_batch_features:
    """Concatenate per-batch genomic features (mutations or genotypes) into one table."""
    input:
        per_batch("results/features/batches/{batch}/{kind}.tsv"),
    output:
        "results/features/{kind}.tsv",
    wildcard_constraints:
        kind="mutations|genotypes",
    log:
        "logs/merge_batch_features/{kind}.log",
    threads: 1  # a concatenation
    resources:
        mem_mb=2000,  # all batches in memory: ~10 MB at 10,000 samples
        runtime=10,
    conda:
        "../../envs/tables.yaml"
    script:
        "../scripts/merge_batch_features.py"
