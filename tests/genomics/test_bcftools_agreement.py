"""haicpred's panel extraction agrees with an independent bcftools pipeline on real VCFs.

Issue 3, acceptance: "a test runs the extraction over every file in ../shared/realdata/vcf/ that
htslib parses (with a panel covering the genes each file actually has calls in) and compares the
kept variant set with an independent bcftools run using the same region, FILTER, VAF and depth
rules: identical sets". One parametrised case per file of MANIFEST.tsv with `htslib_ok` True
(id `streamed:<file>`), plus, for BGZF files (VCF.gz, BCF), the same through haicpred's indexed
path (`indexed:<file>`: `index_dir` given, haicpred builds an index there and fetches the
panel regions), so a failure names the file and the path. The files in `malformed/`
(htslib_ok False) must be refused with an InputError naming the file: that is
`test_real_malformed_files_give_input_error` in tests/genomics/test_mutations.py, not repeated here.
The sites-only gnomAD file is the one parseable file haicpred must refuse ("sites-only").

The module is skipped, with the reason, when the real-data folder (`HAICPRED_REALDATA`, else
`../shared/realdata` beside the repository) or bcftools/bgzip/tabix are missing.

Panel ("pseudo-genes")
    Built from the file's own records that have a real ALT (not `.`, `<NON_REF>`, `<*>`): per
    contig, the sorted distinct POS values are cut into 2k-1 consecutive chunks (k <= 3) and
    the even-numbered chunks become windows [first POS, last POS] of the chunk, named
    `W<contig>_<i>`. So every window starts and ends on a real record (the inclusive edges are
    exercised) and the odd chunks between windows hold records that must stay out. The panel
    spells contigs the other way from the file (`chr1` for `1`, `MT` for `chrM`), so haicpred's
    contig reconciliation is exercised too; bcftools gets the file's own spelling. The panel is
    read with haicpred.io.resources.read_panel (schema-validated), as the workflow reads it.

The bcftools side (`bcftools_sets`), per file, on a private prepared copy (`prepare`):
    0. preparation, records unchanged: the text is sorted by contig/POS where the file is not
       (Delly), BGZF-compressed and tabix-indexed (`view -R` needs the index), and the header
       gets `##contig` lines for contigs the records use but the header omits, plus
       `##INFO`/`##FORMAT` lines for tags the records use undeclared (Strelka's documented
       TAR/TIR definition where the rules read them, else Number=., Type=String): htslib
       cannot write records whose contig or tags are undeclared, nor subset their samples;
    1. `bcftools view -I -R regions --regions-overlap 1 -s <tumour>`: records overlapping a
       window (POS..POS+len(REF)-1, or END; the overlap haicpred uses), tumour column only;
    2. `bcftools annotate -x <every other INFO/FORMAT tag>`: only the tags the rules read stay
       (some real files break their declared Number, e.g. Mutect2's MMQ, and `norm` rejects
       them);
    3. `bcftools +fill-tags` where a VAF or depth must see every ALT (before splitting):
       `FORMAT/VAF` (= AD[alt] / sum(AD)), a total depth `sum(AD)`, or `sum(AO)` (FreeBayes);
    4. `bcftools norm -m-`: multi-allelic records split, one ALT per record;
    5. `bcftools view -f PASS,. -i '<rules>'`, then `bcftools query`;
    6. annotated files only: the consequence rule, below.

The rules (`Rules`, one entry per file in SPECS), written per caller from its documentation,
not from haicpred's code:
    - FILTER PASS or `.`;
    - not a symbolic/breakend/`*` allele; gVCF `<NON_REF>`/`<*>` and ALT `.` are not variants;
    - the tumour carries the ALT: GT contains it (`GT~"1"` after splitting; half calls such as
      `1/.` count), or, for callers that write no GT (Strelka) or a fully missing GT, the
      caller's alt read count is > 0;
    - VAF >= 0.05 where the caller gives one; depth >= 10 where given. A missing value means
      "not given" and skips the rule: `(TAG="." || TAG>=x)`;
    - haicpred's documented somatic-status rule (mutations.py, rule 2b): a call whose caller
      status says "not somatic" is dropped (VarScan writes germline and LOH calls with PASS).
      VarScan INFO/SS (String), RADIA INFO/SS, SomaticSniper/MuSE/MuTect/Pindel FORMAT/SS
      (Integer): codes 0 reference/wildtype, 1 germline, 3 LOH; Complete Genomics INFO/SS:
      the words Germline, LOH.
    How each caller's VAF and depth are expressed is in SPECS (field `why`).

Consequence rule (annotated files): replicated with bcftools, not skipped.
    - VEP CSQ: `bcftools +split-vep -d` (one line per transcript) and `-i` on `Consequence`;
    - SnpEff ANN (also ANN-shaped fields stored under the key CSQ): split-vep needs
      "Format: a|b|..." in the header description and reads the field `Consequence`, so the
      prepared copy's description is rewritten to that shape (SnpEff's `Annotation` field named
      `Consequence`);
    - legacy SnpEff EFF: `bcftools view -i 'INFO/EFF~"EFFECT[(]"'`, one test per effect name.
    An allele counts when its record has no annotation at all, or when any of its entries has
    a protein-altering term (PROTEIN_ALTERING / PROTEIN_ALTERING_EFF, from the issue's list).
    The pseudo-gene names match no SYMBOL, so entries are not narrowed to a gene (gene matching
    is unit-tested in test_mutations.py). No annotated file has a multi-allelic record in its
    windows (asserted), so entries need no tying to an ALT.

Each case also checks the region logic alone: the variant alleles haicpred audits equal those
bcftools finds in the windows.

Disagreements where haicpred is wrong are listed in HAICPRED_BUGS / INDEXED_BUGS with the
record, the expected and the actual decision, and marked xfail(strict=True): the mark must go
when the bug is fixed.
"""

