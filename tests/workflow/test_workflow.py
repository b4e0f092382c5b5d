"""The Snakemake workflow end to end, on small simulated cohorts (real Snakemake, real jobs)."""

import gzip
import os
import re
import subprocess
import sys
from pathlib import Path

import pysam
import yaml

from haicpred.simulate import simulate_cohort
from haicpred.io.tables import read_tsv, write_tsv
from workflow_helpers import (DETERMINISTIC, FAST_MODEL, PANEL, REPO, SNPS, digest, make_workdir,
                              snakemake)


def test_demo_produces_the_output_contract(demo_run):
    for name in ["results/features/mutations.tsv", "results/features/genotypes.tsv",
                 "results/features/feature_matrix.tsv", "results/features/feature_dictionary.tsv",
                 "results/model/metrics.tsv", "results/model/oof_predictions.tsv",
                 "results/report/report.html", "results/variants/batch1.tsv",
                 "results/variants/batch2.tsv"]:
        assert (demo_run / name).stat().st_size > 0, name
    sheet = read_tsv(demo_run / "results/demo/samples.tsv")
    matrix = read_tsv(demo_run / "results/features/feature_matrix.tsv")
    assert sorted(matrix["sample_id"]) == sorted(sheet["sample_id"])  # nobody dropped
    dictionary = read_tsv(demo_run / "results/features/feature_dictionary.tsv")
    assert list(dictionary["feature"]) == list(matrix.columns[2:])
    # the pre-treatment model sees no post-treatment measurement (the demo has post AFP/DCP)
    assert not any(f.startswith("post") for f in dictionary["feature"])
    assert "post_treatment" not in set(dictionary["modality"])
    # post-treatment changes are computed into their own table; the opt-in variant is not run
    assert (demo_run / "results/features/on_treatment.tsv").stat().st_size > 0
    assert not (demo_run / "results/model_on_treatment").exists()
    metrics = read_tsv(demo_run / "results/model/metrics.tsv").set_index("model")
    published_scores = {"albi_grade", "palbi_grade", "child_pugh_class", "crafity", "gps", "bclc"}
    assert {"xgboost", "logistic_baseline", "oracle", *published_scores} <= set(metrics.index)
    report = (demo_run / "results/report/report.html").read_text()
    assert all(name in report for name in published_scores)
    assert {"n", "auc", "auc_low", "auc_high"} <= set(metrics.columns)
    oof = read_tsv(demo_run / "results/model/oof_predictions.tsv")
    assert list(oof.columns[:6]) == ["sample_id", "model", "repeat", "fold", "y_true", "y_prob"]
    labelled = read_tsv(demo_run / "results/features/labels.tsv")["objective_response"].notna()
    xgb = oof[oof["model"] == "xgboost"]
    assert len(xgb) == labelled.sum() * FAST_MODEL["cv_repeats"]


def test_second_run_does_nothing(demo_run):
    result = snakemake(demo_run, "--dry-run")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Nothing to be done" in result.stdout + result.stderr


def test_same_inputs_give_byte_identical_results(demo_run, tmp_path):
    again = make_workdir(tmp_path / "again", demo={"n_patients": 90, "n_batches": 2, "seed": 3})
    result = snakemake(again)
    assert result.returncode == 0, result.stderr[-3000:]
    for name in DETERMINISTIC:
        assert digest(demo_run / name) == digest(again / name), name


def job_counts(dry_run_output: str) -> dict[str, int]:
    counts = {}
    for line in dry_run_output.splitlines():
        match = re.fullmatch(r"(\w+)\s+(\d+)", line.strip())
        if match:
            counts[match[1]] = int(match[2])
    return counts


def subset_cohort(source: Path, target: Path, batches: list[str]) -> None:
    """A user cohort (not the demo) made of some batches of a simulated one."""
    sheet = read_tsv(source / "samples.tsv")
    sheet = sheet[sheet["batch"].isin(batches)]
    keep = set(sheet["sample_id"])
    for column in ["exome_vcf", "genotype_vcf"]:
        sheet[column] = sheet[column].map(lambda p: str(source / p), na_action="ignore")
    write_tsv(sheet, target / "samples.tsv")
    for name in ["clinical", "biomarkers", "radiomics"]:
        table = read_tsv(source / f"{name}.tsv")
        write_tsv(table[table["sample_id"].isin(keep)], target / f"{name}.tsv")


