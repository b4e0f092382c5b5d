"""Golden tests for SNP genotype calling: hand-written VCFs, one sample per case, exact outputs.

Each case is VCF text written here, read both as an unindexed plain-text VCF and as a bgzipped,
tabix-indexed VCF (pysam in tmp_path). The resource is the GRCh38 IL-28B pair: rs8099917 T>G at
chr19:39,252,525 and rs12979860 C>T at chr19:39,248,147 (+ strand).
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pysam
import pytest

from haicpred.io.errors import InputError
from haicpred.features.matrix import genomic_dictionary
from haicpred.genomics.genotypes import GENOTYPE_FLAGS, snp_genotypes
from haicpred.genomics.vcf.access import open_vcf
from haicpred.io.resources import read_snps
from realdata import REAL, needs_real

pysam.set_verbosity(0)

RS8 = ("rs8099917", "chr19", 39252525, "T", "G", "IL28B")
RS12 = ("rs12979860", "chr19", 39248147, "C", "T", "IL28B")
SNPS = pd.DataFrame([RS8, RS12], columns=["rsid", "chrom", "pos", "ref", "alt", "gene"]
                    ).astype({"pos": "int64"})
POS = 39252525
COLUMNS = ["sample_id",
           "rs8099917_alt_count", "rs8099917_genotype", "rs8099917_source",
           "rs12979860_alt_count", "rs12979860_genotype", "rs12979860_source",
           "rs8099917_TT"]

HEADER = """##fileformat=VCFv4.2
##contig=<ID=chr19,length=58617616>
##INFO=<ID=END,Number=1,Type=Integer,Description="Stop position of the interval">
##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">
##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Allelic depths">
"""


def vcf_text(rows: list[str], samples=("S",), meta: tuple[str, ...] = ()) -> str:
    """A VCF: the fixed header, `meta` lines, then `rows` (`CHROM POS REF ALT INFO FORMAT
    calls...` separated by spaces; ID, QUAL and FILTER are filled in)."""
    lines = [HEADER.rstrip("\n"), *meta,
             "\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO",
                        "FORMAT", *samples])]
    for row in rows:
        chrom, pos, ref, alt, info, fmt, *calls = row.split()
        lines.append("\t".join([chrom, pos, ".", ref, alt, "50", "PASS", info, fmt, *calls]))
    return "\n".join(lines) + "\n"


def write_vcf(directory: Path, name: str, text: str, mode: str) -> Path:
    """`mode` "vcf": plain text, no index; "vcf.gz": bgzipped and tabix-indexed by pysam."""
    plain = directory / f"{name}.vcf"
    plain.write_text(text)
    if mode == "vcf":
        return plain
    indexed = Path(pysam.tabix_index(str(plain), preset="vcf", force=True))
    assert indexed.name == f"{name}.vcf.gz" and Path(f"{indexed}.tbi").is_file()
    return indexed


def sample(sid, genotype_vcf=None, column=None, exome_vcf=None, tumour=None):
    return dict(sample_id=sid, batch="b1", exome_vcf=None if exome_vcf is None else str(exome_vcf),
                tumor_sample=tumour, genotype_vcf=None if genotype_vcf is None else str(
                    genotype_vcf), genotype_sample=column)


MODES = pytest.mark.parametrize("mode", ["vcf", "vcf.gz"])

# case -> (records at rs8099917, expected (alt_count, genotype, TT)); None = missing
GOLDEN = {
    "hom_ref": (["chr19 39252525 T G . GT 0/0"], (0, "TT", 1)),
    "het": (["chr19 39252525 T G . GT 0/1"], (1, "TG", 0)),
    "het_phased_alt_first": (["chr19 39252525 T G . GT 1|0"], (1, "TG", 0)),
    "hom_alt": (["chr19 39252525 T G . GT 1/1"], (2, "GG", 0)),
    # the file's REF/ALT are the resource's alt/ref
    "swapped_hom_file_ref": (["chr19 39252525 G T . GT 0/0"], (2, "GG", 0)),
    "swapped_het": (["chr19 39252525 G T . GT 0/1"], (1, "TG", 0)),
    "swapped_hom_file_alt": (["chr19 39252525 G T . GT 1/1"], (0, "TT", 1)),
    "no_call": (["chr19 39252525 T G . GT ./."], None),
    "no_call_dot": (["chr19 39252525 T G . GT ."], None),
    "half_call": (["chr19 39252525 T G . GT ./1"], None),
    "half_call_phased": (["chr19 39252525 T G . GT 0|."], None),
    "haploid": (["chr19 39252525 T G . GT 1"], None),
    "absent": (["chr19 39252000 A C . GT 0/1"], None),
    # gVCF reference blocks spanning the SNP (END=), with GATK and DeepVariant placeholders
    "gvcf_block_non_ref": (["chr19 39252500 A <NON_REF> END=39252600 GT:AD 0/0:30,0"],
                           (0, "TT", 1)),
    "gvcf_block_star": (["chr19 39252401 C <*> END=39252525 GT 0/0"], (0, "TT", 1)),
    "gvcf_block_starting_at_snp": (["chr19 39252525 T <NON_REF> END=39252530 GT 0/0"],
                                   (0, "TT", 1)),
    "gvcf_block_no_call": (["chr19 39252500 A <NON_REF> END=39252600 GT ./."], None),
    "gvcf_block_ends_before": (["chr19 39252500 A <NON_REF> END=39252524 GT 0/0"], None),
    "gvcf_variant_record": (["chr19 39252500 A <NON_REF> END=39252524 GT 0/0",
                             "chr19 39252525 T G,<NON_REF> . GT:AD 0/1:12,10,0",
                             "chr19 39252526 C <NON_REF> END=39252700 GT 0/0"], (1, "TG", 0)),
    # multi-allelic: the resource alt is one ALT of several
    "multiallelic_ref_alt": (["chr19 39252525 T C,G . GT 0/2"], (1, "TG", 0)),
    "multiallelic_hom_alt": (["chr19 39252525 T C,G . GT 2/2"], (2, "GG", 0)),
    "multiallelic_third_allele_het": (["chr19 39252525 T C,G . GT 0/1"], (None, "TC", None)),
    "multiallelic_alt_and_third": (["chr19 39252525 T C,G . GT 1/2"], (None, "GC", None)),
    "multiallelic_swapped": (["chr19 39252525 G A,T . GT 2/0"], (1, "TG", 0)),
    # an SNV written with a shared trailing base, next to a deletion allele
    "shared_trailing_base": (["chr19 39252525 TA GA,T . GT 0/1"], (1, "TG", 0)),
    "deletion_allele_is_no_call": (["chr19 39252525 TA GA,T . GT 0/2"], None),
}


@MODES
@pytest.mark.parametrize("case", sorted(GOLDEN))
def test_golden_genotype_vcf(tmp_path, mode, case):
    rows, expected = GOLDEN[case]
    path = write_vcf(tmp_path, case, vcf_text(rows), mode)
    before = sorted(os.listdir(tmp_path))
    with open_vcf(path) as handle:
        assert handle.indexed == (mode == "vcf.gz")  # both the fetch and the stream paths
    out = snp_genotypes([sample("P1", path, "S")], SNPS)
    assert sorted(os.listdir(tmp_path)) == before  # nothing written beside the input
    assert list(out.columns) == COLUMNS
    row = out.iloc[0]
    assert row["sample_id"] == "P1"
    count, label, tt = expected if expected is not None else (None, None, None)
    assert _value(row["rs8099917_alt_count"]) == count
    assert _value(row["rs8099917_genotype"]) == label
    assert _value(row["rs8099917_source"]) == (None if label is None else "genotype_vcf")
    assert _value(row["rs8099917_TT"]) == tt
    for column in ("rs12979860_alt_count", "rs12979860_genotype", "rs12979860_source"):
        assert pd.isna(row[column])  # no record for it: missing, never hom-ref


def _value(x):
    return None if pd.isna(x) else (int(x) if not isinstance(x, str) else x)


@MODES
@pytest.mark.parametrize("rows,file_ref", [
    (["chr19 39252525 C A . GT 0/1"], "C"),
    (["chr19 39252525 C T,G . GT 0/0"], "C"),  # carries both resource alleles, REF is neither
    (["chr19 39252525 A <NON_REF> END=39252600 GT 0/0"], "A"),  # block starting at the SNP
])
def test_ref_mismatch_is_refused(tmp_path, mode, rows, file_ref):
    path = write_vcf(tmp_path, "mismatch", vcf_text(rows), mode)
    with pytest.raises(InputError) as err:
        snp_genotypes([sample("P1", path, "S")], SNPS)
    [problem] = err.value.problems
    assert problem.file == str(path)
    assert problem.where == "sample P1"
    assert "rs8099917" in problem.message and "chr19:39252525" in problem.message
    assert f"REF is {file_ref}" in problem.message
    assert "ref T, alt G" in problem.message
    assert "build" in problem.hint


def test_ref_mismatch_even_without_a_call_and_all_problems_collected(tmp_path):
    """A wrong reference is refused whatever the sample's call; every file is reported."""
    bad1 = write_vcf(tmp_path, "bad1", vcf_text(["chr19 39252525 C A . GT ./."]), "vcf")
    bad2 = write_vcf(tmp_path, "bad2", vcf_text(["chr19 39248147 G A . GT 0/0"]), "vcf.gz")
    good = write_vcf(tmp_path, "good", vcf_text(["chr19 39252525 T G . GT 0/1"]), "vcf")
    with pytest.raises(InputError) as err:
        snp_genotypes([sample("B1", bad1, "S"), sample("B2", bad2, "S"),
                       sample("G", good, "S"), sample("M", tmp_path / "missing.vcf")], SNPS)
    got = {(p.file, p.where) for p in err.value.problems}
    assert got == {(str(bad1), "sample B1"), (str(bad2), "sample B2"),
                   (str(tmp_path / "missing.vcf"), "sample M")}
    by_file = {p.file: p.message for p in err.value.problems}
    assert "rs12979860" in by_file[str(bad2)] and "ref C, alt T" in by_file[str(bad2)]


