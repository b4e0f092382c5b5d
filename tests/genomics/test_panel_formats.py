"""Panels as labs have them (haicpred.io.resources, haicpred.io.panel_bed) through
haicpred.genomics.mutations.panel_mutations: a BED panel and its TSV equivalent give
byte-identical mutation features and audit; a gene without coordinates on the build (HNRNPCL4 on
GRCh37) has empty columns and is left out of the panel totals. Simulated demo VCFs and real
third-party VCFs (../shared/realdata/vcf; skipped cleanly when absent), no mocks."""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd
import pysam
import pytest

from haicpred.genomics.mutations import panel_mutations
from haicpred.io.resources import read_panel
from haicpred.io.samples import batch_records, load_sample_sheet
from haicpred.io.tables import write_tsv
from haicpred.simulate import simulate_cohort
from realdata import REAL, needs_real

pysam.set_verbosity(0)

REPO = Path(__file__).resolve().parents[2]
RESOURCES = REPO / "resources"
HEADER = "gene\tchrom\tstart\tend\tstrand\tsource\n"


def as_bed(panel: pd.DataFrame, pieces: int = 1) -> str:
    """The panel's regions as BED lines (0-based, half-open), each region cut into `pieces`
    contiguous targets, with the extra columns a vendor file carries."""
    lines = ['track name="targets" description="capture kit"\n', "browser hide all\n"]
    for r in panel.itertuples(index=False):
        bounds = [int(r.start) - 1 + (int(r.end) - int(r.start) + 1) * i // pieces
                  for i in range(pieces + 1)]
        for i, (a, b) in enumerate(zip(bounds, bounds[1:]), start=1):
            lines.append(f"{r.chrom}\t{a}\t{b}\t{r.gene}\t0\t{r.strand or '.'}\t"
                         f"{r.gene}_target{i}\n")
    return "".join(lines)


def bytes_of(result: tuple[pd.DataFrame, pd.DataFrame], folder: Path, name: str
             ) -> tuple[bytes, bytes]:
    """(features, audit) as the panel_mutations rule writes them."""
    features, audit = result
    write_tsv(features, folder / f"{name}.features.tsv")
    write_tsv(audit, folder / f"{name}.audit.tsv")
    return ((folder / f"{name}.features.tsv").read_bytes(),
            (folder / f"{name}.audit.tsv").read_bytes())


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> list[dict]:
    """A small simulated cohort (GRCh38 TSV panel): its sheet rows with exome VCFs."""
    out = tmp_path_factory.mktemp("panel_demo") / "demo"
    simulate_cohort(40, 2, 11, out, RESOURCES / "panel_GRCh38.tsv",
                    RESOURCES / "snps_GRCh38.tsv")
    sheet = load_sample_sheet(out / "samples.tsv")
    return [r for b in sorted(sheet["batch"].unique()) for r in batch_records(sheet, b)]


@pytest.mark.parametrize("pieces", [1, 7])
def test_bed_panel_gives_byte_identical_features_and_audit_on_demo_vcfs(demo, tmp_path,
                                                                       pieces):
    """The resource panel as BED (one line a gene, or each gene cut into 7 exon-like targets)
    against the TSV itself."""
    tsv = RESOURCES / "panel_GRCh38.tsv"
    bed = tmp_path / "panel.bed"
    bed.write_text(as_bed(read_panel(tsv), pieces))
    expected = bytes_of(panel_mutations(demo, read_panel(tsv), genome_build="GRCh38"),
                        tmp_path, "tsv")
    got = bytes_of(panel_mutations(demo, read_panel(bed), genome_build="GRCh38"),
                   tmp_path, "bed")
    assert got == expected
    audit = pd.read_csv(tmp_path / "tsv.audit.tsv", sep="\t")
    assert (audit["decision"] == "kept").sum() > 5  # the comparison covers kept calls
    assert set(audit["gene"]) == {"PIK3CD", "HNRNPCL4", "FGFR4", "ARID1B"}


def _snvs(path: Path, contig: str, count: int) -> list[int]:
    """Positions of the first `count` single-base records on `contig` (text, not pysam)."""
    opener = gzip.open if path.suffix == ".gz" else open
    positions = []
    with opener(path, "rt") as handle:
        for line in handle:
            fields = line.split("\t")
            if (not line.startswith("#") and fields[0] == contig and len(fields[3]) == 1
                    and all(len(a) == 1 for a in fields[4].split(","))):
                positions.append(int(fields[1]))
    return sorted(set(positions))[:count]


