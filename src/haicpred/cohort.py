"""A cohort as the config names it: load the config, check every input table together."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import yaml

from haicpred.clinical.biomarkers import check_biomarkers
from haicpred.clinical.clinical_table import check_clinical
from haicpred.clinical.extra_modalities import (ExtraModality, check_extra_modality,
                                                collision_problems, modality_name_problems)
from haicpred.features.endpoints import (SURVIVAL_KIND, endpoint_problems, horizon_problems,
                                         resolve_endpoint, survival_problems)
from haicpred.features.matrix import static_feature_names
from haicpred.io.errors import InputError, Problem, raise_if_any
from haicpred.io.resources import CHECKOUT_RESOURCES, check_panel
from haicpred.io.sample_ids import LeftOut, match_tables_to_sheet
from haicpred.io.samples import has_images, read_sample_sheet
from haicpred.modeling.scoring import risk_group_cutoffs
from haicpred.radiomics.features import check_radiomics

CONFIG_SCHEMA = Path(__file__).parent / "io" / "schemas" / "config.schema.yaml"


def config_problems(config: dict, file: str = "config",
                    files: tuple[tuple[str, dict], ...] = ()) -> list[Problem]:
    """Every schema violation in the config, each naming its key (and a close match for a
    misspelled one), instead of Snakemake's first error followed by the whole schema.

    `files` ((path, its own settings), lowest precedence first: the files the config was
    merged from) lets each problem name the file that set the key; else `file` is named.
    """
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
                    _setting_file([*error.path, key], files, file),
                    f"{where}: key {key!r}" if where != "top level" else f"key {key!r}",
                    "is not a known setting",
                    f"did you mean {close[0]!r}?" if close else hint))
            continue
        problems.append(Problem(_setting_file(list(error.path), files, file), where,
                                error.message, hint))
    if not problems:  # what the schema cannot say: the horizons' order, the cut-offs' scale
        problems += horizon_problems(config.get("endpoint"), _setting_file(
            ["endpoint", "horizons_months"], files, file))
        problems += risk_group_problems(config, _setting_file(
            ["predict", "risk_groups"], files, file))
        problems += survival_xgboost_problems(config, _setting_file(
            ["model", "xgboost"], files, file))
    return problems


def survival_xgboost_problems(config: dict, file: str = "config") -> list[Problem]:
    """A ``model.xgboost`` key the survival endpoint's booster does not take, refused before any
    job (the model stage refuses it too)."""
    xgboost = (config.get("model") or {}).get("xgboost") or {}
    if not xgboost or resolve_endpoint(config.get("endpoint"))["kind"] != SURVIVAL_KIND:
        return []
    # imported here: scikit-learn costs every Snakemake job a second, and only this check needs it
    from haicpred.modeling.survival_estimators import cox_booster_params

    try:
        cox_booster_params(xgboost)
    except InputError as error:
        return [Problem(file, p.where, p.message, p.hint) for p in error.problems]
    return []


def risk_group_problems(config: dict, file: str = "config") -> list[Problem]:
    """Fixed risk-group cut-offs on the endpoint's scale: probabilities in (0, 1) for a
    binary endpoint, risks (log relative hazard) for a survival endpoint; increasing."""
    rule = (config.get("predict") or {}).get("risk_groups", "tertiles")
    if isinstance(rule, str):
        return []  # the schema allows only "tertiles"
    survival = resolve_endpoint(config.get("endpoint"))["kind"] == SURVIVAL_KIND
    try:
        risk_group_cutoffs(rule, None, "", scale="risk" if survival else "probability")
    except ValueError as error:
        hint = ("a survival model's cut-offs are on its risk scale (log relative hazard): see "
                "the cv risks in results/model/oof_predictions.tsv, or use tertiles"
                if survival else "e.g. [0.25, 0.5], or tertiles")
        return [Problem(file, "predict.risk_groups", str(error), hint)]
    return []


def _setting_file(key_path: list, files: tuple[tuple[str, dict], ...], default: str) -> str:
    """The last (winning) file among `files` that sets `key_path`."""
    for path, settings in reversed(files):
        node = settings
        for key in key_path:
            if not isinstance(node, dict) or key not in node:
                break
            node = node[key]
        else:
            return path
    return default


def read_config_file(path) -> tuple[dict | None, list[Problem]]:
    """One config file's own settings, read as plain YAML data: a tag such as
    `!!python/object/apply` is refused, never run. (None, problems) when it is not a YAML
    mapping, each problem naming the line and column."""
    file = str(path)
    try:
        with open(path, encoding="utf-8") as handle:
            settings = yaml.safe_load(handle)
    except FileNotFoundError:
        return None, [Problem(file, "file", "does not exist", "check the path")]
    except UnicodeDecodeError as error:
        return None, [Problem(file, "file", f"is not UTF-8 text ({error})",
                              "save the config as UTF-8 YAML")]
    except yaml.YAMLError as error:
        return None, [yaml_problem(file, error)]
    if settings is None:
        return {}, []
    if not isinstance(settings, dict):
        return None, [Problem(file, "top level", f"is a {type(settings).__name__}, not a "
                              "mapping of settings", "write one `key: value` per line")]
    return settings, []


def yaml_problem(file: str, error: yaml.YAMLError) -> Problem:
    """A YAML error as a Problem naming its line and column (1-based, as editors count)."""
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "file"
    problem = getattr(error, "problem", None) or str(error)
    if tag := re.search(r"constructor for the tag '([^']+)'", problem):
        shown = tag[1].replace("tag:yaml.org,2002:", "!!")
        return Problem(file, where, f"holds the YAML tag {shown} (a config holds plain values "
                       "only: text, numbers, lists, mappings)", "remove the tag; nothing was run")
    context = getattr(error, "context", None)
    return Problem(file, where, f"is not valid YAML: {context + ': ' if context else ''}{problem}",
                   "fix the YAML: indent with spaces, not tabs, and quote a value that holds "
                   "': '")


def merge_settings(base: dict, override: dict) -> dict:
    """`override` on top of `base`, nested mappings merged key by key (as Snakemake merges
    several --configfile files)."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_settings(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_config(*paths) -> dict:
    """The config of one or more files (later ones override earlier ones, as for snakemake
    --configfile a.yaml b.yaml) with schema defaults filled in (Snakemake's own validator);
    InputError with every problem when a file is not YAML or the config does not match the
    schema."""
    from snakemake.utils import validate

    files, problems, config = [], [], {}
    for path in paths:
        settings, found = read_config_file(path)
        problems += found
        if settings is not None:
            files.append((str(path), settings))
            config = merge_settings(config, settings)
    raise_if_any(problems)
    raise_if_any(config_problems(config, " + ".join(map(str, paths)), tuple(files)))
    validate(config, str(CONFIG_SCHEMA), set_default=True)
    return config


