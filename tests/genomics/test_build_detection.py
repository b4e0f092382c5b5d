"""Genome-build check of exome VCFs (haicpred.genomics.vcf.build.infer_build / build_problem and
the `genome_build` of panel_mutations), on small synthetic headers and on real third-party files,
including the same tumour (TCGA T001-COAD, from PCGR) called on GRCh37 and lifted to GRCh38."""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd
import pysam
import pytest

from haicpred.io.errors import InputError
from haicpred.genomics.mutations import panel_mutations
from haicpred.genomics.vcf.access import open_vcf
from haicpred.genomics.vcf.build import BuildEvidence, infer_build
from haicpred.io.resources import PANEL_COLUMNS, read_panel
from realdata import REAL, needs_real

pysam.set_verbosity(0)

REPO = Path(__file__).resolve().parents[2]




def panel(rows) -> pd.DataFrame:
    return pd.DataFrame([(*r, "test") for r in rows], columns=PANEL_COLUMNS).astype(
        {"start": "int64", "end": "int64"})


def sample(sid, path, tumor=None) -> dict:
    return dict(sample_id=sid, batch="b1", exome_vcf=str(path), tumor_sample=tumor,
                genotype_vcf=None, genotype_sample=sid)


# ----------------------------------------------------------------------------------------------
# Synthetic headers
# ----------------------------------------------------------------------------------------------

def header_file(tmp_path: Path, meta: list[str], name="h.vcf", record=None) -> Path:
    lines = ["##fileformat=VCFv4.2", *meta,
             '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
             "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tTUMOR"]
    if record:
        lines.append(record)
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def infer(tmp_path, meta) -> BuildEvidence | None:
    with open_vcf(header_file(tmp_path, meta)) as handle:
        return infer_build(handle.header)


@pytest.mark.parametrize("meta,build,evidence", [
    (["##contig=<ID=chr1,length=249250621>"], "GRCh37", "##contig chr1 length 249250621 is "
                                                        "GRCh37"),
    (["##contig=<ID=1,length=248956422>"], "GRCh38", "##contig 1 length 248956422 is GRCh38"),
    (["##contig=<ID=chrX,length=156040895>", "##contig=<ID=chr22,length=50818468>"], "GRCh38",
     "##contig chrX length 156040895 is GRCh38 (and 1 more ##contig lengths agree)"),
    # lengths beat text; a contig of neither build's length is ignored
    (["##reference=file:///ref/hg38.fa", "##contig=<ID=chr2,length=243199373>",
      "##contig=<ID=chrUn_gl000220,length=161802>"], "GRCh37", "chr2 length 243199373"),
    (["##reference=file:///bundle/human_g1k_v37.fasta"], "GRCh37", "human_g1k_v37.fasta names "
                                                                   "GRCh37"),
    (["##reference=/refs/hs37d5.fa.gz"], "GRCh37", "names GRCh37"),
    (["##reference=ucsc.hg19.fasta"], "GRCh37", "names GRCh37"),
    (["##assembly=GRCh37-lite"], "GRCh37", "##assembly=GRCh37-lite names GRCh37"),
    (["##reference=/gatk/Homo_sapiens_assembly38.fasta"], "GRCh38", "names GRCh38"),
    (["##reference=GRCh38_full_analysis_set_plus_decoy_hla.fa"], "GRCh38", "names GRCh38"),
    (["##reference=/ref/hs38DH.fa"], "GRCh38", "names GRCh38"),
    (["##contig=<ID=chr7,assembly=hg19>"], "GRCh37", "##contig chr7 assembly=hg19 names GRCh37"),
    (["##reference=1000GenomesPilot-NCBI36"], "NCBI36", "names NCBI36"),
    # CrossMap liftover lines: the calls are on the chain's target, whatever the source says
    (["##liftOverChainFile=/chains/hg19ToHg38.over.chain.gz"], "GRCh38",
     "lifts the calls over to hg38 (GRCh38)"),
    (["##liftOverFile=/chains/hg38ToHg19.over.chain.gz",
      "##new_reference_genome=/data/hg19/ucsc.hg19.fa"], "GRCh37", "to hg19 (GRCh37)"),
])
def test_infer_build(tmp_path, meta, build, evidence):
    found = infer(tmp_path, meta)
    assert found is not None and found.build == build
    assert evidence in found.evidence