def test_ref_mismatch_names_every_sample_of_a_shared_file(tmp_path):
    path = write_vcf(tmp_path, "cohort", vcf_text(["chr19 39252525 C A . GT 0/1 0/0"],
                                                  samples=("X", "Y")), "vcf")
    with pytest.raises(InputError) as err:
        snp_genotypes([sample("P2", path, "Y"), sample("P1", path, "X")], SNPS)
    [problem] = err.value.problems
    assert problem.where == "samples P1, P2"


# ----------------------------------------------------------------------------------------------
# Exome VCF normal column as fallback
# ----------------------------------------------------------------------------------------------

def exome_text(rows: list[str], columns=("TUM", "NOR"), meta=("##tumor_sample=TUM",
                                                               "##normal_sample=NOR")) -> str:
    return vcf_text(rows, samples=columns, meta=meta)


@MODES
def test_exome_normal_used_without_genotype_vcf(tmp_path, mode):
    # tumour first, normal named by ##normal_sample; the tumour's LOH call must not be read
    exome = write_vcf(tmp_path, "exome", exome_text(
        ["chr19 39248147 C T . GT 0/0 0/0",
         "chr19 39252525 T G . GT:AD 1/1:0,40 0/1:20,18"]), mode)
    out = snp_genotypes([sample("P1", exome_vcf=exome)], SNPS)
    row = out.iloc[0]
    assert (row["rs8099917_alt_count"], row["rs8099917_genotype"], row["rs8099917_source"],
            row["rs8099917_TT"]) == (1, "TG", "exome_normal", 0)
    assert (row["rs12979860_alt_count"], row["rs12979860_genotype"],
            row["rs12979860_source"]) == (0, "CC", "exome_normal")


