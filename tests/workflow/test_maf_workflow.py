"""A cohort whose exome calls come as one MAF per batch, through the real workflow: the same
mutation features, byte for byte, as the same calls given as VCFs; a bad MAF stops the run
naming the file, with no mutation table left behind."""

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
    broken = tmp_path / "batch1.maf"
    lines = (cohort / "maf" / "batch1.maf.gz").read_bytes()
    import gzip
    text = gzip.decompress(lines).decode().splitlines()
    header = text[1].split("\t")
    alt_count = header.index("t_alt_count")
    rows = [line.split("\t") for line in text[2:]]
    for row in rows:
        row[alt_count] = "ten"  # every count unreadable: whichever row is in the panel
    broken.write_text("\n".join(text[:2] + ["\t".join(r) for r in rows]) + "\n")
    sheet = (cohort / MAF_SHEET).read_text().replace("maf/batch1.maf.gz", str(broken))
    (tmp_path / "samples.tsv").write_text(sheet.replace("\tmaf/", f"\t{cohort}/maf/"))
    workdir = tmp_path / "run"
    make_workdir(workdir, samples=str(tmp_path / "samples.tsv"),
                 **{table: str(cohort / f"{table}.tsv")
                    for table in ("clinical", "biomarkers", "radiomics")})
    # the genotype VCF is named relative to the cohort: give the cohort's absolute path
    (tmp_path / "samples.tsv").write_text((tmp_path / "samples.tsv").read_text().replace(
        "\tgenotypes.vcf.gz", f"\t{cohort}/genotypes.vcf.gz"))
    result = snakemake(workdir, MUTATIONS)
    assert result.returncode != 0
    assert str(broken) in result.stderr
    assert "column t_alt_count: is 'ten', not a whole number >= 0" in result.stderr
    assert not (workdir / MUTATIONS).exists()
    assert not list((workdir / "results" / "features" / "shards").glob("batch1/*/mutations.tsv"))
