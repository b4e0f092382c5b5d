import shutil
from pathlib import Path

import _bootstrap  # noqa: F401
from haicpred.simulate import simulate_cohort
from haicpred.workflow import run_script


def main(snakemake):
    out = Path(snakemake.output[0])
    if out.is_dir() and not any(out.iterdir()):
        shutil.rmtree(out)  # the simulator refuses to write into an existing folder
    demo = snakemake.params.demo
    simulate_cohort(n_patients=demo["n_patients"], n_batches=demo["n_batches"],
                    seed=demo["seed"], out_dir=out, panel_path=snakemake.input.panel,
                    snps_path=snakemake.input.snps,
                    genome_build=snakemake.params.genome_build)


run_script(snakemake, main)  # noqa: F821
