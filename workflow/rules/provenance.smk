# Provenance: input checksums per batch (only a new or changed batch is re-read), then one
# results/provenance.json with the tables' checksums, resolved config, versions and git commit.


rule input_checksums:
    """sha256 of every VCF one batch's sheet rows name."""
    input:
        batch_vcfs,
    output:
        "results/provenance/{batch}.tsv",
    params:
        records=lambda wildcards: batch_records(sample_sheet(), wildcards.batch),
    log:
        "logs/input_checksums/{batch}.log",
    benchmark:
        "logs/benchmarks/input_checksums/{batch}.tsv"
    threads: 1  # sequential reads; disk-bound
    resources:
        mem_mb=500,  # 1 MiB read buffer and one row per file
        runtime=30,  # ~1 GB/s: a batch of 1,000 exomes of a few MB in seconds
    conda:
        "../../envs/tables.yaml"
    script:
        "../scripts/input_checksums.py"


rule provenance:
    """Input checksums, resolved config, package versions and the workflow's git commit."""
    input:
        unpack(cohort_inputs),
        listings=lambda wildcards: expand("results/provenance/{batch}.tsv", batch=batches()),
    output:
        "results/provenance.json",
    params:
        config=config,  # resolved: schema defaults filled in
        batches=lambda wildcards: batches(),
        git_commit=GIT_COMMIT,
    log:
        "logs/provenance.log",
    benchmark:
        "logs/benchmarks/provenance.tsv"
    threads: 1  # checksums of a few tables
    resources:
        mem_mb=500,
        runtime=10,
    conda:
        "../../envs/tables.yaml"
    script:
        "../scripts/provenance.py"