def test_user_cohort_jobs_are_per_batch_and_a_new_batch_reruns_only_itself(tmp_path):
    cohort = tmp_path / "cohort"
    simulate_cohort(n_patients=90, n_batches=3, seed=5, out_dir=cohort, panel_path=PANEL,
                    snps_path=SNPS)
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    subset_cohort(cohort, inputs, ["batch1", "batch2"])
    workdir = make_workdir(tmp_path / "run", genomics={"shard_size": 20},
                           **{key: str(inputs / f"{key}.tsv") for key in
                              ["samples", "clinical", "biomarkers", "radiomics"]})
    plan = snakemake(workdir, "--dry-run")
    assert plan.returncode == 0, plan.stderr[-3000:]
    counts = job_counts(plan.stdout)
    # 30 patients per batch, at most 20 per job: two shards per batch, never a job per sample
    assert counts["panel_mutations"] == 4 and counts["snp_genotypes"] == 4
    assert counts["merge_variant_audit"] == 2
    result = snakemake(workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    audit = read_tsv(workdir / "results/variants/batch1.tsv")
    assert set(audit["sample_id"]) <= set(read_tsv(inputs / "samples.tsv")["sample_id"])
    assert "Nothing to be done" in snakemake(workdir, "--dry-run").stdout

    # one changed exome VCF (a header line more): its shard's two genomic jobs, its batch's
    # audit and checksums, and the cohort-level steps after them. Snakemake sees the newer
    # mtime; for a file under --max-checksum-file-size (1 MB) it also compares the content's
    # checksum, so a mere touch would not count here.
    sheet = read_tsv(inputs / "samples.tsv")
    vcf = Path(sheet.loc[(sheet["batch"] == "batch2") & sheet["exome_vcf"].notna(),
                         "exome_vcf"].iloc[0])
    original, original_bytes = vcf.stat(), vcf.read_bytes()
    lines = gzip.decompress(original_bytes).decode().splitlines(keepends=True)
    plain = tmp_path / "changed.vcf"
    plain.write_text("".join([lines[0], "##comment=changed by the test\n", *lines[1:]]))
    pysam.tabix_compress(str(plain), str(vcf), force=True)
    plan = snakemake(workdir, "--dry-run")
    assert plan.returncode == 0, plan.stderr[-3000:]
    counts = job_counts(plan.stdout)
    expected = {"panel_mutations": 1, "snp_genotypes": 1, "merge_variant_audit": 1,
                "input_checksums": 1, "merge_batch_features": 2, "feature_matrix": 1,
                "cross_validate_models": 1, "final_model": 1, "report": 1, "provenance": 1}
    assert {rule: counts.get(rule, 0) for rule in expected} == expected
    assert "baseline_biomarkers" not in counts and "radiomic_features" not in counts
    assert "output: results/variants/batch2.tsv" in plan.stdout
    for output in ["results/features/shards/batch1/", "results/variants/batch1.tsv",
                   "results/provenance/batch1.tsv"]:
        assert f"output: {output}" not in plan.stdout  # no job of the untouched batch
    # the original content back (and its mtime): nothing to do again
    vcf.write_bytes(original_bytes)
    os.utime(vcf, (original.st_atime, original.st_mtime))
    assert "Nothing to be done" in snakemake(workdir, "--dry-run").stdout

    # a new batch: its shards, audit and checksums, then the cohort-level steps
    subset_cohort(cohort, inputs, ["batch1", "batch2", "batch3"])
    plan = snakemake(workdir, "--dry-run")
    assert plan.returncode == 0, plan.stderr[-3000:]
    counts = job_counts(plan.stdout)
    assert counts["panel_mutations"] == 2 and counts["snp_genotypes"] == 2  # batch3's shards
    assert counts["merge_variant_audit"] == 1 and counts["input_checksums"] == 1
    for rule in ["merge_batch_features", "feature_matrix", "cross_validate_models",
                 "final_model", "report", "provenance"]:
        assert counts[rule] >= 1, rule
    assert "output: results/variants/batch3.tsv" in plan.stdout
    assert "output: results/variants/batch1.tsv" not in plan.stdout
    assert "output: results/variants/batch2.tsv" not in plan.stdout
    assert "output: results/provenance/batch1.tsv" not in plan.stdout


def test_bad_sheet_is_refused_before_any_job_with_every_problem(tmp_path):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    (inputs / "samples.tsv").write_text("sample_id\tbatch\texome_vcf\n"
                                        "P1\tb1\tnowhere.vcf.gz\n"
                                        "P1\tb1\t\n")
    (inputs / "clinical.tsv").write_text("sample_id\tage\nP1\told\n")
    (inputs / "biomarkers.tsv").write_text("sample_id\tanalyte\tvalue\tunit\ttimepoint\n"
                                           "P1\talbumin\t4\tmg/dL\tbaseline\n")
    workdir = make_workdir(tmp_path / "run", samples=str(inputs / "samples.tsv"),
                           clinical=str(inputs / "clinical.tsv"),
                           biomarkers=str(inputs / "biomarkers.tsv"))
    result = snakemake(workdir)
    assert result.returncode != 0
    message = result.stdout + result.stderr
    assert "nowhere.vcf.gz does not exist" in message
    assert "sample_id P1 occurs more than once" in message
    assert "row 1, column age" in message
    assert "unit 'mg/dL' is not accepted for albumin" in message
    assert not (workdir / "results").exists()


def test_frozen_model_scores_a_matrix_like_the_pipeline(demo_run, tmp_path):
    """`haicpred predict` with the run's one frozen model (results/model/final) reproduces the
    final model's own predictions of every sample; the CV keeps no model of its own."""
    model_dir = demo_run / "results/model/final"
    out = tmp_path / "scored.tsv"
    result = subprocess.run([sys.executable, "-m", "haicpred.cli", "predict",
                             "--model-dir", str(model_dir),
                             "--matrix", str(demo_run / "results/features/feature_matrix.tsv"),
                             "--dictionary",
                             str(demo_run / "results/features/feature_dictionary.tsv"),
                             "--out", str(out)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    scored = read_tsv(out).set_index("sample_id")
    pipeline = read_tsv(model_dir / "predictions.tsv").set_index("sample_id")
    assert sorted(scored.index) == sorted(pipeline.index)  # every sample, labelled or not
    assert (pipeline["labelled"] == "0").any()
    probability = scored["probability"].astype(float)
    assert probability.round(6).equals(
        pipeline["probability"].astype(float).round(6).loc[probability.index])
    assert scored["risk_group"].equals(pipeline["risk_group"].loc[scored.index])
    for name in ["xgboost_model.json", "model_metadata.json", "predictions.tsv"]:
        assert not (demo_run / "results/model" / name).exists(), name
    assert (demo_run / "results/model/cv_metadata.json").stat().st_size > 0


def test_on_treatment_variant_is_opt_in_and_separate(tmp_path):
    workdir = make_workdir(tmp_path / "on_treatment",
                           demo={"n_patients": 60, "n_batches": 1, "seed": 4},
                           model={**FAST_MODEL, "on_treatment": True})
    result = snakemake(workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = read_tsv(workdir / "results/model_on_treatment/metrics.tsv")
    assert "xgboost" in set(metrics["model"])
    metadata = yaml.safe_load((workdir / "results/model_on_treatment/cv_metadata.json")
                              .read_text())
    assert metadata["allow_post_treatment"] is True
    assert "post_afp_ratio" in metadata["post_treatment_features"]
    # the default pre-treatment model is untouched: no post-treatment column anywhere near it
    matrix = read_tsv(workdir / "results/features/feature_matrix.tsv")
    assert not any(c.startswith("post_") for c in matrix.columns)
    default = yaml.safe_load((workdir / "results/model/cv_metadata.json").read_text())
    assert default["allow_post_treatment"] is False and default["post_treatment_features"] == []
    on_treatment = read_tsv(workdir / "results/features/on_treatment.tsv")
    assert sorted(on_treatment["sample_id"]) == sorted(matrix["sample_id"])


def test_snakemake_report_is_built(demo_run, tmp_path):
    out = tmp_path / "snakemake_report.html"
    result = snakemake(demo_run, "--report", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    text = out.read_text(errors="replace")
    assert out.stat().st_size > 10_000 and "haicpred" in text.lower()


def test_snakemake_lint_is_clean():
    """`snakemake --lint` (run by CI) finds nothing: its checks are text patterns, so a
    docstring reading "rule ...:" in a file of functions counts as mixing rules and functions."""
    result = subprocess.run([sys.executable, "-m", "snakemake", "--lint"], cwd=REPO,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
