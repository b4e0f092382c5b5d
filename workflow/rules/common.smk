# Config and sample-sheet handling shared by all rules. The logic is in haicpred.cohort and
# haicpred.io.samples (on sys.path: the Snakefile puts the checkout's package there); this file
# only maps it onto Snakemake's input functions.
import os
import sys

from snakemake.exceptions import WorkflowError
from snakemake.settings.types import DeploymentMethod
from snakemake.utils import validate

from haicpred.cohort import (clinical_endpoint_problems, cohort_report, config_problems,
                             extraction_params_path, is_demo, read_config_file)
from haicpred.features.endpoints import SURVIVAL_KIND, resolve_endpoint
from haicpred.io.errors import InputError, MissingExtraError
from haicpred.io.samples import batch_records, batch_shards, has_images, load_sample_sheet
from haicpred.provenance import CALL_FILE_COLUMNS, EXTRACTION_PARAMS, git_commit
from haicpred.radiomics.extraction import require_pyradiomics

# Every config problem named by its key, before Snakemake's validator (which stops at the first
# and prints the whole schema) fills in the defaults. Each names the file that set the key: the
# files in override order (config/config.yaml, then each --configfile; workflow.configfiles
# holds the --configfile ones first, as Paths).
_command_line_files = [str(path) for path in workflow.config_settings.configfiles]
_config_files = [str(path) for path in workflow.configfiles if str(path) not in
                 _command_line_files] + _command_line_files
_config_read = [(path, *read_config_file(path)) for path in _config_files]
# Snakemake's loader accepts some YAML tags (!!python/name:os.system); haicpred names their line
_config_problems = [problem for _, _, found in _config_read for problem in found]
_config_problems = _config_problems or config_problems(
    config, " + ".join(_config_files) or "config",
    tuple((path, settings) for path, settings, _ in _config_read))
if _config_problems:
    raise WorkflowError(str(InputError(_config_problems)))
validate(config, "../schemas/config.schema.yaml")

DEMO = is_demo(config)
GIT_COMMIT = git_commit(workflow.basedir)  # recorded in results/provenance.json
DEMO_DIR = "results/demo"
EXTRACTED_RADIOMICS = "results/radiomics/extracted.csv"  # pyradiomics batch layout
_sheets = {}  # (path, mtime) -> the validated sample sheet: see sample_sheet()

if not DEMO and workflow.is_main_process:
    # A user cohort is checked as a whole before any job starts, one report for every problem
    # (the demo is checked by its readers). Only in the snakemake the user started: cluster jobs
    # re-parse this file, and the check costs 1-3 s a job at 10,000 samples. The endpoint's
    # columns are checked by the model rules only (endpoint_checked): features need no outcomes.
    _problems, _left_out = cohort_report(config, check_endpoint=False)
    if _problems:
        raise WorkflowError(str(InputError(_problems)))
    for _rows in _left_out:  # master tables; the feature_matrix log counts them too
        print(f"note: {_rows}", file=sys.stderr)


def endpoint_checked(wildcards):
    """Input function (no files) of the model rules: the clinical table must hold the endpoint's
    columns. Called while the plan is built, only when such a rule is in the run."""
    problems = clinical_endpoint_problems(config)
    if problems:
        raise WorkflowError(str(InputError(problems)))
    return []


def cohort_table(name):
    """Path of a cohort input table: the user's, or the simulated demo's."""
    if DEMO:
        return os.path.join(checkpoints.simulate_demo_cohort.get().output[0], f"{name}.tsv")
    return config[name]


def extracts_images():
    """Radiomic features come from the sample sheet's images and masks (imaging extra)."""
    return not DEMO and has_images(sample_sheet())


def has_radiomics():
    return DEMO or bool(config.get("radiomics")) or extracts_images()


def radiomics_table():
    """The radiomics file radiomic_features reads (the features extracted from the images,
    the user's table, or the demo's)."""
    return EXTRACTED_RADIOMICS if extracts_images() else cohort_table("radiomics")


def sample_sheet():
    """The validated sheet, read once per change of the file (input functions call this often)."""
    path = cohort_table("samples")
    key = (path, os.stat(path).st_mtime_ns)
    if key not in _sheets:
        _sheets[key] = load_sample_sheet(path)
    return _sheets[key]


# Images without pyradiomics: said before any job (in the snakemake the user started), unless
# the jobs get their own conda env. The sheet is the cached one every input function reads.
if (workflow.is_main_process and extracts_images()
        and DeploymentMethod.CONDA not in workflow.deployment_settings.deployment_method):
    try:
        require_pyradiomics()
    except MissingExtraError as _error:
        raise WorkflowError(str(_error)) from None


def batches():
    return sorted(sample_sheet()["batch"].unique())


