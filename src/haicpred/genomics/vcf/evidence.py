"""What one record says about one sample and one ALT allele.

- `FormatSchema.evidence` extracts, for one sample and one ALT allele, whether the genotype
  carries the allele, the allele fraction and the depth, from whichever fields the caller wrote
  (GT; FORMAT AF/VAF/FA; PCGR INFO TVAF/TDP; VarScan FREQ and RD/AD; AD; PCGR/TCGA ADT/DPT;
  FreeBayes AO/RO; Strelka tier-1 counts, declared or not; SomaticSniper BCOUNT; Complete
  Genomics CGA_RDP/DP and its GT written after other keys; DP4).
- `FormatSchema.not_somatic` reads the caller's somatic status.
- `record_filter`, `is_symbolic`, `is_reference_block_alt`: the record's FILTER and the kinds
  of ALT allele that are not called sequence variants.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pysam

# ----------------------------------------------------------------------------------------------
# Alleles
# ----------------------------------------------------------------------------------------------

REFERENCE_BLOCK_ALTS = {"<NON_REF>", "<*>"}


def is_symbolic(allele: str | None) -> bool:
    """Symbolic/SV alleles: `<DEL>`, breakends, `*` (spanning deletion), missing."""
    if allele is None or allele in ("", ".", "*"):
        return True
    return allele.startswith("<") or "[" in allele or "]" in allele


def is_reference_block_alt(allele: str | None) -> bool:
    """gVCF "any other allele" placeholders (`<NON_REF>`, `<*>`): not a called variant."""
    return allele in REFERENCE_BLOCK_ALTS


def record_filter(rec: pysam.VariantRecord) -> tuple[str, bool]:
    """(FILTER as text, passes) — PASS or `.` (empty set in pysam) pass."""
    names = list(rec.filter.keys())
    if not names:
        return ".", True
    if names == ["PASS"]:
        return "PASS", True
    return ";".join(names), False


# ----------------------------------------------------------------------------------------------
# Per-allele evidence from FORMAT fields
# ----------------------------------------------------------------------------------------------

_BASES = "ACGT"
NOT_SOMATIC_STATUS = {"0": "reference", "1": "germline", "3": "loh",
                      # Complete Genomics writes words (compared lower-cased)
                      "reference": "reference", "germline": "germline", "loh": "loh"}


@dataclass(frozen=True)
class AlleleEvidence:
    carries_alt: bool | None  # None: the tumour column says nothing about this allele
    vaf: float | None
    depth: int | None
    alt_reads: int | None
    source: str = ""  # which field gave the VAF (for audits / debugging)


def _num(v) -> float | None:
    if v is None:
        return None
    if isinstance(v, (tuple, list)):
        return _num(v[0]) if len(v) == 1 else None
    try:
        x = float(str(v).strip().rstrip("%")) if isinstance(v, str) else float(v)
    except ValueError:
        return None
    return x if x == x else None  # drop NaN


def _as_tuple(v) -> tuple | None:
    if v is None:
        return None
    if isinstance(v, (tuple, list)):
        return tuple(v)
    if isinstance(v, str):
        if v in ("", "."):
            return None
        return tuple(None if p in ("", ".") else p for p in v.split(","))
    return (v,)


def _per_allele(value, number, alt_index: int, n_alleles: int) -> float | None:
    """The entry for ALT `alt_index` (1-based) of a Number=A/R/./1 field.

    A scalar is used only for a biallelic record. For Number=`.` the length decides whether the
    values are per ALT (A) or per allele including REF (R), as RADIA writes AF.
    """
    if value is None:
        return None
    if isinstance(value, (tuple, list)):
        vals = tuple(value)
    elif isinstance(value, str) and "," in value:
        vals = tuple(value.split(","))
    else:
        return _num(value) if n_alleles == 2 else None
    n_alt = n_alleles - 1
    if number == "A":
        idx = alt_index - 1 if len(vals) == n_alt else None
    elif number == "R":
        idx = alt_index if len(vals) == n_alleles else None
    elif len(vals) == n_alt:
        idx = alt_index - 1
    elif len(vals) == n_alleles:
        idx = alt_index
    else:
        idx = None
    return None if idx is None else _num(vals[idx])


def _counts(value) -> list[int | None] | None:
    vals = _as_tuple(value)
    if vals is None:
        return None
    out: list[int | None] = []
    for v in vals:
        x = _num(v)
        out.append(None if x is None else int(x))
    return out


def _info(rec: pysam.VariantRecord, key: str):
    try:
        return rec.info.get(key)
    except (KeyError, ValueError):
        return None


def _gt_from_text(rec: pysam.VariantRecord, sample: str) -> tuple | None:
    """GT of `sample` read from the record's text, for files whose GT is not the first FORMAT
    key (Complete Genomics): htslib then hands pysam no genotype at all."""
    fields = str(rec).rstrip("\n").split("\t")
    keys = fields[8].split(":")
    try:
        value = fields[9 + list(rec.samples).index(sample)].split(":")[keys.index("GT")]
    except (ValueError, IndexError):
        return None
    alleles = re.split(r"[/|]", value)
    try:
        return tuple(None if a in (".", "") else int(a) for a in alleles)
    except ValueError:
        return None


def _fraction(alt: int | None, total: int | None) -> float | None:
    if alt is None or total is None or total <= 0:
        return None
    return alt / total


class FormatSchema:
    """What a file's FORMAT fields can tell, decided from its header (and refreshed when a
    record uses FORMAT tags the header does not declare: htslib declares those only as it
    meets them, e.g. the TAR/TIR of Strelka 1 indels)."""

    def __init__(self, header: pysam.VariantHeader):
        self.header = header
        self._load()

    def _load(self) -> None:
        header = self.header
        self.numbers: dict[str, object] = {k: v.number for k, v in header.formats.items()}
        f = self.numbers
        self.has_gt = "GT" in f
        # VarScan writes AD (Number=1) = alt reads and RD = ref reads.
        self.varscan_ad = "AD" in f and f.get("AD") == 1 and "RD" in f
        self.strelka_snv = all(k in f for k in ("AU", "CU", "GU", "TU"))
        self.strelka_indel = "TAR" in f and "TIR" in f
        # Complete Genomics (cgatools) writes AD per *called* allele, in GT order, not REF,ALT;
        # CGA_RDP is the REF read count and DP the total: the ALT fraction is 1 - CGA_RDP/DP.
        self.cga = "CGA_RDP" in f
        # PCGR (and TCGA MC3 files converted by it) carry the tumour's VAF and depth in INFO
        # TVAF/TDP (PCGR's tumor_af_tag/tumor_dp_tag); usable as such in a one-column file.
        one_column = len(header.samples) == 1
        self.info_tvaf = one_column and "TVAF" in header.info
        self.info_tdp = one_column and "TDP" in header.info
        # VarScan (INFO SS), SomaticSniper/MuSE/RADIA (FORMAT SS): 0=reference/wildtype,
        # 1=germline, 2=somatic, 3=LOH, 4=post-transcriptional, 5=unknown; Complete Genomics
        # INFO SS: the words Germline, Somatic, LOH.
        self.info_ss = "SS" in header.info and "status" in (
            header.info["SS"].description or "").lower()
        self.format_ss = "SS" in header.formats and "status" in (
            header.formats["SS"].description or "").lower()
        self._known_keys: set[tuple] = set()

    def _sync(self, rec: pysam.VariantRecord) -> None:
        """Reload when `rec` uses FORMAT tags this schema has not seen declared."""
        keys = tuple(rec.format.keys())
        if keys in self._known_keys:
            return
        if any(k not in self.numbers for k in keys):
            self._load()
        self._known_keys.add(keys)

    def not_somatic(self, rec: pysam.VariantRecord, sample: str) -> str | None:
        """`reference`/`germline`/`loh` when the caller's somatic status says the call is not
        somatic (VarScan writes germline and LOH calls with FILTER PASS); None otherwise."""
        code = None
        if self.info_ss:
            try:
                code = rec.info.get("SS")
            except (KeyError, ValueError):
                code = None
        if code is None and self.format_ss:
            try:
                code = rec.samples[sample].get("SS")
            except (KeyError, ValueError):
                code = None
        if isinstance(code, (tuple, list)):
            code = code[0] if code else None
        if code is None:
            return None
        return NOT_SOMATIC_STATUS.get(str(code).strip().lower())

    def evidence(self, rec: pysam.VariantRecord, sample: str, alt_index: int) -> AlleleEvidence:
        """Genotype / VAF / depth of ALT `alt_index` (1-based) in `sample`."""
        self._sync(rec)
        f = self.numbers
        call = rec.samples[sample]
        alleles = rec.alleles
        n_alleles = len(alleles)
        alt = alleles[alt_index]
        ref = alleles[0]

        def get(key):
            if key not in f:
                return None
            try:
                return call.get(key)
            except (KeyError, ValueError, TypeError):
                return None

        # --- depth -----------------------------------------------------------------------
        depth = None
        if self.info_tdp:
            d = _num(_info(rec, "TDP"))
            depth = None if d is None else int(d)
        for key in ("DP", "DPT"):
            if depth is not None:
                break
            d = _num(get(key))
            if d is not None:
                depth = int(d)

        # --- read counts -----------------------------------------------------------------
        alt_reads = total = None
        count_source = ""
        if self.cga:
            dp, rdp = _num(get("DP")), _num(get("CGA_RDP"))
            if dp is not None and rdp is not None and dp > 0:
                alt_reads = int(dp - rdp)  # reads of every non-REF allele
                total = int(dp)
                count_source = "CGA_RDP"
        elif self.varscan_ad:
            a, r = _num(get("AD")), _num(get("RD"))
            if a is not None and n_alleles == 2:
                alt_reads = int(a)
                total = int(a + r) if r is not None else depth
                count_source = "RD/AD"
        elif "AD" in f or "ADT" in f:
            for key in ("AD", "ADT"):
                ad = _counts(get(key))
                if ad is None or len(ad) != n_alleles or all(x is None for x in ad):
                    continue
                alt_reads = ad[alt_index]
                if all(x is not None for x in ad):
                    total = sum(ad)  # type: ignore[arg-type]
                else:
                    total = depth
                count_source = key
                if depth is None and all(x is not None for x in ad):
                    depth = total
                break
        if count_source == "" and "AO" in f and "RO" in f:
            ao, ro = _counts(get("AO")), _num(get("RO"))
            if ao is not None and len(ao) == n_alleles - 1 and ro is not None:
                alt_reads = ao[alt_index - 1]
                if all(x is not None for x in ao):
                    total = int(ro) + sum(ao)  # type: ignore[arg-type]
                count_source = "AO/RO"
        if count_source == "" and self.strelka_snv and len(ref) == 1 and len(alt) == 1 \
                and alt.upper() in _BASES:
            tiers = [_counts(get(b + "U")) for b in _BASES]
            if all(t and t[0] is not None for t in tiers):
                tier1 = [t[0] for t in tiers]  # type: ignore[index]
                alt_reads = tier1[_BASES.index(alt.upper())]
                total = sum(tier1)
                count_source = "strelka_tier1"
        if count_source == "" and self.strelka_indel and n_alleles == 2:
            tar, tir = _counts(get("TAR")), _counts(get("TIR"))
            if tar and tir and tar[0] is not None and tir[0] is not None:
                alt_reads = tir[0]
                total = tar[0] + tir[0]
                count_source = "strelka_tier1"
        if count_source == "" and "BCOUNT" in f and len(ref) == 1 and len(alt) == 1 \
                and alt.upper() in _BASES:
            bc = _counts(get("BCOUNT"))
            if bc and len(bc) == 4 and all(x is not None for x in bc):
                alt_reads = bc[_BASES.index(alt.upper())]
                total = sum(bc)  # type: ignore[arg-type]
                count_source = "BCOUNT"
        if count_source == "" and "DP4" in f and n_alleles == 2:
            dp4 = _counts(get("DP4"))
            if dp4 and len(dp4) == 4 and all(x is not None for x in dp4):
                alt_reads = dp4[2] + dp4[3]  # type: ignore[operator]
                total = sum(dp4)  # type: ignore[arg-type]
                count_source = "DP4"
        if depth is None and total is not None:
            depth = total

        # --- allele fraction -------------------------------------------------------------
        vaf = None
        source = ""
        for key in ("AF", "VAF", "FA"):
            if key in f:
                v = _per_allele(get(key), f[key], alt_index, n_alleles)
                if v is not None:
                    vaf, source = v, key
                    break
        if vaf is None and self.info_tvaf:
            v = _per_allele(_info(rec, "TVAF"), "A", alt_index, n_alleles)
            if v is not None:
                vaf, source = v, "INFO/TVAF"
        if vaf is None and "FREQ" in f:
            v = _per_allele(get("FREQ"), "A", alt_index, n_alleles)  # VarScan: "12.5%"
            if v is not None:
                vaf, source = v / 100.0, "FREQ"
        if vaf is None and count_source:
            vaf = _fraction(alt_reads, total)
            source = count_source if vaf is not None else ""

        # --- genotype --------------------------------------------------------------------
        carries: bool | None = None
        if self.has_gt:
            gt = get("GT")
            if gt == () and "GT" in rec.format:
                gt = _gt_from_text(rec, sample)  # GT not the first FORMAT key
            if gt is not None:
                called = [a for a in gt if a is not None]
                if called:
                    carries = alt_index in called
        if carries is None:
            if alt_reads is not None and (total is None or total > 0):
                carries = alt_reads > 0
            elif vaf is not None:
                carries = vaf > 0
        return AlleleEvidence(carries, vaf, depth, alt_reads, source)