@MODES
def test_exome_column_named_normal(tmp_path, mode):
    exome = write_vcf(tmp_path, "exome", exome_text(["chr19 39252525 G T . GT 1/1 0/1"],
                                                    columns=("NORMAL", "TUMOR"), meta=()), mode)
    row = snp_genotypes([sample("P1", exome_vcf=exome)], SNPS).iloc[0]
    assert (row["rs8099917_alt_count"], row["rs8099917_genotype"],
            row["rs8099917_source"], row["rs8099917_TT"]) == (0, "TT", "exome_normal", 1)


@pytest.mark.parametrize("columns,meta", [
    (("TUMOR",), ()),  # tumour-only
    (("T1", "N1"), ()),  # two columns, no header line, none named NORMAL: no guessing
    (("TUM", "NOR"), ("##normal_sample=GERMLINE",)),  # the header names no column
    (("TUM", "NOR"), ("##normal_sample=NOR", "##source=Mutect2")),  # placeholder normal GT
    (("TUM", "NOR"), ('##GATKCommandLine=<ID=Mutect2,CommandLine="Mutect2 -I t.bam">',
                      "##normal_sample=NOR")),
    (("TUM", "NOR"), ('##MuSE_version="v1.0rc"', "##normal_sample=NOR")),
])
def test_exome_without_a_usable_normal_stays_missing(tmp_path, columns, meta):
    calls = ["0/1"] * len(columns)
    exome = write_vcf(tmp_path, "exome", vcf_text(
        [f"chr19 39252525 T G . GT {' '.join(calls)}"], samples=columns, meta=meta), "vcf")
    row = snp_genotypes([sample("P1", exome_vcf=exome)], SNPS).iloc[0]
    assert row.drop("sample_id").isna().all()


