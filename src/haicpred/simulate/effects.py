"""The planted response model, the outcomes it generates and its oracle table.

`PLANTED_EFFECTS` names every true covariate effect on the log-odds of objective response;
`response_design` builds their design matrix from the true state (dropping genotype effects
the SNP resource cannot carry); `simulate_outcomes` draws best response and Weibull OS/PFS
linked to the same risk; `planted_effects_table` writes the models as `planted_effects.tsv`,
with the OS/PFS hazard ratios the genotype effects imply (`SURVIVAL_SPELLED_OUT_EFFECTS`).

Survival truth (the oracle of a survival endpoint, written to `truth.tsv`)
-------------------------------------------------------------------------
OS and PFS are Weibull proportional hazards, h(t) = h0(t) * exp(log hazard), with the log
hazard = -loading * (response linear predictor) + (OS only) ECOG and Child-Pugh terms +
log_hr_responder * (realised response). Realised response is a post-treatment event, so two
oracles are written:

- `os_log_hazard`, `pfs_log_hazard`: the realised log hazard, the one the times were drawn
  from (the ranking by the generating hazard, but not knowable before treatment);
- `os_baseline_log_hazard`, `pfs_baseline_log_hazard`: the oracle for a pre-treatment model.
  The responder term is replaced by log(1 - p + p * HR_responder), p the true response
  probability: the log of the hazard ratio expected at baseline, which is also the exact log
  hazard ratio of the baseline survival mixture p * S_resp(t) + (1 - p) * S_nonresp(t) as
  t -> 0. It stays on the scale of the realised log hazard. Ranking by the mixture's survival at
  6, 12, 24 or 36 months, or with the responder term replaced by its expected value
  (log_hr_responder * p), gives Harrell's C within 0.001 of it on 1,000 simulated patients
  (3 seeds), so the choice does not matter in practice.

The PFS event is the earlier of progression and death; `pfs_*` is the progression hazard's
linear predictor (the composite hazard is not proportional; ranking by the composite's
cumulative hazard changes C by at most 0.001).

The new columns are computed from values already drawn: every random draw, and so every other
output file, is the same as before they existed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .patients import SNP_ALLELE_FREQUENCIES, homozygous

# ---------------------------------------------------------------------------------------------
# Published scores used by the response model
# ---------------------------------------------------------------------------------------------
AFP_THRESHOLD_NG_ML = 400.0
NLR_CENTRE, NLR_CAP = 3.0, 10.0

# ---------------------------------------------------------------------------------------------
# Planted response model: logit P(CR/PR) = intercept + sum(log_odds * design column)
# ---------------------------------------------------------------------------------------------
RESPONSE_INTERCEPT = 1.62  # tuned so that about 40% respond (with both genotype effects planted)


@dataclass(frozen=True)
class PlantedEffect:
    effect: str
    variable: str
    log_odds: float
    description: str

    @property
    def direction(self) -> str:
        return "favourable" if self.log_odds > 0 else "adverse" if self.log_odds < 0 else "none"


PLANTED_EFFECTS = (
    PlantedEffect("extrahepatic_metastasis", "extrahepatic_metastasis", -1.4,
                  "extrahepatic metastasis present (1 vs 0)"),
    PlantedEffect("vp3_vp4_invasion", "vascular_invasion", -0.9,
                  "vascular_invasion is Vp3 or Vp4 (vs none/Vp1/Vp2)"),
    PlantedEffect("tumour_number_gt3", "tumor_number", -0.8, "tumor_number > 3"),
    PlantedEffect("tumour_size", "tumor_size_cm", -0.10, "per cm of the largest tumour"),
    PlantedEffect("albi_grade_2", "albi_grade", -0.7,
                  "ALBI grade 2 vs 1; ALBI = 0.66*log10(bilirubin umol/L) - 0.085*albumin g/L "
                  "from true baseline values; grade 1 <= -2.60 < grade 2 <= -1.39 < grade 3"),
    PlantedEffect("albi_grade_3", "albi_grade", -1.4, "ALBI grade 3 vs 1"),
    PlantedEffect("afp_ge_400", "afp", -1.0,
                  "step at baseline AFP >= 400 ng/mL (threshold effect, no slope)"),
    PlantedEffect("nlr", "nlr", -0.25,
                  "per unit of NLR = neutrophils/lymphocytes, NLR capped at 10, centred at 3"),
    PlantedEffect("rs8099917_TT", "rs8099917", -1.2,
                  "IL28B rs8099917 genotype TT (+ strand, homozygous T) vs TG/GG"),
    PlantedEffect("rs9679162_GG", "rs9679162", 0.8,
                  "GALNT14 rs9679162 genotype GG (+ strand, homozygous G, the reference allele) "
                  "vs GT/TT: favourable after HAIC (response and, through the survival model, "
                  "OS; see the os rows)"),
    PlantedEffect("fohaic1_mutation_positive", "fohaic1_mutation_positive", 1.2,
                  "at least one true (PASS, AF>=0.05, DP>=10, protein-altering) panel mutation"),
    PlantedEffect("pd1_combination", "combination", 0.4,
                  "combination is pd1 or pd1_tki (main effect)"),
    PlantedEffect("pd1_x_albi_grade_1", "combination x albi_grade", 1.0,
                  "extra PD-1 benefit in ALBI grade 1 patients only (interaction)"),
    PlantedEffect("tki_combination", "combination", 0.3, "combination is tki or pd1_tki"),
    PlantedEffect("rad_joint_entropy", "original_glcm_JointEntropy", -0.6,
                  "per SD of the largest lesion's texture-heterogeneity factor, which drives "
                  "original_glcm_JointEntropy (before noise and scanner effects)"),
    PlantedEffect("rad_sphericity", "original_shape_Sphericity", 0.5,
                  "per SD of the largest lesion's shape-regularity factor, which drives "
                  "original_shape_Sphericity"),
)

# Best response among responders / non-responders.
P_CR_GIVEN_RESPONSE = 0.20
P_PD_GIVEN_NO_RESPONSE_BASE, P_PD_GIVEN_NO_RESPONSE_SLOPE = 0.25, 0.40  # + slope * (1 - p)

# Survival (months): Weibull; log hazard ratio = loading * (-linear predictor) + extras.
OS_SHAPE, OS_SCALE_MONTHS = 1.2, 24.0
PFS_SHAPE, PFS_SCALE_MONTHS = 1.1, 11.0
OS_RISK_LOADING, PFS_RISK_LOADING = 0.45, 0.50
OS_LOG_HR_ECOG, OS_LOG_HR_CHILD_PUGH_POINT = 0.35, 0.35
OS_LOG_HR_RESPONDER, PFS_LOG_HR_RESPONDER = -0.5, -0.9
FOLLOW_UP_RANGE_MONTHS = (6.0, 60.0)
FRACTION_LOST_TO_FOLLOW_UP = 0.08
LOST_TO_FOLLOW_UP_RANGE_MONTHS = (1.0, 30.0)  # a lost patient's last contact
# The true survival linear predictors written to truth.tsv (see simulate_outcomes).
# Response effects whose published finding includes OS: planted_effects.tsv spells out the
# log hazard ratio each implies through the response linear predictor (IL-28B TT: HR 1.72,
# the published one; GALNT14 GG: HR 0.70, longer OS after HAIC). Rows for reading, not terms
# added to the hazard: the response_linear_predictor row already carries them.
SURVIVAL_SPELLED_OUT_EFFECTS = ("rs8099917_TT", "rs9679162_GG")
TRUTH_SURVIVAL_COLUMNS = ("os_log_hazard", "os_baseline_log_hazard", "pfs_log_hazard",
                          "pfs_baseline_log_hazard")


def response_design(patients, labs, germline, snps, panel_positive, signature):
    """Design matrix (one column per planted effect), the effects used and the intercept.

    Genotype effects are planted only for SNPs present in the resource (with the needed
    allele); an absent effect gets log-odds 0 and the intercept absorbs its average effect.
    """
    combination = patients["combination"].to_numpy()
    pd1 = np.isin(combination, ["pd1", "pd1_tki"])
    albi_grade = labs["albi_grade"].to_numpy()
    snp_by_id = {s["rsid"]: s for s in snps}

    def genotype(rsid, allele):
        if rsid not in snp_by_id:
            return None
        return homozygous(germline[rsid], snp_by_id[rsid], allele)

    columns = {
        "extrahepatic_metastasis": patients["extrahepatic_metastasis"].to_numpy() == 1,
        "vp3_vp4_invasion": patients["vascular_invasion"].isin(["Vp3", "Vp4"]).to_numpy(),
        "tumour_number_gt3": patients["tumor_number"].to_numpy() > 3,
        "tumour_size": patients["tumor_size_cm"].to_numpy(),
        "albi_grade_2": albi_grade == 2,
        "albi_grade_3": albi_grade == 3,
        "afp_ge_400": labs["afp"].to_numpy() >= AFP_THRESHOLD_NG_ML,
        "nlr": np.minimum(labs["nlr"].to_numpy(), NLR_CAP) - NLR_CENTRE,
        "rs8099917_TT": genotype("rs8099917", "T"),
        "rs9679162_GG": genotype("rs9679162", "G"),
        "fohaic1_mutation_positive": panel_positive,
        "pd1_combination": pd1,
        "pd1_x_albi_grade_1": pd1 & (albi_grade == 1),
        "tki_combination": np.isin(combination, ["tki", "pd1_tki"]),
        "rad_joint_entropy": signature["H"],
        "rad_sphericity": signature["R"],
    }
    # Expected frequency of the genotype effects, used when an effect cannot be planted.
    expected = {"rs8099917_TT": (1 - SNP_ALLELE_FREQUENCIES["rs8099917"][1]) ** 2,
                "rs9679162_GG": SNP_ALLELE_FREQUENCIES["rs9679162"][1] ** 2}
    intercept = RESPONSE_INTERCEPT
    effects = []
    for effect in PLANTED_EFFECTS:
        column = columns[effect.effect]
        if column is None:
            intercept += effect.log_odds * expected[effect.effect]
            columns[effect.effect] = np.zeros(len(patients))
            effect = PlantedEffect(effect.effect, effect.variable, 0.0,
                                   f"NOT PLANTED: {effect.variable} is not in the SNP "
                                   "resource (or lacks the allele the effect is defined on)")
        effects.append(effect)
    matrix = np.column_stack([np.asarray(columns[e.effect], dtype=float) for e in effects])
    return matrix, effects, intercept


def simulate_outcomes(probability, linear_predictor, patients, rng) -> pd.DataFrame:
    """Realised best response (Bernoulli on the truth), Weibull OS/PFS with censoring, and
    the true log hazards (`TRUTH_SURVIVAL_COLUMNS`, see the module docstring)."""
    n = len(probability)
    responder = rng.random(n) < probability
    u = rng.random(n)
    p_pd = P_PD_GIVEN_NO_RESPONSE_BASE + P_PD_GIVEN_NO_RESPONSE_SLOPE * (1 - probability)
    best = np.where(responder, np.where(u < P_CR_GIVEN_RESPONSE, "CR", "PR"),
                    np.where(u < p_pd, "PD", "SD"))
    risk = -linear_predictor
    ecog = patients["ecog"].to_numpy()
    cp_extra = patients["child_pugh_points"].to_numpy() - 5
    # Split as (baseline part) + responder term: the same left-to-right sums as before, so the
    # times (and every file but truth.tsv) are bit-identical to the simulator without the split.
    log_hr_os_baseline = OS_RISK_LOADING * risk + OS_LOG_HR_ECOG * ecog \
        + OS_LOG_HR_CHILD_PUGH_POINT * cp_extra
    log_hr_os = log_hr_os_baseline + OS_LOG_HR_RESPONDER * responder
    log_hr_pfs_baseline = PFS_RISK_LOADING * risk
    log_hr_pfs = log_hr_pfs_baseline + PFS_LOG_HR_RESPONDER * responder
    death = OS_SCALE_MONTHS * (rng.exponential(size=n) / np.exp(log_hr_os)) ** (1 / OS_SHAPE)
    progression = PFS_SCALE_MONTHS * (rng.exponential(size=n) / np.exp(log_hr_pfs)) \
        ** (1 / PFS_SHAPE)
    censor = rng.uniform(*FOLLOW_UP_RANGE_MONTHS, n)
    lost = rng.random(n) < FRACTION_LOST_TO_FOLLOW_UP
    last_contact = rng.uniform(*LOST_TO_FOLLOW_UP_RANGE_MONTHS, n)
    censor = np.where(lost, np.minimum(censor, last_contact), censor)
    os_time = np.minimum(death, censor)
    pfs_time = np.minimum(np.minimum(progression, death), censor)

    def months(t):  # rounding is monotone, so PFS <= OS survives it
        return np.maximum(np.round(t, 1), 0.1)

    return pd.DataFrame({
        "responder": responder, "best_response": best,
        "os_months": months(os_time), "os_event": (death <= censor).astype(int),
        "pfs_months": months(pfs_time),
        "pfs_event": (np.minimum(progression, death) <= censor).astype(int),
        "os_log_hazard": log_hr_os,
        "os_baseline_log_hazard": log_hr_os_baseline
        + expected_responder_log_hazard(probability, OS_LOG_HR_RESPONDER),
        "pfs_log_hazard": log_hr_pfs,
        "pfs_baseline_log_hazard": log_hr_pfs_baseline
        + expected_responder_log_hazard(probability, PFS_LOG_HR_RESPONDER),
    })


def expected_responder_log_hazard(probability, log_hr_responder):
    """log E[HR of the responder term] = log(1 - p + p * exp(log_hr)): the term a model that
    knows only baseline covariates can know (response is drawn after them)."""
    return np.log1p(np.asarray(probability) * np.expm1(log_hr_responder))


def planted_effects_table(effects, intercept) -> pd.DataFrame:
    """The planted models, one row per effect or parameter, grouped by `outcome`: `response`
    (log_odds on objective response), `os` and `pfs` (log_hazard_ratio in the Weibull
    proportional hazards, parameters in `value`) and `censoring` (shared by OS and PFS)."""
    description = ("logit P(CR/PR) = intercept + sum(log_odds * variable); tuned for about "
                   "40% objective response")
    if intercept != RESPONSE_INTERCEPT:
        description += (f" (base {RESPONSE_INTERCEPT} plus the average of the effects that "
                        "could not be planted)")
    rows = [{"outcome": "response", "effect": "intercept", "variable": "", "direction": "none",
             "log_odds": round(intercept, 6), "description": description}]
    rows += [{"outcome": "response", "effect": e.effect, "variable": e.variable,
              "direction": e.direction, "log_odds": e.log_odds, "description": e.description}
             for e in effects]
    rows += survival_rows(effects)
    columns = ["outcome", "effect", "variable", "direction", "log_odds", "log_hazard_ratio",
               "value", "description"]
    return pd.DataFrame(rows, columns=columns)


def _hazard_direction(log_hr: float) -> str:
    return "adverse" if log_hr > 0 else "favourable" if log_hr < 0 else "none"


def survival_rows(effects=()) -> list[dict]:
    """planted_effects.tsv rows of the OS/PFS model and its censoring (see simulate_outcomes),
    with the hazard ratios implied by the `SURVIVAL_SPELLED_OUT_EFFECTS` among `effects`."""
    rows = []

    def parameter(outcome, effect, value, description):
        rows.append({"outcome": outcome, "effect": effect, "variable": "", "direction": "none",
                     "value": value, "description": description})

    def hazard(outcome, effect, variable, log_hr, description):
        rows.append({"outcome": outcome, "effect": effect, "variable": variable,
                     "direction": _hazard_direction(log_hr), "log_hazard_ratio": log_hr,
                     "description": description})

    for outcome, shape, scale, loading, log_hr_responder, event in (
            ("os", OS_SHAPE, OS_SCALE_MONTHS, OS_RISK_LOADING, OS_LOG_HR_RESPONDER,
             "death; truth.tsv os_log_hazard (realised) and os_baseline_log_hazard "
             "(pre-treatment oracle)"),
            ("pfs", PFS_SHAPE, PFS_SCALE_MONTHS, PFS_RISK_LOADING, PFS_LOG_HR_RESPONDER,
             "progression; the PFS event is the earlier of progression and death (the os "
             "model), so pfs_log_hazard in truth.tsv is the progression hazard's linear "
             "predictor, not the composite's")):
        parameter(outcome, "weibull_shape", shape,
                  f"h(t) = (shape/scale) * (t/scale)^(shape-1) * exp(log hazard), t in months; "
                  f"event: {event}")
        parameter(outcome, "weibull_scale_months", scale, "Weibull scale of the baseline "
                  "hazard (log hazard 0)")
        hazard(outcome, "response_linear_predictor", "logit P(CR/PR)", -loading,
               "per unit of the response model's linear predictor, intercept included (every "
               "response effect "
               f"acts on the log hazard with -{loading} times its log_odds)")
        for effect in effects:
            if effect.effect in SURVIVAL_SPELLED_OUT_EFFECTS:
                implied = round(-loading * effect.log_odds, 6)
                hazard(outcome, effect.effect, effect.variable, implied,
                       f"{effect.effect} (see its response row): implied by the response "
                       f"model, not an extra term (-{loading} x log_odds {effect.log_odds}, "
                       "already inside response_linear_predictor; a higher response "
                       "probability also lowers the responder term's expected hazard)")
        if outcome == "os":
            hazard(outcome, "ecog", "ecog", OS_LOG_HR_ECOG, "per ECOG performance-status point")
            hazard(outcome, "child_pugh_points", "child_pugh_points",
                   OS_LOG_HR_CHILD_PUGH_POINT, "per Child-Pugh point above 5 (true baseline)")
        hazard(outcome, "responder", "best_response", log_hr_responder,
               "realised objective response (CR/PR vs SD/PD), a post-treatment event: "
               f"{outcome}_log_hazard includes it; {outcome}_baseline_log_hazard, the oracle "
               "for a pre-treatment model, replaces it by log(1 - p + p * exp(log_hazard_ratio))"
               ", p = truth.tsv response_probability (log of its expected hazard ratio)")
    parameter("censoring", "follow_up_min_months", FOLLOW_UP_RANGE_MONTHS[0],
              "administrative censoring: follow-up uniform between min and max months, "
              "independent of the hazards; censors OS and PFS alike")
    parameter("censoring", "follow_up_max_months", FOLLOW_UP_RANGE_MONTHS[1],
              "administrative censoring: upper end of the uniform follow-up")
    parameter("censoring", "lost_to_follow_up_fraction", FRACTION_LOST_TO_FOLLOW_UP,
              "fraction of patients lost to follow up (random, independent of the hazards)")
    parameter("censoring", "lost_to_follow_up_min_months", LOST_TO_FOLLOW_UP_RANGE_MONTHS[0],
              "a lost patient's last contact: uniform between min and max months (censored "
              "then if earlier than the administrative follow-up)")
    parameter("censoring", "lost_to_follow_up_max_months", LOST_TO_FOLLOW_UP_RANGE_MONTHS[1],
              "upper end of a lost patient's last contact")
    return rows