def is_demo(config: dict) -> bool:
    return not config.get("samples")


def cohort_problems(config: dict, check_endpoint: bool = True) -> list[Problem]:
    """Every problem in the sheet, the tables, and how their sample IDs line up."""
    return cohort_report(config, check_endpoint)[0]


def cohort_report(config: dict, check_endpoint: bool = True,
                  ) -> tuple[list[Problem], list[LeftOut]]:
    """(every problem in the sheet, the tables and how their sample IDs line up; the rows of
    patients outside the sheet, which are left out). `check_endpoint`: whether the clinical
    table must hold the endpoint's columns (a model is to be trained; the workflow checks it
    when a model rule is in the run, so a feature-only run needs no outcomes)."""
    problems: list[Problem] = []
    for key in ("clinical", "biomarkers"):
        if not config.get(key):
            problems.append(Problem("config", key, "is empty but samples is set",
                                    f"give the path of the {key} table"))
    for key in ("panel", "snps"):
        if not Path(config[key]).is_file():
            problems.append(Problem("config", key, f"{config[key]} does not exist",
                                    f"point {key} at a resource file for {config['genome_build']}"))
        elif key == "panel":  # a bad panel (TSV or BED) before any job, not in every shard's log
            problems += check_panel(config[key])[1]
    sheet, found = read_sample_sheet(config["samples"])
    problems += found
    if sheet is not None and has_images(sheet):
        problems += image_config_problems(config, config["samples"])
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
                if key == "clinical":
                    problems += follow_up_problems(config, table)
                if key == "clinical" and check_endpoint and model_is_trained(config):
                    problems += endpoint_problems(config.get("endpoint"), table.columns,
                                                  config[key])
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
    left_out: list[LeftOut] = []
    if sheet is not None:
        found, left_out = match_tables_to_sheet(sheet["sample_id"], sample_ids,
                                                must_cover=(config.get("clinical"),))
        problems += found
    return problems, left_out


def image_config_problems(config: dict, sheet_path: str) -> list[Problem]:
    """The sheet names images: radiomics come from them, not also from a table, and the
    extraction's parameter file must exist."""
    problems = []
    if config.get("radiomics"):
        problems.append(Problem("config", "radiomics", f"is set ({config['radiomics']}) and the "
                                f"sample sheet {sheet_path} has image and mask columns",
                                "give radiomics once: clear config 'radiomics' to extract from "
                                "the images, or drop the sheet's image/mask columns"))
    params = extraction_params_path(config)
    if not Path(params).is_file():
        problems.append(Problem("config", "radiomics_extraction.params",
                                f"{params} does not exist", "give a pyradiomics parameter "
                                "file, e.g. the checkout's resources/radiomics_params.yaml"))
    return problems


def extraction_params_path(config: dict) -> str:
    """The pyradiomics parameter file: as given, else (a relative path that is not in the run
    folder) the checkout's copy, so the default works from any folder."""
    given = (config.get("radiomics_extraction") or {}).get(
        "params", "resources/radiomics_params.yaml")
    if Path(given).is_file() or Path(given).is_absolute():
        return given
    checkout = CHECKOUT_RESOURCES.parent / given
    return str(checkout) if checkout.is_file() else given


def model_is_trained(config: dict) -> bool:
    """A training run; a scoring run (predict.model_dir) trains nothing: outcomes may be
    absent."""
    return not (config.get("predict") or {}).get("model_dir")


def follow_up_problems(config: dict, clinical: pd.DataFrame) -> list[Problem]:
    """For a survival endpoint, every clinical row whose follow-up cannot be used, beyond what
    the clinical schema reports itself (haicpred.features.endpoints.survival_problems). Checked
    in every run, as the schema checks these columns in every run: a feature-only run would
    otherwise fail in its feature step."""
    settings = config.get("endpoint")
    if resolve_endpoint(settings)["kind"] != SURVIVAL_KIND:
        return []
    return survival_problems(clinical, settings, str(config["clinical"]), schema_checked=True)


def clinical_endpoint_problems(config: dict) -> list[Problem]:
    """The check a model rule makes before any job starts: does the clinical table's header
    hold the endpoint's columns."""
    if not model_is_trained(config):
        return []  # a scoring run trains nothing
    path = config.get("clinical")
    if is_demo(config) or not path or not Path(path).is_file():
        return []  # the demo has the columns; a missing table: the cohort check says so
    with open(path, encoding="utf-8", errors="replace") as handle:
        columns = handle.readline().rstrip("\r\n").split("\t")
    return endpoint_problems(config.get("endpoint"), columns, path)