def test_exome_normal_is_never_the_sheets_tumour(tmp_path):
    exome = write_vcf(tmp_path, "exome", exome_text(["chr19 39252525 T G . GT 0/1 1/1"],
                                                    columns=("A", "NORMAL"), meta=()), "vcf")
    row = snp_genotypes([sample("P1", exome_vcf=exome, tumour="NORMAL")], SNPS).iloc[0]
    assert pd.isna(row["rs8099917_alt_count"])


@MODES
def test_exome_without_record_is_missing_not_hom_ref(tmp_path, mode):
    """Somatic callers write variant sites only: no record is no information."""
    exome = write_vcf(tmp_path, "exome", exome_text(
        ["chr19 39252600 A C . GT 0/1 0/0"]), mode)
    row = snp_genotypes([sample("P1", exome_vcf=exome)], SNPS).iloc[0]
    assert row.drop("sample_id").isna().all()


@MODES
def test_exome_fills_genotype_vcf_no_calls_only(tmp_path, mode):
    geno = write_vcf(tmp_path, "geno", vcf_text(
        ["chr19 39248147 C T . GT 1/1", "chr19 39252525 T G . GT ./.",
         ], samples=("S",)), mode)
    exome = write_vcf(tmp_path, "exome", exome_text(
        ["chr19 39248147 C T . GT 0/1 0/0",  # disagrees with the genotype VCF: not used
         "chr19 39252525 T G . GT 0/1 1/1"]), mode)
    row = snp_genotypes([sample("P1", geno, "S", exome_vcf=exome)], SNPS).iloc[0]
    assert (row["rs8099917_alt_count"], row["rs8099917_genotype"],
            row["rs8099917_source"]) == (2, "GG", "exome_normal")
    assert (row["rs12979860_alt_count"], row["rs12979860_genotype"],
            row["rs12979860_source"]) == (2, "TT", "genotype_vcf")


def test_exome_not_used_for_a_third_allele_call(tmp_path):
    """A definite call of another base is a call (count missing), not a gap to fill."""
    geno = write_vcf(tmp_path, "geno", vcf_text(["chr19 39252525 T C . GT 1/1"]), "vcf")
    exome = write_vcf(tmp_path, "exome", exome_text(["chr19 39252525 T G . GT 0/1 0/1"]), "vcf")
    row = snp_genotypes([sample("P1", geno, "S", exome_vcf=exome)], SNPS).iloc[0]
    assert pd.isna(row["rs8099917_alt_count"]) and pd.isna(row["rs8099917_TT"])
    assert (row["rs8099917_genotype"], row["rs8099917_source"]) == ("CC", "genotype_vcf")


