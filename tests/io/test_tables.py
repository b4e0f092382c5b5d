"""haicpred.io.tables: the cohort-level merge of per-shard tables."""

import pandas as pd

from haicpred.io.tables import concatenate_tables, write_tsv


def test_shard_tables_merge_by_sample_keeping_each_samples_rows_in_order(tmp_path):
    # two shards of a batch (consecutive, disjoint samples), an audit table with several rows
    # for one sample
    first = pd.DataFrame({"sample_id": ["P3", "P1", "P3"], "variant": ["c", "a", "d"],
                          "vaf": [0.25, None, 0.5]})
    second = pd.DataFrame({"sample_id": ["P4", "P2"], "variant": ["e", "b"], "vaf": [0.1, 1.0]})
    paths = [tmp_path / "shard1.tsv", tmp_path / "shard2.tsv"]
    write_tsv(first, paths[0])
    write_tsv(second, paths[1])
    merged = concatenate_tables(paths)
    assert merged["sample_id"].tolist() == ["P1", "P2", "P3", "P3", "P4"]
    assert merged["variant"].tolist() == ["a", "b", "c", "d", "e"]
    assert merged["vaf"].isna().tolist() == [True, False, False, False, False]  # missing stays
    # the order the shards finish in does not matter: the same bytes
    write_tsv(merged, tmp_path / "merged.tsv")
    write_tsv(concatenate_tables(paths[::-1]), tmp_path / "reversed.tsv")
    assert (tmp_path / "merged.tsv").read_bytes() == (tmp_path / "reversed.tsv").read_bytes()