@pytest.mark.parametrize("meta", [
    [],  # nothing said
    ["##contig=<ID=chr1,length=250000000>"],  # a length neither build has
    ["##contig=<ID=chrM,length=16569>"],  # mitochondria do not tell
    ["##reference=file:///data/genome.fa"],
    ["##reference=/refs/gencode.v37.fa"],  # a GENCODE release is not a build
    ["##reference=hg19.fa", "##assembly=GRCh38"],  # contradicts itself
    ["##contig=<ID=1,length=249250621>", "##contig=<ID=2,length=242193529>"],  # mixed lengths
    ["##source=GRCh37-caller", "##commandline=bwa mem hg19.fa"],  # not reference lines
])
def test_infer_build_unknown(tmp_path, meta):
    assert infer(tmp_path, meta) is None


RECORD = "chr1\t9700000\t.\tC\tT\t.\tPASS\t.\tGT\t0/1"
PANEL_38 = [("PIK3CD", "chr1", 9629889, 9729114, "+")]


def test_mismatch_is_refused_naming_file_sample_build_and_evidence(tmp_path):
    path = header_file(tmp_path, ["##contig=<ID=chr1,length=249250621>"], "t.vcf", RECORD)
    with pytest.raises(InputError) as err:
        panel_mutations([sample("P7", path)], panel(PANEL_38), genome_build="GRCh38")
    (problem,) = err.value.problems
    assert problem.file == str(path)
    assert problem.where == "sample P7"
    assert "looks like GRCh37, not GRCh38" in problem.message
    assert "##contig chr1 length 249250621 is GRCh37" in problem.message
    assert "genome_build: GRCh37" in problem.hint and "lift the VCF over to GRCh38" in problem.hint
    # the same file with the matching build, or without a build check, is read
    features, _ = panel_mutations([sample("P7", path)], panel(PANEL_38), genome_build="GRCh37")
    assert features.loc[0, "panel_mutations"] == 1
    features, _ = panel_mutations([sample("P7", path)], panel(PANEL_38))
    assert features.loc[0, "panel_mutations"] == 1


def test_unknown_build_is_accepted_and_every_mismatch_reported(tmp_path):
    unknown = header_file(tmp_path, ["##contig=<ID=chr1>"], "u.vcf", RECORD)
    for build in ("GRCh37", "GRCh38"):
        features, _ = panel_mutations([sample("U", unknown)], panel(PANEL_38),
                                      genome_build=build)
        assert features.loc[0, "panel_mutations"] == 1
    b37 = header_file(tmp_path, ["##reference=human_g1k_v37.fasta"], "a.vcf", RECORD)
    hg18 = header_file(tmp_path, ["##reference=hg18.fa"], "c.vcf", RECORD)
    with pytest.raises(InputError) as err:
        panel_mutations([sample("A", b37), sample("B", b37), sample("C", hg18),
                         sample("U", unknown)], panel(PANEL_38), genome_build="GRCh38")
    by_file = {p.file: p for p in err.value.problems}
    assert set(by_file) == {str(b37), str(hg18)}
    assert by_file[str(b37)].where == "samples A, B"
    assert "looks like NCBI36" in by_file[str(hg18)].message
    assert "genome_build: NCBI36" not in by_file[str(hg18)].hint  # no such panel to offer


def test_genome_build_must_be_a_known_build(tmp_path):
    path = header_file(tmp_path, [], "t.vcf", RECORD)
    with pytest.raises(ValueError, match="GRCh37, GRCh38"):
        panel_mutations([sample("S", path)], panel(PANEL_38), genome_build="hg38")


# ----------------------------------------------------------------------------------------------
# Real files
# ----------------------------------------------------------------------------------------------

REAL_BUILDS = {
    "somatic_real/pcgr__T001-COAD.grch37.vcf.gz": "GRCh37",  # only a CrossMap liftOverFile
    "somatic_real/pcgr__T001-COAD.grch38.vcf.gz": "GRCh38",  # ... and liftOverChainFile
    "somatic_real/pcgr__T001-BRCA.grch38.vcf.gz": "GRCh38",
    "somatic_real/vcf2maf__test_b38.vcf": "GRCh38",  # a single ##contig 21 length
    "somatic_real/vcf2maf__test_mutect.vcf": "GRCh37",
    "somatic_real/vcf2maf__test_pindel.vcf": "GRCh37",  # ##reference=HG19
    "somatic_real/varcode__mutect-example.vcf": "GRCh37",  # hg19 chr-prefixed lengths
    "somatic_real/varcode__strelka-example.vcf": "GRCh37",
    "somatic_real/varcode__mutect2_example.vcf": None,  # chrM only
    "somatic_real/r__chr7-sub.vcf.gz": "GRCh37",  # ##reference=...build37.fa.bz2
    "somatic_real/vcf2maf__test_strelka.vcf": None,  # says nothing
    "germline_multisample/vcztools__chr22.vcf.gz": "GRCh38",
    "annotated_sv/vembrane__test_stop__test.vcf": "GRCh38",
    "bcf/htslib__vcf_file.bcf": "GRCh37",  # one contig has a wrong length: ignored
}