def test_exome_ref_mismatch_is_refused(tmp_path):
    exome = write_vcf(tmp_path, "exome", exome_text(["chr19 39252525 A G . GT 0/1 0/1"]), "vcf")
    with pytest.raises(InputError) as err:
        snp_genotypes([sample("P1", exome_vcf=exome)], SNPS)
    [problem] = err.value.problems
    assert (problem.file, problem.where) == (str(exome), "sample P1")
    assert "REF is A" in problem.message and "ref T, alt G" in problem.message


def test_each_file_opened_once_and_exomes_only_when_needed(tmp_path, monkeypatch):
    geno = write_vcf(tmp_path, "geno", vcf_text(
        ["chr19 39248147 C T . GT 0/1 0/0 ./.", "chr19 39252525 T G . GT 0/0 1/1 0/1"],
        samples=("A", "B", "C")), "vcf.gz")
    complete = write_vcf(tmp_path, "exome_a", exome_text(["chr19 39252525 T G . GT 1/1 1/1"]),
                         "vcf")
    gaps = write_vcf(tmp_path, "exome_c", exome_text(["chr19 39248147 C T . GT 0/1 1/1"]), "vcf")
    # D's genotype VCF is C's exome VCF: read in the same pass, opened once
    shared = write_vcf(tmp_path, "exome_d", exome_text(["chr19 39248147 C T . GT 0/1 0/1"]),
                       "vcf")
    opened = []
    real_open = open_vcf

    def counting_open(path, samples=()):
        opened.append(Path(path).name)
        return real_open(path, samples)

    monkeypatch.setattr("haicpred.genomics.genotypes.open_vcf", counting_open)
    samples = [sample("A", geno, "A", exome_vcf=complete), sample("B", geno, "B"),
               sample("C", geno, "C", exome_vcf=gaps), sample("D", shared, "TUM",
                                                                exome_vcf=shared),
               sample("E", exome_vcf=shared)]
    out = snp_genotypes(samples, SNPS).set_index("sample_id")
    assert sorted(opened) == ["exome_c.vcf", "exome_d.vcf", "geno.vcf.gz"]
    assert out.loc["A", "rs8099917_source"] == "genotype_vcf"
    assert out.loc["C", "rs12979860_source"] == "exome_normal"
    assert out.loc["C", "rs12979860_genotype"] == "TT"  # the normal, not the tumour
    assert out.loc["C", "rs8099917_source"] == "genotype_vcf"
    assert (out.loc["D", "rs12979860_genotype"], out.loc["D", "rs12979860_source"]) == (
        "CT", "genotype_vcf")  # its genotype column (the tumour here) comes first
    assert (out.loc["E", "rs12979860_genotype"], out.loc["E", "rs12979860_source"]) == (
        "CT", "exome_normal")
    assert pd.isna(out.loc["E", "rs8099917_genotype"])


def test_output_is_deterministic_and_sorted(tmp_path):
    geno = write_vcf(tmp_path, "geno", vcf_text(
        ["chr19 39248147 C T . GT 0/1 ./.", "chr19 39252525 T G . GT 0/0 ./."],
        samples=("A", "B")), "vcf")
    exome = write_vcf(tmp_path, "exome", exome_text(["chr19 39252525 T G . GT 0/1 0/1"]), "vcf")
    samples = [sample("b2", geno, "B", exome_vcf=exome), sample("a1", geno, "A"),
               sample("c3")]
    first = snp_genotypes(samples, SNPS)
    second = snp_genotypes(list(reversed(samples)), SNPS)
    pd.testing.assert_frame_equal(first, second)
    assert list(first["sample_id"]) == ["a1", "b2", "c3"]
    assert first.set_index("sample_id").loc["c3"].isna().all()


# ----------------------------------------------------------------------------------------------
# Feature dictionary and readiness for further SNPs (GALNT14 rs9679162)
# ----------------------------------------------------------------------------------------------