from __future__ import annotations

import csv
import gzip
import inspect
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from haicpred.io.errors import InputError
from haicpred.genomics.mutations import panel_mutations
from haicpred.io.resources import read_panel
from realdata import HAVE_REAL, REAL, SKIP_REASON

MIN_VAF = 0.05
MIN_DEPTH = 10


if not HAVE_REAL:
    pytest.skip(SKIP_REASON, allow_module_level=True)
_MISSING_TOOLS = [t for t in ("bcftools", "bgzip", "tabix") if shutil.which(t) is None]
if _MISSING_TOOLS:
    pytest.skip(f"{', '.join(_MISSING_TOOLS)} not on PATH (CI installs them from apt)",
                allow_module_level=True)


def _manifest() -> list[dict]:
    with open(REAL / "MANIFEST.tsv", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


PARSEABLE = [row["path"] for row in _manifest() if row["htslib_ok"] == "True"]

# ----------------------------------------------------------------------------------------------
# The rules, per file
# ----------------------------------------------------------------------------------------------

#: Protein-altering consequences (issue 3: missense, stop gained/lost, start lost, frameshift,
#: in-frame indel, splice donor/acceptor), as Sequence Ontology terms (VEP, SnpEff ANN) and as
#: legacy SnpEff EFF effect names.
PROTEIN_ALTERING = (
    "missense_variant", "stop_gained", "stop_lost", "start_lost", "frameshift_variant",
    "inframe_insertion", "inframe_deletion", "protein_altering_variant",
    "splice_donor_variant", "splice_acceptor_variant",
    # SnpEff ANN spellings of in-frame indels (substrings of the above are matched anyway)
    "conservative_inframe_insertion", "disruptive_inframe_insertion",
    "conservative_inframe_deletion", "disruptive_inframe_deletion",
)
PROTEIN_ALTERING_EFF = (
    "NON_SYNONYMOUS_CODING", "STOP_GAINED", "STOP_LOST", "START_LOST", "FRAME_SHIFT",
    "SPLICE_SITE_DONOR", "SPLICE_SITE_ACCEPTOR", "CODON_INSERTION", "CODON_DELETION",
    "CODON_CHANGE_PLUS_CODON_INSERTION", "CODON_CHANGE_PLUS_CODON_DELETION",
)

GT_CARRIES = 'GT~"1"'  # after `norm -m-` the record's only ALT is allele 1


def somatic_status(tag: str, quoted: bool = False) -> str:
    """Caller status codes 0 (reference/wildtype), 1 (germline), 3 (LOH) are not somatic."""
    q = '"' if quoted else ""
    return " && ".join(f"{tag}!={q}{code}{q}" for code in (0, 1, 3))


def given(tags: list[str], test: str) -> str:
    """`test` must hold unless one of `tags` is missing (the caller gave no value)."""
    missing = " || ".join(f'{t}="."' for t in tags)
    return f"({missing} || {test})"


def gt_or(alt_reads: str) -> str:
    """GT carries the ALT; a fully missing GT falls back to the caller's alt read count."""
    return f'({GT_CARRIES} || (GT!~"[0-9]" && {alt_reads}))'


def strelka_snv(what: str) -> str:
    """Strelka SNV tier-1 counts (FORMAT AU/CU/GU/TU, first value = tier 1) for the ALT base:
    `what` is 'carries' (alt count > 0) or 'vaf' (alt / sum of the four bases >= MIN_VAF)."""
    total = "(" + "+".join(f"FORMAT/{b}U[0:0]" for b in "ACGT") + ")"
    parts = []
    for b in "ACGT":
        alt = f"FORMAT/{b}U[0:0]"
        test = f"{alt}>0" if what == "carries" else f"{alt}/{total}>={MIN_VAF}"
        parts.append(f'(ALT="{b}" && {test})')
    return "(" + " || ".join(parts) + ")"


def strelka_indel(what: str) -> str:
    """Strelka indel tier-1 counts: TIR (reads strongly supporting the indel) and TAR (the
    reference); VAF = TIR / (TAR + TIR) as in Strelka's documentation."""
    if what == "carries":
        return "FORMAT/TIR[0:0]>0"
    return f"FORMAT/TIR[0:0]/(FORMAT/TAR[0:0]+FORMAT/TIR[0:0])>={MIN_VAF}"


def bcount_vaf() -> str:
    """SomaticSniper BCOUNT (A,C,G,T occurrence counts): alt base count / sum."""
    total = "(" + "+".join(f"FORMAT/BCOUNT[0:{i}]" for i in range(4)) + ")"
    return "(" + " || ".join(
        f'(ALT="{b}" && FORMAT/BCOUNT[0:{i}]/{total}>={MIN_VAF})'
        for i, b in enumerate("ACGT")) + ")"


AD_VAF = given(["FORMAT/VAF"], f"FORMAT/VAF>={MIN_VAF}")  # FORMAT/VAF from +fill-tags
DP_DEPTH = given(["FORMAT/DP"], f"FORMAT/DP>={MIN_DEPTH}")


@dataclass(frozen=True)
class Rules:
    tumour: str | None  # the tumour column bcftools reads (`view -s`)
    why: str  # the caller's fields, from its documentation
    sheet: bool = False  # pass it as the sheet's tumor_sample (the header rules cannot decide)
    info: tuple[str, ...] = ()  # INFO tags the rules read
    fmt: tuple[str, ...] = ("GT",)  # FORMAT tags the rules read
    fill: tuple[str, ...] = ()  # +fill-tags -t expressions, computed before splitting
    carries: str = GT_CARRIES
    vaf: str | None = None
    depth: str | None = None
    somatic: str | None = None
    annotation: tuple[str, ...] = ()  # "CSQ" (VEP), "ANN", "ANN-as-CSQ", "EFF"
    declare: tuple[str, ...] = ()  # header lines for tags the records use undeclared
    refused: str | None = None  # haicpred must refuse the file with this message


def _ad_rules(tumour, why, sheet=True, annotation=(), info=()):
    """GATK-style GT/AD/DP: VAF = AD[alt] / sum(AD) over all alleles; depth FORMAT/DP."""
    return Rules(tumour, why, sheet=sheet, info=info, fmt=("GT", "AD", "DP"),
                 fill=("FORMAT/VAF",), carries=gt_or("FORMAT/AD[0:1]>0"), vaf=AD_VAF,
                 depth=DP_DEPTH, annotation=annotation)


FMT_SS = somatic_status("FORMAT/SS")  # Type=Integer (SomaticSniper, MuSE, MuTect, Pindel)
INFO_SS = somatic_status("INFO/SS")  # Type=Integer (RADIA)
VARSCAN_SS = somatic_status("INFO/SS", quoted=True)  # Type=String (VarScan)

STRELKA_TIER_HEADER = (
    '##FORMAT=<ID=TAR,Number=2,Type=Integer,Description="Reads strongly supporting alternate '
    'allele for tiers 1,2">',
    '##FORMAT=<ID=TIR,Number=2,Type=Integer,Description="Reads strongly supporting indel allele '
    'for tiers 1,2">',
)

SPECS: dict[str, Rules] = {
    "somatic_real/vcf2maf__test_mutect.vcf": Rules(
        "TUMOR", "MuTect 1: GT; FORMAT FA = allele fraction of the ALT; FORMAT DP; FORMAT SS",
        fmt=("GT", "FA", "DP", "SS"), vaf=given(["FORMAT/FA"], f"FORMAT/FA>={MIN_VAF}"),
        depth=DP_DEPTH, somatic=FMT_SS),
    "somatic_real/varcode__mutect-example.vcf": Rules(
        "SomaticSample", "MuTect 1 (columns SomaticSample/NormalSample): as above", sheet=True,
        fmt=("GT", "FA", "DP", "SS"), vaf=given(["FORMAT/FA"], f"FORMAT/FA>={MIN_VAF}"),
        depth=DP_DEPTH, somatic=FMT_SS),
    "somatic_real/varcode__mutect2_example.vcf": Rules(
        "NA12878", "Mutect2 tumour-only: GT; FORMAT AF (Number=A); no FORMAT DP, so depth = "
        "sum(AD) over all alleles, computed before splitting",
        fmt=("GT", "AF", "AD"), fill=("FORMAT/TOTAD:1=int(smpl_sum(FORMAT/AD))",),
        vaf=given(["FORMAT/AF"], f"FORMAT/AF>={MIN_VAF}"),
        depth=given(["FORMAT/TOTAD"], f"FORMAT/TOTAD>={MIN_DEPTH}")),
    "somatic_real/vcf2maf__test_strelka.vcf": Rules(
        "TUMOR", "Strelka 1 somatic (no GT): SNVs tier-1 AU/CU/GU/TU, indels tier-1 TIR/TAR "
        "(declared in Strelka's indel header, missing from this file's); FORMAT DP = tier-1 "
        "depth", fmt=("DP", "AU", "CU", "GU", "TU", "TAR", "TIR"),
        carries=f'((TYPE="snp" && {strelka_snv("carries")}) || '
                f'(TYPE="indel" && {strelka_indel("carries")}))',
        vaf=f'((TYPE="snp" && {strelka_snv("vaf")}) || (TYPE="indel" && {strelka_indel("vaf")}))',
        depth=DP_DEPTH, declare=STRELKA_TIER_HEADER),
    "somatic_real/varcode__strelka-example.vcf": Rules(
        "TUMOR", "Strelka 1 somatic indels (no GT): tier-1 TIR/TAR; FORMAT DP",
        fmt=("DP", "TAR", "TIR"), carries=strelka_indel("carries"), vaf=strelka_indel("vaf"),
        depth=DP_DEPTH),
    "somatic_real/vcf2maf__test_varscan.vcf": Rules(
        "TUMOR", "VarScan 2: GT; FORMAT AD = alt reads, RD = ref reads (FREQ = AD/(RD+AD) is a "
        "'%' string bcftools cannot compare); FORMAT DP; INFO SS",
        info=("SS",), fmt=("GT", "AD", "RD", "DP"),
        vaf=given(["FORMAT/AD", "FORMAT/RD"], f"FORMAT/AD/(FORMAT/AD+FORMAT/RD)>={MIN_VAF}"),
        depth=DP_DEPTH, somatic=VARSCAN_SS),
    "somatic_real/python__issue-140-file1.vcf": Rules(
        "NORMAL", "VarScan 2, one column: as above", info=("SS",),
        fmt=("GT", "AD", "RD", "DP"),
        vaf=given(["FORMAT/AD", "FORMAT/RD"], f"FORMAT/AD/(FORMAT/AD+FORMAT/RD)>={MIN_VAF}"),
        depth=DP_DEPTH, somatic=VARSCAN_SS),
    "somatic_real/vcf2maf__test_sniper.vcf": Rules(
        "TUMOR", "SomaticSniper: GT; FORMAT BCOUNT = A,C,G,T counts, VAF = ALT base / sum; "
        "FORMAT DP; FORMAT SS", fmt=("GT", "BCOUNT", "DP", "SS"),
        vaf=given(["FORMAT/BCOUNT"], bcount_vaf()), depth=DP_DEPTH, somatic=FMT_SS),
    "somatic_real/vcf2maf__test_muse.vcf": Rules(
        "TUMOR", "MuSE (tumour first): GT; FORMAT AD ref,alt; FORMAT DP; FORMAT SS",
        fmt=("GT", "AD", "DP", "SS"), fill=("FORMAT/VAF",), vaf=AD_VAF, depth=DP_DEPTH,
        somatic=FMT_SS),
    "somatic_real/vcf2maf__test_radia.vcf": Rules(
        "DNA_TUMOR", "RADIA (DNA_NORMAL, DNA_TUMOR, RNA_TUMOR): GT; FORMAT AD per allele, "
        "VAF = AD[alt]/sum(AD) (FORMAT AF is the same ratio rounded to 2 decimals); FORMAT DP; "
        "INFO SS", sheet=True, info=("SS",), fmt=("GT", "AD", "DP"), fill=("FORMAT/VAF",),
        vaf=AD_VAF, depth=DP_DEPTH, somatic=INFO_SS),
    "somatic_real/vcf2maf__test_pindel.vcf": Rules(
        "TUMOR", "Pindel: GT (0/0 in most tumour columns); FORMAT AD ref,alt; FORMAT DP; "
        "FORMAT SS", fmt=("GT", "AD", "DP", "SS"), fill=("FORMAT/VAF",), vaf=AD_VAF,
        depth=DP_DEPTH, somatic=FMT_SS),
    "somatic_real/vcf2maf__test_delly.vcf": Rules(
        "TUMOR", "Delly (tumour first): GT only; DV/RV count read pairs/junctions of an SV, not "
        "an allele fraction; most ALTs are symbolic or breakends"),
    "somatic_real/vcf2maf__test_merged.vcf": Rules(
        "TUMOR", "vcf2maf merge of Strelka/VarScan/SomaticSniper records: GT; FORMAT FA = "
        "fraction of reads supporting ALT where written, else AD[alt]/sum(AD) where AD has a "
        "count per allele; FORMAT DP; FORMAT SS", fmt=("GT", "FA", "AD", "DP", "SS"),
        fill=("FORMAT/VAF",),
        vaf=f'((FORMAT/FA!="." && FORMAT/FA>={MIN_VAF}) || (FORMAT/FA="." && {AD_VAF}))',
        depth=DP_DEPTH, somatic=FMT_SS, declare=STRELKA_TIER_HEADER),
    "somatic_real/vcf2maf__test_b38.vcf": _ad_rules(
        "TUMOR", "GT, AD (Number=R), DP", sheet=False),
    "somatic_real/pcgr__T001-BRCA.grch38.vcf.gz": Rules(
        None, "TCGA MC3 via PCGR (one column): GT; INFO TVAF = tumour VAF, INFO TDP = tumour "
        "depth (FORMAT ADT is a String bcftools cannot sum)", info=("TVAF", "TDP"),
        vaf=given(["INFO/TVAF"], f"INFO/TVAF>={MIN_VAF}"),
        depth=given(["INFO/TDP"], f"INFO/TDP>={MIN_DEPTH}")),
    "somatic_real/pcgr__T001-COAD.grch38.vcf.gz": Rules(
        None, "as T001-BRCA", info=("TVAF", "TDP"),
        vaf=given(["INFO/TVAF"], f"INFO/TVAF>={MIN_VAF}"),
        depth=given(["INFO/TDP"], f"INFO/TDP>={MIN_DEPTH}")),
    "somatic_real/pcgr__T001-COAD.grch37.vcf.gz": Rules(
        None, "as T001-BRCA", info=("TVAF", "TDP"),
        vaf=given(["INFO/TVAF"], f"INFO/TVAF>={MIN_VAF}"),
        depth=given(["INFO/TDP"], f"INFO/TDP>={MIN_DEPTH}")),
    "somatic_real/r__chr7-sub.vcf.gz": Rules(
        "HCC1187-H-200-37-ASM-T1", "Complete Genomics (cgatools) somatic: GT; FORMAT AD is per "
        "called allele in GT order, not REF,ALT, so VAF = 1 - CGA_RDP/DP (CGA_RDP = reads "
        "supporting REF, DP = total depth); INFO SS = Germline/Somatic/LOH", sheet=True,
        info=("SS",), fmt=("GT", "DP", "CGA_RDP"),
        vaf=given(["FORMAT/DP", "FORMAT/CGA_RDP"],
                  f"(FORMAT/DP>0 && 1-FORMAT/CGA_RDP/FORMAT/DP>={MIN_VAF})"),
        depth=DP_DEPTH, somatic='INFO/SS!="Germline" && INFO/SS!="LOH"'),
    "somatic_real/deepvariant_re__golden.postprocess_somatic_tumor_single_site_output.vcf": Rules(
        "NA12878", "DeepVariant-somatic: GT; FORMAT VAF (Number=A); FORMAT DP",
        fmt=("GT", "VAF", "DP"), vaf=given(["FORMAT/VAF"], f"FORMAT/VAF>={MIN_VAF}"),
        depth=DP_DEPTH),
    "annotated_ann/vembrane__test_context__test.vcf": _ad_rules(
        "TUMOR", "Strelka 2 germline + SnpEff ANN: GT, AD, DP", sheet=False, info=("ANN",),
        annotation=("ANN",)),
    "annotated_csq/vembrane__test_ann_csq_annotation_key__test.vcf": _ad_rules(
        "TUMOR", "as above, the ANN fields stored under the key CSQ", sheet=False,
        info=("CSQ",), annotation=("ANN-as-CSQ",)),
    "annotated_sv/vembrane__test_stop__test.vcf": Rules(
        "M82617", "Manta SVs (three samples): GT only; PR/SR are pair/split-read counts of an "
        "SV", sheet=True),
    "annotated_csq/python3__test-haploidX.vcf": _ad_rules(
        "37165", "GATK (haploid X) + VEP CSQ without an Allele field: GT, AD, DP",
        info=("CSQ",), annotation=("CSQ",)),
    "annotated_csq/python3__tests__test.vcf.gz": _ad_rules(
        "101502-101502", "GATK, 189 samples, VEP CSQ and SnpEff ANN: GT, AD, DP",
        info=("CSQ", "ANN"), annotation=("CSQ", "ANN")),
    "annotated_csq/vcfanno__query.vcf.gz": Rules(
        "NA12877", "FreeBayes (three samples) + VEP CSQ and SnpEff EFF: GT; VAF = AO / (RO + "
        "sum(AO)), sum(AO) computed before splitting; FORMAT DP", sheet=True,
        info=("CSQ", "EFF"), fmt=("GT", "AO", "RO", "DP"),
        fill=("FORMAT/SUMAO:1=int(smpl_sum(FORMAT/AO))",),
        carries=gt_or("FORMAT/AO[0:0]>0"),
        vaf=given(["FORMAT/AO", "FORMAT/RO", "FORMAT/SUMAO"],
                  f"(FORMAT/RO+FORMAT/SUMAO>0 && "
                  f"FORMAT/AO/(FORMAT/RO+FORMAT/SUMAO)>={MIN_VAF})"),
        depth=DP_DEPTH, annotation=("CSQ", "EFF")),
    "annotated_csq/python__gnomad.vcf.gz": Rules(
        None, "gnomAD sites-only (no sample column): no tumour to judge",
        refused="sites-only"),
    "annotated_eff/python3__test.snpeff.vcf": _ad_rules(
        "1094PC0012", "GATK UnifiedGenotyper (four samples) + legacy SnpEff EFF: GT, AD, DP",
        info=("EFF",), annotation=("EFF",)),
    "annotated_eff/python3__test.snpeff.bcf": _ad_rules(
        "1094PC0012", "the same file as BCF", info=("EFF",), annotation=("EFF",)),
    "germline_multisample/r__hapmap_exome_chr22.vcf.gz": _ad_rules(
        "NA18914@0178874379", "GATK, 22 samples: GT, AD (Number=.), DP"),
    "germline_multisample/vcztools__chr22.vcf.gz": _ad_rules(
        "HG00115", "GATK GenotypeGVCFs, 100 samples (many ./.): GT, AD, DP"),
    "germline_multisample/python__gatk.vcf.gz": _ad_rules(
        "NA12878", "GATK UnifiedGenotyper, plain gzip: GT, AD, DP"),
    "germline_multisample/python__freebayes.vcf.gz": Rules(
        "NA12878", "FreeBayes, plain gzip: GT; VAF = AO / (RO + sum(AO)), sum(AO) computed "
        "before splitting; FORMAT DP", sheet=True, fmt=("GT", "AO", "RO", "DP"),
        fill=("FORMAT/SUMAO:1=int(smpl_sum(FORMAT/AO))",), carries=gt_or("FORMAT/AO[0:0]>0"),
        vaf=given(["FORMAT/AO", "FORMAT/RO", "FORMAT/SUMAO"],
                  f"(FORMAT/RO+FORMAT/SUMAO>0 && "
                  f"FORMAT/AO/(FORMAT/RO+FORMAT/SUMAO)>={MIN_VAF})"),
        depth=DP_DEPTH),
    "gvcf/r__banded_gvcf.vcf": _ad_rules(
        "NA12878", "GATK gVCF: GT, AD (including the <NON_REF> count), DP", sheet=False),
    "gvcf/deepvariant_re__golden.postprocess_gvcf_output.EXCERPT_first44.g.vcf": Rules(
        "NA12878", "DeepVariant gVCF: GT; FORMAT VAF (Number=A, <*> included); FORMAT DP",
        fmt=("GT", "VAF", "DP"), vaf=given(["FORMAT/VAF"], f"FORMAT/VAF>={MIN_VAF}"),
        depth=DP_DEPTH),
    "bcf/htslib__vcf_file.bcf": Rules(
        "B", "htslib test BCF (samples A, B): GT; FORMAT DP on some records; no VAF",
        sheet=True, fmt=("GT", "DP"), depth=DP_DEPTH),
}

#: Cases where haicpred disagrees with the bcftools run and haicpred is wrong (see the reason).
#: strict: the case fails loudly once the bug is fixed, so the mark is then removed.
HAICPRED_BUGS: dict[str, str] = {}


# ----------------------------------------------------------------------------------------------
# Helpers: contig keys, preparation, panel, pipelines
# ----------------------------------------------------------------------------------------------

def ckey(name: str) -> str:
    """chr1/1 -> 1, chrM/MT/M -> M (for comparing the two sides' contig spellings)."""
    n = name[3:] if name.lower().startswith("chr") else name
    n = n.upper()
    return "M" if n in ("M", "MT") else n


def other_spelling(name: str) -> str:
    """The other naming convention: 1 <-> chr1, chrM <-> MT."""
    if name.lower().startswith("chr"):
        rest = name[3:]
        return "MT" if rest.upper() == "M" else rest
    return "chrM" if name.upper() in ("M", "MT") else f"chr{name}"


def run(args: list[str], stdin: bytes | None = None) -> bytes:
    proc = subprocess.run(args, input=stdin, capture_output=True)
    if proc.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({proc.returncode}):\n"
                             f"{proc.stderr.decode(errors='replace')[-3000:]}")
    return proc.stdout


