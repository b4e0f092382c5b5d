"""docs/bad_inputs.md is the catalogue of bad inputs and what a user sees for each; this file
checks it. The doc is the single source of truth: its table is parsed, every case id has a
function in CASES (and no other), and the documented message must appear verbatim in what the
package entry point the workflow uses tells the user (cohort_problems for sheets and tables,
panel_mutations / snp_genotypes for VCFs, cross_validate_models for labels, load_config for
the config). Cases on the real VCFs skip cleanly when ../shared/realdata is absent.

At the end, every malformed real VCF goes through the real workflow as a patient's exome VCF:
snakemake fails, names the file, and writes no feature matrix."""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pysam
import pytest
import yaml

from haicpred.cohort import cohort_problems, cohort_report, load_config
from haicpred.features.endpoints import survival_labels
from haicpred.io.errors import InputError
from haicpred.io.tables import read_tsv
from haicpred.modeling.final_model import METADATA_FILE as FINAL_METADATA_FILE
from haicpred.modeling.final_model import fit_final_model, write_final_model
from haicpred.modeling.predict import predict
from haicpred.genomics.genotypes import snp_genotypes
from haicpred.modeling.cross_validation import (CV_METADATA_FILE, cross_validate_models,
                                                write_model_outputs)
from haicpred.genomics.mutations import panel_mutations
from haicpred.io.resources import read_panel, read_snps
from haicpred.radiomics.extraction import ImagePair, check_pairs
from imaging import ct_like, require_imaging, sphere_mask, write_volume
from realdata import HAVE_REAL, REAL, SKIP_REASON
from workflow_helpers import PANEL, REPO, SNPS, make_workdir

DOC = REPO / "docs" / "bad_inputs.md"


@dataclass
class Seen:
    """What the user sees for a case: the text, the bad file it must name (substituted for
    <path> in the documented message; None when nothing names a file, e.g. an accepted input),
    and the row/sample/key it must name."""

    text: str
    file: str | None
    where: str | None = None


def errors(call) -> str:
    """str(InputError) of `call`, or "" when it raises none."""
    try:
        call()
    except InputError as error:
        return str(error)
    return ""


# ----------------------------------------------------------------------------------------------
# Sheets and tables: cohort_problems, the check snakemake runs before any job
# ----------------------------------------------------------------------------------------------

SHEET = "sample_id\tbatch\texome_vcf\ttumor_sample\nP1\tb1\t\t\nP2\tb1\t\t\n"
CLINICAL = "sample_id\tage\tbest_response\nP1\t60\tPR\nP2\t71\tSD\n"
BIOMARKERS = ("sample_id\tanalyte\tvalue\tunit\ttimepoint\n"
              "P1\talbumin\t4.1\tg/dL\tbaseline\nP2\tafp\t12\tng/mL\tbaseline\n")


def cohort(tmp_path: Path, *, samples=SHEET, clinical=CLINICAL, biomarkers=BIOMARKERS,
           **config) -> tuple[dict, dict[str, Path]]:
    """A user cohort in tmp_path/cohort (a table given as bytes is written as bytes, None is
    not written) and its config as load_config returns it."""
    folder = tmp_path / "cohort"
    folder.mkdir(exist_ok=True)
    paths = {}
    for name, content in (("samples", samples), ("clinical", clinical),
                          ("biomarkers", biomarkers)):
        path = paths[name] = folder / f"{name}.tsv"
        if isinstance(content, bytes):
            path.write_bytes(content)
        elif content is not None:
            path.write_text(content)
    settings = {"panel": str(PANEL), "snps": str(SNPS),
                **{name: str(path) for name, path in paths.items()}, **config}
    config_file = tmp_path / "config.yaml"
    config_file.write_text(yaml.safe_dump(settings))
    return load_config(config_file), paths


def problems_of(config: dict) -> str:
    found = cohort_problems(config)
    return str(InputError(found)) if found else ""


def table_case(table: str, content, where: str | None = None, **config):
    """A case whose bad input is the table `table` (samples, clinical or biomarkers)."""

    def case(tmp_path):
        settings, paths = cohort(tmp_path, **{table: content}, **config)
        return Seen(problems_of(settings), str(paths[table]), where)

    return case


def case_images_and_radiomics_table(tmp_path):
    require_imaging()
    image = write_volume(tmp_path / "ct.nii.gz", ct_like())
    mask = write_volume(tmp_path / "mask.nii.gz", sphere_mask())
    sheet = f"sample_id\tbatch\timage\tmask\nP1\tb1\t{image}\t{mask}\nP2\tb1\t\t\n"
    radiomics = tmp_path / "radiomics.tsv"
    radiomics.write_text("sample_id\toriginal_firstorder_Mean\nP1\t1.5\n")
    settings, _ = cohort(tmp_path, samples=sheet, radiomics=str(radiomics))
    return Seen(problems_of(settings), None, "give radiomics once")


