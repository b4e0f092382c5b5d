"""Tests for haicpred.io.resources: the panel and SNP tables (real files, no mocks)."""

from __future__ import annotations

from pathlib import Path

import pytest

from haicpred.io.errors import InputError
from haicpred.io.resources import PANEL_COLUMNS, SNP_COLUMNS, read_panel, read_snps

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
    assert panel["start"].dtype == "int64" and panel["end"].dtype == "int64"
    assert (panel["end"] >= panel["start"]).all()
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
        "header": "missing column(s): end, strand"}
    assert _problems(read_panel, tmp_path / "nope.tsv") == {"file": "does not exist"}
    empty = _write(tmp_path / "empty.tsv", PANEL_HEADER)
    assert _problems(read_panel, empty) == {"file": "the panel lists no genes"}


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
    # HNRNPCL4 has no GRCh37 (GENCODE v19-era) annotation: documented in docs/inputs.md
    assert list(grch37["gene"]) == [g for g in grch38["gene"] if g != "HNRNPCL4"]
    assert not grch37["chrom"].str.startswith("chr").any()
    for gene in ["FGFR4", "ARID1B"]:  # same gene, lengths within 1% across builds
        length = {name: int((t.loc[t.gene == gene, "end"] - t.loc[t.gene == gene, "start"]).iloc[0])
                  for name, t in [("37", grch37), ("38", grch38)]}
        assert abs(length["37"] - length["38"]) / length["38"] < 0.01
