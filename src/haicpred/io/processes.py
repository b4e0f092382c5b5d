"""Worker processes for the per-shard jobs (panel mutations, radiomic extraction)."""

from __future__ import annotations

import multiprocessing


def pool_context():
    """fork where the platform has it: workers start in milliseconds, inherit the imports, and
    never re-run the job's script (spawn re-imports `__main__`, which under Snakemake is the
    script itself); otherwise the platform default."""
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else None)
