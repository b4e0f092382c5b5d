rule radiomic_features:
    """Radiomic features per patient (pyradiomics names, prefixed rad_), lesions combined by
    radiomics_settings.aggregation."""
    input:
        lambda wildcards: cohort_table("radiomics"),
    output:
        "results/features/radiomics.tsv",
    params:
        settings=config["radiomics_settings"],
    log:
        "logs/radiomic_features.log",
    benchmark:
        "logs/benchmarks/radiomic_features.tsv"
    threads: 1  # vectorised pandas
    resources:
        mem_mb=4000,  # wide tables: thousands of filtered-image features per lesion
        runtime=10,
    conda:
        "../../envs/tables.yaml"
    script:
        "../scripts/radiomic_features.py"