@needs_real
@pytest.mark.parametrize("rel,build", sorted(REAL_BUILDS.items()))
def test_real_files_build(rel, build):
    with open_vcf(REAL / rel) as handle:
        found = infer_build(handle.header)
    assert (found.build if found else None) == build


@needs_real
@pytest.mark.parametrize("rel", ["somatic_real/varcode__mutect-example.vcf",
                                 "somatic_real/vcf2maf__test_b38.vcf"])
def test_real_file_refused_with_the_other_build(rel):
    with open_vcf(REAL / rel) as handle:
        own = infer_build(handle.header).build
    other = "GRCh38" if own == "GRCh37" else "GRCh37"
    contig = next(line for line in _lines(REAL / rel) if not line.startswith("#")).split("\t")[0]
    wide = panel([("G", contig, 1, 300_000_000, "+")])
    panel_mutations([sample("R", REAL / rel, _columns(REAL / rel)[-1])], wide,
                    genome_build=own)
    with pytest.raises(InputError, match=f"looks like {own}, not {other}"):
        panel_mutations([sample("R", REAL / rel, _columns(REAL / rel)[-1])], wide,
                        genome_build=other)


def _lines(path: Path) -> list[str]:
    opener = gzip.open if path.read_bytes()[:2] == b"\x1f\x8b" else open
    with opener(path, "rt") as handle:
        return handle.read().splitlines()


def _columns(path: Path) -> list[str]:
    return next(line for line in _lines(path) if line.startswith("#CHROM")).split("\t")[9:]


# ----------------------------------------------------------------------------------------------
# The same tumour on both builds
# ----------------------------------------------------------------------------------------------
#
# pcgr__T001-COAD.grch37.vcf.gz and .grch38.vcf.gz hold the same TCGA MC3 calls of one colon
# tumour (TCGA-A6-2686), on GRCh37 and lifted to GRCh38 with CrossMap: 3,317 and 3,313
# records, no ##contig lines, only the CrossMap header lines say which build each is on.
#
# Of the shipped FOHAIC-1 genes only ARID1B carries calls in this tumour (three). Its spans on
# both builds are ClinGen's (dosage.clinicalgenome.org, ARID1B, HGNC:18040: GRCh37/hg19
# chr6:157097160-157531913, GRCh38/hg38 chr6:156776026-157210779). The GRCh37 spans of PIK3CD,
# HNRNPCL4 and FGFR4 could not be verified from a stored source, so no GRCh37 panel is shipped
# and these three are not used here.
#
# To cover more than one gene, and the drop reasons, the other regions are windows around calls
# that can be paired between the two files: a record of one file pairs with the record of the
# other that has identical REF, ALT, INFO (TVAF, TDP, the callers) and tumour column, and each
# window holds the same paired records in the same order on both builds (asserted below). The
# windows are (GRCh37 anchor -> GRCh38 anchor of the same call) +-1 kb unless noted:
#   W_CHR19_CLUSTER  19:51021113 -> 50517856, -100 / +2,100 bp: four SNVs
#   W_CHR2_INDELS     2:5835335 -> 5695203: a TAAA>T deletion and two SNVs
#   W_CHR1_LOW_DEPTH  1:9188939 -> 9128880: tumour depth 8 (dropped, depth<10)
#   W_CHR4_LOW_VAF    4:47942829 -> 47940812: VAF 19/556 (dropped, vaf<0.05)
#   W_CHRX            X:2748149 -> 2830108
# plus an empty window (no calls on either build) next to ARID1B.

def _window(anchor37, anchor38, before=1000, after=1000):
    return (anchor37 - before, anchor37 + after), (anchor38 - before, anchor38 + after)


