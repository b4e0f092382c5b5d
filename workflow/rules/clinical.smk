rule baseline_biomarkers:
    """Baseline biomarkers in canonical units plus derived indices (ALBI, NLR, AFP flags); and,
    separately, post-treatment AFP/DCP changes (never part of the feature matrix)."""
    input:
        lambda wildcards: cohort_table("biomarkers"),
    output:
        features="results/features/biomarkers.tsv",
        dictionary="results/features/biomarker_dictionary.tsv",
        qc="results/features/biomarker_qc.tsv",
        on_treatment="results/features/on_treatment.tsv",
        on_treatment_dictionary="results/features/on_treatment_dictionary.tsv",
    params:
        settings=config["biomarkers_settings"],
    log:
        "logs/baseline_biomarkers.log",
    benchmark:
        "logs/benchmarks/baseline_biomarkers.tsv"
    threads: 1  # vectorised pandas over one long table
    resources:
        mem_mb=2000,  # 10,000 patients x 17 analytes x 2 timepoints = 340,000 rows
        runtime=10,
    conda:
        "../../envs/tables.yaml"
    script:
        "../scripts/baseline_biomarkers.py"
