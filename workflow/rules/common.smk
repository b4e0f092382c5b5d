# Config and sample-sheet handling shared by all rules. The logic is in haicpred.cohort and
# haicpred.samples; this file only maps it onto Snakemake's input functions.
import os
import sys

sys.path.insert(0, os.path.join(workflow.basedir, "src"))  # the checkout's package

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from haicpred.cohort import cohort_problems, is_demo
from haicpred.errors import InputError
from haicpred.samples import batch_records, load_sample_sheet


validate(config, "../schemas/config.schema.yaml")

DEMO = is_demo(config)
DEMO_DIR = "results/demo"
SCRIPTS = os.path.join(workflow.basedir, "workflow", "scripts")

if not DEMO:
    # A user cohort is checked as a whole before any job starts: one report lists every
    # problem in every sheet. The demo is simulated by a checkpoint and checked by its readers.
    _problems = cohort_problems(config)
    if _problems:
        raise WorkflowError(str(InputError(_problems)))


def cohort_table(name):
    """Path of a cohort input table: the user's, or the simulated demo's."""
    if DEMO:
        return os.path.join(checkpoints.simulate_demo_cohort.get().output[0], f"{name}.tsv")
    return config[name]


def has_radiomics():
    return DEMO or bool(config.get("radiomics"))


_sheets = {}


def sample_sheet():
    """The validated sheet, read once per change of the file (input functions call this often)."""
    path = cohort_table("samples")
    key = (path, os.stat(path).st_mtime_ns)
    if key not in _sheets:
        _sheets[key] = load_sample_sheet(path)
    return _sheets[key]


def batches():
    return sorted(sample_sheet()["batch"].unique())


def batch_samples(wildcards):
    """A batch's sheet rows, passed as a param: a change to one batch's rows reruns only that
    batch (adding a batch touches no other batch's jobs)."""
    return batch_records(sample_sheet(), wildcards.batch)


def batch_files(column):
    def files(wildcards):
        return sorted({r[column] for r in batch_samples(wildcards) if r[column]})

    return files


def per_batch(pattern):
    """Input function: `pattern` for every batch (other wildcards taken from the job)."""
    return lambda wildcards: expand(pattern, batch=batches(), **wildcards)


def demo_files(*names):
    """Input function: files only the simulated demo has (truth, planted effects)."""

    def files(wildcards):
        if not DEMO:
            return []
        folder = checkpoints.simulate_demo_cohort.get().output[0]
        return [os.path.join(folder, name) for name in names]

    return files