def test_only_numeric_columns_are_features(tmp_path):
    path = write_vcf(tmp_path, "g", vcf_text(["chr19 39252525 T G . GT 0/1"]), "vcf")
    out = snp_genotypes([sample("P1", path, "S")], SNPS)
    mutations = pd.DataFrame({"sample_id": ["P1"]})
    dictionary = genomic_dictionary(mutations, out)
    assert list(dictionary["feature"]) == ["rs8099917_alt_count", "rs12979860_alt_count",
                                           "rs8099917_TT"]
    assert set(dictionary["modality"]) == {"genotype"}


def test_another_snp_gets_columns_but_no_invented_flag(tmp_path):
    """A SNP added to the resource (here a test-only row on chr2) gets alt_count, genotype and
    source; no genotype-group flag exists for it until one is added to GENOTYPE_FLAGS with
    verified + strand alleles."""
    extra = ("rs1000009", "chr2", 5000, "T", "G", "TEST")
    snps = pd.DataFrame([RS8, extra], columns=SNPS.columns).astype({"pos": "int64"})
    text = vcf_text(["chr2 5000 G T . GT 0/1"], meta=("##contig=<ID=chr2,length=242193529>",))
    path = write_vcf(tmp_path, "g", text, "vcf")
    out = snp_genotypes([sample("P1", path, "S")], snps)
    assert list(out.columns) == ["sample_id", "rs8099917_alt_count", "rs8099917_genotype",
                                 "rs8099917_source", "rs1000009_alt_count",
                                 "rs1000009_genotype", "rs1000009_source", "rs8099917_TT"]
    assert (out.loc[0, "rs1000009_alt_count"], out.loc[0, "rs1000009_genotype"]) == (1, "TG")
    assert not any(f.rsid == "rs1000009" for f in GENOTYPE_FLAGS)


# ----------------------------------------------------------------------------------------------
# GALNT14 rs9679162 from the repository's SNP resources (GRCh38 and GRCh37)
# ----------------------------------------------------------------------------------------------

RESOURCES = Path(__file__).parents[2] / "resources"
# Verified coordinates (background notes: PharmGKB/dbSNP HGVS), written out independently of
# the resource files: build -> (chrom, pos, + strand ref, alt, chr2 length of the build)
GALNT14 = {"GRCh38": ("chr2", 31024648, "G", "T", 242193529),
           "GRCh37": ("chr2", 31247514, "G", "T", 243199373)}
BUILDS = pytest.mark.parametrize("build", sorted(GALNT14))


def galnt14_text(build: str, rows: list[str], samples=("S",)) -> str:
    chrom, _, _, _, length = GALNT14[build]
    return vcf_text(rows, samples=samples, meta=(f"##contig=<ID={chrom},length={length}>",))


@BUILDS
def test_galnt14_resource_row(build):
    snps = read_snps(RESOURCES / f"snps_{build}.tsv").set_index("rsid")
    chrom, pos, ref, alt, _ = GALNT14[build]
    row = snps.loc["rs9679162"]
    assert (row["chrom"], row["pos"], row["ref"], row["alt"], row["gene"]) == (
        chrom, pos, ref, alt, "GALNT14")
    assert f"{pos}G>T" in row["source"]  # the HGVS name the row was taken from
    assert "+ strand" in row["source"]


@MODES
@BUILDS
def test_galnt14_alt_count_and_gg_flag(tmp_path, mode, build):
    """Every genotype, with the file's REF as the resource's ref (G) or swapped (T)."""
    chrom, pos, _, _, _ = GALNT14[build]
    samples = ("GG", "GT", "TT", "NC", "GG_sw", "GT_sw", "TT_sw")
    text = galnt14_text(build, [f"{chrom} {pos - 10} A <NON_REF> END={pos - 1} "
                                "GT 0/0 0/0 0/0 0/0 0/0 0/0 0/0",
                                f"{chrom} {pos} G T . GT 0/0 0/1 1/1 ./. . . .",
                                f"{chrom} {pos} T G . GT . . . . 1/1 1|0 0/0"], samples)
    path = write_vcf(tmp_path, f"galnt14_{build}", text, mode)
    snps = read_snps(RESOURCES / f"snps_{build}.tsv")
    out = snp_genotypes([sample(s, path, s) for s in samples], snps).set_index("sample_id")
    assert list(out.columns[-2:]) == ["rs8099917_TT", "rs9679162_GG"]
    assert str(out["rs9679162_GG"].dtype) == "Int64"
    want = {"GG": (0, "GG", 1), "GT": (1, "GT", 0), "TT": (2, "TT", 0), "NC": None,
            "GG_sw": (0, "GG", 1), "GT_sw": (1, "GT", 0), "TT_sw": (2, "TT", 0)}
    for sid, expected in want.items():
        got = tuple(_value(out.loc[sid, c]) for c in ("rs9679162_alt_count",
                                                       "rs9679162_genotype", "rs9679162_GG"))
        assert got == (expected or (None, None, None)), (sid, got)
        assert _value(out.loc[sid, "rs9679162_source"]) == (expected and "genotype_vcf")


