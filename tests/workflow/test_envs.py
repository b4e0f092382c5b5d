"""The per-rule conda envs (envs/*.yaml): they parse, pin exactly what pyproject.toml pins, and
hold every third-party package the rule's script can import (followed through haicpred's own
modules). conda cannot run here, so this is how the env files are kept honest."""

import ast
import re
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SRC = REPO / "src"
# import name -> conda package name (where they differ) in the env files
CONDA_NAME = {"yaml": "pyyaml", "sklearn": "scikit-learn", "xgboost": "py-xgboost",
              "matplotlib": "matplotlib-base", "neuroCombat": "neuroCombat",
              "sksurv": "scikit-survival", "radiomics": "pyradiomics",
              "SimpleITK": "simpleitk"}
# conda package name -> pip distribution name (where they differ) in pyproject.toml
PIP_NAME = {"py-xgboost": "xgboost", "matplotlib-base": "matplotlib", "simpleitk": "SimpleITK",
            "pywavelets": "PyWavelets"}
# provided by Snakemake itself in every job, or only used by tests
NOT_IN_ENVS = {"snakemake", "_bootstrap", "haicpred"}


def env_packages(path: Path) -> dict[str, str]:
    """conda and pip packages of an env file -> pinned version ('' when unpinned)."""
    spec = yaml.safe_load(path.read_text())
    out = {}
    for item in spec["dependencies"]:
        entries = item["pip"] if isinstance(item, dict) else [item]
        for entry in entries:
            match = re.match(r"^([A-Za-z0-9_.-]+)\s*={1,2}\s*([^\s=]*)", entry.split("::")[-1])
            name, pin = (match.group(1), match.group(2)) if match else (entry.strip(), "")
            out[name] = pin
    return out


def pyproject_pins() -> dict[str, str]:
    """Every exact pin: the dependencies and the optional extras (imaging: pyradiomics)."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    extras = [dep for deps in project["optional-dependencies"].values() for dep in deps]
    return dict(re.match(r"^([A-Za-z0-9_.-]+)==(\S+)$", dep).groups()
                for dep in [*project["dependencies"], *extras])


def rules_with_envs() -> list[tuple[str, str, str]]:
    """(rule, script path, env path) for every rule with a script and a conda env."""
    found = []
    for smk in sorted((REPO / "workflow" / "rules").glob("*.smk")):
        for block in re.split(r"\n(?=(?:rule|checkpoint) )", smk.read_text()):
            name = re.match(r"(?:rule|checkpoint) (\w+)", block)
            script = re.search(r'script:\s*\n\s*"([^"]+)"', block)
            conda = re.search(r'conda:\s*\n\s*"([^"]+)"', block)
            if name and script and conda:
                found.append((name.group(1), str((smk.parent / script.group(1)).resolve()),
                              str((smk.parent / conda.group(1)).resolve())))
    return found


def third_party_imports(script: Path) -> set[str]:
    """Top-level names of every non-stdlib import the script can reach, following haicpred's
    own modules (imports inside functions included: they run too)."""
    seen, todo, found = set(), [script], set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:  # relative import inside haicpred
                    base = path.parent
                    for _ in range(node.level - 1):
                        base = base.parent
                    parts = (node.module or "").split(".") if node.module else []
                    targets = [base.joinpath(*parts)] if parts else [
                        base / alias.name for alias in node.names]
                    for target in targets:
                        for candidate in (target.with_suffix(".py"), target / "__init__.py"):
                            if candidate.is_file():
                                todo.append(candidate)
                    continue
                names = [node.module or ""]
            for name in names:
                top = name.split(".")[0]
                if top == "haicpred":
                    target = SRC.joinpath(*name.split("."))
                    for candidate in (target.with_suffix(".py"), target / "__init__.py"):
                        if candidate.is_file():
                            todo.append(candidate)
                    if isinstance(node, ast.ImportFrom):
                        for alias in node.names:
                            sub = target / f"{alias.name}.py"
                            if sub.is_file():
                                todo.append(sub)
                elif top and top not in sys.stdlib_module_names and top not in NOT_IN_ENVS:
                    found.add(top)
    return found


ENV_FILES = sorted((REPO / "envs").glob("*.yaml"))


@pytest.mark.parametrize("env", ENV_FILES, ids=lambda p: p.name)
def test_env_pins_match_pyproject(env):
    pins = pyproject_pins()
    packages = env_packages(env)
    assert packages.get("python") == "3.11"
    for name, pin in packages.items():
        if name in ("python", "pip"):
            continue
        assert pin, f"{env.name}: {name} is not pinned"
        pip_name = PIP_NAME.get(name, name)
        assert pip_name in pins, f"{env.name}: {name} is not a pinned dependency in pyproject.toml"
        assert pins[pip_name] == pin, f"{env.name}: {name} {pin} but pyproject pins {pins[pip_name]}"


@pytest.mark.parametrize("rule,script,env", rules_with_envs(), ids=lambda v: str(v).split("/")[-1])
def test_env_holds_what_the_rule_imports(rule, script, env):
    packages = env_packages(Path(env))
    missing = sorted(CONDA_NAME.get(name, name) for name in third_party_imports(Path(script))
                     if CONDA_NAME.get(name, name) not in packages)
    assert not missing, f"rule {rule}: {Path(env).name} lacks {', '.join(missing)}"


def test_every_rule_with_a_script_has_an_env():
    assert len(rules_with_envs()) >= 10
