"""The genome build a VCF header points to.

`infer_build` / `build_problem`: the genome build a header points to (##contig lengths,
CrossMap liftover lines, ##reference/##assembly text) and the problem when it is not the
panel's.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import pysam

from haicpred.genomics.vcf.access import samples_where
from haicpred.genomics.vcf.regions import contig_key
from haicpred.io.errors import Problem

# ----------------------------------------------------------------------------------------------
# Genome build
# ----------------------------------------------------------------------------------------------

#: Lengths of the primary assembled chromosomes (1-22, X, Y) of each build, as written in the
#: `##contig` lines of real GRCh37 (b37/hg19, e.g. GATK bundle, gnomAD 2) and GRCh38 VCFs.
#: Every one differs between the builds, so any one of them identifies the build. Mitochondria
#: are left out on purpose: MT is the same rCRS sequence (16,569 bp) in b37 and GRCh38, and
#: hg19's chrM (16,571 bp) is a different sequence but not a different nuclear build.
CONTIG_LENGTHS: dict[str, dict[str, int]] = {
    "GRCh37": {
        "1": 249250621, "2": 243199373, "3": 198022430, "4": 191154276, "5": 180915260,
        "6": 171115067, "7": 159138663, "8": 146364022, "9": 141213431, "10": 135534747,
        "11": 135006516, "12": 133851895, "13": 115169878, "14": 107349540, "15": 102531392,
        "16": 90354753, "17": 81195210, "18": 78077248, "19": 59128983, "20": 63025520,
        "21": 48129895, "22": 51304566, "X": 155270560, "Y": 59373566,
    },
    "GRCh38": {
        "1": 248956422, "2": 242193529, "3": 198295559, "4": 190214555, "5": 181538259,
        "6": 170805979, "7": 159345973, "8": 145138636, "9": 138394717, "10": 133797422,
        "11": 135086622, "12": 133275309, "13": 114364328, "14": 107043718, "15": 101991189,
        "16": 90338345, "17": 83257441, "18": 80373285, "19": 58617616, "20": 64444167,
        "21": 46709983, "22": 50818468, "X": 156040895, "Y": 57227415,
    },
}
_BUILD_BY_LENGTH: dict[tuple[str, int], str] = {
    (key, length): build for build, lengths in CONTIG_LENGTHS.items()
    for key, length in lengths.items()}

#: Builds a panel can be on (the `genome_build` config values).
GENOME_BUILDS = ("GRCh37", "GRCh38")

#: Names of each build in reference/assembly text, matched as whole tokens (case-insensitive):
#: `ucsc.hg19.fasta`, `human_g1k_v37.fasta`, `hs37d5`, `GRCh37-lite`, `build37.fa`,
#: `Homo_sapiens_assembly38.fasta`, `GRCh38_full_analysis_set`, `hs38DH`, ... NCBI36/hg18 is
#: recognised too so that such a file is refused with either panel.
_BUILD_TOKENS: tuple[tuple[str, str], ...] = (
    ("GRCh37", r"grch37|hg19|b37|hs37|hs37d5|g1k_v37|build37|assembly19|ncbi37"),
    ("GRCh38", r"grch38|hg38|b38|hs38|hs38dh|hs38d1|build38|assembly38|ncbi38"),
    ("NCBI36", r"ncbi36|hg18|b36|build36"),
)
_BUILD_TOKEN_RES = tuple((build, re.compile(rf"(?<![a-z0-9])(?:{tokens})(?![a-z0-9])"))
                         for build, tokens in _BUILD_TOKENS)
#: UCSC chain files are named `<from>To<to>.over.chain`: the calls are on `<to>`.
_CHAIN_RE = re.compile(r"(?<![a-z0-9])(hg\d\d|grch\d\d)to(hg\d\d|grch\d\d)(?![0-9])")
_CHAIN_BUILDS = {"hg18": "NCBI36", "hg19": "GRCh37", "grch37": "GRCh37", "hg38": "GRCh38",
                 "grch38": "GRCh38"}
#: Generic header keys (lower case) whose value names the reference the calls are on.
_REFERENCE_KEYS = ("reference", "assembly", "genome", "genome_build", "genomebuild", "build",
                   "reference_genome", "ref_genome", "new_reference_genome")


@dataclass(frozen=True)
class BuildEvidence:
    """The build a VCF header points to, and the header line that says so."""

    build: str  # "GRCh37", "GRCh38" or "NCBI36"
    evidence: str  # e.g. "##contig chr1 length 249250621 is GRCh37"


def _short(text: str, limit: int = 100) -> str:
    text = str(text).strip()
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _text_builds(text: str) -> list[str]:
    low = str(text).lower()
    return [build for build, regex in _BUILD_TOKEN_RES if regex.search(low)]


#: NCBI_Build values of MAF files that are just the assembly number (TCGA writes `37`).
_BARE_BUILD_NUMBERS = {"36": "NCBI36", "37": "GRCh37", "38": "GRCh38"}


def builds_named(text: str) -> list[str]:
    """The builds a piece of text names: reference/assembly names (`hg19`, `GRCh38`, `hs37d5`,
    ... as whole tokens) or a bare assembly number (`37`, as MAF's NCBI_Build often is)."""
    bare = _BARE_BUILD_NUMBERS.get(str(text).strip())
    return [bare] if bare else _text_builds(text)


def infer_build(header: pysam.VariantHeader) -> BuildEvidence | None:
    """The genome build a VCF header points to, or None when it does not say (or contradicts
    itself).

    Evidence, strongest first; the first kind that names exactly one build decides:

    1. `##contig` lengths of chromosomes 1-22, X, Y (`chr`-insensitive): each differs between
       GRCh37 and GRCh38. Contigs of a length neither build has are ignored.
    2. A liftover declaration (CrossMap writes `##liftOverChainFile=.../hg19ToHg38.over.chain`
       or `##liftOverFile=`): the calls are on the chain's target build.
    3. Reference text: `##reference=`, `##assembly=`, `##contig=<...,assembly=...>` and similar
       lines naming hg19/GRCh37/b37/hs37d5/human_g1k_v37 or hg38/GRCh38/hs38DH (whole tokens).
    """
    # 1. contig lengths
    matches: dict[str, list[tuple[str, int]]] = {}
    for name, contig in header.contigs.items():
        length = contig.length
        if not length:
            continue
        build = _BUILD_BY_LENGTH.get((contig_key(name), int(length)))
        if build:
            matches.setdefault(build, []).append((name, int(length)))
    if len(matches) == 1:
        (build, found), = matches.items()
        name, length = found[0]
        more = f" (and {len(found) - 1} more ##contig lengths agree)" if len(found) > 1 else ""
        return BuildEvidence(build, f"##contig {name} length {length} is {build}{more}")

    liftover: dict[str, str] = {}
    text: dict[str, str] = {}
    for rec in header.records:
        try:
            key = str(rec.key)
        except Exception:  # noqa: BLE001 - malformed header line: no evidence from it
            continue
        low_key = key.lower()
        if rec.type == "CONTIG":
            assembly = rec.get("assembly")
            if assembly:
                for build in _text_builds(assembly):
                    text.setdefault(build, f"##contig {rec.get('ID')} assembly={assembly} "
                                           f"names {build}")
            continue
        if rec.type != "GENERIC" or rec.value is None:
            continue
        value = str(rec.value)
        if low_key.startswith("liftover"):
            for _, target in _CHAIN_RE.findall(value.lower()):
                build = _CHAIN_BUILDS[target]
                liftover.setdefault(build, f"##{key}={_short(value)} lifts the calls over to "
                                           f"{target} ({build})")
        elif low_key in _REFERENCE_KEYS:
            for build in _text_builds(value):
                text.setdefault(build, f"##{key}={_short(value)} names {build}")
    # 2. liftover target; 3. reference text
    for found in (liftover, text):
        if len(found) == 1:
            (build, evidence), = found.items()
            return BuildEvidence(build, evidence)
    return None


def build_problem(header: pysam.VariantHeader, genome_build: str, *, path: str,
                  samples: Sequence[str] = ()) -> Problem | None:
    """A Problem when the header points to another build than `genome_build`; None when it
    matches or the header does not tell (unknown is accepted)."""
    found = infer_build(header)
    if found is None or found.build == genome_build:
        return None
    if found.build in GENOME_BUILDS:
        other = (f"run it with genome_build: {found.build} and the {found.build} panel "
                 f"(e.g. resources/panel_{found.build}.tsv), or ")
    else:
        other = ""
    return Problem(str(path), samples_where(samples),
                   f"looks like {found.build}, not {genome_build} (the genome_build of the "
                   f"panel): {found.evidence}",
                   f"{other}lift the VCF over to {genome_build} (Picard LiftoverVcf, "
                   f"CrossMap, bcftools +liftover) first")