def image_case(kind: str):
    """A bad image or mask of patient P1, as its shard's extraction job checks it."""

    def case(tmp_path):
        require_imaging()
        image = write_volume(tmp_path / "ct.nii.gz", ct_like())
        mask = write_volume(tmp_path / "mask.nii.gz", sphere_mask())
        bad = {"geometry": lambda: write_volume(tmp_path / "bad_mask.nii.gz", sphere_mask(),
                                                spacing=(1.0, 1.0, 2.0)),
               "empty": lambda: write_volume(tmp_path / "bad_mask.nii.gz",
                                             np.zeros_like(sphere_mask())),
               "not-integer": lambda: write_volume(tmp_path / "bad_mask.nii.gz",
                                                   sphere_mask().astype(np.float32) * 0.7)}
        if kind == "missing":
            pair = ImagePair("P1", str(tmp_path / "nowhere.nii.gz"), str(mask), "samples.tsv")
            file = "samples.tsv"
        elif kind == "unreadable":
            garbage = tmp_path / "ct_text.nii.gz"
            garbage.write_text("not an image\n")
            pair = ImagePair("P1", str(garbage), str(mask), "samples.tsv")
            file = str(garbage)
        else:
            pair = ImagePair("P1", str(image), str(bad[kind]()), "samples.tsv")
            file = pair.mask
        return Seen(errors(lambda: check_pairs([pair])), file, "sample P1")

    return case


def sheet_with_id(sample_id: str):
    return table_case("samples", f"sample_id\tbatch\n{sample_id}\tb1\nP2\tb1\n", "row 1")


def case_sheet_missing(tmp_path):
    settings, paths = cohort(tmp_path, samples=None)
    return Seen(problems_of(settings), str(paths["samples"]), "file")


def case_table_directory(tmp_path):
    settings, paths = cohort(tmp_path, biomarkers=None)
    paths["biomarkers"].mkdir()
    return Seen(problems_of(settings), str(paths["biomarkers"]), "file")


def case_vcf_missing(tmp_path):
    sheet = "sample_id\tbatch\texome_vcf\nP1\tb1\tP1.vcf.gz\nP2\tb1\t\n"
    settings, paths = cohort(tmp_path, samples=sheet)
    vcf = paths["samples"].parent / "P1.vcf.gz"
    seen = problems_of(settings)
    assert str(paths["samples"]) in seen  # the sheet that names it
    return Seen(seen, str(vcf), "row 1 (sample P1), column exome_vcf")


def case_vcf_directory(tmp_path):
    sheet = "sample_id\tbatch\texome_vcf\nP1\tb1\tP1.vcf\nP2\tb1\t\n"
    settings, paths = cohort(tmp_path, samples=sheet)
    (paths["samples"].parent / "P1.vcf").mkdir()
    return Seen(problems_of(settings), str(paths["samples"].parent / "P1.vcf"),
                "row 1 (sample P1), column exome_vcf")


def case_config_endpoint_column_missing(tmp_path):
    settings, paths = cohort(tmp_path, endpoint={"kind": "survival_horizon"})
    return Seen(problems_of(settings), str(paths["clinical"]), "endpoint (survival_horizon)")


def case_vcf_not_vcf(tmp_path):
    sheet = "sample_id\tbatch\texome_vcf\nP1\tb1\tP1.vcf.gz\nP2\tb1\t\n"
    settings, paths = cohort(tmp_path, samples=sheet)
    vcf = paths["samples"].parent / "P1.vcf.gz"
    vcf.write_text("root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1::/usr/sbin\n")  # /etc/passwd
    seen = problems_of(settings)
    assert str(paths["samples"]) in seen  # the sheet that names it
    return Seen(seen, str(vcf), "row 1 (sample P1), column exome_vcf")


def case_patient_unknown_in_table(tmp_path):
    """A master table: another batch's patient is left out, with a note (not a problem)."""
    settings, paths = cohort(tmp_path, biomarkers=BIOMARKERS + "Q9\tafp\t8\tng/mL\tbaseline\n")
    problems, left_out = cohort_report(settings)
    assert [str(rows) for rows in left_out] == [
        f"{paths['biomarkers']}: 1 row(s) of 1 patient(s) not in the sample sheet left out (Q9)"]
    return Seen(str(InputError(problems)) if problems else "", None)


def case_config_resource_missing(tmp_path):
    settings, _ = cohort(tmp_path, panel=str(tmp_path / "panel_GRCh38.tsv"))
    return Seen(problems_of(settings), str(tmp_path / "panel_GRCh38.tsv"), "config: panel")


# ----------------------------------------------------------------------------------------------
# The gene panel (TSV or BED): cohort_problems reads it before any job
# ----------------------------------------------------------------------------------------------

def panel_case(name: str, content: str, where: str | None = None):
    """A case whose bad input is the panel file `name` (its extension says TSV or BED)."""

    def case(tmp_path):
        path = tmp_path / name
        path.write_text(content)
        settings, _ = cohort(tmp_path, panel=str(path))
        return Seen(problems_of(settings), str(path), where)

    return case


PANEL_TSV_HEADER = "gene\tchrom\tstart\tend\tstrand\tsource\n"
PIK3CD_BED = "chr1\t9629888\t9729114\tPIK3CD\n"


# ----------------------------------------------------------------------------------------------
# VCFs: panel_mutations / snp_genotypes, as the genomic jobs call them
# ----------------------------------------------------------------------------------------------

HEADER = ('##fileformat=VCFv4.2\n##contig=<ID={contig},length={length}>\n'
          '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
          '##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Allelic depths">\n'
          "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t{columns}\n")