def pipeline(commands: list[list[str]]) -> bytes:
    """Run commands as a shell pipeline (without a shell); raise naming the failing ones.
    stderr goes to temporary files, so chatty warnings cannot fill a pipe and block."""
    procs = []
    prev = None
    errs = [tempfile.TemporaryFile() for _ in commands]
    try:
        for args, err in zip(commands, errs):
            p = subprocess.Popen(args, stdin=prev, stdout=subprocess.PIPE, stderr=err)
            if prev is not None:
                prev.close()  # the previous command gets SIGPIPE if this one exits early
            prev = p.stdout
            procs.append(p)
        out = procs[-1].stdout.read()
        failures = []
        for args, p, err in zip(commands, procs, errs):
            p.wait()
            if p.returncode != 0:
                err.seek(0)
                text = err.read().decode(errors="replace")[-2000:]
                failures.append(f"{' '.join(args)} exited {p.returncode}:\n{text}")
    finally:
        for err in errs:
            err.close()
    if failures:
        raise AssertionError("bcftools pipeline failed:\n" + "\n".join(failures))
    return out


def _read_text(path: Path) -> str:
    if path.suffix == ".bcf":
        return run(["bcftools", "view", "--no-version", str(path)]).decode()
    with open(path, "rb") as handle:
        magic = handle.read(2)
    opener = gzip.open if magic == b"\x1f\x8b" else open
    with opener(path, "rt", newline="") as handle:
        return handle.read()