@MODES
@BUILDS
def test_galnt14_ref_mismatch_is_refused(tmp_path, mode, build):
    """A record at rs9679162 whose REF is neither G nor T: refused like the IL-28B SNPs."""
    chrom, pos, _, _, _ = GALNT14[build]
    path = write_vcf(tmp_path, "mismatch", galnt14_text(build, [f"{chrom} {pos} C A . GT 0/1"]),
                     mode)
    with pytest.raises(InputError) as err:
        snp_genotypes([sample("P1", path, "S")], read_snps(RESOURCES / f"snps_{build}.tsv"))
    [problem] = err.value.problems
    assert (problem.file, problem.where) == (str(path), "sample P1")
    assert f"rs9679162 ({chrom}:{pos})" in problem.message
    assert "REF is C" in problem.message and "ref G, alt T" in problem.message
    assert "build" in problem.hint


def test_galnt14_flag_in_the_feature_dictionary(tmp_path):
    """The dictionary says the strand and that the direction depends on the treatment."""
    chrom, pos, _, _, _ = GALNT14["GRCh38"]
    path = write_vcf(tmp_path, "g", galnt14_text("GRCh38", [f"{chrom} {pos} G T . GT 0/0"]),
                     "vcf")
    out = snp_genotypes([sample("P1", path, "S")],
                        read_snps(RESOURCES / "snps_GRCh38.tsv"))
    dictionary = genomic_dictionary(pd.DataFrame({"sample_id": ["P1"]}), out)
    assert list(dictionary["feature"]) == ["rs8099917_alt_count", "rs12979860_alt_count",
                                           "rs9679162_alt_count", "rs8099917_TT",
                                           "rs9679162_GG"]
    text = dictionary.set_index("feature").loc["rs9679162_GG", "description"]
    for words in ("homozygous G/G", "+ strand", "minus strand", "c.130-31641C>A",
                  "not palindromic", "Favourable after HAIC", "TACE", "opposite (TT favourable)"):
        assert words in text, words


# ----------------------------------------------------------------------------------------------
# Real gVCFs (../shared/realdata/vcf/gvcf): GATK <NON_REF> and DeepVariant <*> blocks
# ----------------------------------------------------------------------------------------------

@needs_real
@pytest.mark.parametrize("name", ["r__banded_gvcf.vcf",
                                  "deepvariant_re__golden.postprocess_gvcf_output."
                                  "EXCERPT_first44.g.vcf"])