def vcf_text(contig="chr1", pos=9_700_000, ref="C", alt="T", columns=("NORMAL", "TUMOR"),
             length=248_956_422) -> str:
    """A somatic VCF with one PASS call inside PIK3CD (GRCh38 panel) by default."""
    calls = "\t".join(["0/0:30,0"] + ["0/1:20,10"] * (len(columns) - 1))
    return (HEADER.format(contig=contig, length=length, columns="\t".join(columns))
            + f"{contig}\t{pos}\t.\t{ref}\t{alt}\t.\tPASS\t.\tGT:AD\t{calls}\n")


def exome(path, tumour=None, sample_id="P1") -> dict:
    return dict(sample_id=sample_id, batch="b1", exome_vcf=str(path), tumor_sample=tumour,
                genotype_vcf=None, genotype_sample=sample_id)


def mutations(tmp_path, *samples):
    """panel_mutations as the panel_mutations rule calls it (default config: GRCh38)."""
    return panel_mutations(list(samples), read_panel(PANEL), genome_build="GRCh38",
                           index_dir=tmp_path / "index")


def vcf_case(name: str, content, tumour=None):
    """A case whose bad input is one exome VCF (text, or bytes written as they are)."""

    def case(tmp_path):
        path = tmp_path / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        return Seen(errors(lambda: mutations(tmp_path, exome(path, tumour))), str(path),
                    "sample P1")

    return case


def bgzipped(tmp_path, text: str) -> bytes:
    plain = tmp_path / "plain.vcf"
    plain.write_text(text)
    pysam.tabix_compress(str(plain), str(tmp_path / "bgzf.vcf.gz"), force=True)
    return (tmp_path / "bgzf.vcf.gz").read_bytes()


BGZF_EOF = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")


def case_vcf_truncated(tmp_path):
    data = bgzipped(tmp_path, vcf_text())
    assert data.endswith(BGZF_EOF)
    return vcf_case("P1.vcf.gz", data[:-len(BGZF_EOF)])(tmp_path)


def case_vcf_plain_gzip(tmp_path):
    path = tmp_path / "P1.vcf.gz"
    with gzip.open(path, "wb") as handle:  # plain gzip, not BGZF, and no index
        handle.write(vcf_text().encode())
    features, _ = mutations(tmp_path, exome(path))
    assert features["PIK3CD_mutated"].tolist() == [1]
    assert sorted(os.listdir(tmp_path)) == ["P1.vcf.gz"]  # nothing written beside it
    return Seen("", None)


def case_vcf_name_content_mismatch(tmp_path):
    text = tmp_path / "text.vcf"
    text.write_text(vcf_text())
    bcf_named_vcf = tmp_path / "P1.vcf"
    with pysam.VariantFile(str(text)) as src, \
            pysam.VariantFile(str(bcf_named_vcf), "wb", header=src.header) as out:
        for record in src:
            out.write(record)
    vcf_named_bcf = tmp_path / "P2.bcf"
    shutil.copy(text, vcf_named_bcf)
    features, _ = mutations(tmp_path, exome(bcf_named_vcf), exome(vcf_named_bcf, None, "P2"))
    assert features["PIK3CD_mutated"].tolist() == [1, 1]  # read by content, not by name
    return Seen("", None)


def case_contig_naming(tmp_path):
    path = tmp_path / "P1.vcf"
    path.write_text(vcf_text(contig="1"))  # panel says chr1
    features, audit = mutations(tmp_path, exome(path))
    assert features["PIK3CD_mutated"].tolist() == [1]
    assert audit["chrom"].tolist() == ["chr1"]  # the audit uses the panel's spelling
    return Seen("", None)


def case_contig_absent(tmp_path):
    path = tmp_path / "P1.vcf"
    path.write_text(vcf_text(contig="chr2", pos=100))  # no panel contig at all
    features, audit = mutations(tmp_path, exome(path))
    assert features["panel_mutations"].tolist() == [0]  # 0, not missing: the exome was read
    assert len(audit) == 0
    return Seen("", None)


def case_snp_ref_mismatch(tmp_path):
    path = tmp_path / "genotypes.vcf"
    path.write_text(vcf_text(contig="chr19", pos=39_252_525, ref="A", alt="G", columns=("P1",)))
    sample = dict(exome("", None), exome_vcf=None, genotype_vcf=str(path))
    return Seen(errors(lambda: snp_genotypes([sample], read_snps(SNPS))), str(path), "sample P1")


def case_snp_ref_mismatch_galnt14(tmp_path):
    path = tmp_path / "genotypes.vcf"
    path.write_text(vcf_text(contig="chr2", pos=31_024_648, ref="C", alt="T", columns=("P1",)))
    sample = dict(exome("", None), exome_vcf=None, genotype_vcf=str(path))
    return Seen(errors(lambda: snp_genotypes([sample], read_snps(SNPS))), str(path), "sample P1")


def case_snp_resource_alleles(tmp_path):
    """rs9679162 given in GALNT14's transcript-strand letters (C/A) instead of + strand G/T."""
    path = tmp_path / "snps.tsv"
    path.write_text(SNPS.read_text().replace("\tG\tT\tGALNT14\t", "\tC\tA\tGALNT14\t"))
    assert "\tC\tA\tGALNT14" in path.read_text()
    return Seen(errors(lambda: read_snps(path)), str(path), "row 3, columns ref, alt")


