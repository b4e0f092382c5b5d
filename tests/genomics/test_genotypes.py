"""Tests for haicpred.genomics.genotypes (real files, no mocks)."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import pandas as pd
import pysam
import pysam.bcftools
import pytest

from haicpred.io.errors import InputError
from haicpred.genomics.genotypes import snp_genotypes
from haicpred.genomics.vcf.access import open_vcf
from realdata import REAL, needs_real

pysam.set_verbosity(0)

SNPS = pd.DataFrame(
    [("rs8099917", "chr19", "39252525", "T", "G", "IL28B"),
     ("rs12979860", "chr19", "39248147", "C", "T", "IL28B"),
     ("rs1000001", "chr2", "1000", "G", "A", "TEST"),   # file has REF/ALT swapped
     ("rs1000002", "chr2", "2000", "T", "G", "TEST"),   # split multi-allelic records
     ("rs1000003", "chr2", "3000", "T", "G", "TEST"),   # REF TA / ALT GA,T
     ("rs1000004", "chr2", "4000", "C", "A", "TEST"),   # inside a gVCF reference block
     ("rs1000005", "chr2", "9000", "C", "T", "TEST")],  # absent from the file
    columns=["rsid", "chrom", "pos", "ref", "alt", "gene"]).astype({"pos": "int64"})

SAMPLES = ("A", "B", "C", "D")
# per record: chrom, pos, ref, alts, {sample: GT}
RECORDS = [
    ("chr2", 1000, "A", ("G",), {"A": (0, 0), "B": (0, 1), "C": (1, 1), "D": (None, None)}),
    ("chr2", 2000, "T", ("C",), {"A": (0, 1), "B": (0, 0), "C": (0, 0), "D": (0, 1)}),
    ("chr2", 2000, "T", ("G",), {"A": (0, 0), "B": (0, 1), "C": (1, 1), "D": (0, 0)}),
    ("chr2", 3000, "TA", ("GA", "T"), {"A": (0, 1), "B": (1, 1), "C": (0, 2), "D": (0, 0)}),
    ("chr2", 3990, "G", ("<NON_REF>",), {"A": (0, 0), "B": (0, 0), "C": (0, 0), "D": (0, 0)}),
    ("chr19", 39248147, "C", ("A", "T"), {"A": (0, 2), "B": (1, 1), "C": (2, 2), "D": (0, 0)}),
    ("chr19", 39252525, "T", ("G",), {"A": (0, 0), "B": (0, 1), "C": (1, 1), "D": (None, None)}),
]
EXPECTED = {  # sample -> rsid -> copies of the resource alt (None = missing)
    "A": {"rs8099917": 0, "rs12979860": 1, "rs1000001": 2, "rs1000002": 0, "rs1000003": 1,
          "rs1000004": 0, "rs1000005": None},
    "B": {"rs8099917": 1, "rs12979860": None, "rs1000001": 1, "rs1000002": 1, "rs1000003": 2,
          "rs1000004": 0, "rs1000005": None},
    "C": {"rs8099917": 2, "rs12979860": 2, "rs1000001": 0, "rs1000002": 2, "rs1000003": None,
          "rs1000004": 0, "rs1000005": None},
    "D": {"rs8099917": None, "rs12979860": 0, "rs1000001": None, "rs1000002": 0,
          "rs1000003": 0, "rs1000004": 0, "rs1000005": None},
}
TT = {"A": 1, "B": 0, "C": 0, "D": None}
# + strand genotype labels that do not follow from the count (a third allele: count missing)
LABELS = {("B", "rs12979860"): "AA"}


def write_genotype_vcf(path: Path, *, mode="vcf", index=False, chr_prefix=True,
                       samples=SAMPLES, records=RECORDS) -> Path:
    header = pysam.VariantHeader()
    for c in ("chr2", "chr19"):
        header.contigs.add(c if chr_prefix else c[3:], length=100_000_000)
    header.info.add("END", 1, "Integer", "End of a reference block")
    header.formats.add("GT", 1, "String", "Genotype")
    for s in samples:
        header.add_sample(s)
    with pysam.VariantFile(str(path), {"vcf": "w", "vcf.gz": "wz", "bcf": "wb"}[mode],
                           header=header) as out:
        for chrom, pos, ref, alts, calls in sorted(records, key=lambda r: (r[0] != "chr2",
                                                                           r[1])):
            chrom = chrom if chr_prefix else chrom[3:]
            stop = pos + 20 if alts == ("<NON_REF>",) else pos - 1 + len(ref)
            rec = out.new_record(contig=chrom, start=pos - 1, stop=stop, alleles=(ref, *alts))
            for name, gt in calls.items():
                if name in samples:
                    rec.samples[name]["GT"] = gt
            out.write(rec)
    if index:
        if mode == "vcf.gz":
            pysam.tabix_index(str(path), preset="vcf", force=True)
        else:
            pysam.bcftools.index(str(path))
    return path


def gsample(sid, path=None, column=None):
    return dict(sample_id=sid, batch="b1", exome_vcf=None, tumor_sample=None,
                genotype_vcf=None if path is None else str(path), genotype_sample=column)


def check(features: pd.DataFrame, expected=EXPECTED, tt=TT, labels=LABELS):
    snp = SNPS.set_index("rsid")
    for row in features.itertuples(index=False):
        want = expected.get(row.sample_id)
        for rsid in SNPS["rsid"]:
            got = getattr(row, f"{rsid}_alt_count")
            exp = None if want is None else want[rsid]
            assert (pd.isna(got) if exp is None else got == exp), (row.sample_id, rsid, got, exp)
            label = getattr(row, f"{rsid}_genotype")
            source = getattr(row, f"{rsid}_source")
            exp_label = labels.get((row.sample_id, rsid)) if want is not None else None
            if exp is not None:
                exp_label = snp.loc[rsid, "ref"] * (2 - exp) + snp.loc[rsid, "alt"] * exp
            assert (pd.isna(label) if exp_label is None else label == exp_label), (
                row.sample_id, rsid, label, exp_label)
            assert (pd.isna(source) if exp_label is None else source == "genotype_vcf"), (
                row.sample_id, rsid, source)
        got_tt = row.rs8099917_TT
        exp_tt = None if want is None else tt[row.sample_id]
        assert (pd.isna(got_tt) if exp_tt is None else got_tt == exp_tt), (row.sample_id, got_tt)


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.mark.parametrize("mode,index,chr_prefix", [
    ("vcf", False, True), ("vcf.gz", True, True), ("vcf.gz", False, False),
    ("vcf.gz", True, False), ("bcf", False, True), ("bcf", True, False)])
def test_genotype_counts(tmp_path, mode, index, chr_prefix):
    path = write_genotype_vcf(tmp_path / f"cohort.{mode}", mode=mode, index=index,
                              chr_prefix=chr_prefix)
    before = sorted(os.listdir(tmp_path))
    samples = [gsample("P_D", path, "D"), gsample("P_A", path, "A"), gsample("P_B", path, "B"),
               gsample("C", path), gsample("P_none")]  # "C": genotype_sample defaults to id
    features = snp_genotypes(samples, SNPS)
    assert sorted(os.listdir(tmp_path)) == before

    assert list(features.columns) == (["sample_id"] + [f"{r}_{kind}" for r in SNPS["rsid"]
                                                       for kind in ("alt_count", "genotype",
                                                                    "source")]
                                      + ["rs8099917_TT"])
    assert list(features["sample_id"]) == ["C", "P_A", "P_B", "P_D", "P_none"]
    numeric = [c for c in features.columns if c.endswith(("_alt_count", "_TT"))]
    assert all(str(features[c].dtype) == "Int64" for c in numeric)
    assert all(features[c].dtype == object for c in features.columns if c not in numeric)
    renamed = {"P_A": "A", "P_B": "B", "C": "C", "P_D": "D"}
    check(features.assign(sample_id=features["sample_id"].map(renamed).fillna("none")))
    assert features.set_index("sample_id").loc["P_none"].isna().all()


def test_plain_gzip_and_shared_file_opened_once(tmp_path, monkeypatch):
    text_vcf = write_genotype_vcf(tmp_path / "cohort.vcf")
    gz = tmp_path / "cohort_plain.vcf.gz"
    gz.write_bytes(gzip.compress(text_vcf.read_bytes()))
    opened = []
    real_open = open_vcf

    def counting_open(path, samples=()):
        opened.append(str(path))
        return real_open(path, samples)

    monkeypatch.setattr("haicpred.genomics.genotypes.open_vcf", counting_open)
    samples = [gsample(s, gz, s) for s in SAMPLES]
    features = snp_genotypes(samples, SNPS)
    assert opened == [str(gz)]
    check(features)


def test_without_rs8099917_no_tt_column(tmp_path):
    path = write_genotype_vcf(tmp_path / "c.vcf")
    snps = SNPS[SNPS["rsid"] != "rs8099917"]
    features = snp_genotypes([gsample("A", path)], snps)
    assert "rs8099917_TT" not in features.columns
    assert features.loc[0, "rs12979860_alt_count"] == 1


def test_haploid_calls_are_missing(tmp_path):
    records = [("chr19", 39252525, "T", ("G",), {"A": (1,), "B": (0, 1)})]
    path = write_genotype_vcf(tmp_path / "h.vcf", samples=("A", "B"), records=records)
    features = snp_genotypes([gsample("A", path), gsample("B", path)], SNPS)
    assert pd.isna(features.loc[0, "rs8099917_alt_count"])
    assert features.loc[1, "rs8099917_alt_count"] == 1


def test_errors_are_collected(tmp_path):
    path = write_genotype_vcf(tmp_path / "c.vcf")
    garbage = _write(tmp_path / "garbage.vcf.gz", "not a vcf at all\n")
    samples = [gsample("X1", path, "NOPE1"), gsample("X2", path, "NOPE2"),
               gsample("X3", tmp_path / "missing.vcf"), gsample("X4", garbage, "A"),
               gsample("A", path)]
    with pytest.raises(InputError) as err:
        snp_genotypes(samples, SNPS)
    by_where = {p.where: p for p in err.value.problems}
    assert set(by_where) == {"sample X1", "sample X2", "sample X3", "sample X4"}
    assert "NOPE1" in by_where["sample X1"].message and "A, B, C, D" in by_where[
        "sample X1"].message
    assert "not found" in by_where["sample X3"].message
    assert "not a readable VCF/BCF" in by_where["sample X4"].message


# ----------------------------------------------------------------------------------------------
# Real multi-sample germline VCFs (../shared/realdata/vcf/germline_multisample)
# ----------------------------------------------------------------------------------------------



def _parse_text(path: Path):
    with gzip.open(path, "rt") as handle:
        lines = handle.read().splitlines()
    columns = next(ln for ln in lines if ln.startswith("#CHROM")).split("\t")[9:]
    rows = [ln.split("\t") for ln in lines if ln and not ln.startswith("#")]
    return columns, rows


def _expected_count(gt_field: str, alt_index: int) -> int | None:
    gt = gt_field.split(":")[0].replace("|", "/").split("/")
    if len(gt) != 2 or "." in gt:
        return None
    if any(a not in ("0", str(alt_index)) for a in gt):
        return None
    return sum(a == str(alt_index) for a in gt)


@needs_real
@pytest.mark.parametrize("name", ["r__hapmap_exome_chr22.vcf.gz", "vcztools__chr22.vcf.gz",
                                  "python__freebayes.vcf.gz", "python__gatk.vcf.gz"])
def test_real_cohort_vcfs(name):
    path = REAL / "germline_multisample" / name
    columns, rows = _parse_text(path)
    by_pos: dict[tuple[str, int], list] = {}
    for r in rows:
        by_pos.setdefault((r[0], int(r[1])), []).append(r)
    # biallelic SNVs alone at their position, plus the second ALT of multi-allelic SNVs
    picks = []
    for (chrom, pos), recs in by_pos.items():
        if len(recs) != 1:
            continue
        r = recs[0]
        alts = r[4].split(",")
        if len(r[3]) != 1 or any(len(a) != 1 or a not in "ACGT" for a in alts):
            continue
        if len(alts) == 1 and sum(1 for p in picks if p[3] == 1) < 8:
            picks.append((chrom, pos, r, 1))
        elif len(alts) > 1 and sum(1 for p in picks if p[3] == 2) < 2:
            picks.append((chrom, pos, r, 2))
    assert picks
    snps = pd.DataFrame([(f"rs{900000 + i}", ("chr" + c) if not c.startswith("chr") else c[3:],
                          int(pos), r[3], r[4].split(",")[k - 1], "G")
                         for i, (c, pos, r, k) in enumerate(picks)],
                        columns=["rsid", "chrom", "pos", "ref", "alt", "gene"])
    chosen = columns[:12]
    samples = [gsample(f"S{j:02d}", path, col) for j, col in enumerate(chosen)]
    features = snp_genotypes(samples, snps).set_index("sample_id")
    fmt_gt = 0
    compared = 0
    for i, (_, _, r, k) in enumerate(picks):
        assert r[8].split(":")[fmt_gt] == "GT"
        for j, col in enumerate(chosen):
            want = _expected_count(r[9 + j], k)
            got = features.loc[f"S{j:02d}", f"rs{900000 + i}_alt_count"]
            assert (pd.isna(got) if want is None else got == want), (name, r[1], col, got, want)
            compared += want is not None
    assert compared > 0
