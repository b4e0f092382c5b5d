"""Somatic calls given as MAF (GDC/TCGA, cBioPortal, vcf2maf output) instead of one VCF per
sample: `table` reads a MAF once per job and finds each sample's rows, `judge` applies the
panel rules the VCF reader applies, `classification` maps MAF Variant_Classification to
protein-altering, and `export` writes VCF calls as a MAF (the simulator's MAF cohorts)."""