def case_genotype_sample_absent(tmp_path):
    path = tmp_path / "genotypes.vcf"
    path.write_text(vcf_text(contig="chr19", pos=39_252_525, ref="T", alt="G",
                             columns=("HCC_001",)))
    sample = dict(exome("", None), exome_vcf=None, genotype_vcf=str(path))
    return Seen(errors(lambda: snp_genotypes([sample], read_snps(SNPS))), str(path), "sample P1")


# ----------------------------------------------------------------------------------------------
# MAF files: panel_mutations (the job) and cohort_problems (the sheet)
# ----------------------------------------------------------------------------------------------

MAF_HEADER = ("Hugo_Symbol\tNCBI_Build\tChromosome\tStart_Position\tEnd_Position\t"
              "Variant_Classification\tReference_Allele\tTumor_Seq_Allele1\t"
              "Tumor_Seq_Allele2\tTumor_Sample_Barcode\tt_depth\tt_alt_count")


def maf_text(*rows: str, header: str = MAF_HEADER) -> str:
    """A GDC-style MAF; each row's default is a missense call inside PIK3CD (GRCh38)."""
    return "#version 2.4\n" + "\n".join([header, *rows]) + "\n"


MAF_ROW = "PIK3CD\tGRCh38\tchr1\t9700000\t9700000\tMissense_Mutation\tC\tC\tT\tP1\t40\t10"


def maf_case(content: str, where: str, tumour=None):
    """A case whose bad input is the batch MAF that patient P1's row names."""

    def case(tmp_path):
        path = tmp_path / "batch1.maf"
        path.write_text(content)
        sample = dict(exome(path, tumour), exome_vcf=None, exome_maf=str(path))
        return Seen(errors(lambda: mutations(tmp_path, sample)), str(path), where)

    return case


def case_maf_not_maf(tmp_path):
    sheet = "sample_id\tbatch\texome_maf\nP1\tb1\tbatch1.maf\nP2\tb1\t\n"
    settings, paths = cohort(tmp_path, samples=sheet)
    maf = paths["samples"].parent / "batch1.maf"
    maf.write_text(vcf_text())
    return Seen(problems_of(settings), str(maf), "row 1 (sample P1), column exome_maf")


def case_maf_and_vcf(tmp_path):
    sheet = ("sample_id\tbatch\texome_vcf\texome_maf\nP1\tb1\tP1.vcf\tbatch1.maf\n"
             "P2\tb1\t\t\n")
    settings, paths = cohort(tmp_path, samples=sheet)
    (paths["samples"].parent / "P1.vcf").write_text(vcf_text())
    (paths["samples"].parent / "batch1.maf").write_text(maf_text(MAF_ROW))
    return Seen(problems_of(settings), str(paths["samples"]), "row 1 (sample P1)")


#: the real malformed VCFs (../shared/realdata/vcf/malformed) -> the tumour column the sheet
#: names (the file's last column), so the file's own defect is what is reported
MALFORMED = {
    "vcf-real-noroundtrip": ("htslib__noroundtrip.vcf", "NA1"),
    "vcf-real-invalid-header": ("python3__test-invalid-header.vcf", "FOO"),
    "vcf-real-issue-16": ("python__issue-16.vcf", "NA00003"),
    "vcf-real-issue-254": ("python__issue-254.vcf", "NA00003"),
    "vcf-real-varscan-header": ("r__VarScan_header.vcf", "TUMOR"),
    "vcf-real-no-geno-row": ("r__no_GENO_row.vcf", "H1994"),
    "vcf-real-vcf-parser": ("vcf_parser__test_vcf.vcf", "proband"),
}


def real_malformed(case_id: str):
    name, tumour = MALFORMED[case_id]

    def case(tmp_path):
        if not HAVE_REAL:
            pytest.skip(SKIP_REASON)
        path = REAL / "malformed" / name
        return Seen(errors(lambda: mutations(tmp_path, exome(path, tumour))), str(path),
                    "sample P1")

    return case


# ----------------------------------------------------------------------------------------------
# Labels: cross_validate_models
# ----------------------------------------------------------------------------------------------

FAST = {"seed": 1, "cv_folds": 3, "cv_repeats": 1, "n_bootstrap": 0,
        "xgboost": {"n_estimators": 5}}


def model_inputs(labels: list):
    rng = np.random.default_rng(0)
    ids = [f"P{i:02d}" for i in range(1, len(labels) + 1)]
    matrix = pd.DataFrame({"sample_id": ids, "batch": "b1",
                           "age": rng.normal(60, 8, len(ids)),
                           "afp": rng.lognormal(3, 1, len(ids))})
    frame = pd.DataFrame({"sample_id": ids, "batch": "b1",
                          "objective_response": pd.Series(labels, dtype=float)})
    dictionary = pd.DataFrame({"feature": ["age", "afp"], "modality": ["clinical", "biomarker"],
                               "unit": ["years", "ng/mL"], "description": ["age", "AFP"]})
    return matrix, frame, dictionary


def label_case(labels: list):
    def case(tmp_path):
        text = errors(lambda: cross_validate_models(*model_inputs(labels), FAST))
        return Seen(text, "labels.tsv", "column objective_response")

    return case


