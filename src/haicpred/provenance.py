"""Provenance of a run: what went in (checksums), with which settings and code.

Per batch, ``results/provenance/<batch>.tsv`` lists the sha256 of every VCF the batch's sheet
rows name (computed by a per-batch job, so adding a batch checksums only that batch's files).
``results/provenance.json`` then records the cohort tables and resources with their sha256, the
per-batch listings' sha256, the resolved config, the package versions and the git commit of the
workflow. No timestamps or host names: the same inputs and code give the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import pandas as pd

from haicpred.io.versions import package_versions

CHECKSUM_COLUMNS = ["sample_id", "column", "path", "bytes", "sha256"]
EXTRACTION_PARAMS = "radiomics_extraction_params"  # role of the pyradiomics parameter file
# checksummed per sample: the calls, and the images and masks radiomics are extracted from
CALL_FILE_COLUMNS = ("exome_vcf", "exome_maf", "genotype_vcf", "image", "mask")
PACKAGES = ("numpy", "pandas", "pysam", "scikit-learn", "scipy", "shap", "snakemake",
            "xgboost", "neuroCombat", "matplotlib", "jsonschema", "pyyaml",
            "pyradiomics", "SimpleITK")  # the last two: the imaging extra, when installed


def file_sha256(path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def display_path(path) -> str:
    """Relative to the working folder when inside it, so runs in different folders agree."""
    absolute = os.path.abspath(path)
    cwd = os.getcwd()
    return os.path.relpath(absolute, cwd) if absolute.startswith(cwd + os.sep) else absolute


def batch_checksums(records: list[dict]) -> pd.DataFrame:
    """sha256 of every VCF named by a batch's sheet rows (a file named twice is read once)."""
    seen: dict[str, tuple[int, str]] = {}
    rows = []
    for record in records:
        for column in CALL_FILE_COLUMNS:
            path = record.get(column)
            if not path:
                continue
            if path not in seen:
                seen[path] = (os.path.getsize(path), file_sha256(path))
            size, digest = seen[path]
            rows.append((record["sample_id"], column, display_path(path), size, digest))
    table = pd.DataFrame(rows, columns=CHECKSUM_COLUMNS)
    return table.sort_values(["sample_id", "column"], kind="mergesort").reset_index(drop=True)


def git_commit(folder) -> str:
    """The checked-out commit of the workflow (with '+changes' when the tree is dirty), or
    'unknown' outside a git checkout."""
    def git(*args):
        return subprocess.run(["git", "-C", str(folder), *args], capture_output=True,
                              text=True, timeout=30)
    try:
        head = git("rev-parse", "HEAD")
        if head.returncode != 0:
            return "unknown"
        dirty = git("status", "--porcelain", "--untracked-files=no").stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return head.stdout.strip() + ("+changes" if dirty else "")


def provenance(config: dict, tables: dict[str, str], batch_listings: dict[str, str],
               commit: str) -> dict:
    """The provenance document. `tables`: role -> path of each cohort table and resource;
    `batch_listings`: batch -> path of its checksum listing."""
    def entry(path):
        return {"path": display_path(path), "bytes": os.path.getsize(path),
                "sha256": file_sha256(path)}

    vcf_files: set[str] = set()  # a file several batches name (a joint genotype VCF) once
    listings = {}
    for batch in sorted(batch_listings):
        path = batch_listings[batch]
        listing = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
        vcf_files.update(listing["path"])
        listings[batch] = {**entry(path), "n_files": int(listing["path"].nunique())}
    document = {
        "workflow": {"git_commit": commit},
        "config": config,
        "inputs": {
            "tables": {role: entry(path) for role, path in sorted(tables.items())},
            "vcf_listings": listings,
            "n_vcf_files": len(vcf_files),
        },
        "versions": package_versions(PACKAGES),
    }
    if EXTRACTION_PARAMS in tables:  # radiomics extracted from images: the settings used
        import yaml

        document["radiomics_extraction_settings"] = yaml.safe_load(
            Path(tables[EXTRACTION_PARAMS]).read_text())
    return document


def write_provenance(document: dict, path) -> None:
    from haicpred.io.tables import write_text

    write_text(json.dumps(document, indent=2, sort_keys=True, default=str) + "\n", Path(path))
