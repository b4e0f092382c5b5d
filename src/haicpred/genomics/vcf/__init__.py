"""Reading VCF/BCF files written by real variant callers, split by concern.

Used by `haicpred.genomics.mutations` (somatic panel calls) and `haicpred.genomics.genotypes`
(germline SNPs). Everything that depends on one caller's conventions lives in these modules, so
both stages read files the same way:

- `access`: `open_vcf` (VCF, BGZF and plain-gzip `.vcf.gz`, BCF; every htslib failure an
  `InputError` naming the file and the sample(s)), the CSI indexes it builds (`index_path`),
  `read_problem`.
- `regions`: `contig_key` / `file_contig` (`chr1` vs `1`), `RegionIndex`, and `records`, which
  fetches the panel regions through an index or streams the whole file.
- `build`: `infer_build` / `build_problem`, the genome build a header points to.
- `samples`: the sample sheet's rows grouped by file (`group_by_file`, `missing_path`) and
  `choose_tumour_column`.
- `evidence`: `FormatSchema.evidence` (genotype, allele fraction and depth of one ALT in one
  sample, from whichever FORMAT/INFO fields the caller wrote), FILTER and symbolic alleles.
- `annotation`: `AnnotationSchema.consequences` (VEP CSQ, SnpEff ANN/EFF) and
  `is_protein_altering`.
"""