def case_labels_missing(tmp_path):
    inputs = model_inputs([1, 0] * 6 + [None, None])
    results = cross_validate_models(*inputs, FAST)
    assert set(results.metrics["n_unlabelled"]) == {2} and set(results.metrics["n"]) == {12}
    # the unlabelled are scored all the same, by the final model (results/model/final/)
    final = fit_final_model(*inputs, {**FAST, "tuning": {"enabled": False}})
    assert len(final.predictions) == 14 and final.predictions["probability"].notna().all()
    assert list(final.predictions["labelled"]).count(0) == 2 and final.metadata["n"] == 12
    write_model_outputs(results, tmp_path)
    metadata = tmp_path / CV_METADATA_FILE
    assert json.loads(metadata.read_text())["n_unlabelled"] == 2
    return Seen(metadata.read_text(), None)


SURVIVAL = {"kind": "survival", "time_column": "os_months", "event_column": "os_event"}
CLINICAL_OS = "sample_id\tage\tos_months\tos_event\nP1\t60\t12\t1\nP2\t71\t7\t0\n"


def survival_case(clinical: str, where: str):
    """A survival endpoint's clinical table with one bad follow-up cell."""
    return table_case("clinical", clinical, where, endpoint=SURVIVAL)


def case_survival_no_follow_up(tmp_path):
    """Both cells empty: no problem row; the patient is excluded and counted."""
    settings, paths = cohort(tmp_path, clinical=CLINICAL_OS.replace("\t7\t0", "\t\t"),
                             endpoint=SURVIVAL)
    assert cohort_problems(settings) == []  # no row named
    outcome = survival_labels(read_tsv(paths["clinical"]), SURVIVAL, str(paths["clinical"]))
    return Seen(json.dumps(outcome.summary()), None)


def frozen_model_case(survival: bool, change, objective: str = "cox"):
    """A final model folder (binary, or survival on OS with XGBoost's ``objective``, cox or aft)
    with ``change(metadata)`` applied to its model_metadata.json, scored by predict as
    ``haicpred predict`` does."""
    def case(tmp_path):
        matrix, labels, dictionary = model_inputs([1, 0] * 6)
        settings = {**FAST, "tuning": {"enabled": False}}
        if survival:
            labels = labels.assign(os_months=[float(3 + 2 * i) for i in range(12)],
                                   os_event=[1.0, 0.0, 1.0] * 4)
            settings["endpoint"] = {**SURVIVAL, "horizons_months": [6, 12]}
            settings["survival_objective"] = objective
        write_final_model(fit_final_model(matrix, labels, dictionary, settings), tmp_path)
        path = tmp_path / FINAL_METADATA_FILE
        path.write_text(json.dumps(change(json.loads(path.read_text()))))
        return Seen(errors(lambda: predict(matrix, dictionary, tmp_path)), str(path))

    return case


def _newer_format(metadata: dict) -> dict:
    return {**metadata, "format_version": 4}


def _broken_baseline(metadata: dict) -> dict:
    hazard = metadata["baseline_hazard"]
    return {**metadata, "baseline_hazard": {**hazard, "cumulative_hazard": [1.0]}}


def _unknown_objective(metadata: dict) -> dict:
    return {**metadata, "xgboost_params": {**metadata["xgboost_params"],
                                           "objective": "survival:weibull"}}


def _aft_parameters_removed(metadata: dict) -> dict:
    return {key: value for key, value in metadata.items() if key != "aft"}


def case_survival_xgboost_unknown_key(tmp_path):
    """A model.xgboost key the Cox booster does not take: refused by name, not a TypeError."""
    matrix, labels, dictionary = model_inputs([1, 0] * 6)
    labels = labels.assign(os_months=np.arange(1.0, 13.0), os_event=[1, 0] * 6)
    settings = {**FAST, "endpoint": {**SURVIVAL, "horizons_months": [6]},
                "xgboost": {"max_leaf": 4}}
    text = errors(lambda: cross_validate_models(matrix, labels, dictionary, settings))
    return Seen(text, None, "model.xgboost max_leaf")


# ----------------------------------------------------------------------------------------------
# Config: load_config (Snakemake's validator and the config schema)
# ----------------------------------------------------------------------------------------------

def config_case(text: str, key: str):
    def case(tmp_path):
        path = tmp_path / "config.yaml"
        path.write_text(text)
        try:
            load_config(path)
        except InputError as error:
            return Seen(str(error), str(path), key)
        return Seen("", None)

    return case