PAIRED_REGIONS = {  # gene -> chrom, (GRCh37 start, end), (GRCh38 start, end)
    "ARID1B": ("6", (157097160, 157531913), (156776026, 157210779)),
    "W_CHR19_CLUSTER": ("19", *_window(51021113, 50517856, 100, 2100)),
    "W_CHR2_INDELS": ("2", *_window(5835335, 5695203)),
    "W_CHR1_LOW_DEPTH": ("1", *_window(9188939, 9128880)),
    "W_CHR4_LOW_VAF": ("4", *_window(47942829, 47940812)),
    "W_CHRX": ("X", *_window(2748149, 2830108)),
    "W_EMPTY": ("6", (157600000, 157610000), (157280000, 157290000)),
}
COAD = {"GRCh37": "somatic_real/pcgr__T001-COAD.grch37.vcf.gz",
        "GRCh38": "somatic_real/pcgr__T001-COAD.grch38.vcf.gz"}


def paired_panel(build: str) -> pd.DataFrame:
    side = 1 if build == "GRCh37" else 2
    return panel([(gene, f"chr{spec[0]}", spec[side][0], spec[side][1], "+")
                  for gene, spec in PAIRED_REGIONS.items()])  # `chr` naming on purpose


def _records_in(rel: str, chrom: str, start: int, end: int) -> list[tuple]:
    out = []
    for line in _lines(REAL / rel):
        if line.startswith("#"):
            continue
        f = line.split("\t")
        if f[0] == chrom and start <= int(f[1]) <= end:
            out.append((f[3], f[4], f[7], f[9]))  # REF, ALT, INFO, tumour column
    return out


@needs_real
def test_paired_regions_hold_the_same_calls_on_both_builds():
    for gene, (chrom, r37, r38) in PAIRED_REGIONS.items():
        calls37 = _records_in(COAD["GRCh37"], chrom, *r37)
        calls38 = _records_in(COAD["GRCh38"], chrom, *r38)
        assert calls37 == calls38, gene
        assert (len(calls37) > 0) == (gene != "W_EMPTY"), gene


@needs_real
def test_same_tumour_same_result_on_both_builds():
    results = {}
    for build, rel in COAD.items():
        results[build] = panel_mutations([sample("T001", REAL / rel)], paired_panel(build),
                                         genome_build=build)
    f37, a37 = results["GRCh37"]
    f38, a38 = results["GRCh38"]
    pd.testing.assert_frame_equal(f37, f38)
    assert f37.loc[0, "ARID1B_n_mutations"] == 3
    assert f37.loc[0, "W_CHR19_CLUSTER_n_mutations"] == 4
    assert f37.loc[0, "W_CHR2_INDELS_n_mutations"] == 3
    assert f37.loc[0, "W_CHR1_LOW_DEPTH_mutated"] == 0
    assert f37.loc[0, "W_CHR4_LOW_VAF_mutated"] == 0
    assert f37.loc[0, "W_EMPTY_n_mutations"] == 0
    assert f37.loc[0, "panel_mutations"] == 11

    # the audits differ only in positions
    keys = ["gene", "ref", "alt", "consequence", "vaf", "depth", "filter", "decision", "reason"]

    def by_gene(audit):
        return audit.sort_values(["gene", "pos"], kind="mergesort")[keys].reset_index(drop=True)

    pd.testing.assert_frame_equal(by_gene(a37), by_gene(a38))
    assert set(a37["reason"]) == {"pass", "depth<10", "vaf<0.05"}

    # the shipped GRCh38 panel's ARID1B span gives the same ARID1B result
    shipped = read_panel(REPO / "resources" / "panel_GRCh38.tsv")
    f, _ = panel_mutations([sample("T001", REAL / COAD["GRCh38"])], shipped,
                           genome_build="GRCh38")
    assert f.loc[0, "ARID1B_n_mutations"] == 3
    assert f.loc[0, "panel_mutations"] == 3


@needs_real
@pytest.mark.parametrize("build", ["GRCh37", "GRCh38"])
def test_same_tumour_refused_with_the_other_build(build):
    other = "GRCh38" if build == "GRCh37" else "GRCh37"
    path = REAL / COAD[build]
    with pytest.raises(InputError) as err:
        panel_mutations([sample("T001", path)], paired_panel(other), genome_build=other)
    (problem,) = err.value.problems
    assert problem.file == str(path) and problem.where == "sample T001"
    assert f"looks like {build}, not {other}" in problem.message
    assert "over.chain" in problem.message  # the CrossMap line is the evidence
    assert f"genome_build: {build}" in problem.hint
