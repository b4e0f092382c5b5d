"""Tests for haicpred.io.resources: the panel and SNP tables (real files, no mocks)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd
import pytest

from haicpred.io.errors import InputError
from haicpred.io.resources import (PANEL_COLUMNS, SNP_COLUMNS, assessed_regions, check_panel,
                                   not_assessed_genes, not_assessed_message, read_panel,
                                   read_snps)

REPO = Path(__file__).resolve().parents[2]
PANEL_HEADER = "\t".join(PANEL_COLUMNS) + "\n"
SNP_HEADER = "\t".join(SNP_COLUMNS) + "\n"


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _problems(read, path: Path) -> dict[str, str]:
    """where -> message of every problem `read(path)` raises."""
    with pytest.raises(InputError) as err:
        read(path)
    problems = err.value.problems
    assert all(p.file == str(path) for p in problems)
    by_where = {p.where: p.message for p in problems}
    assert len(by_where) == len(problems), problems  # one problem per place
    return by_where


# ----------------------------------------------------------------------------------------------
# Panel
# ----------------------------------------------------------------------------------------------

def test_read_panel_resource():
    panel = read_panel(REPO / "resources" / "panel_GRCh38.tsv")
    assert list(panel.columns) == PANEL_COLUMNS
    assert list(panel["gene"])[:4] == ["PIK3CD", "HNRNPCL4", "FGFR4", "ARID1B"]  # file order
    assert panel["start"].dtype == "Int64" and panel["end"].dtype == "Int64"
    assert (panel["end"] >= panel["start"]).all()
    assert not_assessed_genes(panel) == {}  # every gene has a GRCh38 span
    regions = assessed_regions(panel)
    assert regions["start"].dtype == "int64" and regions.equals(
        panel.astype({"start": "int64", "end": "int64"}))
    assert set(panel["strand"]) <= {"+", "-"}


def test_read_panel_collects_every_problem(tmp_path):
    bad = _write(tmp_path / "panel.tsv", PANEL_HEADER
                 + "PIK3CD\tchr1\t9629889\t9729114\t+\tok\n"
                 + "\tchr1\tx\t5\t+\t\n"
                 + "FGFR4\tchr5\t200\t100\t*\t\n"
                 + "TP53\tchr17\t0\t7687490\t+\t\n")
    problems = _problems(read_panel, bad)
    assert set(problems) == {"row 2, column gene", "row 2, column start",
                             "row 3, column strand", "row 3, columns start, end",
                             "row 4, column start"}, problems
    assert "empty" in problems["row 2, column gene"]
    assert "'x'" in problems["row 2, column start"]
    assert "'*'" in problems["row 3, column strand"]
    assert problems["row 3, columns start, end"] == "end 100 is before start 200"
    assert "minimum" in problems["row 4, column start"]


def test_read_panel_source_optional_and_columns_closed(tmp_path):
    no_source = _write(tmp_path / "no_source.tsv",
                       "gene\tchrom\tstart\tend\tstrand\nTP53\tchr17\t7661779\t7687538\t-\n")
    panel = read_panel(no_source)
    assert list(panel.columns) == PANEL_COLUMNS
    assert panel.loc[0, "source"] == "" and panel.loc[0, "end"] == 7687538

    extra = _write(tmp_path / "extra.tsv", "gene\tchrom\tstart\tend\tstrand\tnote\n"
                   "TP53\tchr17\t1\t2\t-\thi\n")
    assert list(_problems(read_panel, extra)) == ["column note"]


def test_read_panel_refuses_unreadable_tables(tmp_path):
    missing = _write(tmp_path / "missing_cols.tsv", "gene\tchrom\tstart\nA\tchr1\t1\n")
    assert _problems(read_panel, missing) == {
        "header": "missing column(s): end"}
    assert _problems(read_panel, tmp_path / "nope.tsv") == {"file": "does not exist"}
    empty = _write(tmp_path / "empty.tsv", PANEL_HEADER)
    assert _problems(read_panel, empty) == {"file": "the panel lists no genes"}


def test_strand_optional_in_the_panel_tsv(tmp_path):
    without = _write(tmp_path / "no_strand.tsv", "gene\tchrom\tstart\tend\n"
                     "TP53\tchr17\t7661779\t7687538\n")
    panel = read_panel(without)
    assert list(panel.columns) == PANEL_COLUMNS and panel.loc[0, "strand"] == ""
    empty_cell = _write(tmp_path / "empty_strand.tsv", PANEL_HEADER
                        + "TP53\tchr17\t7661779\t7687538\t\tx\n")
    assert read_panel(empty_cell).loc[0, "strand"] == ""


# ----------------------------------------------------------------------------------------------
# Genes not assessed on this build (a row without coordinates)
# ----------------------------------------------------------------------------------------------

def test_gene_without_coordinates_is_not_assessed(tmp_path):
    path = _write(tmp_path / "panel.tsv", PANEL_HEADER
                  + "PIK3CD\t1\t9711790\t9789172\t+\tspan\n"
                  + "HNRNPCL4\t\t\t\t\tno valid span on this build\n")
    panel = read_panel(path)
    assert list(panel["gene"]) == ["PIK3CD", "HNRNPCL4"]  # kept, in file order
    assert panel["chrom"].isna().tolist() == [False, True]
    assert panel["start"].isna().tolist() == [False, True]
    assert not_assessed_genes(panel) == {"HNRNPCL4": "no valid span on this build"}
    assert assessed_regions(panel)[["gene", "start", "end"]].values.tolist() == [
        ["PIK3CD", 9711790, 9789172]]
    message = not_assessed_message(path, "GRCh37")
    assert message.startswith("not assessed on GRCh37: HNRNPCL4 -- no valid span on this build. ")
    assert not_assessed_message(REPO / "resources" / "panel_GRCh38.tsv", "GRCh38") is None


def test_rows_without_coordinates_must_be_whole_and_explained(tmp_path):
    bad = _write(tmp_path / "panel.tsv", PANEL_HEADER
                 + "PIK3CD\t1\t9711790\t9789172\t+\tspan\n"   # row 1: fine
                 + "FGFR4\t5\t\t\t+\tspan\n"                  # row 2: chrom without start, end
                 + "HNRNPCL4\t\t\t\t\t\n"                      # row 3: no reason
                 + "ARID1B\t6\t157099063\t157531913\t+\tspan\n"
                 + "ARID1B\t\t\t\t\tgone\n")                   # row 5: ARID1B has regions
    problems = _problems(read_panel, bad)
    assert set(problems) == {"row 2, column(s) start, end", "row 3, column source",
                             "rows 4, 5"}, problems
    assert problems["row 2, column(s) start, end"] == (
        "start and end empty while the other coordinates are given")
    assert problems["row 3, column source"] == "HNRNPCL4 has no coordinates and no reason"
    assert problems["rows 4, 5"] == "ARID1B has regions and also a row without coordinates"
    nothing = _write(tmp_path / "nothing.tsv", PANEL_HEADER + "HNRNPCL4\t\t\t\t\twhy\n")
    assert _problems(read_panel, nothing) == {"file": "no gene of the panel has coordinates"}


# ----------------------------------------------------------------------------------------------
# BED panels
# ----------------------------------------------------------------------------------------------

BED = ("browser position chr1:9629889-9729114\n"
       'track name="FOHAIC-1 targets" description="capture targets"\n'
       "# chrom\tstart\tend\tname\n"
       "chr1\t9629888\t9629999\tPIK3CD\t0\t+\textra\n"  # exon targets of one gene
       "chr1\t9700000\t9729114\tPIK3CD\n"
       "\n"
       "chr5 177086904 177098144 FGFR4\n")                    # space-separated


def test_bed_panel_reads_as_its_tsv_equivalent(tmp_path):
    bed = read_panel(_write(tmp_path / "panel.bed", BED))
    tsv = read_panel(_write(tmp_path / "panel.tsv", PANEL_HEADER
                            + "PIK3CD\tchr1\t9629889\t9629999\t\t\n"
                            + "PIK3CD\tchr1\t9700001\t9729114\t\t\n"
                            + "FGFR4\tchr5\t177086905\t177098144\t\t\n"))
    pd.testing.assert_frame_equal(bed, tsv)
    gz = tmp_path / "panel.BED.gz"
    with gzip.open(gz, "wt") as handle:
        handle.write(BED)
    pd.testing.assert_frame_equal(read_panel(gz), tsv)
    gzipped_as_bed = tmp_path / "gzipped.bed"  # compressed, named as plain: read by content
    gzipped_as_bed.write_bytes(gz.read_bytes())
    pd.testing.assert_frame_equal(read_panel(gzipped_as_bed), tsv)
    bom = tmp_path / "excel.bed"  # a spreadsheet's UTF-8 byte-order mark is not in chrom
    bom.write_bytes(b"\xef\xbb\xbf" + BED.split("\n", 3)[3].encode())
    pd.testing.assert_frame_equal(read_panel(bom), tsv)


def test_bed_single_base_is_start_minus_one(tmp_path):
    """`chr1 99 100 X` is the single base 100 (1-based): the half-open conversion."""
    panel = read_panel(_write(tmp_path / "one.bed", "chr1\t99\t100\tX\n"))
    assert (panel.loc[0, "start"], panel.loc[0, "end"]) == (100, 100)


def test_bed_problems_name_the_line_and_are_all_collected(tmp_path):
    bad = _write(tmp_path / "panel.bed", "track name=x\n"              # line 1: skipped
                 "chr1\t100\t200\n"                                # 2: no name column
                 "chr1\tten\t200\tPIK3CD\n"                        # 3: non-integer start
                 "chr1\t300\t300\tPIK3CD\n"                        # 4: empty interval
                 "chr1\t100\t200\t.\n"                             # 5: missing name
                 "chr1\t-5\t200\tA;B\n"                            # 6: negative, bad name
                 "chr5\t177086904\t177098144\tFGFR4\n")          # 7: fine
    problems = _problems(read_panel, bad)
    assert set(problems) == {"line 2", "line 3, column 2 (start)",
                             "line 4, columns 2-3 (start, end)", "line 5, column 4 (name)",
                             "line 6, column 2 (start)", "line 6, column 4 (name)"}, problems
    assert problems["line 2"].startswith("has 3 column(s)")
    assert problems["line 3, column 2 (start)"] == "'ten' is not a whole number"
    assert problems["line 4, columns 2-3 (start, end)"] == "end 300 is not after start 300"
    assert problems["line 5, column 4 (name)"] == "the name is missing"
    assert "'A;B' is not a gene symbol" in problems["line 6, column 4 (name)"]
    frame, found = check_panel(bad)  # the simulator's view: the good line is there
    assert len(found) == 6 and frame["gene"].tolist()[-1] == "FGFR4"


def test_bed_unreadable(tmp_path):
    assert _problems(read_panel, tmp_path / "nope.bed") == {"file": "does not exist"}
    assert _problems(read_panel, _write(tmp_path / "empty.bed", "track name=x\n")) == {
        "file": "the panel lists no regions"}
    broken = tmp_path / "broken.bed.gz"
    broken.write_bytes(b"\x1f\x8b\x08\x00 a truncated gzip stream")
    assert list(_problems(read_panel, broken)) == ["file"]


# ----------------------------------------------------------------------------------------------
# SNPs
# ----------------------------------------------------------------------------------------------

def test_read_snps_resources():
    grch38 = read_snps(REPO / "resources" / "snps_GRCh38.tsv")
    grch37 = read_snps(REPO / "resources" / "snps_GRCh37.tsv")
    for table in (grch38, grch37):
        assert list(table.columns) == SNP_COLUMNS
        assert {"rs8099917", "rs12979860", "rs9679162"} <= set(table["rsid"])
        assert table["pos"].dtype == "int64"
    by37 = grch37.set_index("rsid")
    assert (by37.loc["rs8099917", "pos"], by37.loc["rs8099917", "ref"],
            by37.loc["rs8099917", "alt"]) == (39743165, "T", "G")
    assert (by37.loc["rs12979860", "pos"], by37.loc["rs12979860", "ref"],
            by37.loc["rs12979860", "alt"]) == (39738787, "C", "T")
    by38 = grch38.set_index("rsid")
    assert by38.loc["rs8099917", "pos"] == 39252525
    assert by38.loc["rs12979860", "pos"] == 39248147
    assert list(grch37["rsid"]) == list(grch38["rsid"])  # same SNPs on both builds
    # GALNT14: GRCh38 chr2:31,024,648 G>T, GRCh37 chr2:31,247,514 G>T (+ strand), sources named
    galnt14 = [(t.loc["rs9679162", "chrom"], t.loc["rs9679162", "pos"], t.loc["rs9679162", "ref"],
                t.loc["rs9679162", "alt"]) for t in (by38, by37)]
    assert galnt14 == [("chr2", 31024648, "G", "T"), ("chr2", 31247514, "G", "T")]
    assert "NC_000002.12:g.31024648G>T" in by38.loc["rs9679162", "source"]
    assert "NC_000002.11:g.31247514G>T" in by37.loc["rs9679162", "source"]


def test_read_snps_collects_every_problem(tmp_path):
    bad = _write(tmp_path / "snps.tsv", SNP_HEADER
                 + "rs1\tchr1\t10\tA\tG\tX\n"
                 + "rs1\tchr1\t0\tA\tA\tX\n"
                 + "snp2\t\t5\tN\tg\t\n")
    problems = _problems(read_snps, bad)
    assert set(problems) == {"row 2, column rsid", "row 2, column pos",
                             "row 2, columns ref, alt", "row 3, column rsid",
                             "row 3, column chrom", "row 3, column ref", "row 3, column alt",
                             "row 3, column gene"}, problems
    assert problems["row 2, column rsid"] == "rsid rs1 appears twice (first in row 1)"
    assert problems["row 2, columns ref, alt"] == "ref and alt are both A"
    assert "'snp2'" in problems["row 3, column rsid"]
    assert "empty" in problems["row 3, column chrom"]


def test_read_snps_rs8099917_must_be_t_g(tmp_path):
    bad = _write(tmp_path / "snps.tsv", SNP_HEADER
                 + "rs12979860\tchr19\t39248147\tC\tT\tIL28B\n"
                 + "rs8099917\tchr19\t39252525\tA\tC\tIL28B\n")
    assert _problems(read_snps, bad) == {
        "row 2, columns ref, alt": "rs8099917 alleles are A/C, not T/G"}
    swapped = _write(tmp_path / "swapped.tsv", SNP_HEADER
                     + "rs8099917\tchr19\t39252525\tG\tT\tIL28B\n")
    assert read_snps(swapped).loc[0, "ref"] == "G"


def test_read_snps_rs9679162_must_be_g_t(tmp_path):
    """GALNT14 rs9679162 is G/T on the + strand; its minus-strand (transcript) letters C/A, or
    any other pair, would silently turn rs9679162_GG into another genotype: refused."""
    bad = _write(tmp_path / "snps.tsv", SNP_HEADER
                 + "rs9679162\tchr2\t31024648\tC\tA\tGALNT14\t\n"
                 + "rs8099917\tchr19\t39252525\tT\tG\tIL28B\t\n")
    with pytest.raises(InputError) as err:
        read_snps(bad)
    [problem] = err.value.problems
    assert (problem.where, problem.message) == ("row 1, columns ref, alt",
                                                "rs9679162 alleles are C/A, not G/T")
    assert problem.hint == "give rs9679162 as ref G, alt T on the + strand"
    swapped = _write(tmp_path / "swapped.tsv", SNP_HEADER
                     + "rs9679162\tchr2\t31024648\tT\tG\tGALNT14\t\n")
    assert read_snps(swapped).loc[0, "ref"] == "T"


def test_read_snps_source_optional_and_columns_closed(tmp_path):
    no_source = _write(tmp_path / "no_source.tsv", "rsid\tchrom\tpos\tref\talt\tgene\n"
                       "rs8099917\tchr19\t39252525\tT\tG\tIL28B\n")
    snps = read_snps(no_source)
    assert list(snps.columns) == SNP_COLUMNS and snps.loc[0, "source"] == ""
    extra = _write(tmp_path / "extra.tsv", "rsid\tchrom\tpos\tref\talt\tgene\tnote\n"
                   "rs8099917\tchr19\t39252525\tT\tG\tIL28B\thi\n")
    assert list(_problems(read_snps, extra)) == ["column note"]


def test_read_snps_refuses_unreadable_tables(tmp_path):
    missing = _write(tmp_path / "cols.tsv", "rsid\tchrom\npos\t1\n")
    assert _problems(read_snps, missing) == {
        "header": "missing column(s): pos, ref, alt, gene"}
    assert _problems(read_snps, tmp_path / "nope.tsv") == {"file": "does not exist"}


def test_grch37_panel_has_the_grch38_genes_annotated_on_grch37():
    grch37 = read_panel(REPO / "resources" / "panel_GRCh37.tsv")
    grch38 = read_panel(REPO / "resources" / "panel_GRCh38.tsv")
    # HNRNPCL4 has no GRCh37 (GENCODE v19-era) span: listed without coordinates, with why
    assert list(grch37["gene"]) == list(grch38["gene"])  # same genes, same column order
    reason = not_assessed_genes(grch37)
    assert list(reason) == ["HNRNPCL4"] and "GENCODE v19" in reason["HNRNPCL4"]
    assert list(assessed_regions(grch37)["gene"]) == ["PIK3CD", "FGFR4", "ARID1B"]
    assert not assessed_regions(grch37)["chrom"].str.startswith("chr").any()
    for gene in ["FGFR4", "ARID1B"]:  # same gene, lengths within 1% across builds
        length = {name: int((t.loc[t.gene == gene, "end"] - t.loc[t.gene == gene, "start"]).iloc[0])
                  for name, t in [("37", grch37), ("38", grch38)]}
        assert abs(length["37"] - length["38"]) / length["38"] < 0.01