def shard_ids(batch):
    shard_size = config["genomics"]["shard_size"]
    size = int((sample_sheet()["batch"] == batch).sum())
    return [str(i) for i in range(1, -(-size // shard_size) + 1)]


def shard_samples(wildcards):
    """A shard's sheet rows, passed as a param: a change to one batch's rows reruns only that
    batch's jobs (adding a batch touches no other batch)."""
    shards = batch_shards(sample_sheet(), wildcards.batch, config["genomics"]["shard_size"])
    return shards[int(wildcards.shard) - 1]


def shard_files(column):
    """Input function: the files a shard's samples name in `column`."""
    def files(wildcards):
        return sorted({r[column] for r in shard_samples(wildcards) if r[column]})
    return files


def every_shard(pattern):
    """Input function: `pattern` for every shard of every batch (or of the job's batch, when
    the job has a batch wildcard); other wildcards are taken from the job."""
    def files(wildcards):
        if "batch" in wildcards.keys():
            pairs = [(wildcards.batch, s) for s in shard_ids(wildcards.batch)]
        else:
            pairs = [(b, s) for b in batches() for s in shard_ids(b)]
        extra = {k: v for k, v in wildcards.items() if k != "batch"}
        return [pattern.format(batch=b, shard=s, **extra) for b, s in pairs]
    return files


def demo_files(*names):
    """Input function: files only the simulated demo has (truth, planted effects)."""
    def files(wildcards):
        if not DEMO:
            return []
        folder = checkpoints.simulate_demo_cohort.get().output[0]
        return [os.path.join(folder, name) for name in names]
    return files


def model_settings(**overrides):
    """The config's model section as haicpred.modeling.settings settings, plus the endpoint
    (`on_treatment` chooses whether the on-treatment rule runs; it is not a model setting)."""
    settings = {k: v for k, v in config["model"].items() if k != "on_treatment"}
    return {**settings, "endpoint": config["endpoint"], **overrides}


def survival_endpoint():
    """Is the endpoint time to event (its risk groups and nomogram join the outputs)?"""
    return resolve_endpoint(config.get("endpoint"))["kind"] == SURVIVAL_KIND


def survival_outputs(**paths):
    """Named outputs that only a survival endpoint's rules write (none otherwise)."""
    return paths if survival_endpoint() else {}


def on_treatment_enabled():
    return bool(config["model"].get("on_treatment", False))


# Scoring a new cohort with an earlier run's frozen model (workflow/rules/predict.smk).
def predict_model_dir():
    """config predict.model_dir: the results/model/final folder of an earlier training run."""
    return config["predict"]["model_dir"]


def training_targets(*paths):
    """`paths` in a training run; nothing in a scoring run (predict.model_dir set)."""
    return [] if predict_model_dir() else list(paths)


def prediction_targets():
    """results/predictions/<predict.name>.tsv in a scoring run; nothing in a training run."""
    return [f"results/predictions/{config['predict']['name']}.tsv"] if predict_model_dir() else []


def predict_model_files(wildcards):
    """The frozen model's two files: inputs, so a replaced model rescores the cohort."""
    folder = predict_model_dir()
    if not folder:
        raise WorkflowError("results/predictions/ needs a trained model: set predict.model_dir to "
                            "the results/model/final folder of a training run, e.g. --config "
                            "predict='{model_dir: /path/to/results/model/final, name: batch7}'")
    return {"model": os.path.join(folder, "xgboost_model.json"),
            "metadata": os.path.join(folder, "model_metadata.json")}


# The later stages' tables the report shows when a rule of this workflow produces them
# (haicpred.report.layout.OPTIONAL_FILES holds the same paths, for its "not produced" notes), and
# the final model's metadata (haicpred.report.layout.FINAL_METADATA_FILE).
REPORT_OPTIONAL_INPUTS = {
    "decision_curve": "results/model/decision_curve.tsv",
    "shap_importance": "results/model/final/shap_importance.tsv",
    "lobo_metrics": "results/model/lobo_metrics.tsv",
    "tuning": "results/model/tuning.tsv",
    "final_metadata": "results/model/final/model_metadata.json",
}
# ... those of an extraction from images only
EXTRACTION_REPORT_INPUTS = {
    "extraction_summary": "results/radiomics/extraction_summary.json",
    "batch_distributions": "results/radiomics/batch_distributions.tsv",
}
# ... and those of a survival endpoint only
SURVIVAL_REPORT_INPUTS = {
    "km_risk_groups": "results/model/km_risk_groups.tsv",
    "nomogram": "results/model/final/nomogram.json",
}


def report_optional_inputs(wildcards):
    """The report's input function: each optional table some rule declares as an output (found
    when the DAG is built, after every rule file is read). A table no rule makes is not an input,
    so the report never waits for it; its section says it was not produced."""
    declared = {str(path) for rule in workflow.rules for path in rule.output}
    wanted = {**REPORT_OPTIONAL_INPUTS, **(SURVIVAL_REPORT_INPUTS if survival_endpoint() else {}),
              **(EXTRACTION_REPORT_INPUTS if extracts_images() else {})}
    return {key: path for key, path in wanted.items() if path in declared}


# Provenance (workflow/rules/provenance.smk)
def batch_vcfs(wildcards):
    """Every VCF (and MAF, image and mask) the batch's sheet rows name."""
    records = batch_records(sample_sheet(), wildcards.batch)
    return sorted({r[c] for r in records for c in CALL_FILE_COLUMNS if r[c]})


def cohort_inputs(wildcards):
    """role -> path of every cohort table and resource this run reads."""
    tables = {name: cohort_table(name) for name in ("samples", "clinical", "biomarkers")}
    if extracts_images():
        tables[EXTRACTION_PARAMS] = extraction_params_path(config)
    elif has_radiomics():
        tables["radiomics"] = cohort_table("radiomics")
    for name, path in config["extra_modalities"].items():
        tables[f"extra_modality_{name}"] = path
    tables["panel"], tables["snps"] = config["panel"], config["snps"]
    return tables
