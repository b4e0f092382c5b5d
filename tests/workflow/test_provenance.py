"""results/provenance.json and the per-batch VCF checksums, on the real demo run."""

import hashlib
import json
import subprocess

from haicpred.provenance import batch_checksums, git_commit
from haicpred.io.tables import read_tsv
from workflow_helpers import REPO


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_batch_checksums_read_each_file_once_and_match_hashlib(tmp_path):
    a, b = tmp_path / "a.vcf.gz", tmp_path / "b.vcf"
    a.write_bytes(b"\x1f\x8b" + bytes(range(256)) * 5000)  # larger than one read chunk
    b.write_text("##fileformat=VCFv4.2\n")
    records = [{"sample_id": "P2", "exome_vcf": str(a), "genotype_vcf": str(b)},
               {"sample_id": "P1", "exome_vcf": None, "genotype_vcf": str(b)}]
    table = batch_checksums(records)
    assert table[["sample_id", "column"]].values.tolist() == [
        ["P1", "genotype_vcf"], ["P2", "exome_vcf"], ["P2", "genotype_vcf"]]
    by_path = dict(zip(table["path"], table["sha256"]))
    assert by_path[str(a)] == sha256(a) and by_path[str(b)] == sha256(b)
    assert table.loc[1, "bytes"] == a.stat().st_size


def test_demo_run_records_inputs_config_versions_and_commit(demo_run):
    document = json.loads((demo_run / "results/provenance.json").read_text())
    tables = document["inputs"]["tables"]
    assert set(tables) == {"samples", "clinical", "biomarkers", "radiomics", "panel", "snps"}
    for entry in tables.values():
        path = demo_run / entry["path"] if not entry["path"].startswith("/") else entry["path"]
        assert sha256(type(demo_run)(path)) == entry["sha256"]
    sheet = read_tsv(demo_run / "results/demo/samples.tsv")
    listed = set()
    for batch, entry in document["inputs"]["vcf_listings"].items():
        listing = read_tsv(demo_run / entry["path"])
        assert sha256(demo_run / entry["path"]) == entry["sha256"]
        rows = sheet[sheet["batch"] == batch]
        with_vcf = rows[(rows["exome_vcf"].fillna("") != "")
                        | (rows["genotype_vcf"].fillna("") != "")]
        assert set(listing["sample_id"]) == set(with_vcf["sample_id"])  # none left out
        for path, digest in zip(listing["path"], listing["sha256"]):
            assert sha256(demo_run / path) == digest
        listed |= set(listing["path"])
    assert document["inputs"]["n_vcf_files"] == len(listed)
    # the resolved config: schema defaults filled in
    assert document["config"]["model"]["cv_folds"] == 3
    assert document["config"]["mutations"]["min_vaf"] == 0.05
    assert {"haicpred", "xgboost", "pysam", "snakemake"} <= set(document["versions"])
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True,
                          text=True).stdout.strip()
    assert document["workflow"]["git_commit"] in (head, head + "+changes")


def test_git_commit_outside_a_checkout_is_unknown(tmp_path):
    assert git_commit(tmp_path) == "unknown"
