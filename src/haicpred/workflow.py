"""Glue for `workflow/scripts/*.py`: logging to the rule's log file and clean input errors."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from haicpred.io.errors import InputError, MissingExtraError


def run_script(snakemake, main: Callable[[object], None]) -> None:
    """Run `main(snakemake)` with logging into the rule's log; an InputError (or a missing
    optional extra) becomes a short message on stderr and in the log (no traceback) and a
    non-zero exit. Snakemake then deletes the job's outputs, so no partial result is left
    behind."""
    log_file = snakemake.log[0] if snakemake.log else None
    handlers = [logging.StreamHandler(sys.stderr)]
    if log_file:
        handlers.append(logging.FileHandler(log_file, mode="w"))
    logging.basicConfig(level=logging.INFO, handlers=handlers, force=True,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        main(snakemake)
    except (InputError, MissingExtraError) as error:
        logging.getLogger("haicpred").error("%s", error)
        sys.exit(1)
