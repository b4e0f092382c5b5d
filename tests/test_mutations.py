"""Tests for haicpred.mutations and the shared haicpred.vcf helpers (real files, no mocks)."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import pandas as pd
import pysam
import pysam.bcftools
import pytest

from haicpred import vcf
from haicpred.errors import InputError
from haicpred.resources import PANEL_COLUMNS
from haicpred.mutations import AUDIT_COLUMNS, panel_mutations

pysam.set_verbosity(0)

PANEL_ROWS = [
    ("PIK3CD", "chr1", 9629889, 9729114, "+", "test"),
    ("HNRNPCL4", "chr1", 13163914, 13165631, "-", "test"),
    ("FGFR4", "chr5", 177086905, 177098144, "+", "test"),
]

CSQ_DESC = ("Consequence annotations from Ensembl VEP. "
            "Format: Allele|Consequence|IMPACT|SYMBOL|Gene")
FORMATS = [("GT", 1, "String"), ("AD", "R", "Integer"), ("DP", 1, "Integer"),
           ("AF", "A", "Float")]


def make_panel(rows=PANEL_ROWS) -> pd.DataFrame:
    """A panel frame as `read_panel` returns it."""
    return pd.DataFrame(rows, columns=PANEL_COLUMNS).astype({"start": "int64", "end": "int64"})


def sample(sid, path=None, tumor=None) -> dict:
    return dict(sample_id=sid, batch="b1", exome_vcf=None if path is None else str(path),
                tumor_sample=tumor, genotype_vcf=None, genotype_sample=sid)


def write_vcf(path: Path, records: list[dict], *, samples=("NORMAL", "TUMOR"),
              contigs=("chr1", "chr5"), meta=(), formats=FORMATS, info=(("CSQ", ".",
              "String", CSQ_DESC),), mode="vcf", index=False) -> Path:
    """Write a VCF/BCF with pysam. records: chrom, pos, ref, alts, filter, info, calls."""
    header = pysam.VariantHeader()
    for c in contigs:
        header.contigs.add(c, length=250_000_000)
    for key, value in meta:
        header.add_meta(key, value=value)
    for name in ("weak_evidence", "LowQual"):
        header.filters.add(name, None, None, name)
    for key, number, typ in formats:
        header.formats.add(key, number, typ, key)
    header.info.add("END", 1, "Integer", "End position (needed by pysam for symbolic ALTs)")
    for key, number, typ, desc in info:
        header.info.add(key, number, typ, desc)
    for s in samples:
        header.add_sample(s)
    wmode = {"vcf": "w", "vcf.gz": "wz", "bcf": "wb"}[mode]
    order = {c: i for i, c in enumerate(contigs)}
    records = sorted(records, key=lambda r: (order[r["chrom"]], r["pos"]))
    with pysam.VariantFile(str(path), wmode, header=header) as out:
        for r in records:
            rec = out.new_record(contig=r["chrom"], start=r["pos"] - 1,
                                 alleles=(r["ref"], *r["alts"]))
            if r.get("filter"):
                rec.filter.add(r["filter"])
            for key, value in r.get("info", {}).items():
                rec.info[key] = value
            for name, call in r.get("calls", {}).items():
                for key, value in call.items():
                    rec.samples[name][key] = value
            out.write(rec)
    if index:
        if mode == "vcf.gz":
            pysam.tabix_index(str(path), preset="vcf", force=True)
        elif mode == "bcf":
            pysam.bcftools.index(str(path))
    return path


def tumour_call(ref_reads, alt_reads, gt=(0, 1), dp=None):
    return {"GT": gt, "AD": (ref_reads, *alt_reads) if isinstance(alt_reads, tuple)
            else (ref_reads, alt_reads), "DP": dp if dp is not None else ref_reads + (
                sum(alt_reads) if isinstance(alt_reads, tuple) else alt_reads)}


NORMAL_REF = {"GT": (0, 0), "AD": (30, 0), "DP": 30}


def standard_records():
    def csq(*entries):
        return {"CSQ": tuple(entries)}
    return [
        # kept: missense in PIK3CD
        dict(chrom="chr1", pos=9_700_000, ref="C", alts=("T",), filter="PASS",
             info=csq("T|missense_variant|MODERATE|PIK3CD|ENSG1"),
             calls={"NORMAL": NORMAL_REF, "TUMOR": tumour_call(20, 10)}),
        # non-PASS
        dict(chrom="chr1", pos=9_700_100, ref="G", alts=("A",), filter="weak_evidence",
             info=csq("A|missense_variant|MODERATE|PIK3CD|ENSG1"),
             calls={"NORMAL": NORMAL_REF, "TUMOR": tumour_call(20, 10)}),
        # VAF below 0.05
        dict(chrom="chr1", pos=9_700_200, ref="G", alts=("A",),
             info=csq("A|missense_variant|MODERATE|PIK3CD|ENSG1"),
             calls={"NORMAL": NORMAL_REF, "TUMOR": tumour_call(98, 2)}),
        # depth below 10
        dict(chrom="chr1", pos=9_700_300, ref="G", alts=("A",),
             info=csq("A|missense_variant|MODERATE|PIK3CD|ENSG1"),
             calls={"NORMAL": NORMAL_REF, "TUMOR": tumour_call(3, 3)}),
        # synonymous
        dict(chrom="chr1", pos=9_700_400, ref="G", alts=("A",),
             info=csq("A|synonymous_variant|LOW|PIK3CD|ENSG1"),
             calls={"NORMAL": NORMAL_REF, "TUMOR": tumour_call(20, 10)}),
        # multi-allelic: tumour carries only T (0/2); G is missense, T stop_gained
        dict(chrom="chr1", pos=9_700_500, ref="A", alts=("G", "T"),
             info=csq("G|missense_variant|MODERATE|PIK3CD|ENSG1",
                      "T|stop_gained|HIGH|PIK3CD|ENSG1"),
             calls={"NORMAL": {"GT": (0, 0), "AD": (30, 0, 0), "DP": 30},
                    "TUMOR": {"GT": (0, 2), "AD": (20, 0, 10), "DP": 30}}),
        # symbolic allele
        dict(chrom="chr1", pos=9_700_600, ref="A", alts=("<DEL>",),
             calls={"TUMOR": {"GT": (0, 1)}}),
        # spanning deletion allele '*' next to a real one
        dict(chrom="chr1", pos=9_700_700, ref="A", alts=("C", "*"),
             info=csq("C|missense_variant|MODERATE|PIK3CD|ENSG1"),
             calls={"TUMOR": {"GT": (1, 2), "AD": (0, 12, 12), "DP": 24}}),
        # outside every panel region: not in the audit
        dict(chrom="chr1", pos=5_000_000, ref="A", alts=("C",),
             info=csq("C|missense_variant|MODERATE|OTHER|ENSG9"),
             calls={"TUMOR": tumour_call(10, 10)}),
        # HNRNPCL4: the tumour genotype lacks the alt
        dict(chrom="chr1", pos=13_164_000, ref="C", alts=("G",),
             info=csq("G|missense_variant|MODERATE|HNRNPCL4|ENSG2"),
             calls={"NORMAL": NORMAL_REF, "TUMOR": {"GT": (0, 0), "AD": (40, 0), "DP": 40}}),
        # FGFR4, unannotated: passes the consequence test
        dict(chrom="chr5", pos=177_090_000, ref="T", alts=("TA",), filter="PASS",
             calls={"NORMAL": NORMAL_REF, "TUMOR": tumour_call(30, 12)}),
    ]


EXPECTED_REASONS = {
    (9_700_000, "T"): "pass",
    (9_700_100, "A"): "filter:weak_evidence",
    (9_700_200, "A"): "vaf<0.05",
    (9_700_300, "A"): "depth<10",
    (9_700_400, "A"): "not_protein_altering:synonymous_variant",
    (9_700_500, "G"): "genotype_lacks_alt",
    (9_700_500, "T"): "pass",
    (9_700_600, "<DEL>"): "symbolic_allele",
    (9_700_700, "*"): "symbolic_allele",
    (9_700_700, "C"): "pass",
    (13_164_000, "G"): "genotype_lacks_alt",
    (177_090_000, "TA"): "pass",
}


# ----------------------------------------------------------------------------------------------
# Decisions, on every file flavour (indexed fetch and streaming must agree)
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("mode,index", [("vcf", False), ("vcf.gz", True), ("vcf.gz", False),
                                        ("bcf", False), ("bcf", True)])
def test_decisions_and_features(tmp_path, mode, index):
    path = write_vcf(tmp_path / f"s1.{mode}", standard_records(), mode=mode, index=index)
    before = sorted(os.listdir(tmp_path))
    features, audit = panel_mutations([sample("S1", path), sample("S0")], make_panel())
    assert sorted(os.listdir(tmp_path)) == before  # nothing written beside the input

    assert list(audit.columns) == AUDIT_COLUMNS
    got = {(int(r.pos), r.alt): r.reason for r in audit.itertuples()}
    assert got == EXPECTED_REASONS
    assert set(audit["decision"]) == {"kept", "dropped"}
    assert (audit["decision"] == "kept").sum() == 4
    # sorted by sample_id, chrom, pos, alt
    keys = list(zip(audit["sample_id"], audit["chrom"], audit["pos"], audit["alt"]))
    assert keys == sorted(keys)

    kept = audit[audit["pos"] == 9_700_000].iloc[0]
    assert kept["vaf"] == pytest.approx(10 / 30)
    assert kept["depth"] == 30
    assert kept["consequence"] == "missense_variant"
    assert kept["filter"] == "PASS"
    assert audit[audit["pos"] == 177_090_000].iloc[0]["filter"] == "PASS"
    assert audit[audit["pos"] == 9_700_200].iloc[0]["filter"] == "."

    assert list(features.columns) == [
        "sample_id", "PIK3CD_mutated", "PIK3CD_n_mutations", "HNRNPCL4_mutated",
        "HNRNPCL4_n_mutations", "FGFR4_mutated", "FGFR4_n_mutations", "panel_mutations",
        "fohaic1_mutation_positive"]
    assert list(features["sample_id"]) == ["S0", "S1"]
    assert all(str(features[c].dtype) == "Int64" for c in features.columns[1:])
    s0 = features.iloc[0]
    assert all(pd.isna(s0[c]) for c in features.columns[1:])  # no exome VCF: missing, not 0
    s1 = features.iloc[1].to_dict()
    assert s1["PIK3CD_n_mutations"] == 3 and s1["PIK3CD_mutated"] == 1
    assert s1["HNRNPCL4_n_mutations"] == 0 and s1["HNRNPCL4_mutated"] == 0
    assert s1["FGFR4_n_mutations"] == 1
    assert s1["panel_mutations"] == 4 and s1["fohaic1_mutation_positive"] == 1


def test_thresholds_are_parameters(tmp_path):
    path = write_vcf(tmp_path / "s.vcf", standard_records())
    _, audit = panel_mutations([sample("S1", path)], make_panel(), min_vaf=0.01, min_depth=5)
    got = {(int(r.pos), r.alt): r.reason for r in audit.itertuples()}
    assert got[(9_700_200, "A")] == "pass"
    assert got[(9_700_300, "A")] == "pass"
    _, audit = panel_mutations([sample("S1", path)], make_panel(), min_vaf=0.5, min_depth=50)
    got = {(int(r.pos), r.alt): r.reason for r in audit.itertuples()}
    assert got[(9_700_000, "T")] == "vaf<0.5"
    assert got[(9_700_700, "C")] == "depth<50"
    with pytest.raises(ValueError):
        panel_mutations([sample("S1", path)], make_panel(), min_vaf=2)


def test_no_exome_vcf_gives_empty_rows_and_empty_audit():
    features, audit = panel_mutations([sample("B"), sample("A")], make_panel())
    assert list(features["sample_id"]) == ["A", "B"]
    assert features.drop(columns="sample_id").isna().all().all()
    assert len(audit) == 0 and list(audit.columns) == AUDIT_COLUMNS


# ----------------------------------------------------------------------------------------------
# Tumour column
# ----------------------------------------------------------------------------------------------

def _one_record(tumour_col, other_col):
    return [dict(chrom="chr1", pos=9_700_000, ref="C", alts=("T",), filter="PASS",
                 calls={tumour_col: tumour_call(10, 10), other_col: NORMAL_REF})]


def _kept(path, tumor=None):
    features, _ = panel_mutations([sample("S", path, tumor)], make_panel())
    return int(features.loc[0, "panel_mutations"])


def test_tumour_column_from_sheet_tumour_first(tmp_path):
    path = write_vcf(tmp_path / "t.vcf", _one_record("T_A", "N_A"), samples=("T_A", "N_A"))
    assert _kept(path, "T_A") == 1
    assert _kept(path, "N_A") == 0  # the normal is 0/0
    with pytest.raises(InputError) as err:
        _kept(path, "T_B")
    text = str(err.value)
    assert "T_B" in text and "T_A, N_A" in text and str(path) in text


def test_tumour_column_from_tumor_sample_header(tmp_path):
    path = write_vcf(tmp_path / "t.vcf", _one_record("TUM", "NOR"), samples=("NOR", "TUM"),
                     meta=[("tumor_sample", "TUM"), ("normal_sample", "NOR")])
    assert _kept(path) == 1


def test_tumour_column_from_normal_sample_header(tmp_path):
    path = write_vcf(tmp_path / "t.vcf", _one_record("X1", "X2"), samples=("X1", "X2"),
                     meta=[("normal_sample", "X2")])
    assert _kept(path) == 1


def test_tumour_column_tumor_normal_names(tmp_path):
    # MuSE/Delly write TUMOR before NORMAL; Strelka/VarScan NORMAL before TUMOR
    for order in (("TUMOR", "NORMAL"), ("NORMAL", "TUMOR")):
        path = write_vcf(tmp_path / f"{order[0]}.vcf", _one_record("TUMOR", "NORMAL"),
                         samples=order)
        assert _kept(path) == 1


def test_tumour_column_single_and_ambiguous(tmp_path):
    single = write_vcf(tmp_path / "one.vcf", [dict(
        chrom="chr1", pos=9_700_000, ref="C", alts=("T",), calls={"NA12878": tumour_call(9, 9)})],
        samples=("NA12878",))
    assert _kept(single) == 1
    two = write_vcf(tmp_path / "two.vcf", _one_record("S1", "S2"), samples=("S1", "S2"))
    with pytest.raises(InputError) as err:
        _kept(two)
    assert "cannot tell which column is the tumour" in str(err.value)
    assert "S1, S2" in str(err.value)


# ----------------------------------------------------------------------------------------------
# Contig naming, indexes, compression
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("index", [False, True])
def test_contig_naming_reconciled(tmp_path, index):
    recs = [dict(r, chrom=r["chrom"].removeprefix("chr")) for r in standard_records()]
    path = write_vcf(tmp_path / "nochr.vcf.gz", recs, contigs=("1", "5"), mode="vcf.gz",
                     index=index)
    _, audit = panel_mutations([sample("S1", path)], make_panel())
    assert {(int(r.pos), r.alt): r.reason for r in audit.itertuples()} == EXPECTED_REASONS
    assert set(audit["chrom"]) == {"chr1", "chr5"}  # the panel's spelling

    no_chr_panel = make_panel([(g, c.removeprefix("chr"), s, e, st, src)
                               for g, c, s, e, st, src in PANEL_ROWS])
    path2 = write_vcf(tmp_path / "chr.vcf.gz", standard_records(), mode="vcf.gz", index=index)
    _, audit2 = panel_mutations([sample("S1", path2)], no_chr_panel)
    assert {(int(r.pos), r.alt): r.reason for r in audit2.itertuples()} == EXPECTED_REASONS


def test_vcf_without_contig_lines_and_plain_gzip(tmp_path):
    text = ("##fileformat=VCFv4.2\n"
            '##FORMAT=<ID=GT,Number=1,Type=String,Description="GT">\n'
            '##FORMAT=<ID=AD,Number=R,Type=Integer,Description="AD">\n'
            "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tNORMAL\tTUMOR\n"
            "1\t9700000\t.\tC\tT\t.\tPASS\t.\tGT:AD\t0/0:20,0\t0/1:10,10\n"
            "5\t177090000\t.\tA\tG\t.\t.\t.\tGT:AD\t0/0:20,0\t0/1:15,5\n")
    plain = tmp_path / "plain.vcf"
    plain.write_text(text)
    gz = tmp_path / "plain.vcf.gz"
    gz.write_bytes(gzip.compress(text.encode()))  # ordinary gzip, not BGZF
    before = sorted(os.listdir(tmp_path))
    for path in (plain, gz):
        features, audit = panel_mutations([sample("S1", path)], make_panel())
        assert list(audit["reason"]) == ["pass", "pass"]
        assert features.loc[0, "panel_mutations"] == 2
    assert sorted(os.listdir(tmp_path)) == before


def test_csi_index_is_used(tmp_path):
    path = write_vcf(tmp_path / "c.vcf.gz", standard_records(), mode="vcf.gz")
    pysam.tabix_index(str(path), preset="vcf", force=True, csi=True)
    with vcf.open_vcf(path) as handle:
        assert handle.indexed
    _, audit = panel_mutations([sample("S1", path)], make_panel())
    assert {(int(r.pos), r.alt): r.reason for r in audit.itertuples()} == EXPECTED_REASONS


# ----------------------------------------------------------------------------------------------
# Caller conventions
# ----------------------------------------------------------------------------------------------

def test_varscan_freq_rd_ad_and_somatic_status(tmp_path):
    formats = [("GT", 1, "String"), ("DP", 1, "Integer"), ("RD", 1, "Integer"),
               ("AD", 1, "Integer"), ("FREQ", 1, "String")]
    info = [("SS", 1, "String", "Somatic status of variant (0=Reference,1=Germline,2=Somatic,"
             "3=LOH, or 5=Unknown)")]
    recs = [
        dict(chrom="chr1", pos=9_700_000, ref="C", alts=("T",), filter="PASS", info={"SS": "2"},
             calls={"NORMAL": {"GT": (0, 0), "DP": 40, "RD": 40, "AD": 0, "FREQ": "0%"},
                    "TUMOR": {"GT": (0, 1), "DP": 54, "RD": 50, "AD": 4, "FREQ": "7.41%"}}),
        dict(chrom="chr1", pos=9_700_100, ref="C", alts=("T",), filter="PASS", info={"SS": "2"},
             calls={"TUMOR": {"GT": (0, 1), "DP": 100, "RD": 97, "AD": 3, "FREQ": "3%"}}),
        dict(chrom="chr1", pos=9_700_200, ref="C", alts=("T",), filter="PASS", info={"SS": "1"},
             calls={"TUMOR": {"GT": (0, 1), "DP": 100, "RD": 50, "AD": 50, "FREQ": "50%"}}),
        dict(chrom="chr1", pos=9_700_300, ref="C", alts=("T",), filter="PASS", info={"SS": "3"},
             calls={"TUMOR": {"GT": (1, 1), "DP": 100, "RD": 0, "AD": 100, "FREQ": "100%"}}),
    ]
    path = write_vcf(tmp_path / "varscan.vcf", recs, formats=formats, info=info)
    _, audit = panel_mutations([sample("S1", path)], make_panel())
    assert list(audit["reason"]) == ["pass", "vaf<0.05", "not_somatic:germline",
                                     "not_somatic:loh"]
    assert audit.loc[0, "vaf"] == pytest.approx(0.0741)
    assert audit.loc[0, "depth"] == 54


def test_strelka_tier_counts_without_gt(tmp_path):
    formats = [("DP", 1, "Integer")] + [(b + "U", 2, "Integer") for b in "ACGT"] + [
        ("TAR", 2, "Integer"), ("TIR", 2, "Integer")]
    recs = [
        dict(chrom="chr1", pos=9_700_000, ref="C", alts=("A",), filter="PASS",
             calls={"NORMAL": {"DP": 50, "AU": (0, 0), "CU": (50, 50), "GU": (0, 0),
                               "TU": (0, 0)},
                    "TUMOR": {"DP": 66, "AU": (25, 27), "CU": (39, 39), "GU": (0, 0),
                              "TU": (0, 0)}}),
        dict(chrom="chr1", pos=9_700_100, ref="C", alts=("A",), filter="PASS",
             calls={"TUMOR": {"DP": 60, "AU": (0, 1), "CU": (60, 60), "GU": (0, 0),
                              "TU": (0, 0)}}),
        dict(chrom="chr1", pos=9_700_200, ref="GC", alts=("G",), filter="PASS",
             calls={"TUMOR": {"DP": 94, "TAR": (13, 13), "TIR": (78, 78)}}),
    ]
    path = write_vcf(tmp_path / "strelka.vcf", recs, formats=formats, info=())
    _, audit = panel_mutations([sample("S1", path)], make_panel())
    assert list(audit["reason"]) == ["pass", "genotype_lacks_alt", "pass"]
    assert audit.loc[0, "vaf"] == pytest.approx(25 / 64)
    assert audit.loc[0, "depth"] == 66
    assert audit.loc[2, "vaf"] == pytest.approx(78 / 91)


def test_snpeff_ann_and_gene_matching(tmp_path):
    desc = ("Functional annotations: 'Allele | Annotation | Annotation_Impact | Gene_Name | "
            "Gene_ID | Feature_Type | Feature_ID | Transcript_BioType | Rank | HGVS.c | HGVS.p'")
    recs = [
        # missense only in another gene overlapping the region; PIK3CD entry is intronic
        dict(chrom="chr1", pos=9_700_000, ref="C", alts=("T",),
             info={"ANN": ("T|missense_variant|MODERATE|OTHER|X|transcript|T1|protein_coding"
                           "|1/2|c.1C>T|p.A1V",
                           "T|intron_variant|MODIFIER|PIK3CD|Y|transcript|T2|protein_coding"
                           "|1/2|c.1+5C>T|")},
             calls={"TUMOR": tumour_call(20, 10)}),
        dict(chrom="chr1", pos=9_700_100, ref="C", alts=("T",),
             info={"ANN": ("T|stop_gained&splice_region_variant|HIGH|PIK3CD|Y|transcript|T2"
                           "|protein_coding|1/2|c.2C>T|p.Q2*",)},
             calls={"TUMOR": tumour_call(20, 10)}),
    ]
    path = write_vcf(tmp_path / "ann.vcf", recs, info=(("ANN", ".", "String", desc),))
    _, audit = panel_mutations([sample("S1", path)], make_panel())
    assert list(audit["reason"]) == ["not_protein_altering:intron_variant", "pass"]
    assert audit.loc[1, "consequence"] == "stop_gained&splice_region_variant"


def test_vep_trimmed_indel_allele(tmp_path):
    # VEP drops the first base shared by all alleles: CA>C is "-", CA>CAAA is "AAA"
    recs = [dict(chrom="chr1", pos=9_700_000, ref="CA", alts=("C", "CAAA", "CAG"),
                 info={"CSQ": ("-|frameshift_variant|HIGH|PIK3CD|E",
                               "AAA|inframe_insertion|MODERATE|PIK3CD|E")},
                 calls={"TUMOR": {"GT": (1, 2), "AD": (0, 15, 15, 0), "DP": 30}})]
    path = write_vcf(tmp_path / "indel.vcf", recs)
    _, audit = panel_mutations([sample("S1", path)], make_panel())
    assert dict(zip(audit["alt"], audit["consequence"])) == {
        "C": "frameshift_variant", "CAAA": "inframe_insertion", "CAG": None}
    # an ALT without its own annotation is treated as unannotated, not given the others'
    assert dict(zip(audit["alt"], audit["reason"])) == {
        "C": "pass", "CAAA": "pass", "CAG": "genotype_lacks_alt"}


def test_csq_allele_of_mixed_snv_indel_record(tmp_path):
    # REF A, ALT G,AT: VEP keeps "AT" (not all alleles share the first base); some tools write
    # the per-allele trim "T". Both must tie the entry to the insertion only.
    for ins_allele in ("AT", "T"):
        recs = [dict(chrom="chr1", pos=9_700_000, ref="A", alts=("G", "AT"),
                     info={"CSQ": ("G|synonymous_variant|LOW|PIK3CD|E",
                                   f"{ins_allele}|frameshift_variant|HIGH|PIK3CD|E")},
                     calls={"TUMOR": {"GT": (1, 2), "AD": (10, 10, 10), "DP": 30}})]
        path = write_vcf(tmp_path / f"mixed_{ins_allele}.vcf", recs)
        _, audit = panel_mutations([sample("S1", path)], make_panel())
        assert dict(zip(audit["alt"], audit["reason"])) == {
            "G": "not_protein_altering:synonymous_variant", "AT": "pass"}


# ----------------------------------------------------------------------------------------------
# Errors
# ----------------------------------------------------------------------------------------------

def test_errors_are_collected_across_samples(tmp_path):
    two = write_vcf(tmp_path / "two.vcf", _one_record("S1", "S2"), samples=("S1", "S2"))
    broken = tmp_path / "broken.vcf.gz"
    good = write_vcf(tmp_path / "good.vcf.gz", standard_records(), mode="vcf.gz")
    broken.write_bytes(good.read_bytes()[:300])  # truncated BGZF
    garbage = tmp_path / "garbage.vcf"
    garbage.write_text("this is not a VCF\n")
    samples = [sample("A", tmp_path / "missing.vcf"), sample("B", two),
               sample("C", broken), sample("D", garbage), sample("E", good)]
    with pytest.raises(InputError) as err:
        panel_mutations(samples, make_panel())
    problems = err.value.problems
    by_sample = {p.where: p for p in problems}
    assert set(by_sample) == {"sample A", "sample B", "sample C", "sample D"}
    assert "not found" in by_sample["sample A"].message
    assert "cannot tell which column" in by_sample["sample B"].message
    for key in ("sample C", "sample D"):
        assert "not a readable VCF/BCF" in by_sample[key].message
        assert by_sample[key].hint  # says what to do
    assert by_sample["sample C"].file == str(broken)


def test_shared_multisample_file_is_read_for_each_tumour(tmp_path):
    recs = [dict(chrom="chr1", pos=9_700_000, ref="C", alts=("T",), filter="PASS",
                 calls={"T1": tumour_call(10, 10), "T2": {"GT": (0, 0), "AD": (20, 0),
                                                          "DP": 20}})]
    path = write_vcf(tmp_path / "multi.vcf", recs, samples=("T1", "T2", "N"))
    features, audit = panel_mutations([sample("P1", path, "T1"), sample("P2", path, "T2")],
                                      make_panel())
    assert list(features["panel_mutations"]) == [1, 0]
    assert list(audit["reason"]) == ["pass", "genotype_lacks_alt"]


# ----------------------------------------------------------------------------------------------
# Real files from real callers (../shared/realdata/vcf)
# ----------------------------------------------------------------------------------------------

def realdata_dir() -> Path:
    env = os.environ.get("HAICPRED_REALDATA")
    base = Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "realdata"
    return base / "vcf" if (base / "vcf").is_dir() else base


REAL = realdata_dir()
needs_real = pytest.mark.skipif(not (REAL / "MANIFEST.tsv").is_file(),
                                reason=f"real VCF files not found at {REAL} "
                                       "(set HAICPRED_REALDATA)")


def _text_lines(path: Path) -> list[str]:
    opener = gzip.open if path.read_bytes()[:2] == b"\x1f\x8b" else open
    with opener(path, "rt", errors="replace") as handle:
        return handle.read().splitlines()


def _data_rows(path: Path) -> list[list[str]]:
    return [line.split("\t") for line in _text_lines(path) if line and not line.startswith("#")]


def _columns(path: Path) -> list[str]:
    for line in _text_lines(path):
        if line.startswith("#CHROM"):
            return line.rstrip("\n").split("\t")[9:]
    return []


def _real_sample(rel: str, tumor=None, sid="R1"):
    return sample(sid, REAL / rel, tumor)


@needs_real
@pytest.mark.parametrize("name", sorted(p.name for p in (REAL / "malformed").glob("*"))
                         if (REAL / "malformed").is_dir() else [])
def test_real_malformed_files_give_input_error(name):
    path = REAL / "malformed" / name
    columns = _columns(path)
    chroms = {row[0] for row in _data_rows(path) if row and row[0]}
    panel = make_panel([("G", c, 1, 300_000_000, "+", "t") for c in sorted(chroms)] or
                       [("G", "chr1", 1, 300_000_000, "+", "t")])
    with pytest.raises(InputError) as err:
        panel_mutations([sample("M1", path, columns[0] if columns else None)], panel)
    problems = err.value.problems
    assert len(problems) == 1
    assert problems[0].file == str(path)
    assert problems[0].where == "sample M1"
    assert "not a readable VCF/BCF" in problems[0].message
    assert name in str(err.value)


def _expect_window(rel, chrom, start, end):
    """Records of a real file inside [start, end] on `chrom`, parsed as text (not by pysam)."""
    return [r for r in _data_rows(REAL / rel)
            if vcf.contig_key(r[0]) == vcf.contig_key(chrom) and start <= int(r[1]) <= end]


@needs_real
def test_real_mutect2_tumour_only_chrM():
    rel = "somatic_real/varcode__mutect2_example.vcf"
    panel = make_panel([("MTGENE", "MT", 100, 350, "+", "t")])  # the file says chrM
    expected = [(int(r[1]), alt) for r in _expect_window(rel, "MT", 100, 350)
                for alt in r[4].split(",")]
    features, audit = panel_mutations([_real_sample(rel)], panel)
    assert sorted(zip(audit["pos"], audit["alt"])) == sorted(expected)
    assert len(expected) == 7  # 152, 263, 301, 302 (three ALTs, GT 0/1/2/3), 310
    assert set(audit["reason"]) == {"pass"}
    assert set(audit["chrom"]) == {"MT"}
    rows = {(int(r.pos), r.alt): r for r in audit.itertuples()}
    # VAF from FORMAT AF (per ALT); depth from the sum of AD (no FORMAT DP in this file)
    assert rows[(152, "C")].vaf == pytest.approx(0.998) and rows[(152, "C")].depth == 1559
    assert rows[(302, "C")].vaf == pytest.approx(0.128) and rows[(302, "C")].depth == 522
    assert features.loc[0, "MTGENE_n_mutations"] == 7


@needs_real
def test_real_strelka_normal_first_tier_counts():
    rel = "somatic_real/vcf2maf__test_strelka.vcf"
    assert _columns(REAL / rel) == ["NORMAL", "TUMOR"]
    panel = make_panel([("A", "chr1", 12_170_000, 12_171_000, "+", "t"),
                        ("B", "chr1", 118_166_000, 118_167_000, "+", "t")])
    _, audit = panel_mutations([_real_sample(rel)], panel)
    rows = {int(r.pos): r for r in audit.itertuples()}
    assert set(rows) == {12_170_228, 118_166_116}
    # 12170228 C>T: tumour TU tier1 57 of 57; 118166116 C>A: tumour AU 25 of (25 + 39)
    assert rows[12_170_228].vaf == pytest.approx(1.0) and rows[12_170_228].depth == 57
    assert rows[118_166_116].vaf == pytest.approx(25 / 64) and rows[118_166_116].depth == 66
    assert {r.reason for r in rows.values()} == {"pass"}


@needs_real
def test_real_varscan_freq_and_germline_status():
    rel = "somatic_real/vcf2maf__test_varscan.vcf"
    panel = make_panel([("A", "chr1", 1_991_000, 2_600_000, "+", "t")])
    expected = _expect_window(rel, "1", 1_991_000, 2_600_000)
    _, audit = panel_mutations([_real_sample(rel)], panel)
    assert len(audit) == len(expected)
    rows = {int(r.pos): r for r in audit.itertuples()}
    # SS=1 germline calls carry FILTER PASS in raw VarScan output
    assert rows[1_991_014].reason == "not_somatic:germline"
    # 2584408 C>A, SS=2, tumour FREQ 30.77% over DP 13
    assert rows[2_584_408].reason == "pass"
    assert rows[2_584_408].vaf == pytest.approx(0.3077) and rows[2_584_408].depth == 13
    for r in expected:
        info = dict(kv.split("=", 1) for kv in r[7].split(";") if "=" in kv)
        want = {"1": "not_somatic:germline", "3": "not_somatic:loh"}.get(info.get("SS"))
        if want:
            assert rows[int(r[1])].reason == want


@needs_real
def test_real_bcf_and_muse_tumour_first():
    rel = "bcf/htslib__vcf_file.bcf"
    panel = make_panel([("A", "chr1", 3_000_000, 3_100_000, "+", "t")])
    _, audit = panel_mutations([_real_sample(rel, tumor="B")], panel)
    rows = {(int(r.pos), r.alt): r.reason for r in audit.itertuples()}
    assert rows[(3_000_150, "T")] == "pass"  # GT 0/1, no VAF or depth written
    assert rows[(3_062_915, "G")] == "filter:q10"

    rel = "somatic_real/vcf2maf__test_muse.vcf"
    assert _columns(REAL / rel)[0] == "TUMOR"
    panel = make_panel([("A", "chr1", 8_715_000, 8_716_000, "+", "t")])
    _, audit = panel_mutations([_real_sample(rel)], panel)
    assert list(audit["pos"]) == [8_715_966]
    row = audit.iloc[0]
    assert row["reason"] == "pass" and row["vaf"] == pytest.approx(12 / 142)


@needs_real
def test_real_plain_gzip_files():
    rel = "germline_multisample/python__gatk.vcf.gz"
    path = REAL / rel
    assert path.read_bytes()[:2] == b"\x1f\x8b"
    columns = _columns(path)
    rows = _data_rows(path)
    start, end = int(rows[0][1]), int(rows[9][1])
    panel = make_panel([("A", rows[0][0], start, end, "+", "t")])
    before = sorted(os.listdir(path.parent))
    _, audit = panel_mutations([_real_sample(rel, tumor=columns[0])], panel)
    assert sorted(os.listdir(path.parent)) == before
    n_alts = sum(len(r[4].split(",")) for r in rows
                 if r[0] == rows[0][0] and start <= int(r[1]) <= end)
    assert len(audit) == n_alts

    sites_only = REAL / "annotated_csq" / "python__gnomad.vcf.gz"
    with pytest.raises(InputError, match="sites-only"):
        panel_mutations([sample("G1", sites_only)],
                        make_panel([("A", "22", 1, 50_000_000, "+", "t")]))


@needs_real
def test_real_annotated_files():
    # SnpEff ANN (and the same annotations stored under a CSQ key)
    for rel in ("annotated_ann/vembrane__test_context__test.vcf",
                "annotated_csq/vembrane__test_ann_csq_annotation_key__test.vcf"):
        panel = make_panel([("CDH2", "18", 27_900_000, 28_100_000, "+", "t")])
        _, audit = panel_mutations([_real_sample(rel)], panel)
        rows = {int(r.pos): r for r in audit.itertuples()}
        assert rows[27_963_423].reason == "not_protein_altering:synonymous_variant"
        assert rows[28_036_487].reason == "pass"
        assert rows[28_036_487].consequence.startswith("stop_gained")
    # legacy SnpEff EFF in a BCF
    rel = "annotated_eff/python3__test.snpeff.bcf"
    panel = make_panel([("OR4F5", "1", 69_000, 70_000, "+", "t")])
    _, audit = panel_mutations([_real_sample(rel, tumor=_columns(
        REAL / "annotated_eff/python3__test.snpeff.vcf")[1])], panel)
    assert len(audit) > 0
    assert set(audit["consequence"]) <= {"SYNONYMOUS_CODING", "NON_SYNONYMOUS_CODING"}