def test_real_gvcf(name):
    """Expected calls from the text: a position in the middle of each reference block (0 copies
    when the block is 0/0), and every SNV record (copies of its first one-base ALT)."""
    path = REAL / "gvcf" / name
    rows = [line.split("\t") for line in path.read_text().splitlines()
            if line and not line.startswith("#")]
    cases = []  # (chrom, pos, ref, alt, expected count)
    for chrom, pos, _, ref, alt, _, _, info, fmt, call in rows:
        gt = call.split(":")[fmt.split(":").index("GT")].replace("|", "/").split("/")
        alts = alt.split(",")
        end = next((int(f[4:]) for f in info.split(";") if f.startswith("END=")), None)
        if alts in (["<NON_REF>"], ["<*>"]) and end is not None and end - int(pos) >= 2:
            middle = (int(pos) + end) // 2
            cases.append((chrom, middle, "A", "G", 0 if gt == ["0", "0"] else None))
        elif len(ref) == 1 and len(alts[0]) == 1 and alts[0] in "ACGT":
            want = None if "." in gt or len(gt) != 2 or any(a not in "01" for a in gt) \
                else gt.count("1")
            cases.append((chrom, int(pos), ref, alts[0], want))
    assert any(c[4] == 0 for c in cases) and any(c[4] in (1, 2) for c in cases)
    snps = pd.DataFrame([(f"rs{700000 + i}", "chr" + c.removeprefix("chr"), p, r, a, "G")
                         for i, (c, p, r, a, _) in enumerate(cases)],
                        columns=["rsid", "chrom", "pos", "ref", "alt", "gene"])
    row = snp_genotypes([sample("P1", path, "NA12878")], snps).iloc[0]
    for i, (chrom, pos, ref, alt, want) in enumerate(cases):
        got = row[f"rs{700000 + i}_alt_count"]
        assert (pd.isna(got) if want is None else got == want), (name, pos, got, want)
        label = row[f"rs{700000 + i}_genotype"]
        assert (pd.isna(label) if want is None else label == ref * (2 - want) + alt * want)


@pytest.mark.skipif(not (REAL / "MANIFEST.tsv").is_file(),
                    reason=f"real VCF files not found at {REAL} (set HAICPRED_REALDATA)")
@pytest.mark.parametrize("name,usable", [
    ("vcf2maf__test_varscan.vcf", True),  # VarScan2 genotypes the normal (germline calls)
    ("vcf2maf__test_sniper.vcf", True),  # SomaticSniper too
    ("vcf2maf__test_strelka.vcf", False),  # Strelka: no GT at all
    ("vcf2maf__test_muse.vcf", False),  # MuSE: placeholder normal GT
    ("vcf2maf__test_mutect.vcf", False),  # MuTect: haploid placeholder GT
    ("varcode__mutect2_example.vcf", False),  # Mutect2, tumour only
    ("pcgr__T001-COAD.grch37.vcf.gz", False),  # one merged tumour/normal column
])
def test_real_somatic_vcf_normal_column(name, usable):
    """Exome fallback on real somatic VCFs: the NORMAL column's GT where the caller genotypes
    the normal, nothing where it does not."""
    import gzip

    path = REAL / "somatic_real" / name
    opener = gzip.open if name.endswith(".gz") else open
    with opener(path, "rt") as handle:
        lines = handle.read().splitlines()
    columns = next(ln for ln in lines if ln.startswith("#CHROM")).split("\t")[9:]
    rows = [ln.split("\t") for ln in lines if ln and not ln.startswith("#")]
    by_pos: dict[tuple[str, str], int] = {}
    for r in rows:
        by_pos[(r[0], r[1])] = by_pos.get((r[0], r[1]), 0) + 1
    picks = [r for r in rows if by_pos[(r[0], r[1])] == 1 and len(r[3]) == 1
             and r[4] in ("A", "C", "G", "T")][:15]
    assert picks
    snps = pd.DataFrame([(f"rs{800000 + i}", r[0], int(r[1]), r[3], r[4], "G")
                         for i, r in enumerate(picks)],
                        columns=["rsid", "chrom", "pos", "ref", "alt", "gene"])
    out = snp_genotypes([sample("P1", exome_vcf=path)], snps).iloc[0]
    compared = 0
    for i, r in enumerate(picks):
        got = out[f"rs{800000 + i}_alt_count"]
        if not usable:
            assert pd.isna(got) and pd.isna(out[f"rs{800000 + i}_source"]), (name, r[1])
            continue
        normal = r[9 + columns.index("NORMAL")]
        gt = normal.split(":")[r[8].split(":").index("GT")].replace("|", "/").split("/")
        want = None if "." in gt or len(gt) != 2 else gt.count("1")
        assert (pd.isna(got) if want is None else got == want), (name, r[1], got, want)
        if want is not None:
            assert out[f"rs{800000 + i}_source"] == "exome_normal"
            compared += 1
    assert compared > 0 or not usable
