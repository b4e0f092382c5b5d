"""Join every modality into one feature matrix (one row per sample in the sheet)."""

from __future__ import annotations

import logging
import re

import pandas as pd

from haicpred.clinical import biomarkers as bm
from haicpred.clinical import clinical_table as cl
from haicpred.clinical.extra_modalities import (ExtraModality, collision_problems, extra_dictionary,
                                                extra_features)
from haicpred.clinical.indices import CLINICAL_LAB_INDICES, compute_indices, index_dictionary
from haicpred.genomics.genotypes import GENOTYPE_FLAGS
from haicpred.io.errors import Problem, raise_if_any
from haicpred.io.sample_ids import match_tables_to_sheet
from haicpred.io.tables import read_tsv
from haicpred.radiomics import features as rad

DICTIONARY_COLUMNS = ["feature", "modality", "unit", "description"]
log = logging.getLogger("haicpred")
# How the dictionary marks the columns of a panel gene without coordinates on the run's build
# (haicpred.io.resources.not_assessed_genes); `not_assessed_features` reads it back.
_NOT_ASSESSED = re.compile(r"NOT ASSESSED on (?P<build>[^:]+): (?P<reason>.*) "
                           r"\(empty for every sample, not 0\)$")


def not_assessed_text(genome_build: str, reason: str) -> str:
    """The dictionary's mark of a gene not assessed on `genome_build`, and why."""
    return f"NOT ASSESSED on {genome_build}: {reason} (empty for every sample, not 0)"


def not_assessed_features(dictionary: pd.DataFrame) -> dict[str, tuple[str, str]]:
    """Feature -> (genome build, reason) for the columns the dictionary marks as not assessed
    on the run's build (feature_dictionary.tsv order)."""
    out = {}
    if "description" not in dictionary.columns:
        return out
    for feature, description in zip(dictionary["feature"], dictionary["description"]):
        match = _NOT_ASSESSED.search(str(description))
        if match:
            out[str(feature)] = (match["build"], match["reason"])
    return out


def genomic_dictionary(mutations: pd.DataFrame, genotypes: pd.DataFrame,
                       not_assessed: dict[str, str] | None = None,
                       genome_build: str | None = None) -> pd.DataFrame:
    """The mutation and genotype columns' rows; `not_assessed` (gene -> why, the panel's genes
    without coordinates on `genome_build`) marks that gene's two columns as not assessed."""
    flag_descriptions = {f.column: f.description for f in GENOTYPE_FLAGS}
    not_assessed = not_assessed or {}

    def marked(gene: str, text: str) -> str:
        if gene not in not_assessed:
            return text
        build = genome_build or "this genome build"
        return f"{text}. {not_assessed_text(build, not_assessed[gene])}"

    rows = []
    for column in mutations.columns[1:]:
        if match := re.fullmatch(r"(.+)_mutated", column):
            rows.append((column, "mutation", "0/1", marked(
                match[1], f"{match[1]} carries a protein-altering somatic mutation (PASS, VAF "
                "and depth above the configured minimums)")))
        elif match := re.fullmatch(r"(.+)_n_mutations", column):
            rows.append((column, "mutation", "count",
                         marked(match[1], f"qualifying somatic mutations in {match[1]}")))
        elif column == "panel_mutations":
            rows.append((column, "mutation", "count", "qualifying mutations across the panel"
                         + (" (its assessed genes)" if not_assessed else "")))
        elif column == "fohaic1_mutation_positive":
            rows.append((column, "mutation", "0/1", "at least one qualifying FOHAIC-1 panel "
                         "mutation" + (" (in its assessed genes)" if not_assessed else "")))
    for column in genotypes.columns[1:]:
        if match := re.fullmatch(r"(rs\d+)_alt_count", column):
            rows.append((column, "genotype", "0-2", f"copies of the {match[1]} alt allele "
                         "(+ strand, see resources/snps_<build>.tsv)"))
        elif column in flag_descriptions:
            rows.append((column, "genotype", "0/1", flag_descriptions[column]))
        # <rsid>_genotype / <rsid>_source are text for audits, not features
    return pd.DataFrame(rows, columns=DICTIONARY_COLUMNS)