_DECL_RE = re.compile(r"^##(INFO|FORMAT|contig)=<ID=([^,>]+)")


def prepare(path: Path, rules: Rules, workdir: Path) -> Prepared:
    """A BGZF + tabix copy whose header declares every contig and tag the records use.

    The records are not changed, only sorted by contig (first appearance) and POS where a file
    is not (tabix needs it; Delly writes SVs in caller order). For ANN-shaped annotation fields
    the header description is rewritten to "Format: Allele|Consequence|..." (SnpEff's
    `Annotation` field named `Consequence`) so `bcftools +split-vep` can read it.
    """
    text = _read_text(path)
    lines = text.splitlines()
    meta = [ln for ln in lines if ln.startswith("##")]
    column_line = next(ln for ln in lines if ln.startswith("#CHROM"))
    body = [ln for ln in lines if ln and not ln.startswith("#")]
    extra = list(rules.declare)
    declared = {(m.group(1), m.group(2)) for m in map(_DECL_RE.match, meta + extra) if m}
    contigs: list[str] = []
    info_keys: list[str] = []
    fmt_keys: list[str] = []
    positions = []
    for ln in body:
        fields = ln.split("\t", 9)
        chrom = fields[0]
        if chrom not in contigs:
            contigs.append(chrom)
        alts = set(fields[4].split(","))
        if alts - {".", "<NON_REF>", "<*>"}:
            positions.append((chrom, int(fields[1])))
        if len(fields) > 7 and fields[7] != ".":
            for item in fields[7].split(";"):
                key = item.split("=", 1)[0]
                if key not in info_keys:
                    info_keys.append(key)
        if len(fields) > 8:
            for key in fields[8].split(":"):
                if key not in fmt_keys:
                    fmt_keys.append(key)
    for c in contigs:
        if ("contig", c) not in declared:
            extra.append(f"##contig=<ID={c}>")
    for kind, keys in (("INFO", info_keys), ("FORMAT", fmt_keys)):
        for k in keys:
            if (kind, k) not in declared and k not in ("", "."):
                extra.append(f'##{kind}=<ID={k},Number=.,Type=String,Description="undeclared">')
    if any(a.startswith("ANN") for a in rules.annotation):
        meta = [_ann_description(ln) for ln in meta]
    order = {c: i for i, c in enumerate(contigs)}
    body.sort(key=lambda ln: (order[ln.split("\t", 1)[0]], int(ln.split("\t", 2)[1])))
    fixed = "\n".join(meta + extra + [column_line] + body) + "\n"
    out = workdir / "prepared.vcf.gz"
    out.write_bytes(run(["bgzip", "-c"], stdin=fixed.encode()))
    run(["tabix", "-f", "-p", "vcf", str(out)])
    tags = {(m.group(1), m.group(2)) for m in map(_DECL_RE.match, meta + extra) if m}
    return Prepared(out, positions, sorted(k for kind, k in tags if kind == "INFO"),
                    sorted(k for kind, k in tags if kind == "FORMAT"))


