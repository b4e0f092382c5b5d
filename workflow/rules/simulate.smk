checkpoint simulate_demo_cohort:
    """Simulated demo cohort, used when config names no cohort (samples is empty)."""
    input:
        panel=config["panel"],
        snps=config["snps"],
    output:
        directory(DEMO_DIR),
    params:
        demo=config["demo"],
        genome_build=config["genome_build"],
    log:
        "logs/simulate_demo_cohort.log",
    benchmark:
        "logs/benchmarks/simulate_demo_cohort.tsv"
    threads: 1  # writes files sequentially; bgzip/tabix of small VCFs is I/O-bound
    resources:
        mem_mb=2000,  # whole cohort held as numpy arrays: ~50 MB at 10,000 patients
        runtime=30,
    conda:
        "../../envs/genomics.yaml"
    script:
        "../scripts/simulate_cohort.py"