def static_feature_names(cutoffs: dict[str, float] | None = None) -> list[str]:
    """Feature names every matrix may hold whatever the data (clinical, biomarker, index); the
    genomic and radiomic names depend on the panel, SNPs and radiomics table."""
    return sorted({f for d in _static_dictionaries(cutoffs) for f in d["feature"]})


def _static_dictionaries(cutoffs: dict[str, float] | None) -> list[pd.DataFrame]:
    return [cl.clinical_dictionary(), bm.biomarker_dictionary(cutoffs),
            index_dictionary(CLINICAL_LAB_INDICES)]


def build_feature_matrix(sheet: pd.DataFrame, clinical: pd.DataFrame, mutations: pd.DataFrame,
                         genotypes: pd.DataFrame, biomarkers: pd.DataFrame,
                         radiomics: pd.DataFrame | None,
                         cutoffs: dict[str, float] | None = None,
                         extra_modalities: list[ExtraModality] | None = None,
                         radiomics_aggregation: str | None = None,
                         biomarker_dictionary: pd.DataFrame | None = None,
                         not_assessed: dict[str, str] | None = None,
                         genome_build: str | None = None,
                         ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(feature matrix, feature dictionary, labels), rows in sample_id order.

    Every sample of the sheet gets a row; a modality a sample lacks is left empty (missing),
    never filled with 0. Extra modalities (`haicpred.clinical.extra_modalities`) come last, in
    the order given, as `<modality>_<column>`. `biomarker_dictionary`
    (`biomarkers.biomarker_dictionary` with the lab table) describes analytes haicpred does not
    know; without it the biomarker table may hold only known ones. `not_assessed` (gene -> why;
    `haicpred.io.resources.not_assessed_genes` of the panel) and `genome_build` mark the
    columns of panel genes without coordinates on the build in the dictionary (their empty
    columns stay in the matrix: missing, not 0).
    """
    extra_modalities = list(extra_modalities or [])
    problems, left_out = match_tables_to_sheet(sheet["sample_id"], {
        "clinical table": clinical["sample_id"], "biomarker table": biomarkers["sample_id"],
        **({"radiomics table": radiomics["sample_id"]} if radiomics is not None else {}),
        "mutation features": mutations["sample_id"], "genotype features": genotypes["sample_id"],
        **{m.path: m.table["sample_id"] for m in extra_modalities},
    }, must_cover=("clinical table",))
    raise_if_any(problems)
    for rows in left_out:  # master tables: other batches' patients, counted in the job's log
        log.info("%s", rows)
    # only the sheet's patients from here on: nothing of a left-out row reaches a feature
    in_sheet = set(sheet["sample_id"])
    clinical, biomarkers, mutations, genotypes = (
        _sheet_rows(t, in_sheet) for t in (clinical, biomarkers, mutations, genotypes))
    radiomics = _sheet_rows(radiomics, in_sheet) if radiomics is not None else None
    extra_modalities = [ExtraModality(m.name, m.path, _sheet_rows(m.table, in_sheet))
                        for m in extra_modalities]

    if biomarker_dictionary is None:
        biomarker_dictionary = bm.biomarker_dictionary(cutoffs)
    undescribed = sorted(set(biomarkers.columns) - {"sample_id"}
                         - set(biomarker_dictionary["feature"]))
    if undescribed:  # they would be dropped from the matrix without a word
        raise ValueError("biomarker column(s) without a dictionary row: " + ", ".join(undescribed))
    clinical_features = cl.encode_clinical(clinical)
    biomarkers = _numeric(biomarkers)
    # Indices that need both the clinical table and the labs (Child-Pugh), falling back on the
    # recorded Child-Pugh score and class where a component is missing
    joint = clinical_features.merge(biomarkers, on="sample_id", how="left").set_index("sample_id")
    joint = joint.reindex(columns=joint.columns.union(list(bm.analyte_table()), sort=False))
    joint = joint.join(cl.recorded_child_pugh(clinical))
    joint = compute_indices(joint, CLINICAL_LAB_INDICES, cutoffs)
    clinical_lab = joint[[i.name for i in CLINICAL_LAB_INDICES]].reset_index()
    named_parts = {"clinical table": clinical_features, "biomarker table": biomarkers,
                   "derived indices": clinical_lab, "mutation features": mutations,
                   "genotype features": genotypes}
    dictionaries = [cl.clinical_dictionary(), biomarker_dictionary,
                    index_dictionary(CLINICAL_LAB_INDICES),
                    genomic_dictionary(mutations, genotypes, not_assessed, genome_build)]
    if radiomics is not None:
        named_parts["radiomics table"] = radiomics
        dictionaries.append(rad.radiomics_dictionary(radiomics, radiomics_aggregation))
    unknown_analytes = set(bm.unknown_analyte_names(biomarker_dictionary))
    raise_if_any(_analyte_clash_problems(unknown_analytes, named_parts))
    parts = list(named_parts.values())
    built_in = {c: f"analyte {c} of the biomarker table" if c in unknown_analytes
                else "a built-in feature"
                for part in parts for c in part.columns if c != "sample_id"}
    built_in |= {f: "a built-in feature" for d in dictionaries for f in d["feature"]
                 if f not in built_in}
    raise_if_any(collision_problems(extra_modalities, built_in))
    for modality in extra_modalities:
        parts.append(extra_features(modality))
        dictionaries.append(extra_dictionary(modality))

    matrix = sheet[["sample_id", "batch"]].sort_values("sample_id").reset_index(drop=True)
    for part in parts:
        matrix = matrix.merge(part, on="sample_id", how="left", validate="one_to_one")
    dictionary = pd.concat(dictionaries, ignore_index=True)
    dictionary = dictionary[dictionary["feature"].isin(matrix.columns)].reset_index(drop=True)
    feature_columns = list(dictionary["feature"])
    matrix = matrix[["sample_id", "batch", *feature_columns]]
    matrix[feature_columns] = matrix[feature_columns].astype(float)

    label_table = cl.labels(clinical).merge(sheet[["sample_id", "batch"]], on="sample_id")
    label_table = label_table[["sample_id", "batch", *[c for c in label_table.columns
                                                       if c not in ("sample_id", "batch")]]]
    return matrix, dictionary, label_table.sort_values("sample_id").reset_index(drop=True)


def _analyte_clash_problems(analytes: set[str],
                            named_parts: dict[str, pd.DataFrame]) -> list[Problem]:
    """Analytes haicpred does not know named like a column of another part (a genotype or
    radiomic feature): they would merge as x_x / x_y and be lost."""
    problems = []
    for name, part in named_parts.items():
        if name == "biomarker table":
            continue
        for column in sorted(analytes & set(part.columns)):
            problems.append(Problem("biomarker table", f"analyte {column}",
                                    f"is already a feature of the {name}",
                                    "rename the analyte in the biomarker table"))
    return problems


def join_on_treatment(matrix: pd.DataFrame, dictionary: pd.DataFrame,
                      on_treatment: pd.DataFrame, on_treatment_dictionary: pd.DataFrame,
                      ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The feature matrix plus the post-treatment columns (`biomarkers.on_treatment_features`)
    appended last, for the opt-in on-treatment model only; a sample without them stays missing.
    """
    columns = [c for c in on_treatment.columns if c != "sample_id"]
    clash = sorted(set(columns) & set(matrix.columns))
    if clash:
        raise ValueError("on-treatment column(s) already in the feature matrix: "
                         + ", ".join(clash))
    joined = matrix.merge(_numeric(on_treatment), on="sample_id", how="left",
                          validate="one_to_one")
    described = on_treatment_dictionary[on_treatment_dictionary["feature"].isin(columns)]
    return joined, pd.concat([dictionary, described], ignore_index=True)


def _sheet_rows(table: pd.DataFrame, sample_ids: set[str]) -> pd.DataFrame:
    return table[table["sample_id"].isin(sample_ids)]


def _numeric(table: pd.DataFrame) -> pd.DataFrame:
    """Every column but sample_id as float (tables come back from TSV as text)."""
    out = table.copy()
    columns = [c for c in out.columns if c != "sample_id"]
    out[columns] = out[columns].astype(float)
    return out


def read_feature_matrix(path) -> pd.DataFrame:
    """The matrix as written by the pipeline: identifiers as text, features as floats."""
    matrix = read_tsv(path)
    features = [c for c in matrix.columns if c not in ("sample_id", "batch")]
    matrix[features] = matrix[features].astype(float)
    return matrix


def read_labels(path) -> pd.DataFrame:
    labels = read_tsv(path)
    labels["objective_response"] = labels["objective_response"].astype(float)
    return labels
