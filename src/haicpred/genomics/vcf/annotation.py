"""Functional annotation: VEP `CSQ`, SnpEff `ANN` and legacy SnpEff `EFF`.

`AnnotationSchema.consequences` parses them using the field list declared in the header;
`is_protein_altering` tells whether consequence terms change the protein.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pysam

from haicpred.genomics.vcf.evidence import is_symbolic

# ----------------------------------------------------------------------------------------------
# Consequences
# ----------------------------------------------------------------------------------------------

#: Consequence terms that change the protein (Sequence Ontology terms as written by VEP and
#: SnpEff `ANN`, plus the legacy SnpEff `EFF` effect names). Compared case-insensitively.
PROTEIN_ALTERING = frozenset(
    term.lower()
    for term in (
        # Sequence Ontology (VEP CSQ, SnpEff ANN)
        "missense_variant",
        "stop_gained",
        "stop_lost",
        "start_lost",
        "frameshift_variant",
        "inframe_insertion",
        "inframe_deletion",
        "protein_altering_variant",
        "splice_donor_variant",
        "splice_acceptor_variant",
        # SnpEff ANN spellings of the same classes
        "conservative_inframe_insertion",
        "conservative_inframe_deletion",
        "disruptive_inframe_insertion",
        "disruptive_inframe_deletion",
        "exon_loss_variant",
        # legacy SnpEff EFF effect names
        "NON_SYNONYMOUS_CODING",
        "STOP_GAINED",
        "STOP_LOST",
        "START_LOST",
        "FRAME_SHIFT",
        "SPLICE_SITE_DONOR",
        "SPLICE_SITE_ACCEPTOR",
        "CODON_INSERTION",
        "CODON_DELETION",
        "CODON_CHANGE_PLUS_CODON_INSERTION",
        "CODON_CHANGE_PLUS_CODON_DELETION",
        "EXON_DELETED",
    )
)


def is_protein_altering(terms: Iterable[str]) -> bool:
    return any(t.lower() in PROTEIN_ALTERING for t in terms)


# ----------------------------------------------------------------------------------------------
# Functional annotation: VEP CSQ, SnpEff ANN, legacy SnpEff EFF
# ----------------------------------------------------------------------------------------------

_FORMAT_RE = re.compile(r"Format:\s*'?(?P<fields>[^']*)'?", re.IGNORECASE)
_QUOTED_RE = re.compile(r"'(?P<fields>[^']*\|[^']*)'")
_EFF_RE = re.compile(r"^\s*(?P<effect>[^(\s]+)\s*\((?P<body>.*)\)\s*$")

_ALLELE_FIELDS = ("allele",)
_CONSEQUENCE_FIELDS = ("consequence", "annotation")
_SYMBOL_FIELDS = ("symbol", "gene_name")
_ALLELE_NUM_FIELDS = ("allele_num",)


def _field_list(description: str) -> list[str] | None:
    m = _FORMAT_RE.search(description)
    text = m.group("fields") if m else None
    if not text or "|" not in text:
        q = _QUOTED_RE.search(description)
        text = q.group("fields") if q else None
    if not text or "|" not in text:
        return None
    text = text.strip().strip('"').strip()
    return [part.strip() for part in text.split("|")]


def _eff_field_list(description: str) -> list[str] | None:
    """Fields inside the parentheses of `Effect ( a | b | ... [ | ERRORS | WARNINGS ] )`."""
    m = re.search(r"\((?P<body>[^)]*)\)", description)
    if not m:
        return None
    body = m.group("body").replace("[", "").replace("]", "")
    return [part.strip() for part in body.split("|")]


def _index_of(fields: list[str], names: Sequence[str]) -> int | None:
    lowered = [f.lower().replace(" ", "") for f in fields]
    for name in names:
        if name in lowered:
            return lowered.index(name)
    return None


@dataclass(frozen=True)
class _AnnField:
    key: str
    kind: str  # "csq" (VEP/ANN-like, pipe-separated) or "eff"
    consequence: int | None
    allele: int | None
    symbol: int | None
    allele_num: int | None


class AnnotationSchema:
    """The annotation fields a header declares (CSQ, ANN, EFF), with their field positions."""

    def __init__(self, header: pysam.VariantHeader):
        self.fields: list[_AnnField] = []
        for key in ("CSQ", "ANN"):
            if key in header.info:
                names = _field_list(header.info[key].description or "")
                if names:
                    self.fields.append(_AnnField(
                        key, "csq", _index_of(names, _CONSEQUENCE_FIELDS),
                        _index_of(names, _ALLELE_FIELDS), _index_of(names, _SYMBOL_FIELDS),
                        _index_of(names, _ALLELE_NUM_FIELDS)))
        if "EFF" in header.info:
            names = _eff_field_list(header.info["EFF"].description or "") or []
            gene = _index_of(names, ("gene_name",))
            gnum = _index_of(names, ("genotype_number", "genotype"))
            self.fields.append(_AnnField("EFF", "eff", None, None, gene, gnum))

    def __bool__(self) -> bool:
        return bool(self.fields)

    def consequences(self, rec: pysam.VariantRecord, alt_index: int, gene: str | None
                     ) -> list[str] | None:
        """Consequence terms of ALT `alt_index` for `gene`; None when the record is unannotated.

        Entries are matched to the allele (ALLELE_NUM, else the Allele field compared with the
        ALT as written and as VEP trims it, else EFF's Genotype_Number); entries naming no allele
        apply to all. Among them, those whose SYMBOL/Gene_Name is `gene` are used when any
        exist; otherwise all of them (the record overlaps the gene's region).
        """
        if not self.fields:
            return None
        alleles = rec.alleles
        # ALT as written and as VEP trims it (first base shared by all alleles); failing those,
        # the per-allele trim some tools write for mixed SNV/indel records.
        forms = {i: {alleles[i], _vep_allele(alleles, i)} for i in range(1, len(alleles))}
        loose = {i: {_trim_first_base(alleles[0], alleles[i])} for i in range(1, len(alleles))}
        parsed_entries: list[tuple[set[int], str, list[str]]] = []  # (alt indexes, symbol, terms)
        for spec in self.fields:
            try:
                raw = rec.info.get(spec.key)
            except (KeyError, ValueError):
                raw = None
            if raw is None:
                continue
            entries = [raw] if isinstance(raw, str) else list(raw)
            for entry in entries:
                if entry is None or entry == "":
                    continue
                parsed = _parse_entry(spec, str(entry))
                if parsed is None:
                    continue
                entry_allele, entry_num, symbol, terms = parsed
                if entry_num is not None:
                    tied = {entry_num} if entry_num in forms else set()
                elif entry_allele is not None:
                    tied = {i for i, f in forms.items() if entry_allele in f} or {
                        i for i, f in loose.items() if entry_allele in f}
                else:
                    tied = set(forms)  # the entry names no allele: it applies to all
                parsed_entries.append((tied, symbol, terms))
        if not parsed_entries:
            return None
        if not any(tied for tied, _, _ in parsed_entries):
            # No entry could be tied to any ALT (unusual allele spelling): use them all.
            chosen = [(s, t) for _, s, t in parsed_entries]
        else:
            chosen = [(s, t) for tied, s, t in parsed_entries if alt_index in tied]
            if not chosen:
                return None  # this ALT was not annotated
        if gene:
            g = gene.upper()
            for_gene = [t for s, t in chosen if s and s.upper() == g]
            if for_gene:
                chosen = [("", t) for t in for_gene]
        terms: list[str] = []
        for _, ts in chosen:
            for t in ts:
                if t and t not in terms:
                    terms.append(t)
        return terms


def _vep_allele(alleles: Sequence[str], alt_index: int) -> str:
    """The ALT as VEP writes it: a first base shared by all alleles is dropped (`-` if empty)."""
    plain = [a for a in alleles if a and not is_symbolic(a)]
    alt = alleles[alt_index]
    if len(plain) >= 2 and len({a[0] for a in plain}) == 1 and not is_symbolic(alt):
        return alt[1:] or "-"
    return alt


def _trim_first_base(ref: str, alt: str) -> str:
    """Per-allele trim: an indel's leading base shared with REF dropped (`-` if empty)."""
    if alt and ref and not is_symbolic(alt) and len(ref) != len(alt) and ref[0] == alt[0]:
        return alt[1:] or "-"
    return alt


def _int_field(parts: list[str], index: int | None) -> int | None:
    """parts[index] as an int; None when absent or not a number."""
    if index is None or index >= len(parts):
        return None
    try:
        return int(parts[index])
    except ValueError:
        return None


def _parse_entry(spec: _AnnField, entry: str
                 ) -> tuple[str | None, int | None, str, list[str]] | None:
    if spec.kind == "eff":
        m = _EFF_RE.match(entry)
        if not m:
            return None
        parts = [p.strip() for p in m.group("body").split("|")]
        symbol = parts[spec.symbol] if spec.symbol is not None and spec.symbol < len(parts) else ""
        return None, _int_field(parts, spec.allele_num), symbol, [m.group("effect")]
    parts = entry.split("|")
    if spec.consequence is None or spec.consequence >= len(parts):
        return None
    terms = [t.strip() for t in parts[spec.consequence].split("&") if t.strip()]
    allele = parts[spec.allele].strip() if spec.allele is not None and spec.allele < len(
        parts) else None
    if allele == "":
        allele = None
    num = _int_field(parts, spec.allele_num)
    symbol = parts[spec.symbol].strip() if spec.symbol is not None and spec.symbol < len(
        parts) else ""
    return allele, num, symbol, terms
