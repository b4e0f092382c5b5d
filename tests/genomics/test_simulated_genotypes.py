"""snp_genotypes on simulated cohorts of both genome builds: the features equal the simulator's
true germline genotypes (truth.tsv `<rsid>_true_alt_count`) for every called patient, and a
genotype VCF disagreeing with the resource's reference at rs9679162 is refused."""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd
import pysam
import pytest

from haicpred.genomics.genotypes import snp_genotypes
from haicpred.io.errors import InputError
from haicpred.io.resources import read_snps
from haicpred.io.samples import batch_records, load_sample_sheet
from haicpred.io.tables import read_tsv
from haicpred.simulate import simulate_cohort

RESOURCES = Path(__file__).parents[2] / "resources"
BUILDS = ("GRCh38", "GRCh37")


@pytest.fixture(scope="module", params=BUILDS)
def cohort(request, tmp_path_factory) -> tuple[str, Path]:
    build = request.param
    folder = tmp_path_factory.mktemp(build) / "cohort"
    simulate_cohort(80, 2, 11, folder, RESOURCES / f"panel_{build}.tsv",
                    RESOURCES / f"snps_{build}.tsv", genome_build=build)
    return build, folder


def _genotypes(folder: Path, snps: pd.DataFrame) -> pd.DataFrame:
    sheet = load_sample_sheet(folder / "samples.tsv")
    return pd.concat([snp_genotypes(batch_records(sheet, batch), snps)
                      for batch in sorted(sheet["batch"].unique())], ignore_index=True)


def test_alt_counts_equal_the_simulated_genotypes(cohort):
    build, folder = cohort
    snps = read_snps(RESOURCES / f"snps_{build}.tsv")
    features = _genotypes(folder, snps).set_index("sample_id")
    truth = read_tsv(folder / "truth.tsv").set_index("sample_id")
    assert sorted(features.index) == sorted(truth.index)
    truth = truth.loc[features.index]
    for rsid in snps["rsid"]:
        true = truth[f"{rsid}_true_alt_count"].astype(int)
        count = features[f"{rsid}_alt_count"]
        called = count.notna()
        assert called.mean() >= 0.8, (build, rsid)  # ~87% have a genotype VCF call
        assert (count[called].astype(int) == true[called]).all(), (build, rsid)
        assert set(true[called]) == {0, 1, 2} or rsid != "rs9679162"
    gg = features["rs9679162_GG"]
    called = gg.notna()
    assert (gg[called].astype(int) == (truth["rs9679162_true_alt_count"][called].astype(int)
                                       == 0)).all()
    assert (features.loc[called, "rs9679162_genotype"].map(
        {"GG": 0, "GT": 1, "TT": 2}) == truth["rs9679162_true_alt_count"][called].astype(int)
    ).all()


def test_uncalled_patients_have_no_usable_call(cohort):
    """Missing = no genotype VCF (the Mutect2 normal column is a placeholder, never read) or
    ./. in the genotype VCF; a genotyped patient is never left out otherwise."""
    build, folder = cohort
    snps = read_snps(RESOURCES / f"snps_{build}.tsv")
    features = _genotypes(folder, snps).set_index("sample_id")
    sheet = load_sample_sheet(folder / "samples.tsv").set_index("sample_id")
    galnt14 = snps.set_index("rsid").loc["rs9679162"]
    with pysam.VariantFile(str(folder / "genotypes.vcf.gz")) as vcf:
        [record] = vcf.fetch(galnt14["chrom"], int(galnt14["pos"]) - 1, int(galnt14["pos"]))
        gt = {name: s["GT"] for name, s in record.samples.items()}
    for sid in features.index[features["rs9679162_alt_count"].isna()]:
        row = sheet.loc[sid]
        if pd.isna(row["genotype_vcf"]):
            continue
        column = sid if pd.isna(row["genotype_sample"]) else row["genotype_sample"]
        assert gt[column] == (None, None), (build, sid)


def test_ref_mismatch_in_a_simulated_genotype_vcf_is_refused(cohort, tmp_path):
    """The cohort's own genotype VCF with rs9679162's REF changed to C (neither G nor T)."""
    build, folder = cohort
    snps = read_snps(RESOURCES / f"snps_{build}.tsv")
    galnt14 = snps.set_index("rsid").loc["rs9679162"]
    lines = gzip.open(folder / "genotypes.vcf.gz", "rt").read().splitlines(keepends=True)
    edited = []
    for line in lines:
        fields = line.split("\t")
        if not line.startswith("#") and fields[2] == "rs9679162":
            assert (fields[0], int(fields[1]), fields[3]) == (galnt14["chrom"],
                                                              galnt14["pos"], "G")
            fields[3] = "C"
        edited.append("\t".join(fields))
    path = tmp_path / "genotypes_bad_ref.vcf"
    path.write_text("".join(edited))
    sheet = load_sample_sheet(folder / "samples.tsv")
    records = [dict(r, genotype_vcf=str(path)) if r["genotype_vcf"] else r
               for r in batch_records(sheet, "batch1")]
    with pytest.raises(InputError) as err:
        snp_genotypes(records, snps)
    [problem] = err.value.problems
    assert problem.file == str(path)
    readers = sorted(r["sample_id"] for r in records if r["genotype_vcf"])
    assert len(readers) > 5  # every reader is named: the first five, then how many more
    assert problem.where == f"samples {', '.join(readers[:5])} (+{len(readers) - 5} more)"
    assert f"REF mismatch at rs9679162 ({galnt14['chrom']}:{galnt14['pos']})" in problem.message
    assert "REF is C" in problem.message and "ref G, alt T" in problem.message