CASES = {
    # VCFs
    **{case_id: real_malformed(case_id) for case_id in MALFORMED},
    "vcf-missing": case_vcf_missing,
    "vcf-directory": case_vcf_directory,
    "vcf-empty": vcf_case("P1.vcf", b""),
    "vcf-binary": vcf_case("P1.vcf", bytes(range(256)) * 4),
    "vcf-truncated": case_vcf_truncated,
    "vcf-plain-gzip": case_vcf_plain_gzip,
    "vcf-name-content-mismatch": case_vcf_name_content_mismatch,
    "tumour-not-in-vcf": vcf_case("P1.vcf", vcf_text(), "TUMOUR_X"),
    "tumour-ambiguous": vcf_case("P1.vcf", vcf_text(columns=("T1", "T2"))),
    "genome-build-mismatch": vcf_case("P1.vcf", vcf_text(length=249_250_621)),
    "contig-naming": case_contig_naming,
    "contig-absent": case_contig_absent,
    "maf-missing-column": maf_case(maf_text(
        MAF_ROW.replace("\tMissense_Mutation", ""),
        header=MAF_HEADER.replace("\tVariant_Classification", "")), "sample P1"),
    "maf-count-not-number": maf_case(maf_text(MAF_ROW.replace("\t40\t10", "\t40\tten")),
                                     "line 3, column t_alt_count"),
    "maf-position-not-number": maf_case(maf_text(MAF_ROW.replace("\t9700000\t9700000",
                                                                 "\t9.7e6x\t9700000")),
                                        "line 3, column Start_Position"),
    "maf-sample-unknown": maf_case(maf_text(MAF_ROW.replace("\tP1\t", "\tP9-01A\t")),
                                   "sample P1"),
    "maf-several-tumours": maf_case(maf_text(MAF_ROW.replace("\tP1\t", "\tP1-01A\t"),
                                             MAF_ROW.replace("\tP1\t", "\tP1-02A\t")),
                                    "sample P1"),
    "maf-build-mismatch": maf_case(maf_text(MAF_ROW.replace("\tGRCh38\t", "\tGRCh37\t")),
                                   "sample P1"),
    "maf-not-maf": case_maf_not_maf,
    "maf-and-vcf": case_maf_and_vcf,
    "snp-ref-mismatch": case_snp_ref_mismatch,
    "snp-ref-mismatch-galnt14": case_snp_ref_mismatch_galnt14,
    "snp-resource-alleles": case_snp_resource_alleles,
    "genotype-sample-absent": case_genotype_sample_absent,
    # images and masks
    "image-without-mask": table_case(
        "samples", "sample_id\tbatch\timage\nP1\tb1\tct.nii.gz\nP2\tb1\t\n", "row 1"),
    "images-and-radiomics-table": case_images_and_radiomics_table,
    "image-missing": image_case("missing"),
    "image-unreadable": image_case("unreadable"),
    "mask-geometry": image_case("geometry"),
    "mask-empty": image_case("empty"),
    "mask-not-integer": image_case("not-integer"),
    # sheets and tables
    "sheet-missing": case_sheet_missing,
    "table-empty": table_case("clinical", "", "file"),
    "table-directory": case_table_directory,
    "table-binary": table_case("biomarkers", b"sample_id\tanalyte\n\xff\xfe\x00\x81\tafp\n",
                               "file"),
    "sheet-missing-column": table_case("samples", "sample_id\texome_vcf\nP1\t\nP2\t\n",
                                       "header"),
    "sheet-unknown-column": table_case("samples", "sample_id\tbatch\texome\nP1\tb1\t\nP2\tb1\t\n",
                                       "column exome"),
    "sheet-duplicate-id": table_case("samples", "sample_id\tbatch\nP1\tb1\nP1\tb2\nP2\tb1\n",
                                     "rows 1, 2"),
    "id-space": sheet_with_id("P 1"),
    "id-slash": sheet_with_id("cohort/P1"),
    "id-semicolon": sheet_with_id("P1;rm -rf x"),
    "id-command-substitution": sheet_with_id("$(touch pwned)"),
    "id-quote": sheet_with_id("P1'"),
    "patient-missing-from-table": table_case("clinical", "sample_id\tage\tbest_response\nP1\t60\tPR\n",
                                             "sample(s) P2"),
    "patient-unknown-in-table": case_patient_unknown_in_table,
    "patient-id-case": table_case("biomarkers", BIOMARKERS + "p1\tafp\t8\tng/mL\tbaseline\n",
                                  "row 3, sample_id 'p1'"),
    "patient-id-one-character": table_case("clinical", CLINICAL.replace("P2\t", "P22\t"),
                                           "row 2, sample_id 'P22'"),
    "table-shares-no-patient": table_case("biomarkers", BIOMARKERS.replace("P1\t", "Q1\t")
                                          .replace("P2\t", "Q2\t"), "sample_id"),
    "vcf-not-vcf": case_vcf_not_vcf,
    "clinical-duplicate-row": table_case("clinical", CLINICAL + "P1\t61\tPR\n", "rows 1, 3"),
    "analyte-unknown": table_case("biomarkers", BIOMARKERS + "P1\tast_level\t40\tU/L\tbaseline\n",
                                  "row 3", biomarkers_settings={"unknown_analytes": "refuse"}),
    "analyte-unknown-kept": table_case(
        "biomarkers", BIOMARKERS + "P1\tcreatinine\t1.1\tmg/dL\tbaseline\n"),
    "analyte-unit-mixed": table_case(
        "biomarkers", BIOMARKERS + "P1\tcreatinine\t1.1\tmg/dL\tbaseline\n"
                                   "P2\tcreatinine\t80\tumol/L\tbaseline\n", "rows 3, 4"),
    "analyte-unit-empty": table_case("biomarkers", BIOMARKERS + "P1\tferritin\t300\t\tbaseline\n",
                                     "row 3, column unit"),
    "analyte-name-taken": table_case(
        "biomarkers", BIOMARKERS + "P1\talbi_score\t-2.1\tscore\tbaseline\n", "row 3"),
    "analyte-alias": table_case("biomarkers", BIOMARKERS + "P1\ttbil\t1.2\tmg/dL\tbaseline\n",
                                "row 3"),
    "unit-unknown": table_case("biomarkers", BIOMARKERS.replace("g/dL", "mg/dL"), "row 1"),
    "unit-empty": table_case("biomarkers", BIOMARKERS.replace("g/dL", ""), "row 1, column unit"),
    "inr-unit-empty": table_case("biomarkers", BIOMARKERS + "P1\tinr\t1.1\t\tbaseline\n"),
    "clinical-group-invalid": table_case(
        "clinical", "sample_id\ttumor_number_group\nP1\t4+\nP2\t1\n",
        "row 1, column tumor_number_group"),
    "clinical-columns-disagree": table_case(
        "clinical", "sample_id\tchild_pugh_score\tchild_pugh_class\nP1\t7\tA\nP2\t5\tA\n",
        "row 1, columns child_pugh_score and child_pugh_class"),
    "value-non-numeric": table_case("clinical", CLINICAL.replace("\t60\t", "\tsixty\t"),
                                    "row 1, column age"),
    "biomarker-non-numeric": table_case("biomarkers", BIOMARKERS.replace("\t12\t", "\t<5\t"),
                                        "row 2, column value"),
    "value-impossible": table_case("biomarkers", BIOMARKERS.replace("\t4.1\t", "\t-4.1\t"),
                                   "row 1 (sample P1)"),
    "clinical-out-of-range": table_case("clinical", CLINICAL.replace("\t71\t", "\t710\t"),
                                        "row 2, column age"),
    "measurement-duplicated": table_case(
        "biomarkers", BIOMARKERS + "P1\talbumin\t3.9\tg/dL\tbaseline\n", "rows 1, 3"),
    "best-response-invalid": table_case("clinical", CLINICAL.replace("SD", "NE"),
                                        "row 2, column best_response"),
    "survival-time-without-event": survival_case(CLINICAL_OS.replace("\t7\t0", "\t7\t"),
                                                 "row 2, column os_event"),
    "survival-event-without-time": survival_case(CLINICAL_OS.replace("\t7\t0", "\t\t0"),
                                                 "row 2, column os_months"),
    "survival-time-zero": survival_case(CLINICAL_OS.replace("\t7\t0", "\t0\t0"),
                                        "row 2, column os_months"),
    "survival-time-negative": survival_case(CLINICAL_OS.replace("\t12\t1", "\t-3\t1"),
                                            "row 1, column os_months"),
    "survival-time-not-number": survival_case(CLINICAL_OS.replace("\t12\t1", "\t12m\t1"),
                                              "row 1, column os_months"),
    "survival-event-invalid": survival_case(CLINICAL_OS.replace("\t7\t0", "\t7\t2"),
                                            "row 2, column os_event"),
    "survival-no-follow-up": case_survival_no_follow_up,
    # labels
    "labels-missing": case_labels_missing,
    "labels-one-class": label_case([1] * 12),
    "labels-too-few-per-class": label_case([1] * 10 + [0] * 2),
    # the final model folder given to predict
    "model-folder-newer-format": frozen_model_case(False, _newer_format),
    "model-folder-baseline-hazard-broken": frozen_model_case(True, _broken_baseline),
    "model-folder-objective-unknown": frozen_model_case(True, _unknown_objective),
    "model-folder-aft-parameters-missing": frozen_model_case(True, _aft_parameters_removed,
                                                             objective="aft"),
    # config
    "config-key-misspelled": config_case("samples: ''\ngenome_buld: GRCh38\n", "'genome_buld'"),
    "config-bad-value": config_case("genome_build: hg19\n", "'hg19'"),
    "config-nested-key-misspelled": config_case("model:\n  cv_fold: 3\n", "'cv_fold'"),
    "config-endpoint-column-missing": case_config_endpoint_column_missing,
    "config-horizons-not-increasing": config_case(
        "endpoint:\n  kind: survival\n  horizons_months: [24, 12]\n", "endpoint.horizons_months"),
    "config-survival-xgboost-unknown-key": case_survival_xgboost_unknown_key,
    "config-not-yaml": config_case("samples: [cohort/samples.tsv\nclinical: c.tsv\n",
                                   "line 2, column 9"),
    "config-python-tag": config_case(
        'samples: !!python/object/apply:os.system ["touch pwned"]\n', "line 1, column 10"),
    "config-resource-missing": case_config_resource_missing,
    "panel-bed-interval-empty": panel_case(
        "targets.bed", PIK3CD_BED + "chr5\t177098144\t177086904\tFGFR4\n", "line 2"),
    "panel-bed-name-missing": panel_case("targets.bed", "chr5\t177086904\t177098144\n"
                                         + PIK3CD_BED, "line 1"),
    "panel-bed-coordinate-not-integer": panel_case(
        "targets.bed",
        "track name=kit\n" + PIK3CD_BED + "chr5\t1.77e8\t177098144\tFGFR4\n", "line 3"),
    "panel-bed-strandless": panel_case(
        "targets.bed", "browser hide all\n# vendor targets\n" + PIK3CD_BED
        + "chr1\t9700000\t9729114\tPIK3CD\t0\t.\tPIK3CD_exon9\n"),
    "panel-coordinates-partial": panel_case(
        "panel.tsv", PANEL_TSV_HEADER + "PIK3CD\tchr1\t9629889\t9729114\t+\tspan\n"
        + "FGFR4\tchr5\t\t\t+\tspan\n", "row 2"),
    "panel-gene-without-reason": panel_case(
        "panel.tsv", PANEL_TSV_HEADER + "PIK3CD\tchr1\t9629889\t9729114\t+\tspan\n"
        + "HNRNPCL4\t\t\t\t\t\n", "row 2, column source"),
}


