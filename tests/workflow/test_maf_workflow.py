"""A cohort whose exome calls come as one MAF per batch, through the real workflow: the same
mutation features, byte for byte, as the same calls given as VCFs; a bad MAF stops the run
naming the file, with no mutation table left behind."""

import gzip
from pathlib import Path

import pytest

from haicpred.simulate import simulate_cohort
from haicpred.simulate.maf_cohort import MAF_SHEET, write_batch_mafs
from workflow_helpers import PANEL, SNPS, make_workdir, snakemake

MUTATIONS = "results/features/mutations.tsv"


@pytest.fixture(scope="module")
def cohort(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("maf_cohort") / "cohort"
    simulate_cohort(n_patients=60, n_batches=2, seed=23, out_dir=folder, panel_path=PANEL,
                    snps_path=SNPS)
    write_batch_mafs(folder)
    return folder


def run_features(workdir: Path, cohort: Path, sheet: str):
    make_workdir(workdir, genomics={"shard_size": 20}, samples=str(cohort / sheet),
                 **{table: str(cohort / f"{table}.tsv")
                    for table in ("clinical", "biomarkers", "radiomics")})
    return snakemake(workdir, MUTATIONS, "results/variants/batch1.tsv")


def test_batch_mafs_give_the_vcfs_mutation_table_byte_for_byte(cohort, tmp_path):
    from_vcf = run_features(tmp_path / "vcf", cohort, "samples.tsv")
    assert from_vcf.returncode == 0, from_vcf.stderr[-3000:]
    from_maf = run_features(tmp_path / "maf", cohort, MAF_SHEET)
    assert from_maf.returncode == 0, from_maf.stderr[-3000:]
    assert (tmp_path / "maf" / MUTATIONS).read_bytes() == \
        (tmp_path / "vcf" / MUTATIONS).read_bytes()
    # 30 patients per batch, 20 per job: each batch MAF is read by its two shard jobs
    logs = sorted((tmp_path / "maf" / "logs" / "panel_mutations").glob("*.log"))
    assert [log.name for log in logs] == ["batch1.1.log", "batch1.2.log", "batch2.1.log",
                                          "batch2.2.log"]


def test_a_malformed_maf_stops_the_run_naming_it_and_leaves_no_table(cohort, tmp_path):
    lines = gzip.decompress((cohort / "maf" / "batch1.maf.gz").read_bytes()).decode()
    version, header, *rows = lines.splitlines()
    alt_count = header.split("\t").index("t_alt_count")
    broken_rows = []
    for row in rows:  # every count unreadable: whichever row is in the panel
        cells = row.split("\t")
        cells[alt_count] = "ten"
        broken_rows.append("\t".join(cells))
    broken = tmp_path / "batch1.maf"
    broken.write_text("\n".join([version, header, *broken_rows]) + "\n")
    # the MAF sheet with absolute paths: batch1's MAF is the broken copy
    sheet = (cohort / MAF_SHEET).read_text()
    sheet = sheet.replace("\tmaf/batch1.maf.gz", f"\t{broken}")
    sheet = sheet.replace("\tmaf/", f"\t{cohort}/maf/")
    sheet = sheet.replace("\tgenotypes.vcf.gz", f"\t{cohort}/genotypes.vcf.gz")
    (tmp_path / "samples.tsv").write_text(sheet)
    workdir = tmp_path / "run"
    make_workdir(workdir, samples=str(tmp_path / "samples.tsv"),
                 **{table: str(cohort / f"{table}.tsv")
                    for table in ("clinical", "biomarkers", "radiomics")})
    result = snakemake(workdir, MUTATIONS)
    assert result.returncode != 0
    assert str(broken) in result.stderr
    assert "column t_alt_count: is 'ten', not a whole number >= 0" in result.stderr
    assert not (workdir / MUTATIONS).exists()
    assert not list((workdir / "results" / "features" / "shards").glob("batch1/*/mutations.tsv"))
