"""A cohort as the config names it: load the config, check every input table together."""

from __future__ import annotations

from pathlib import Path

import yaml

from . import biomarkers as bm
from .clinical import read_clinical
from .errors import InputError, Problem
from .features import sample_id_problems
from .radiomics import read_radiomics
from .samples import read_sample_sheet

CONFIG_SCHEMA = Path(__file__).parent / "schemas" / "config.schema.yaml"


def load_config(path) -> dict:
    """The config with schema defaults filled in (Snakemake's own validator)."""
    from snakemake.utils import validate

    with open(path) as handle:
        config = yaml.safe_load(handle) or {}
    validate(config, str(CONFIG_SCHEMA), set_default=True)
    return config


def is_demo(config: dict) -> bool:
    return not config.get("samples")


def _collect(problems: list[Problem], func, *args):
    try:
        return func(*args)
    except InputError as error:
        problems.extend(error.problems)
        return None


def cohort_problems(config: dict) -> list[Problem]:
    """Every problem in the sheet, the tables, and how their sample IDs line up."""
    problems: list[Problem] = []
    for key in ("clinical", "biomarkers"):
        if not config.get(key):
            problems.append(Problem("config/config.yaml", key, "is empty but samples is set",
                                    f"give the path of the {key} table"))
    for key in ("panel", "snps"):
        if not Path(config[key]).is_file():
            problems.append(Problem("config/config.yaml", key, f"{config[key]} does not exist",
                                    f"point {key} at a resource file for {config['genome_build']}"))
    sheet, sheet_problems = read_sample_sheet(config["samples"])
    problems += sheet_problems
    tables = {}
    if config.get("clinical"):
        clinical = _collect(problems, read_clinical, config["clinical"])
        if clinical is not None:
            tables[config["clinical"]] = clinical["sample_id"]
    if config.get("biomarkers"):
        table = _collect(problems, bm.read_biomarkers, config["biomarkers"])
        if table is not None:
            settings = config["biomarkers_settings"]
            _collect(problems, bm.normalise_units, table, config["biomarkers"],
                     settings["afp_iu_to_ng"])
            tables[config["biomarkers"]] = table["sample_id"]
    if config.get("radiomics"):
        radiomics = _collect(problems, read_radiomics, config["radiomics"])
        if radiomics is not None:
            tables[config["radiomics"]] = radiomics["sample_id"]
    if sheet is not None:
        problems += sample_id_problems(sheet["sample_id"], tables,
                                       must_cover=(config.get("clinical"),))
    return problems