# ----------------------------------------------------------------------------------------------
# The doc and the checks
# ----------------------------------------------------------------------------------------------

ROW = re.compile(r"^\|\s*`(?P<id>[a-z0-9-]+)`\s*\|(?P<input>[^|]*)\|\s*`(?P<message>[^`]+)`\s*\|"
                 r"(?P<todo>[^|]*)\|\s*$")


def catalogue() -> dict[str, str]:
    """case id -> documented message, from every table row of docs/bad_inputs.md."""
    rows = {}
    for line in DOC.read_text().splitlines():
        if match := ROW.match(line):
            assert match["id"] not in rows, f"case {match['id']} documented twice"
            assert match["todo"].strip() and match["input"].strip(), line
            rows[match["id"]] = match["message"]
    return rows


def test_doc_and_cases_have_the_same_ids():
    documented = catalogue()
    assert len(documented) >= 30
    assert sorted(documented) == sorted(CASES)


@pytest.mark.parametrize("case_id", sorted(CASES))
def test_documented_message_is_what_the_user_sees(case_id, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # nothing a case does may land in the repository
    message = catalogue()[case_id]
    seen = CASES[case_id](tmp_path)
    if message.startswith("accepted"):
        assert seen.text == "", seen.text
        return
    assert seen.text, f"{case_id}: no message at all"
    assert "Traceback" not in seen.text
    if seen.file is not None:
        assert seen.file in seen.text, f"{case_id}: the message does not name {seen.file}"
        message = message.replace("<path>", seen.file)
    assert message in seen.text, f"{case_id}: documented\n  {message}\nbut the user sees\n" \
                                 f"{seen.text[:3000]}"
    if seen.where is not None:
        assert seen.where in seen.text, f"{case_id}: {seen.where!r} not named"
    assert not (tmp_path / "pwned").exists()


# ----------------------------------------------------------------------------------------------
# The real workflow on each malformed VCF: fails, names the file, writes no matrix
# ----------------------------------------------------------------------------------------------

MATRIX = "results/features/feature_matrix.tsv"


@pytest.fixture(scope="module")
def malformed_runs(tmp_path_factory):
    """One real snakemake run per malformed VCF, each in its own folder (independent runs:
    one failing cannot stop another), one per core at a time to keep the wall time down."""
    if not HAVE_REAL:
        pytest.skip(SKIP_REASON)
    commands = {}
    for case_id, (name, tumour) in MALFORMED.items():
        base = tmp_path_factory.mktemp(case_id)
        (base / "in").mkdir()
        (base / "in" / "samples.tsv").write_text(
            "sample_id\tbatch\texome_vcf\ttumor_sample\n"
            f"P1\tb1\t{REAL / 'malformed' / name}\t{tumour}\nP2\tb1\t\t\n")
        (base / "in" / "clinical.tsv").write_text(CLINICAL)
        (base / "in" / "biomarkers.tsv").write_text(BIOMARKERS)
        workdir = make_workdir(base / "run", **{table: str(base / "in" / f"{table}.tsv")
                                                for table in ("samples", "clinical",
                                                              "biomarkers")})
        commands[case_id] = (workdir, [
            sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d",
            str(workdir), "--cores", "1",
            # the genomic job that reads the VCF first: it fails, so nothing else runs
            "--prioritize", "results/features/shards/b1/1/mutations.tsv"])
    started = time.monotonic()
    results, running = {}, {}
    pending = list(commands)
    while pending or running:
        while pending and len(running) < (os.cpu_count() or 2):
            case_id = pending.pop(0)
            running[case_id] = subprocess.Popen(commands[case_id][1], stdout=subprocess.PIPE,
                                                stderr=subprocess.STDOUT, text=True)
        case_id = next(iter(running))
        process = running.pop(case_id)
        output, _ = process.communicate(timeout=600)
        results[case_id] = (commands[case_id][0], process.returncode, output)
    print(f"\n{len(results)} malformed-VCF workflow runs: {time.monotonic() - started:.1f} s wall")
    return results


@pytest.mark.parametrize("case_id", sorted(MALFORMED))
def test_workflow_refuses_each_malformed_vcf(case_id, malformed_runs):
    workdir, returncode, output = malformed_runs[case_id]
    path = str(REAL / "malformed" / MALFORMED[case_id][0])
    assert returncode != 0
    logs = "".join(p.read_text() for p in (workdir / "logs").rglob("*.log"))
    assert path in output and path in logs
    # the documented message, in the pipeline too
    assert catalogue()[case_id].replace("<path>", path) in output
    assert "Traceback" not in output + logs
    assert not (workdir / MATRIX).exists()
    assert not list((workdir / "results" / "features").glob("feature_matrix*"))