@needs_real
def test_bed_edges_and_equivalence_on_real_vcfs(tmp_path):
    """Real GRCh37 calls (vcf2maf's Mutect test file, and TCGA COAD calls with three ARID1B
    mutations): BED targets ending exactly on a call (`pos-1, pos` holds it) or starting just
    after it (`pos, pos+50` does not) give the same bytes as the 1-based TSV, and the edges
    fall where the half-open rule says."""
    mutect = REAL / "somatic_real" / "vcf2maf__test_mutect.vcf"
    coad = REAL / "somatic_real" / "pcgr__T001-COAD.grch37.vcf.gz"
    positions = _snvs(mutect, "1", 6)
    assert len(positions) == 6
    bed_lines, tsv_rows = [], []
    for pos in positions:
        bed_lines += [f"1\t{pos - 1}\t{pos}\tEDGEIN\n", f"1\t{pos}\t{pos + 50}\tEDGEOUT\n"]
        tsv_rows += [f"EDGEIN\t1\t{pos}\t{pos}\t\t\n", f"EDGEOUT\t1\t{pos + 1}\t{pos + 50}\t\t\n"]
    resource = read_panel(RESOURCES / "panel_GRCh37.tsv")  # ARID1B for the COAD calls
    bed_lines.append(as_bed(resource.dropna(subset=["chrom"]), 3))
    bed = tmp_path / "panel.bed"
    bed.write_text("".join(bed_lines))
    tsv = tmp_path / "panel.tsv"
    tsv.write_text(HEADER + "".join(tsv_rows) + "".join(
        f"{r.gene}\t{r.chrom}\t{r.start}\t{r.end}\t{r.strand}\t\n"
        for r in resource.dropna(subset=["chrom"]).itertuples(index=False)))
    samples = [dict(sample_id=sid, batch="b1", exome_vcf=str(path), tumor_sample=None,
                    genotype_vcf=None, genotype_sample=sid)
               for sid, path in (("COAD", coad), ("MUTECT", mutect))]
    expected = bytes_of(panel_mutations(samples, read_panel(tsv), genome_build="GRCh37"),
                        tmp_path, "tsv")
    got = bytes_of(panel_mutations(samples, read_panel(bed), genome_build="GRCh37"),
                   tmp_path, "bed")
    assert got == expected
    audit = pd.read_csv(tmp_path / "bed.audit.tsv", sep="\t")
    edge = audit[audit["sample_id"] == "MUTECT"]
    assert sorted(edge.loc[edge["gene"] == "EDGEIN", "pos"].unique()) == positions
    assert not set(edge.loc[edge["gene"] == "EDGEOUT", "pos"]) & set(positions)
    coad_rows = audit[(audit["sample_id"] == "COAD") & (audit["gene"] == "ARID1B")]
    assert coad_rows["pos"].tolist() == [157522303, 157527648, 157528290]


@needs_real
def test_gene_not_assessed_on_grch37_is_empty_not_zero():
    """HNRNPCL4 in the GRCh37 resource panel: its columns are empty for every sample with an
    exome (and without one), the totals count the assessed genes (the COAD file's three ARID1B
    calls, checked by hand: chr6 157522303, 157527648, 157528290, all PASS)."""
    coad = REAL / "somatic_real" / "pcgr__T001-COAD.grch37.vcf.gz"
    samples = [dict(sample_id="COAD", batch="b1", exome_vcf=str(coad), tumor_sample=None,
                    genotype_vcf=None, genotype_sample="COAD"),
               dict(sample_id="NOEXOME", batch="b1", exome_vcf=None, tumor_sample=None,
                    genotype_vcf=None, genotype_sample="NOEXOME")]
    features, audit = panel_mutations(samples, read_panel(RESOURCES / "panel_GRCh37.tsv"),
                                      genome_build="GRCh37")
    assert list(features.columns) == [
        "sample_id", "PIK3CD_mutated", "PIK3CD_n_mutations", "HNRNPCL4_mutated",
        "HNRNPCL4_n_mutations", "FGFR4_mutated", "FGFR4_n_mutations", "ARID1B_mutated",
        "ARID1B_n_mutations", "panel_mutations", "fohaic1_mutation_positive"]
    row = features.set_index("sample_id").loc["COAD"]
    assert pd.isna(row["HNRNPCL4_mutated"]) and pd.isna(row["HNRNPCL4_n_mutations"])
    assert (row["ARID1B_n_mutations"], row["panel_mutations"],
            row["fohaic1_mutation_positive"]) == (3, 3, 1)
    assert (row["PIK3CD_n_mutations"], row["FGFR4_n_mutations"]) == (0, 0)  # 0: assessed
    assert features.set_index("sample_id").loc["NOEXOME"].isna().all()
    assert "HNRNPCL4" not in set(audit["gene"])
    assert audit["reason"].tolist() == ["pass"] * 3


def test_simulator_skips_genes_without_coordinates(tmp_path):
    """A panel row without coordinates plants nothing; the simulated VCFs are those of the
    same panel without that row (the random streams do not depend on it)."""
    panel = tmp_path / "panel.tsv"
    panel.write_text((RESOURCES / "panel_GRCh38.tsv").read_text()
                     + "TP53\t\t\t\t\tnot on this build (test)\n")
    simulate_cohort(12, 1, 4, tmp_path / "with", panel, RESOURCES / "snps_GRCh38.tsv")
    simulate_cohort(12, 1, 4, tmp_path / "without", RESOURCES / "panel_GRCh38.tsv",
                    RESOURCES / "snps_GRCh38.tsv")
    with_files = sorted(p.relative_to(tmp_path / "with") for p in
                        (tmp_path / "with").rglob("*") if p.is_file())
    assert with_files
    for rel in with_files:
        assert (tmp_path / "with" / rel).read_bytes() == (tmp_path / "without" / rel
                                                          ).read_bytes(), rel


def test_simulator_reads_a_bed_panel(tmp_path):
    """A vendor BED (no strand) drives the simulator: its planted mutations are found in the
    BED's genes (the annotation is drawn on + where the panel gives no strand)."""
    bed = tmp_path / "panel.bed"
    bed.write_text(as_bed(read_panel(RESOURCES / "panel_GRCh38.tsv").assign(strand=""), 2))
    simulate_cohort(30, 1, 6, tmp_path / "demo", bed, RESOURCES / "snps_GRCh38.tsv")
    sheet = load_sample_sheet(tmp_path / "demo" / "samples.tsv")
    features, audit = panel_mutations(batch_records(sheet, "batch1"), read_panel(bed),
                                      genome_build="GRCh38")
    assert (features["fohaic1_mutation_positive"] == 1).sum() >= 3
    assert set(audit.loc[audit["decision"] == "kept", "gene"]) <= {
        "PIK3CD", "HNRNPCL4", "FGFR4", "ARID1B"}
