"""Panels as labs have them, through the real workflow (features only, so it stays cheap):
`panel:` naming a BED file gives the byte-identical results/features/mutations.tsv and variant
audit of the TSV run; a GRCh37 run on real GRCh37 VCFs keeps HNRNPCL4 in the panel with empty
columns, marks it in the feature dictionary and says so once in the run log."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from haicpred.io.resources import read_panel
from haicpred.io.tables import read_tsv
from haicpred.simulate import simulate_cohort
from realdata import REAL, needs_real
from workflow_helpers import REPO, make_workdir, snakemake

RESOURCES = REPO / "resources"
NOTE = "not assessed on GRCh37: HNRNPCL4"


def bed_of(tsv: Path, bed: Path) -> Path:
    """The TSV panel's regions as a vendor-style BED (0-based, half-open, extra columns)."""
    lines = ['track name="FOHAIC-1" description="panel as BED"\n']
    for r in read_panel(tsv).itertuples(index=False):
        lines.append(f"{r.chrom}\t{int(r.start) - 1}\t{r.end}\t{r.gene}\t0\t{r.strand}\n")
    bed.write_text("".join(lines))
    return bed


def test_bed_panel_run_gives_byte_identical_mutation_features(tmp_path):
    cohort = tmp_path / "cohort"
    simulate_cohort(24, 2, 7, cohort, RESOURCES / "panel_GRCh38.tsv",
                    RESOURCES / "snps_GRCh38.tsv")
    bed = bed_of(RESOURCES / "panel_GRCh38.tsv", tmp_path / "panel_GRCh38.bed")
    tables = {name: str(cohort / f"{name}.tsv") for name in ("samples", "clinical",
                                                              "biomarkers")}
    outputs = {}
    for name, panel in (("tsv", RESOURCES / "panel_GRCh38.tsv"), ("bed", bed)):
        workdir = make_workdir(tmp_path / name, panel=str(panel), **tables)
        targets = ["results/features/mutations.tsv", "results/variants/batch1.tsv",
                   "results/variants/batch2.tsv"]
        result = snakemake(workdir, *targets)
        assert result.returncode == 0, result.stderr[-3000:]
        outputs[name] = [(workdir / t).read_bytes() for t in targets]
    assert outputs["bed"] == outputs["tsv"]
    mutations = read_tsv(tmp_path / "bed" / "results/features/mutations.tsv")
    assert (mutations["fohaic1_mutation_positive"] == "1").sum() >= 3  # real calls compared


def test_a_bad_bed_panel_is_refused_before_any_job(tmp_path):
    bed = tmp_path / "panel.bed"
    bed.write_text("chr1\t9629888\t9729114\tPIK3CD\nchr5\t177098144\t177086904\tFGFR4\n")
    cohort = tmp_path / "cohort"
    simulate_cohort(6, 1, 2, cohort, RESOURCES / "panel_GRCh38.tsv",
                    RESOURCES / "snps_GRCh38.tsv")
    workdir = make_workdir(tmp_path / "run", panel=str(bed), **{
        name: str(cohort / f"{name}.tsv") for name in ("samples", "clinical", "biomarkers")})
    result = snakemake(workdir, "results/features/mutations.tsv")
    assert result.returncode != 0
    assert (f"{bed}: line 2, columns 2-3 (start, end): end 177086904 is not after start "
            "177098144") in result.stderr
    assert not (workdir / "results").exists()


@needs_real
def test_grch37_run_leaves_hnrnpcl4_empty_and_says_so_once(tmp_path):
    """Real GRCh37 somatic calls (TCGA COAD via PCGR, with three ARID1B mutations; vcf2maf's
    MuTect and MuSE test files) with the GRCh37 resources, up to the data checks."""
    cohort = tmp_path / "cohort"
    cohort.mkdir()
    files = {"COAD": "pcgr__T001-COAD.grch37.vcf.gz", "MUTECT": "vcf2maf__test_mutect.vcf",
             "MUSE": "vcf2maf__test_muse.vcf"}
    rows = []
    for sid, name in files.items():
        shutil.copy(REAL / "somatic_real" / name, cohort / name)
        rows.append(f"{sid}\tb1\t{name}\n")
    rows += [f"NOEX{i}\tb1\t\n" for i in range(3)]
    (cohort / "samples.tsv").write_text("sample_id\tbatch\texome_vcf\n" + "".join(rows))
    ids = [*files, *(f"NOEX{i}" for i in range(3))]
    (cohort / "clinical.tsv").write_text("sample_id\tage\tbest_response\n" + "".join(
        f"{sid}\t{55 + i}\t{'PR' if i % 2 else 'PD'}\n" for i, sid in enumerate(ids)))
    (cohort / "biomarkers.tsv").write_text("sample_id\tanalyte\tvalue\tunit\ttimepoint\n"
                                           + "".join(f"{sid}\tafp\t{10 + i}\tng/mL\tbaseline\n"
                                                     for i, sid in enumerate(ids)))
    workdir = make_workdir(tmp_path / "run", genome_build="GRCh37",
                           panel=str(RESOURCES / "panel_GRCh37.tsv"),
                           snps=str(RESOURCES / "snps_GRCh37.tsv"),
                           **{n: str(cohort / f"{n}.tsv")
                              for n in ("samples", "clinical", "biomarkers")})
    result = snakemake(workdir, "results/features/data_checks.tsv",
                       "results/features/feature_dictionary.tsv")
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stderr.count(NOTE) == 1  # once per run, not per shard job
    logs = list((workdir / ".snakemake" / "log").glob("*.snakemake.log"))
    assert len(logs) == 1 and logs[0].read_text().count(NOTE) == 1

    mutations = read_tsv(workdir / "results/features/mutations.tsv").set_index("sample_id")
    assert mutations[["HNRNPCL4_mutated", "HNRNPCL4_n_mutations"]].isna().all(axis=None)
    assert mutations.loc["COAD", ["ARID1B_n_mutations", "panel_mutations"]].tolist() == [
        "3", "3"]
    assert mutations.loc[["MUTECT", "MUSE"], "panel_mutations"].tolist() == ["0", "0"]
    matrix = read_tsv(workdir / "results/features/feature_matrix.tsv")
    assert matrix["HNRNPCL4_mutated"].isna().all()
    dictionary = read_tsv(workdir / "results/features/feature_dictionary.tsv")
    marked = dictionary[dictionary["description"].str.contains("NOT ASSESSED on GRCh37")]
    assert marked["feature"].tolist() == ["HNRNPCL4_mutated", "HNRNPCL4_n_mutations"]
    checks = read_tsv(workdir / "results/features/data_checks.tsv")
    rows = checks[checks["subject"].isin(marked["feature"])]
    assert len(rows) == 2 and (rows["flagged"] == "no").all()
    assert rows["message"].str.contains("not assessed on GRCh37").all()

    again = snakemake(workdir, "results/features/data_checks.tsv")  # nothing to do: no note
    assert again.returncode == 0 and NOTE not in again.stderr
    pd.testing.assert_frame_equal(read_tsv(workdir / "results/features/mutations.tsv"),
                                  mutations.reset_index())
