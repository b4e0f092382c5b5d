rule feature_matrix:
    """One row per sample of the sheet: clinical, biomarker, genomic, radiomic and extra
    (config extra_modalities) features."""
    input:
        samples=lambda wildcards: cohort_table("samples"),
        clinical=lambda wildcards: cohort_table("clinical"),
        biomarkers="results/features/biomarkers.tsv",
        biomarker_dictionary="results/features/biomarker_dictionary.tsv",
        mutations="results/features/mutations.tsv",
        genotypes="results/features/genotypes.tsv",
        radiomics=lambda wildcards: (
            ["results/features/radiomics.tsv"] if has_radiomics() else []
        ),
        extra_modalities=list(config["extra_modalities"].values()),  # none unless configured
        panel=config["panel"],  # which genes have no span on this build (marked in the dictionary)
    output:
        matrix="results/features/feature_matrix.tsv",
        dictionary="results/features/feature_dictionary.tsv",
        labels="results/features/labels.tsv",
    params:
        cutoffs=config["biomarkers_settings"]["cutoffs"],
        extra_modality_names=list(config["extra_modalities"]),  # in the order of the inputs
        radiomics_aggregation=config["radiomics_settings"]["aggregation"],  # for the dictionary
        endpoint=config["endpoint"],  # the log counts its labelled patients
        genome_build=config["genome_build"],
    log:
        "logs/feature_matrix.log",
    benchmark:
        "logs/benchmarks/feature_matrix.tsv"
    threads: 1  # joins of per-sample tables
    resources:
        mem_mb=4000,  # 10,000 samples x ~a few thousand features as float64
        runtime=10,
    conda:
        "../../envs/genomics.yaml"  # the genotype feature names come from haicpred.genomics.genotypes (pysam)
    script:
        "../scripts/feature_matrix.py"


rule data_checks:
    """Structure a model would learn instead of biology (haicpred.features.data_checks): missingness
    that predicts the configured endpoint, batches whose outcome rate differs or has one class,
    modalities a batch lacks entirely. Runs in every run, training or scoring: without labels
    (a cohort without outcomes) only the per-batch missingness is computed."""
    input:
        matrix="results/features/feature_matrix.tsv",
        dictionary="results/features/feature_dictionary.tsv",
        labels="results/features/labels.tsv",
    output:
        checks="results/features/data_checks.tsv",
    params:
        endpoint=config["endpoint"],
    log:
        "logs/data_checks.log",
    benchmark:
        "logs/benchmarks/data_checks.tsv"
    threads: 1  # one Fisher test per feature: seconds even for thousands of features
    resources:
        mem_mb=2000,  # the feature matrix as float64 plus its missingness mask
        runtime=10,
    conda:
        "../../envs/model.yaml"  # scipy
    script:
        "../scripts/data_checks.py"
