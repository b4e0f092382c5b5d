"""Variant_Classification: which MAF classes change the protein, and the class vcf2maf gives
a VEP consequence term.

`PROTEIN_ALTERING_CLASSES` is the MAF counterpart of
`haicpred.genomics.vcf.annotation.PROTEIN_ALTERING`: a MAF row without a `Consequence` is
judged by its class. `variant_classification` follows vcf2maf's mapping of the most severe
VEP term (used to write MAFs; a MAF reader never needs it).
"""

from __future__ import annotations

from collections.abc import Sequence

#: MAF classes whose change reaches the protein (GDC MAF specification's non-silent coding and
#: splice-site classes).
PROTEIN_ALTERING_CLASSES = frozenset({
    "Missense_Mutation", "Nonsense_Mutation", "Nonstop_Mutation", "Frame_Shift_Del",
    "Frame_Shift_Ins", "In_Frame_Del", "In_Frame_Ins", "Splice_Site", "Translation_Start_Site",
})
#: Every other class of the specification: known, not protein-altering.
OTHER_CLASSES = frozenset({
    "Silent", "Intron", "3'UTR", "5'UTR", "3'Flank", "5'Flank", "IGR", "RNA", "Splice_Region",
    "De_novo_Start_InFrame", "De_novo_Start_OutOfFrame",
})
#: vcf2maf's class for a variant no consequence term could be mapped for (an unannotated VCF
#: record becomes one): it says nothing about the protein, so it counts as unannotated.
UNANNOTATED_CLASS = "Targeted_Region"
_CLASS_BY_LOWER = {c.lower(): c for c in PROTEIN_ALTERING_CLASSES | OTHER_CLASSES}


def known_class(value: str) -> str | None:
    """The specification's spelling of a Variant_Classification that says whether the protein
    changes (case-insensitive); None for an empty, unknown or `Targeted_Region` class."""
    return _CLASS_BY_LOWER.get(str(value).strip().lower())


# VEP terms, most severe first (Ensembl's consequence ranking, the terms vcf2maf maps).
_SEVERITY = (
    "transcript_ablation", "splice_acceptor_variant", "splice_donor_variant", "stop_gained",
    "frameshift_variant", "stop_lost", "start_lost", "initiator_codon_variant",
    "transcript_amplification", "inframe_insertion", "disruptive_inframe_insertion",
    "inframe_deletion", "disruptive_inframe_deletion", "missense_variant",
    "conservative_missense_variant", "rare_amino_acid_variant", "protein_altering_variant",
    "splice_region_variant", "incomplete_terminal_codon_variant", "start_retained_variant",
    "stop_retained_variant", "synonymous_variant", "coding_sequence_variant",
    "mature_miRNA_variant", "5_prime_UTR_variant", "3_prime_UTR_variant",
    "non_coding_transcript_exon_variant", "non_coding_exon_variant", "intron_variant",
    "NMD_transcript_variant", "non_coding_transcript_variant", "nc_transcript_variant",
    "upstream_gene_variant", "downstream_gene_variant", "TFBS_ablation",
    "TFBS_amplification", "TF_binding_site_variant", "regulatory_region_ablation",
    "regulatory_region_amplification", "feature_elongation", "regulatory_region_variant",
    "feature_truncation", "intergenic_variant",
)
_RANK = {term.lower(): i for i, term in enumerate(_SEVERITY)}


def most_severe(terms: Sequence[str]) -> str | None:
    """The most severe of VEP consequence terms (unknown terms rank last)."""
    if not terms:
        return None
    return min(terms, key=lambda t: _RANK.get(t.lower(), len(_RANK)))


def variant_classification(terms: Sequence[str], variant_type: str, inframe: bool) -> str:
    """vcf2maf's Variant_Classification of a variant from its VEP terms; `variant_type` is
    SNP/DNP/TNP/ONP/INS/DEL, `inframe` whether an indel keeps the reading frame."""
    term = (most_severe(terms) or "").lower()
    if term in ("splice_acceptor_variant", "splice_donor_variant", "transcript_ablation",
                "exon_loss_variant"):
        return "Splice_Site"
    if term == "stop_gained":
        return "Nonsense_Mutation"
    frameshift = term == "frameshift_variant" or (term == "protein_altering_variant"
                                                  and not inframe)
    if frameshift and variant_type in ("DEL", "INS"):
        return "Frame_Shift_Del" if variant_type == "DEL" else "Frame_Shift_Ins"
    if term == "stop_lost":
        return "Nonstop_Mutation"
    if term in ("initiator_codon_variant", "start_lost"):
        return "Translation_Start_Site"
    if term in ("inframe_insertion", "disruptive_inframe_insertion") or (
            term == "protein_altering_variant" and inframe and variant_type == "INS"):
        return "In_Frame_Ins"
    if term in ("inframe_deletion", "disruptive_inframe_deletion") or (
            term == "protein_altering_variant" and inframe and variant_type == "DEL"):
        return "In_Frame_Del"
    if term in ("missense_variant", "coding_sequence_variant", "conservative_missense_variant",
                "rare_amino_acid_variant", "protein_altering_variant"):
        return "Missense_Mutation"
    if term in ("transcript_amplification", "intron_variant", "intragenic_variant"):
        return "Intron"
    if term == "splice_region_variant":
        return "Splice_Region"
    if term in ("incomplete_terminal_codon_variant", "synonymous_variant",
                "stop_retained_variant", "nmd_transcript_variant", "start_retained_variant"):
        return "Silent"
    if term in ("mature_mirna_variant", "exon_variant", "non_coding_exon_variant",
                "non_coding_transcript_exon_variant", "non_coding_transcript_variant",
                "nc_transcript_variant"):
        return "RNA"
    if term == "5_prime_utr_variant":
        return "5'UTR"
    if term == "3_prime_utr_variant":
        return "3'UTR"
    if term == "upstream_gene_variant":
        return "5'Flank"
    if term == "downstream_gene_variant":
        return "3'Flank"
    if term in ("tf_binding_site_variant", "regulatory_region_variant", "regulatory_region",
                "intergenic_variant", "intergenic_region", "tfbs_ablation",
                "tfbs_amplification", "regulatory_region_ablation",
                "regulatory_region_amplification"):
        return "IGR"
    return UNANNOTATED_CLASS
