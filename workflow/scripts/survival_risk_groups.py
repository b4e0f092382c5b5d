import logging

import _bootstrap  # noqa: F401
from haicpred.io.tables import read_tsv, write_tsv
from haicpred.modeling.survival_risk_groups import km_risk_groups
from haicpred.workflow import run_script

log = logging.getLogger("haicpred")


def main(snakemake):
    table = km_risk_groups(read_tsv(snakemake.input.oof), snakemake.params.risk_groups,
                           file=str(snakemake.input.oof))
    first = table.drop_duplicates("group")
    log.info("risk groups (%s; cut-offs %.4g, %.4g): %s; log-rank chi2 %.3g on %d df, p %.3g",
             first["rule"].iloc[0], first["cutoff_1"].iloc[0], first["cutoff_2"].iloc[0],
             ", ".join(f"{g} {n} patients / {e} events" for g, n, e in
                       zip(first["group"], first["group_n"], first["group_events"])),
             first["logrank_chi2"].iloc[0], first["logrank_df"].iloc[0],
             first["logrank_p"].iloc[0])
    write_tsv(table, snakemake.output.km)


run_script(snakemake, main)  # noqa: F821