@dataclass(frozen=True)
class Prepared:
    path: Path
    positions: list[tuple[str, int]]  # (CHROM, POS) of records with a non-reference-block ALT
    info: list[str]  # INFO tags the header declares
    fmt: list[str]  # FORMAT tags the header declares


def _ann_description(line: str) -> str:
    """SnpEff writes Description="Functional annotations: 'Allele | Annotation | ...'";
    split-vep wants "... Format: Allele|Consequence|..." (it reads the field `Consequence`)."""
    m = re.match(r"^(##INFO=<ID=(ANN|CSQ),.*Description=\")([^\"']*)'([^']*)'(.*)$", line)
    if not m:
        return line
    fields = [part.strip() for part in m.group(4).split("|")]
    fields = ["Consequence" if f == "Annotation" else f for f in fields]
    return f"{m.group(1)}{m.group(3)}Format: {'|'.join(fields)}{m.group(5)}"


def panel_windows(positions: list[tuple[str, int]]) -> list[tuple[str, str, int, int]]:
    """(name, file contig, start, end) windows over real records, see the module docstring."""
    by_contig: dict[str, list[int]] = {}
    for chrom, pos in positions:
        by_contig.setdefault(chrom, []).append(pos)
    windows = []
    for chrom, pos_list in by_contig.items():
        unique = np.unique(np.asarray(pos_list, dtype=np.int64))
        k = max(1, min(3, (len(unique) + 1) // 2))
        chunks = np.array_split(unique, 2 * k - 1)
        for i, chunk in enumerate(chunks[::2]):
            if len(chunk):
                name = re.sub(r"[^A-Za-z0-9]", "", chrom)
                windows.append((f"W{name}_{i}", chrom, int(chunk[0]), int(chunk[-1])))
    return windows


def write_panel(windows, workdir: Path) -> pd.DataFrame:
    rows = ["gene\tchrom\tstart\tend\tstrand\tsource"]
    rows += [f"{name}\t{other_spelling(chrom)}\t{start}\t{end}\t+\tbcftools agreement test"
             for name, chrom, start, end in windows]
    path = workdir / "panel.tsv"
    path.write_text("\n".join(rows) + "\n")
    return read_panel(path)


def write_regions(windows, workdir: Path) -> Path:
    path = workdir / "regions.tsv"  # not .bed: 1-based inclusive CHROM, BEG, END
    path.write_text("".join(f"{chrom}\t{start}\t{end}\n" for _, chrom, start, end in windows))
    return path


#: ALT values that are not variants: gVCF reference-block placeholders, no ALT at all.
NOT_VARIANTS = ("<NON_REF>", "<*>", ".", None)


def _symbolic_free() -> str:
    return 'ALT!~"^<" && ALT!~"[][]" && ALT!="*" && ALT!="."'


def _keys(out: bytes) -> set[tuple[str, int, str, str]]:
    rows = set()
    for line in out.decode().splitlines():
        if line:
            chrom, pos, ref, alt = line.split("\t")[:4]
            rows.add((ckey(chrom), int(pos), ref, alt))
    return rows


QUERY = ["bcftools", "query", "-f", "%CHROM\t%POS\t%REF\t%ALT\n"]


def bcftools_sets(prepared: Prepared, regions: Path, rules: Rules, workdir: Path
                  ) -> tuple[set, set]:
    """(alleles in the windows, alleles kept by the rules), both from bcftools."""
    select = ["bcftools", "view", "--no-version", "-I", "-R", str(regions),
              "--regions-overlap", "1", "-Ou"]
    if rules.tumour:
        select += ["-s", rules.tumour]
    select.append(str(prepared.path))
    commands = [select]
    # keep only the tags the rules read (annotate -x refuses an empty list, so list them)
    drop = [f"INFO/{t}" for t in prepared.info if t not in rules.info]
    drop += [f"FORMAT/{t}" for t in prepared.fmt if t not in rules.fmt]
    if drop:
        commands.append(["bcftools", "annotate", "--no-version", "-x", ",".join(drop), "-Ou"])
    if rules.fill:
        commands.append(["bcftools", "+fill-tags", "--no-version", "-Ou", "--", "-t",
                         ",".join(rules.fill)])
    commands.append(["bcftools", "norm", "--no-version", "-m-", "-Ou"])
    split = workdir / "split.bcf"
    split.write_bytes(pipeline(commands))

    seen = {k for k in _keys(run(QUERY + [str(split)])) if k[3] not in NOT_VARIANTS}

    tests = ["(" + _symbolic_free() + ")", "(" + rules.carries + ")"]
    for extra in (rules.somatic, rules.vaf, rules.depth):
        if extra:
            tests.append("(" + extra + ")")
    kept_vcf = workdir / "kept.vcf"
    kept_vcf.write_bytes(run(["bcftools", "view", "--no-version", "-f", "PASS,.", "-i",
                              " && ".join(tests), str(split)]))
    kept = _keys(run(QUERY + [str(kept_vcf)]))
    if rules.annotation:
        kept = _consequence_rule(kept_vcf, kept, rules)
    return seen, kept


def _consequence_rule(kept_vcf: Path, kept: set, rules: Rules) -> set:
    """Alleles whose record is unannotated, or has a protein-altering entry."""
    annotated: set = set()
    altering: set = set()
    for kind in rules.annotation:
        if kind == "EFF":
            annotated |= _keys(pipeline([["bcftools", "view", "--no-version", "-i",
                                          'INFO/EFF!="."', str(kept_vcf)], QUERY]))
            test = " || ".join(f'INFO/EFF~"{e}[(]"' for e in PROTEIN_ALTERING_EFF)
            altering |= _keys(pipeline([["bcftools", "view", "--no-version", "-i", test,
                                         str(kept_vcf)], QUERY]))
            continue
        key = "ANN" if kind == "ANN" else "CSQ"
        split_vep = ["bcftools", "+split-vep", "-a", key, "-d", "-f",
                     "%CHROM\t%POS\t%REF\t%ALT\t%Consequence\n"]
        annotated |= _keys(run(split_vep + [str(kept_vcf)]))
        test = " || ".join(f'Consequence~"{t}"' for t in PROTEIN_ALTERING)
        altering |= _keys(run(split_vep + ["-i", test, str(kept_vcf)]))
    return {k for k in kept if k not in annotated or k in altering}


def haicpred_sets(path: Path, panel: pd.DataFrame, rules: Rules, index_dir: Path | None = None
                  ) -> tuple[set, set, pd.DataFrame]:
    """(alleles audited, alleles kept, audit) from haicpred; with `index_dir`, BGZF inputs are
    indexed there and read by region (otherwise streamed)."""
    sample = dict(sample_id="S1", batch="b1", exome_vcf=str(path),
                  tumor_sample=rules.tumour if rules.sheet else None, genotype_vcf=None,
                  genotype_sample="S1")
    kwargs = {"min_vaf": MIN_VAF, "min_depth": MIN_DEPTH}
    if index_dir is not None:
        kwargs["index_dir"] = str(index_dir)
    _, audit = panel_mutations([sample], panel, **kwargs)
    rows = {(ckey(r.chrom), int(r.pos), r.ref, r.alt): r.decision for r in audit.itertuples()}
    seen = {k for k in rows if k[3] not in NOT_VARIANTS}
    kept = {k for k, d in rows.items() if d == "kept"}
    return seen, kept, audit


def _describe(keys, audit: pd.DataFrame) -> str:
    lines = []
    for k in sorted(keys)[:20]:
        hit = audit[(audit["pos"] == k[1]) & (audit["ref"] == k[2]) & (audit["alt"] == k[3])]
        why = "; ".join(f"{r.reason} (vaf={r.vaf}, depth={r.depth}, filter={r.filter})"
                        for r in hit.itertuples()) or "not in haicpred's audit"
        lines.append(f"    {k[0]}:{k[1]} {k[2]}>{k[3]}: haicpred says {why}")
    if len(keys) > 20:
        lines.append(f"    ... {len(keys) - 20} more")
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------
# The test
# ----------------------------------------------------------------------------------------------

def _cases():
    """(file, mode): every parseable file streamed; BGZF files (VCF.gz, BCF) also read through
    an index haicpred builds under `index_dir` (its fetch-by-region path), when it has one."""
    indexable = "index_dir" in inspect.signature(panel_mutations).parameters
    for row in _manifest():
        rel = row["path"]
        if row["htslib_ok"] != "True":
            continue
        modes = ["streamed"] + (["indexed"] if indexable and row["compression"] == "bgzf"
                                else [])
        for mode in modes:
            reasons = [HAICPRED_BUGS.get(rel)]
            if mode == "indexed":
                reasons.append(INDEXED_BUGS.get(rel))
            reason = "; AND ".join(r for r in reasons if r)
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            yield pytest.param(rel, mode, id=f"{mode}:{rel}", marks=marks)


#: Extra bugs of the indexed path only (on top of HAICPRED_BUGS), same format.
INDEXED_BUGS: dict[str, str] = {}


def test_every_parseable_file_has_rules():
    missing = [rel for rel in PARSEABLE if rel not in SPECS]
    assert not missing, f"add a Rules entry to SPECS for {missing}"
    stale = [rel for rel in SPECS if rel not in PARSEABLE]
    assert not stale, f"SPECS names files the manifest does not list as parseable: {stale}"


@pytest.mark.parametrize(("rel", "mode"), list(_cases()))
def test_kept_set_matches_bcftools(rel, mode, tmp_path):
    rules = SPECS.get(rel)
    if rules is None:
        pytest.fail(f"no Rules for {rel} in SPECS")
    path = REAL / rel
    prepared = prepare(path, rules, tmp_path)
    windows = panel_windows(prepared.positions)
    assert windows, f"{rel}: no records to build windows from"
    panel = write_panel(windows, tmp_path)

    if rules.refused:
        with pytest.raises(InputError) as err:
            haicpred_sets(path, panel, rules,
                          index_dir=tmp_path / "haicpred-index" if mode == "indexed" else None)
        assert str(path) in str(err.value) and rules.refused in str(err.value)
        return

    regions = write_regions(windows, tmp_path)
    bt_seen, bt_kept = bcftools_sets(prepared, regions, rules, tmp_path)
    index_dir = tmp_path / "haicpred-index" if mode == "indexed" else None
    hp_seen, hp_kept, audit = haicpred_sets(path, panel, rules, index_dir=index_dir)
    if index_dir is not None:
        assert any(index_dir.iterdir()), f"{rel}: haicpred built no index in {index_dir}"

    assert bt_seen, f"{rel}: the windows hold no records (the panel builder is broken)"
    assert hp_seen == bt_seen, (
        f"{rel}: alleles in the panel windows differ\n"
        f"  only haicpred:\n{_describe(hp_seen - bt_seen, audit)}\n"
        f"  only bcftools:\n{_describe(bt_seen - hp_seen, audit)}")
    if rules.annotation:
        multi = pipeline([["bcftools", "view", "--no-version", "-R", str(regions),
                           "--regions-overlap", "1", "-i", "N_ALT>1", str(prepared.path)],
                          QUERY])
        assert not multi, (f"{rel}: multi-allelic annotated records in the windows; the "
                           f"consequence replication does not tie entries to alleles")
    assert hp_kept == bt_kept, (
        f"{rel} ({mode}): kept sets differ (haicpred {len(hp_kept)}, "
        f"bcftools {len(bt_kept)})\n"
        f"  kept by haicpred only:\n{_describe(hp_kept - bt_kept, audit)}\n"
        f"  kept by bcftools only:\n{_describe(bt_kept - hp_kept, audit)}")
