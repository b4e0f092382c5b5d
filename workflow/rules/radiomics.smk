# From images (the sample sheet's image and mask columns): one pyradiomics job per batch shard,
# never per patient; the shards' tables are joined into one file in pyradiomics' batch layout,
# which radiomic_features reads like a user's pyradiomics CSV. Adding a batch extracts only it.


rule extract_radiomics:
    """pyradiomics features of every lesion of one shard's image/mask pairs (all pairs checked
    first; a shard without images writes an empty file)."""
    input:
        images=shard_files("image"),
        masks=shard_files("mask"),
        params=lambda wildcards: extraction_params_path(config),
    output:
        "results/radiomics/shards/{batch}/{shard}.csv",
    params:
        samples=shard_samples,
        sheet=lambda wildcards: cohort_table("samples"),  # named in error messages
    log:
        "logs/extract_radiomics/{batch}.{shard}.log",
    benchmark:
        "logs/benchmarks/extract_radiomics/{batch}.{shard}.tsv"
    # worker processes over the shard's patients (pyradiomics holds the GIL)
    threads: config["radiomics_extraction"]["workers"]
    resources:
        # per worker one image, its mask and pyradiomics' resampled copies: benchmarks/ (README)
        mem_mb=lambda wildcards, threads: 1000 + 1000 * threads,
        # minutes: 0.4 s per lesion of a 128^3 CT with 1 worker; a 1,000-patient shard of
        # full-size CTs with a few lesions each stays well under two hours
        runtime=120,
    conda:
        "../../envs/imaging.yaml"
    script:
        "../scripts/extract_radiomics.py"


rule extracted_radiomics:
    """Every shard's lesions in one pyradiomics batch-layout file."""
    input:
        every_shard("results/radiomics/shards/{batch}/{shard}.csv"),
    output:
        EXTRACTED_RADIOMICS,
    log:
        "logs/extracted_radiomics.log",
    threads: 1  # concatenation
    resources:
        mem_mb=2000,  # every lesion's ~120 features and diagnostics
        runtime=10,
    conda:
        "../../envs/imaging.yaml"  # haicpred.radiomics.extraction, as the shards' jobs
    script:
        "../scripts/extracted_radiomics.py"


rule radiomics_extraction_summary:
    """The report's view of an extraction: settings, lesions and quality flags per batch, and
    the per-batch distributions of the features with the strongest scanner effect, raw and
    ComBat-harmonised over the whole cohort (a picture; models harmonise inside their folds)."""
    input:
        extracted=EXTRACTED_RADIOMICS,
        features="results/features/radiomics.tsv",
        params=lambda wildcards: extraction_params_path(config),
    output:
        summary="results/radiomics/extraction_summary.json",
        distributions="results/radiomics/batch_distributions.tsv",
    params:
        batches=lambda wildcards: sample_sheet().set_index("sample_id")["batch"].to_dict(),
    log:
        "logs/radiomics_extraction_summary.log",
    threads: 1  # one ComBat fit and a few quantiles
    resources:
        mem_mb=2000,  # the extracted lesions as text
        runtime=10,
    conda:
        "../../envs/imaging.yaml"  # pyradiomics resolves the parameter file
    script:
        "../scripts/radiomics_extraction_summary.py"


rule radiomic_features:
    """Radiomic features per patient (pyradiomics names, prefixed rad_), lesions combined by
    radiomics_settings.aggregation."""
    input:
        lambda wildcards: radiomics_table(),
    output:
        "results/features/radiomics.tsv",
    params:
        # extracted here: haicpred writes sample_id and lesion_id
        settings=lambda wildcards: ({**config["radiomics_settings"], "id_column": "sample_id",
                                     "lesion_column": "lesion_id"}
                                    if extracts_images() else config["radiomics_settings"]),
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
