"""Tests for haicpred.genomics.mutations and the shared haicpred.genomics.vcf helpers (real
files, no mocks)."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import pandas as pd
import pysam
import pysam.bcftools
import pytest

from haicpred.io.errors import InputError
from haicpred.io.resources import PANEL_COLUMNS
from haicpred.genomics.mutations import (AUDIT_COLUMNS, MIN_FILES_FOR_POOL, panel_mutations,
                                         summarise_audit)
from haicpred.genomics.vcf.access import index_path, open_vcf
from haicpred.genomics.vcf.evidence import is_reference_block_alt, is_symbolic
from haicpred.genomics.vcf.regions import contig_key
from realdata import REAL, needs_real

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
    with open_vcf(path) as handle:
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
            if contig_key(r[0]) == contig_key(chrom) and start <= int(r[1]) <= end]


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


# ----------------------------------------------------------------------------------------------
# The audit lists every panel-region record of every sample
# ----------------------------------------------------------------------------------------------

def test_audit_has_a_row_for_every_record_and_sample(tmp_path):
    base = write_vcf(tmp_path / "base.vcf", standard_records(), samples=("NORMAL", "TUMOR"))
    lines = base.read_text().splitlines()
    extra = [
        # a reference call (ALT .) and a gVCF reference block: listed, never counted
        "chr1\t9700800\t.\tA\t.\t.\tPASS\t.\tGT\t0/0\t0/0",
        "chr1\t9700900\t.\tA\t<NON_REF>\t.\t.\t.\tGT\t0/0\t0/0",
        # a deletion starting before HNRNPCL4 and reaching into it (END)
        "chr1\t13163000\t.\tA\t<DEL>\t.\tPASS\tEND=13164100\tGT\t0/0\t0/1",
    ]
    order = {"chr1": 0, "chr5": 1}
    body = sorted([line for line in lines if not line.startswith("#")] + extra,
                  key=lambda line: (order[line.split("\t")[0]], int(line.split("\t")[1])))
    plain = tmp_path / "all.vcf"
    plain.write_text("\n".join([line for line in lines if line.startswith("#")] + body) + "\n")
    bgzf = tmp_path / "all.vcf.gz"
    pysam.tabix_compress(str(plain), str(bgzf))
    inside = {int(line.split("\t")[1]) for line in body} - {5_000_000}
    for path, kwargs in ((plain, {}), (bgzf, {"index_dir": tmp_path / "idx"})):
        samples = [sample("S1", path, "TUMOR"), sample("S2", path, "NORMAL")]
        features, audit = panel_mutations(samples, make_panel(), **kwargs)
        got = {(r.sample_id, int(r.pos), r.alt): r.reason for r in audit.itertuples()}
        assert got[("S1", 9_700_800, ".")] == "no_alt_allele"
        assert got[("S1", 9_700_900, "<NON_REF>")] == "reference_block"
        assert got[("S1", 13_163_000, "<DEL>")] == "symbolic_allele"
        for sid in ("S1", "S2"):
            assert {int(p) for p in audit.loc[audit["sample_id"] == sid, "pos"]} == inside
        assert set(audit["decision"]) == {"kept", "dropped"}
        assert audit["reason"].notna().all()
        assert features.set_index("sample_id").loc["S1", "panel_mutations"] == 4
        summary = summarise_audit(audit)
        assert list(summary)[0] == "kept" and summary["kept"] == 4
        assert summary["symbolic_allele"] == 2 * 3  # <DEL>, *, <DEL> for each sample
        assert summary["no_alt_allele"] == summary["reference_block"] == 2


REAL_AUDITED = [
    "somatic_real/vcf2maf__test_delly.vcf",  # structural variants only: all symbolic
    "annotated_sv/vembrane__test_stop__test.vcf",  # Manta SVs and breakends
    "somatic_real/vcf2maf__test_pindel.vcf",
    "somatic_real/vcf2maf__test_radia.vcf",
    "somatic_real/deepvariant_re__golden.postprocess_somatic_tumor_single_site_output.vcf",
    "gvcf/deepvariant_re__golden.postprocess_gvcf_output.EXCERPT_first44.g.vcf",
    "gvcf/r__banded_gvcf.vcf",
]


@needs_real
@pytest.mark.parametrize("rel", REAL_AUDITED)
def test_real_audit_lists_every_record_of_every_sample(rel):
    path = REAL / rel
    rows = _data_rows(path)
    chrom = rows[0][0]
    expected = {(int(r[1]), r[3]) for r in rows if r[0] == chrom}
    columns = _columns(path)
    panel = make_panel([("G", chrom, 1, 300_000_000, "+", "t")])
    samples = [sample(f"S{i}", path, c) for i, c in enumerate(columns)]
    _, audit = panel_mutations(samples, panel)
    for i in range(len(columns)):
        mine = audit[audit["sample_id"] == f"S{i}"]
        assert {(int(p), ref) for p, ref in zip(mine["pos"], mine["ref"])} == expected
    symbolic = {(int(r[1]), alt) for r in rows if r[0] == chrom for alt in r[4].split(",")
                if is_symbolic(alt) and not is_reference_block_alt(alt)}
    flagged = {(int(p), a) for p, a, why in zip(audit["pos"], audit["alt"], audit["reason"])
               if why == "symbolic_allele"}
    assert flagged == symbolic
    if "delly" in rel:
        assert summarise_audit(audit) == {"symbolic_allele": len(audit)}


# ----------------------------------------------------------------------------------------------
# Indexes built under index_dir
# ----------------------------------------------------------------------------------------------

def _result(path, **kwargs):
    return panel_mutations([sample("S1", path)], make_panel(), **kwargs)


def _assert_same(a, b):
    pd.testing.assert_frame_equal(a[0], b[0])
    pd.testing.assert_frame_equal(a[1], b[1])


@pytest.mark.parametrize("mode", ["vcf.gz", "bcf"])
def test_index_is_built_under_index_dir_never_beside_the_input(tmp_path, mode):
    inputs = tmp_path / "in"
    inputs.mkdir()
    path = write_vcf(inputs / f"s.{mode}", standard_records(), mode=mode)
    index_dir = tmp_path / "results" / "index" / "b1"
    streamed = _result(path)
    fetched = _result(path, index_dir=index_dir)
    _assert_same(streamed, fetched)
    assert os.listdir(inputs) == [path.name]
    (built,) = os.listdir(index_dir)
    assert built == os.path.basename(index_path(path, index_dir))
    with open_vcf(path, index_dir=index_dir) as handle:
        assert handle.indexed and handle.index_file == str(index_dir / built)
    # reused, not rebuilt
    stamp = os.stat(index_dir / built).st_mtime_ns
    _assert_same(streamed, _result(path, index_dir=index_dir))
    assert os.stat(index_dir / built).st_mtime_ns == stamp
    assert os.listdir(index_dir) == [built]


def test_index_beside_the_input_is_used_and_nothing_built(tmp_path):
    path = write_vcf(tmp_path / "s.vcf.gz", standard_records(), mode="vcf.gz", index=True)
    index_dir = tmp_path / "idx"
    with open_vcf(path, index_dir=index_dir) as handle:
        assert handle.indexed and handle.index_file is None
    _assert_same(_result(path), _result(path, index_dir=index_dir))
    assert not index_dir.exists()


def test_replaced_input_gets_a_new_index(tmp_path):
    path = write_vcf(tmp_path / "s.vcf.gz", standard_records(), mode="vcf.gz")
    index_dir = tmp_path / "idx"
    first = _result(path, index_dir=index_dir)
    old_index = index_path(path, index_dir)
    fewer = [r for r in standard_records() if r["pos"] != 9_700_000]
    write_vcf(path, fewer, mode="vcf.gz")
    os.utime(path, ns=(1, 1))  # even an older time stamp
    second = _result(path, index_dir=index_dir)
    assert index_path(path, index_dir) != old_index
    assert len(second[1]) == len(first[1]) - 1
    _assert_same(second, _result(path))


def test_files_that_cannot_be_indexed_are_streamed(tmp_path):
    text = ("##fileformat=VCFv4.2\n"
            '##FORMAT=<ID=GT,Number=1,Type=String,Description="GT">\n'
            "##contig=<ID=chr1>\n##contig=<ID=chr5>\n"
            "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tTUMOR\n"
            "chr5\t177090000\t.\tA\tG\t.\tPASS\t.\tGT\t0/1\n"
            "chr1\t9700000\t.\tC\tT\t.\tPASS\t.\tGT\t0/1\n"  # unsorted: tabix refuses
            "chr1\t9600000\t.\tC\tT\t.\tPASS\t.\tGT\t0/1\n")
    plain = tmp_path / "unsorted.vcf"
    plain.write_text(text)
    bgzf = tmp_path / "unsorted.vcf.gz"
    pysam.tabix_compress(str(plain), str(bgzf))
    gz = tmp_path / "plain.vcf.gz"
    gz.write_bytes(gzip.compress(text.encode()))
    index_dir = tmp_path / "idx"
    for path in (plain, bgzf, gz):
        features, audit = _result(path, index_dir=index_dir)
        assert features.loc[0, "panel_mutations"] == 2
        with open_vcf(path, index_dir=index_dir) as handle:
            assert not handle.indexed
    assert not index_dir.exists() or os.listdir(index_dir) == []


def test_damaged_bgzf_with_index_dir_is_refused_naming_the_file(tmp_path):
    good = write_vcf(tmp_path / "good.vcf.gz", standard_records(), mode="vcf.gz")
    broken = tmp_path / "broken.vcf.gz"
    broken.write_bytes(good.read_bytes()[:300])
    with pytest.raises(InputError) as err:
        panel_mutations([sample("C", broken)], make_panel(), index_dir=tmp_path / "idx")
    (problem,) = err.value.problems
    assert problem.file == str(broken) and problem.where == "sample C"
    assert "not a readable VCF/BCF" in problem.message


def test_fetch_and_stream_agree_on_duplicates_and_spanning_records(tmp_path):
    two_gene_panel = make_panel(PANEL_ROWS + [("GAP_NEIGHBOUR", "chr1", 9_729_200, 9_729_300,
                                               "+", "test")])
    call = {"TUMOR": tumour_call(20, 10), "NORMAL": NORMAL_REF}
    recs = [
        dict(chrom="chr1", pos=9_700_000, ref="C", alts=("T",), calls=call),
        dict(chrom="chr1", pos=9_700_000, ref="C", alts=("T",), calls=call),  # same line twice
        # a deletion from PIK3CD across the gap into the next region
        dict(chrom="chr1", pos=9_729_000, ref="A" * 250, alts=("A",), calls=call),
    ]
    path = write_vcf(tmp_path / "dup.vcf.gz", recs, mode="vcf.gz")
    streamed = panel_mutations([sample("S1", path)], two_gene_panel)
    fetched = panel_mutations([sample("S1", path)], two_gene_panel, index_dir=tmp_path / "i")
    _assert_same(streamed, fetched)
    audit = fetched[1]
    assert (audit["pos"] == 9_700_000).sum() == 2
    assert sorted(audit.loc[audit["pos"] == 9_729_000, "gene"]) == ["GAP_NEIGHBOUR", "PIK3CD"]


# ----------------------------------------------------------------------------------------------
# Workers: same result, same order, whatever their number
# ----------------------------------------------------------------------------------------------

def _batch_of_files(tmp_path, n=14):
    samples = []
    for i in range(n):
        recs = standard_records()
        if i % 3 == 0:
            recs = [r for r in recs if r["pos"] != 9_700_000]
        if i % 4 == 1:
            recs = [dict(r, chrom=r["chrom"].removeprefix("chr")) for r in recs]
            contigs = ("1", "5")
        else:
            contigs = ("chr1", "chr5")
        mode = ("vcf", "vcf.gz", "bcf")[i % 3]
        path = write_vcf(tmp_path / f"f{i:02d}.{mode}", recs, mode=mode, contigs=contigs,
                         index=(i % 2 == 0 and mode != "vcf"))
        samples.append(sample(f"P{(n - i):02d}", path))
    renamed = [dict(r, calls={{"TUMOR": "T1", "NORMAL": "T2"}[k]: v
                              for k, v in r["calls"].items()}) for r in standard_records()]
    multi = write_vcf(tmp_path / "multi.vcf", renamed, samples=("T1", "T2"), mode="vcf")
    samples += [sample("M1", multi, "T1"), sample("M2", multi, "T2"), sample("NOVCF")]
    return samples


def test_threads_give_identical_identically_ordered_results(tmp_path):
    samples = _batch_of_files(tmp_path)
    assert len({s["exome_vcf"] for s in samples if s["exome_vcf"]}) >= MIN_FILES_FOR_POOL
    reference = panel_mutations(samples, make_panel(), index_dir=tmp_path / "idx1")
    for threads in (2, 3, 8):
        got = panel_mutations(samples, make_panel(), threads=threads,
                              index_dir=tmp_path / f"idx{threads}")
        _assert_same(reference, got)
    assert len(reference[0]) == len(samples)


def test_threads_report_the_same_problems_in_the_same_order(tmp_path):
    samples = _batch_of_files(tmp_path)
    samples[3] = sample(samples[3]["sample_id"], tmp_path / "missing.vcf")
    garbage = tmp_path / "garbage.vcf"
    garbage.write_text("not a VCF\n")
    samples[9] = sample(samples[9]["sample_id"], garbage)
    messages = []
    for threads in (1, 2, 4):
        with pytest.raises(InputError) as err:
            panel_mutations(samples, make_panel(), threads=threads)
        messages.append([str(p) for p in err.value.problems])
    assert messages[0] == messages[1] == messages[2] and len(messages[0]) == 2
    with pytest.raises(ValueError):
        panel_mutations(samples, make_panel(), threads=0)


@needs_real
def test_indexed_file_without_contig_lines_is_fully_read(tmp_path):
    # pcgr files have no ##contig lines: fetch must still find every panel record, whether
    # haicpred builds the index or the user's .tbi sits beside the file
    rel = "somatic_real/pcgr__T001-COAD.grch38.vcf.gz"
    panel = make_panel([("ARID1B", "chr6", 156776026, 157210779, "+", "t"),
                        ("X1", "X", 2_000_000, 3_000_000, "+", "t"),
                        ("ALL19", "19", 1, 60_000_000, "+", "t")])
    streamed = panel_mutations([_real_sample(rel)], panel)
    assert len(streamed[1]) > 100
    _assert_same(streamed, panel_mutations([_real_sample(rel)], panel,
                                           index_dir=tmp_path / "idx"))
    beside = tmp_path / "copy.vcf.gz"
    beside.write_bytes((REAL / rel).read_bytes())
    pysam.tabix_index(str(beside), preset="vcf")
    _assert_same(streamed, panel_mutations([sample("R1", beside)], panel))


# ----------------------------------------------------------------------------------------------
# Caller conventions found by the bcftools comparison (tests/genomics/test_bcftools_agreement.py)
# ----------------------------------------------------------------------------------------------

def test_pcgr_info_tvaf_tdp_in_a_one_column_file(tmp_path):
    text = ("##fileformat=VCFv4.2\n"
            '##INFO=<ID=TVAF,Number=.,Type=Float,Description="Allelic fraction of alternative '
            'allele in tumor">\n'
            '##INFO=<ID=TDP,Number=.,Type=Integer,Description="Read depth across variant site '
            'in tumor">\n'
            '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
            '##FORMAT=<ID=DPT,Number=1,Type=Integer,Description="Depth (tumor)">\n'
            '##FORMAT=<ID=ADT,Number=.,Type=String,Description="Allelic depths (tumor)">\n'
            "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tT_N\n"
            # GT 1/1 and TVAF 1.0, but ADT written the wrong way round (as in PCGR's T001-COAD)
            "1\t9700000\t.\tA\tG\t.\tPASS\tTVAF=1.0;TDP=130\tGT:DPT:ADT\t1/1:130:130,0\n"
            "1\t9700100\t.\tA\tG\t.\tPASS\tTVAF=0.03;TDP=100\tGT:DPT:ADT\t0/1:100:97,3\n"
            "1\t9700200\t.\tA\tG\t.\tPASS\tTVAF=0.5;TDP=8\tGT:DPT:ADT\t0/1:80:40,40\n")
    path = tmp_path / "pcgr.vcf"
    path.write_text(text)
    _, audit = panel_mutations([sample("S", path)], make_panel())
    assert list(audit["reason"]) == ["pass", "vaf<0.05", "depth<10"]
    assert list(audit["vaf"]) == pytest.approx([1.0, 0.03, 0.5])
    assert list(audit["depth"]) == [130, 100, 8]


@needs_real
def test_real_caller_conventions():
    def row(rel, chrom, pos, tumour=None):
        panel = make_panel([("G", chrom, pos, pos, "+", "t")])
        _, audit = panel_mutations([_real_sample(rel, tumour)], panel)
        return audit[audit["pos"] == pos].iloc[0]

    # PCGR: INFO TVAF/TDP (PTEN in T001-COAD, GRCh37; its GRCh38 twin is kept too)
    r = row("somatic_real/pcgr__T001-COAD.grch37.vcf.gz", "10", 89_720_716)
    assert r.reason == "pass" and r.vaf == 1.0 and r.depth == 130
    assert row("somatic_real/pcgr__T001-COAD.grch38.vcf.gz", "10", 87_960_959).reason == "pass"
    # Strelka 1 indels whose TAR/TIR the header does not declare: tier-1 TIR/(TAR+TIR)
    r = row("somatic_real/vcf2maf__test_strelka.vcf", "9", 21_971_153)
    assert r.reason == "pass" and r.vaf == pytest.approx(1.0) and r.depth == 59
    # Complete Genomics: SS written as a word; GT after other FORMAT keys; VAF 1 - CGA_RDP/DP
    cg = "somatic_real/r__chr7-sub.vcf.gz"
    assert row(cg, "7", 55_003_988, "HCC1187-H-200-37-ASM-T1").reason == "not_somatic:germline"
    r = row(cg, "7", 55_234_578, "HCC1187-H-200-37-ASM-T1")  # GT 1|., DP 292, CGA_RDP 41
    assert r.reason == "pass" and r.vaf == pytest.approx((292 - 41) / 292) and r.depth == 292


def test_unwritable_index_dir_falls_back_to_streaming(tmp_path):
    path = write_vcf(tmp_path / "s.vcf.gz", standard_records(), mode="vcf.gz")
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("")
    _assert_same(_result(path), _result(path, index_dir=blocker / "index"))
