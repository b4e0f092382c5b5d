"""Command-line interface: `haicpred --help`."""

from __future__ import annotations

import argparse
import sys

from haicpred.io.errors import InputError, MissingExtraError
from haicpred.io.resources import CHECKOUT_RESOURCES



def _simulate(args: argparse.Namespace) -> None:
    from haicpred.simulate import simulate_cohort

    build = args.genome_build
    simulate_cohort(n_patients=args.n_patients, n_batches=args.n_batches, seed=args.seed,
                    out_dir=args.out,
                    panel_path=args.panel or CHECKOUT_RESOURCES / f"panel_{build}.tsv",
                    snps_path=args.snps or CHECKOUT_RESOURCES / f"snps_{build}.tsv",
                    genome_build=build)
    print(f"simulated {args.n_patients} patients in {args.n_batches} batch(es) into {args.out}")
    if args.images:
        from haicpred.simulate.images import write_cohort_images

        sheet = write_cohort_images(args.out, args.seed)
        print(f"CT volumes and lesion masks in {args.out}/images: {sheet} names them "
              "(image, mask)")
    if args.maf:
        from haicpred.simulate.maf_cohort import write_batch_mafs

        sheet = write_batch_mafs(args.out, genome_build=build)
        print(f"the exome calls as one MAF per batch: {sheet} names them (exome_maf)")


def _validate(args: argparse.Namespace) -> None:
    from haicpred.cohort import cohort_report, is_demo, load_config

    files = args.config or ["config/config.yaml"]
    config = load_config(*files)
    if is_demo(config):
        print(f"{' + '.join(files)} names no cohort (samples is empty): the demo would be "
              "simulated")
        return
    problems, left_out = cohort_report(config, check_endpoint=not args.features_only)
    for rows in left_out:  # master tables: a note, not a problem
        print(f"note: {rows}")
    if problems:
        raise InputError(problems)
    print("all inputs are valid")


def _predict(args: argparse.Namespace) -> None:
    from haicpred.io.tables import read_tsv, write_tsv
    from haicpred.modeling.predict import predict

    dictionary = read_tsv(args.dictionary) if args.dictionary else None
    # as text: predict converts and names any non-numeric column itself
    predictions = predict(read_tsv(args.matrix), dictionary, args.model_dir)
    write_tsv(predictions, args.out)
    warned = int((predictions["warnings"].fillna("") != "").sum())
    print(f"scored {len(predictions)} samples into {args.out} ({warned} with warnings)")


def _ibsi_check(args: argparse.Namespace) -> None:
    from haicpred.io.tables import write_tsv
    from haicpred.radiomics.ibsi import ibsi_check

    table = ibsi_check(args.image, args.mask, args.reference)
    if args.out:
        write_tsv(table, args.out)
    counts = table["observed"].value_counts()
    print(f"pyradiomics on the IBSI digital phantom: {counts.get('agrees', 0)} features agree "
          f"with the reference, {counts.get('differs', 0)} differ, "
          f"{counts.get('no IBSI feature', 0)} have no IBSI counterpart")
    for row in table[table["observed"] == "differs"].itertuples():
        print(f"  differs: {row.pyradiomics_feature} {row.value:.4g} vs {row.ibsi_tag} "
              f"{row.reference:g} (allowed {row.allowed_difference:g}): {row.reason}")
    unexpected = table[~table["as_expected"]]
    if len(unexpected):
        raise ValueError("features that do not behave as resources/ibsi_pyradiomics.tsv "
                         "expects (a pyradiomics version or a parameter change?): "
                         + ", ".join(unexpected["pyradiomics_feature"]))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="haicpred",
        description="Predict HCC response to hepatic arterial infusion chemotherapy (HAIC). "
                    "The full pipeline runs with `snakemake --cores N`; these commands are its "
                    "building blocks.")
    commands = parser.add_subparsers(dest="command", required=True)

    simulate = commands.add_parser("simulate", help="write a simulated HAIC cohort in the "
                                   "pipeline's input formats, with known planted effects")
    simulate.add_argument("--n-patients", type=int, default=300)
    simulate.add_argument("--n-batches", type=int, default=3)
    simulate.add_argument("--seed", type=int, default=1)
    simulate.add_argument("--out", required=True, help="output folder (must not exist yet)")
    simulate.add_argument("--genome-build", choices=["GRCh38", "GRCh37"], default="GRCh38",
                          help="build of the simulated VCFs (default GRCh38); it picks the "
                          "default --panel and --snps")
    simulate.add_argument("--panel", help="panel TSV on that build (default "
                          "resources/panel_<build>.tsv)")
    simulate.add_argument("--snps", help="SNP TSV on that build (default "
                          "resources/snps_<build>.tsv)")
    simulate.add_argument("--maf", action="store_true",
                          help="also write the exome calls as one MAF per batch "
                          "(maf/<batch>.maf.gz) and a sample sheet naming them, "
                          "samples_maf.tsv")
    simulate.add_argument("--images", action="store_true",
                          help="also write a CT volume and lesion mask per patient with "
                          "radiomics (images/; needs the imaging extra) and a sample sheet "
                          "naming them, samples_images.tsv")
    simulate.set_defaults(func=_simulate)

    validate = commands.add_parser("validate", help="check a cohort's sample sheet and tables "
                                   "against the input contract and list every problem")
    validate.add_argument("--config", action="append",
                          help="config file (default config/config.yaml); give it twice for "
                          "two files, the second overriding the first, as with snakemake "
                          "--configfile a.yaml b.yaml")
    validate.add_argument("--features-only", action="store_true",
                          help="check for a feature-only run (snakemake "
                          "results/features/feature_matrix.tsv): the endpoint's outcome columns "
                          "are not required")
    validate.set_defaults(func=_validate)

    predict = commands.add_parser(
        "predict", help="score a new cohort's feature matrix with a frozen final model "
        "(results/model/final): probability (a survival model: risk and S(t) at the horizons), "
        "risk group, top SHAP contributors, warnings")
    predict.add_argument("--model-dir", required=True,
                         help="results/model/final folder of a training run")
    predict.add_argument("--matrix", required=True, help="the new cohort's feature_matrix.tsv")
    predict.add_argument("--dictionary", help="its feature_dictionary.tsv (recommended: "
                         "features whose unit or modality differ from training are flagged)")
    predict.add_argument("--out", required=True, help="predictions TSV to write")
    predict.set_defaults(func=_predict)

    ibsi = commands.add_parser(
        "ibsi-check", help="extract the IBSI 1 digital phantom with pyradiomics (the imaging "
        "extra) and compare every feature with the IBSI reference values")
    ibsi.add_argument("--image", required=True, help="the phantom image (NIfTI)")
    ibsi.add_argument("--mask", required=True, help="the phantom mask (NIfTI)")
    ibsi.add_argument("--reference", required=True,
                      help="the IBSI reference values CSV of the digital phantom")
    ibsi.add_argument("--out", help="TSV with the comparison, one row per feature")
    ibsi.set_defaults(func=_ibsi_check)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (InputError, ValueError, MissingExtraError) as error:  # a message, not a traceback
        print(f"haicpred: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
