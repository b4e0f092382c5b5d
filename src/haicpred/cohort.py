"""A cohort as the config names it: load the config, check every input table together."""

from __future__ import annotations

from pathlib import Path

import yaml

from .biomarkers import check_biomarkers
from .clinical import check_clinical
from .endpoints import endpoint_problems
from .errors import Problem, raise_if_any
from .extra_modalities import (ExtraModality, check_extra_modality, collision_problems,
                               modality_name_problems)
from .features import sample_id_problems, static_feature_names
from .radiomics import check_radiomics
from .samples import read_sample_sheet

CONFIG_SCHEMA = Path(__file__).parent / "schemas" / "config.schema.yaml"


def config_problems(config: dict, file: str = "config") -> list[Problem]:
    """Every schema violation in the config, each naming its key (and a close match for a
    misspelled one), instead of Snakemake's first error followed by the whole schema."""
    import difflib

    import jsonschema

    schema = yaml.safe_load(CONFIG_SCHEMA.read_text())
    validator = jsonschema.Draft202012Validator(schema)
    problems = []
    for error in sorted(validator.iter_errors(config), key=lambda e: [str(k) for k in e.path]):
        where = ".".join(str(k) for k in error.path) or "top level"
        hint = "every key and its allowed values are in workflow/schemas/config.schema.yaml"
        if error.validator == "additionalProperties":
            known = list(error.schema.get("properties", {}))
            unexpected = sorted(set(error.instance) - set(known))
            for key in unexpected:
                close = difflib.get_close_matches(key, known, n=1)
                problems.append(Problem(
                    file, f"{where}: key {key!r}" if where != "top level" else f"key {key!r}",
                    "is not a known setting",
                    f"did you mean {close[0]!r}?" if close else hint))
            continue
        problems.append(Problem(file, where, error.message, hint))
    return problems


def load_config(path) -> dict:
    """The config with schema defaults filled in (Snakemake's own validator); InputError with
    every problem when it does not match the schema."""
    from snakemake.utils import validate

    with open(path) as handle:
        config = yaml.safe_load(handle) or {}
    raise_if_any(config_problems(config, str(path)))
    validate(config, str(CONFIG_SCHEMA), set_default=True)
    return config


def is_demo(config: dict) -> bool:
    return not config.get("samples")


def cohort_problems(config: dict) -> list[Problem]:
    """Every problem in the sheet, the tables, and how their sample IDs line up."""
    problems: list[Problem] = []
    for key in ("clinical", "biomarkers"):
        if not config.get(key):
            problems.append(Problem("config", key, "is empty but samples is set",
                                    f"give the path of the {key} table"))
    for key in ("panel", "snps"):
        if not Path(config[key]).is_file():
            problems.append(Problem("config", key, f"{config[key]} does not exist",
                                    f"point {key} at a resource file for {config['genome_build']}"))
    sheet, found = read_sample_sheet(config["samples"])
    problems += found
    checks = {
        "clinical": check_clinical,
        "biomarkers": lambda path: check_biomarkers(
            path, config["biomarkers_settings"]["afp_iu_to_ng"],
            config["biomarkers_settings"]["duplicates"],
            config["biomarkers_settings"].get("unknown_analytes", "keep")),
        "radiomics": lambda path: check_radiomics(path, config.get("radiomics_settings")),
    }
    sample_ids = {}
    for key, check in checks.items():
        if config.get(key):
            table, found = check(config[key])
            problems += found
            if table is not None:
                sample_ids[config[key]] = table["sample_id"]
                # a scoring run (predict.model_dir) trains nothing: outcomes may be absent
                scoring_only = bool((config.get("predict") or {}).get("model_dir"))
                if key == "clinical" and not scoring_only:
                    problems += endpoint_problems(config.get("endpoint"), table.columns)
    extras = []
    for name, path in config.get("extra_modalities", {}).items():
        problems += modality_name_problems(name)
        table, found = check_extra_modality(path)
        problems += found
        if table is not None:
            sample_ids[path] = table["sample_id"]
            extras.append(ExtraModality(name, path, table))
    # clashes with the fixed features and between extra modalities (clashes with genomic and
    # radiomic names are found when the matrix is built, once those columns are known)
    problems += collision_problems(
        extras, static_feature_names(config["biomarkers_settings"]["cutoffs"]))
    if sheet is not None:
        problems += sample_id_problems(sheet["sample_id"], sample_ids,
                                       must_cover=(config.get("clinical"),))
    return problems
