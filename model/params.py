"""Parameter schema: every input of the model, sorted into policy levers, uncertainties and constants.

The three groups follow the EMA Workbench convention (see ``docs/ODD.md`` section 7): a planner
moves **levers**, the world draws **uncertainties**, and **constants** fix the experiment's frame.
Every field has a unit, a range and the source of its default in its description. The model takes
the flat union of the three groups as keyword arguments (``MSMEEcosystem(budget_per_firm_month=...)``),
which is what ``mesa.batch_run`` and Optuna need; scenario files use the grouped form.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

INSTRUMENTS: tuple[str, ...] = (
    "market_access",        # seed 001 group 1: trade fairs, procurement links
    "hr_training",          # seed 001 group 2: human-resource capacity (skills, literacy)
    "product_development",  # seed 001 group 3: product/process upgrading
    "licensing",            # seed 001 group 4: ease of licensing (NIB, certification); PAS step 4
    "financing",            # seed 001 group 5: credit guarantees / bank linkage
    "logistics",            # seed 001 group 6: shipping and distribution support
    "kur_credit",           # KUR subsidised credit (FACTS, seed 000 PAS step 7)
    "grants",               # cash grants for micro firms (seed 000; BPUM-style)
    "tax_relief",           # tax and utility relief (seed 000, seed 003)
    "ecommerce_promotion",  # marketplace onboarding + promotion subsidy (seed 003)
    "shared_facilities",    # GR 7/2021 shared production facilities for clusters (seed 004)
)
N_INSTRUMENTS = len(INSTRUMENTS)
INSTRUMENT_INDEX = {name: i for i, name in enumerate(INSTRUMENTS)}
# Instruments whose support arrives as cash (or cash-equivalent) in the firm's income.
CASH_INSTRUMENTS = ("grants", "tax_relief", "kur_credit")

GOVERNANCE_MODES = ("centralised", "self_governance", "platform")
TARGETING_RULES = ("untargeted", "micro_first", "need", "potential")
SIZE_CLASSES = ("micro", "small", "medium", "large")
DIGITAL_STAGES = ("1.0", "2.0", "3.0")
CLUSTER_TYPES = ("artisan", "active", "dynamic", "advanced")
SECTORS = ("food_beverage", "fashion_textile", "handicraft", "agro_processing", "trade_services")
# Capital limits of GR 7/2021 (seed 000; FACTS): micro <= 1 bn, small <= 5 bn, medium <= 10 bn IDR.
CLASS_CAPITAL_LIMITS = (1.0e9, 5.0e9, 10.0e9)

_STRICT = ConfigDict(extra="forbid", strict=True, validate_assignment=True)


def _mix(default: float, what: str) -> float:
    return Field(default, ge=0.0, le=100.0,
                 description=f"Relative budget weight of the {what} instrument (weights are normalised).")


class Levers(BaseModel):
    """What a planner controls."""

    model_config = _STRICT

    governance_mode: Literal["centralised", "self_governance", "platform"] = Field(
        "centralised", description="How programmes reach firms (seed 001 synchronisation models; seed 000 platform).")
    budget_per_firm_month: float = Field(
        50_000.0, ge=0.0, le=5_000_000.0,
        description="Programme budget, IDR per initial firm per month. Default: order of Rp 30-40 T a year "
                    "over ~65 M MSMEs (BPUM 2020 Rp 28.8 T; assumption, see ODD 6).")
    grant_amount: float = Field(
        2_400_000.0, ge=100_000.0, le=500_000_000.0,
        description="IDR per cash grant, rounded to whole rupiah (a grant covers a firm for 12 months). Default: "
                    "BPUM 2020, Rp 2.4 M per micro firm; large grants to few firms: scenario concentrated_grants "
                    "(ODD 6).")
    mix_market_access: float = _mix(0.06, "market access")
    mix_hr_training: float = _mix(0.10, "human-resource training")
    mix_product_development: float = _mix(0.07, "product development")
    mix_licensing: float = _mix(0.05, "licensing ease")
    mix_financing: float = _mix(0.04, "financing (credit guarantee)")
    mix_logistics: float = _mix(0.03, "logistics")
    mix_kur_credit: float = _mix(0.25, "KUR subsidised credit")
    mix_grants: float = _mix(0.30, "cash grant")
    mix_tax_relief: float = _mix(0.05, "tax and utility relief")
    mix_ecommerce_promotion: float = _mix(0.03, "e-commerce promotion subsidy")
    mix_shared_facilities: float = _mix(0.02, "shared production facilities")
    targeting: Literal["untargeted", "micro_first", "need", "potential"] = Field(
        "micro_first", description="Priority rule among eligible applicants (seed 001: most money goes to micro firms).")
    renew_clients: bool = Field(
        False, description="Ministries renew their own past clients first when a benefit period ends (one beneficiary "
                           "list kept from year to year: repeated support to the same firms, seed 000; an assumption, "
                           "ODD 7.7). Councils and the platform choose anew.")
    max_eligible_class: Literal["micro", "small", "medium"] = Field(
        "small", description="Largest size class eligible for support.")
    phase_out_month: int = Field(
        0, ge=0, le=600, description="Month at which all programmes end (0 = never). The withdrawal test.")
    phase_out_taper_months: int = Field(
        0, ge=0, le=120, description="Months over which the budget is ramped down before phase_out_month.")
    cluster_programme: bool = Field(
        False, description="GR 7/2021 clustering programme: form new clusters of micro and small firms (seed 004).")
    cluster_coverage_target: float = Field(
        0.45, ge=0.0, le=1.0,
        description="Share of manufacturing micro/small firms in clusters once the programme has formed them.")
    ecommerce_onboarding: bool = Field(
        False, description="E-commerce instrument also pays marketplace onboarding (training + listing) for stage-2 firms.")
    platform_outreach: float = Field(
        0.04, ge=0.0, le=1.0,
        description="Monthly probability that an unregistered firm applies to register on the collaborative "
                    "platform (scaled by digital stage; platform mode only); registration is a paid PAS service "
                    "with a capacity.")
    platform_service_share: float = Field(
        0.15, ge=0.0, le=1.0,
        description="Largest share of the platform's monthly budget spent on its seven PAS services (each with a "
                    "unit cost and a monthly capacity, ODD 7.7); what they do not use goes to the instruments.")
    council_staff_share: float = Field(
        0.08, ge=0.0, le=1.0,
        description="Share of each council's budget spent on council staff and activities, which build its "
                    "capacity through the four steps of seed 001 (ODD 7.7).")
    council_participation: float = Field(
        0.35, ge=0.0, le=1.0,
        description="Share of a region's firms taking part in council activities at full council capacity "
                    "(self-governance only; seed 001).")


class Uncertainties(BaseModel):
    """What the world does: drawn, not chosen."""

    model_config = _STRICT

    internet_penetration_start: float = Field(
        0.537, ge=0.0, le=1.0, description="Internet penetration at month 0 (BPS 53.73 per 100 in 2020, seed 003).")
    internet_growth_per_year: float = Field(
        0.04, ge=0.0, le=0.3,
        description="Yearly rise of internet penetration, share points, slowing near 95 % (64.8 -> 73.7 % users "
                    "2018-2020, FACTS).")
    demand_growth_per_year: float = Field(
        0.05, ge=-0.2, le=0.3,
        description="Real growth a year of the rest of the economy's spending on MSME goods (the exogenous part of "
                    "demand; Indonesian GDP ~5 %/yr). MSMEs' own incomes add to demand through income_spending_share.")
    income_spending_share: float = Field(
        0.5, ge=0.0, le=0.95,
        description="Share of MSME value added (wages and owners' incomes) spent on MSME goods of the same region "
                    "the next month (assumption, 0.3-0.7: MPC ~0.7-0.9 out of income x 50-70 % of spending on MSME "
                    "goods; docs/CORE_V2.md).")
    price_sensitivity: float = Field(
        2.0, ge=0.0, le=10.0,
        description="Elasticity of a firm's customer share to its efficiency (its price advantage; the "
                    "competitiveness term of Dosi, Fagiolo & Roventini 2010). Assumption, 1-4.")
    customer_churn: float = Field(
        0.018, ge=0.0, le=0.5,
        description="Monthly share of every firm's customers who look again and choose by attractiveness "
                    "(customer-capital depreciation ~20 %/yr, range 10-35 %; Gourio & Rudanko 2014).")
    unserved_churn: float = Field(
        0.5, ge=0.0, le=1.0,
        description="Share of the customers a firm fails to serve in a month who leave it (assumption).")
    appeal_persistence: float = Field(
        0.99, ge=0.0, le=1.0,
        description="Monthly persistence of firm-specific demand (appeal, AR(1) in logs; Foster, Haltiwanger & "
                    "Syverson 2016: demand, not TFP, drives plant size). Assumption.")
    online_demand_share: float = Field(
        0.10, ge=0.0, le=2.0,
        description="Share of a market's spending that goes through marketplaces at full internet penetration "
                    "(scaled by regional penetration; the online channel diverts spending, it does not add to it).")
    shock_enabled: bool = Field(False, description="Switch on a COVID-like shock (seeds 002, 003).")
    shock_month: int = Field(13, ge=1, le=600, description="First month of the shock (year 2 by default).")
    shock_duration_months: int = Field(12, ge=1, le=120, description="Months the shock lasts (linear recovery in its second half).")
    shock_demand_cut: float = Field(0.35, ge=0.0, le=0.95, description="Fall of local demand at the shock's depth.")
    shock_supply_cut: float = Field(0.25, ge=0.0, le=0.95, description="Rise in input costs from supply-chain disruption.")
    shock_credit_tightening: float = Field(
        0.6, ge=0.0, le=1.0,
        description="Share of new loan applications every lender (KUR bank, bank, cooperative/BPR, moneylender) "
                    "refuses at the shock's depth (x the firm's exposure; KUR loans are cut by this share).")
    shock_rate_premium: float = Field(
        0.25, ge=0.0, le=2.0,
        description="Relative rise of the rate on new non-KUR loans at the shock's depth (x exposure): rate x (1 + "
                    "premium x shock x exposure). Assumption, 0-0.5 (the KUR rate is set by the government).")
    shock_online_shift: float = Field(
        0.3, ge=0.0, le=2.0, description="Rise of online demand during the shock (shift to e-commerce, seed 003).")
    collaboration_softening: float = Field(
        0.5, ge=0.0, le=1.0,
        description="Share of shock exposure removed for a firm whose production rests fully on shared resources "
                    "that were paid for: cluster shared facilities and logistics support (seed 002).")
    capture_rate: float = Field(
        0.15, ge=0.0, le=0.9,
        description="Share of a council's budget captured locally at its lowest capacity (seed 001 risk).")
    dependence_elasticity: float = Field(
        1.2, ge=0.0, le=10.0,
        description="Fall of own effort per unit of support as a share of income (seed 000).")
    council_step_cost: float = Field(
        36_000.0, ge=1.0, le=1e8,
        description="Councils' staff and activities (IDR per firm of the region) that buy one of the four capacity "
                    "steps of seed 001, at a region of average speed. Assumption: at the default budget and staff "
                    "share a council of average speed reaches its fourth step in about four years (seed 001 "
                    "describes a ramp over years); ODD 7.7.")
    council_staff_turnover: float = Field(
        1 / 60, ge=0.0, le=1.0,
        description="Monthly share of a council's capacity stock lost to staff turnover (20 %/yr; assumption): "
                    "a council no longer paid loses its capacity.")
    participation_time_cost: float = Field(
        0.02, ge=0.0, le=0.5,
        description="Effort a full council participant gives up to meetings and joint activities (about 4 of ~200 "
                    "owner-hours a month; assumption, ODD 7.3).")
    council_capacity_spread: float = Field(
        0.5, ge=0.0, le=1.0,
        description="Spread of the councils' speed across regions (0 = all equal): the cost of a capacity step "
                    "is council_step_cost / speed.")
    commercial_interest_rate: float = Field(0.14, ge=0.0, le=1.0, description="Annual rate on commercial MSME credit.")
    kur_interest_rate: float = Field(0.06, ge=0.0, le=1.0, description="Annual KUR rate (6 %, FACTS).")
    moneylender_interest_rate: float = Field(
        0.6, ge=0.0, le=3.0,
        description="Annual informal credit rate (5 %/month; informal lenders charge 10-20 %/month, "
                    "docs/literature/core_v2_sources.md s. 9).")
    coop_interest_rate: float = Field(
        0.30, ge=0.0, le=2.0,
        description="Annual rate of cooperatives and rural banks (BPR) on micro loans (BPR >= 30 %/yr, BI: 22-26 % "
                    "feasible; Kontan 2011, docs/literature/core_v2_sources.md s. 9).")
    outside_option_share: float = Field(
        0.25, ge=0.0, le=2.0,
        description="The owner's outside option as a share of the real wage (a wage job found with some "
                    "probability, at the wage): a firm whose expected profit stays below it for a year exits "
                    "(Lucas 1978; McKenzie & Paffhausen 2019). Assumption, 0.2-1; calibrated to ~8-9 %/yr exits.")
    wage_growth_per_year: float = Field(
        0.0, ge=-0.05, le=0.1,
        description="Real growth a year of the wage (wage_per_worker at month 0): labour productivity or a real "
                    "minimum-wage path. 0 keeps a no-trend run stationary; range 0-0.025 (real wages ~+2.5 %/yr "
                    "2005-14, ILO; < 2 %/yr 2010-15, ADB; docs/literature/core_v2_sources.md s. 10).")
    productivity_volatility: float = Field(
        0.025, ge=0.0, le=0.5, description="Std. dev. of monthly idiosyncratic productivity shocks (log).")
    exit_hazard: float = Field(
        0.0025, ge=0.0, le=0.2,
        description="Monthly exogenous exit hazard (household shocks); with the exits from the books gives ~9 % a "
                    "year (McKenzie & Paffhausen 2019: 8.2 %/yr). Calibrated (core v2 stage 4).")
    entry_rate: float = Field(
        0.0065, ge=0.0, le=0.2,
        description="Monthly entrants per alive firm when real spending per firm is at its month-0 level: the "
                    "stationary exit rate (~7.5-8 %/yr, McKenzie & Paffhausen 2019: 8.2 %/yr), so the burnt-in "
                    "population stays near n_firms.")
    entry_elasticity: float = Field(
        2.0, ge=0.0, le=6.0,
        description="Elasticity of entry to real spending per alive firm against month 0: entry follows market "
                    "opportunity, so the number of firms tracks the market's size (Bresnahan & Reiss 1991; "
                    "assumption 1-4). Replaces v1's direct halving of entry in the shock.")
    middleman_margin: float = Field(
        0.28, ge=0.0, le=0.9,
        description="Share of local sales value kept by traders (middlemen) from a manufacturer with no channel of its "
                    "own: unclustered or in an artisan cluster, offline (seed 003). Margins of others are bargained "
                    "down by their outside options; below trade_cost producers sell direct at this cost.")
    trade_cost: float = Field(
        0.10, ge=0.0, le=0.5,
        description="Traders' real cost (transport, spoilage, search) as a share of the value they trade: the "
                    "margin net of it is the trade sector's value added (BPS rice chain trade and transport margin "
                    "~10 %; assumption 5-15 %).")
    trader_bargaining_power: float = Field(
        0.6, ge=0.05, le=1.0,
        description="Traders' Nash bargaining weight over the gap between a producer's own distribution cost and "
                    "the trading cost (Mitra et al. 2018: middlemen take 50-71 % of the gap).")
    network_effect: float = Field(
        0.2, ge=0.0, le=1.0, description="Elasticity of marketplace buyer reach to its number of sellers.")
    central_overhead: float = Field(
        0.20, ge=0.0, le=0.9, description="Administrative overhead share of centralised programmes.")
    council_overhead: float = Field(0.12, ge=0.0, le=0.9, description="Overhead share of regional councils.")
    platform_overhead: float = Field(0.10, ge=0.0, le=0.9, description="Overhead share of platform-matched programmes.")
    central_lag_months: int = Field(3, ge=0, le=24, description="Delivery lag of centralised programmes.")
    local_lag_months: int = Field(1, ge=0, le=24, description="Delivery lag of councils and the platform.")
    awareness_base: float = Field(
        0.35, ge=0.0, le=1.0, description="Probability a non-remote, literate firm knows of a national programme.")


class Constants(BaseModel):
    """The frame of an experiment."""

    model_config = _STRICT

    n_firms: int = Field(20_000, ge=10, le=20_000_000, description="Initial number of firms.")
    n_months: int = Field(96, ge=1, le=600, description="Months simulated.")
    n_regions: int = Field(10, ge=1, le=200, description="Regions (each with a council in self-governance).")
    n_marketplaces: int = Field(4, ge=1, le=20, description="E-commerce marketplaces.")
    n_ministries: int = Field(6, ge=1, le=30, description="Ministries running programmes in the centralised mode.")
    start_year: int = Field(2020, ge=1990, le=2100, description="Calendar year of month 0 (labels only).")
    wage_per_worker: float = Field(
        1_800_000.0, ge=0.0, le=1e9, description="Monthly wage cost per worker, IDR (incl. unpaid family labour at shadow wage).")
    cluster_mean_size: int = Field(40, ge=2, le=10_000, description="Mean members per cluster.")
    chronic_months: int = Field(
        4, ge=1, le=24,
        description="Months with support in the last 24 that make a firm a chronic recipient (support is "
                    "sparse at realistic budgets: most recipients are served once or twice in two years).")
    msme_agents: bool = Field(
        True, description="Create one Mesa agent per firm (a view on its row). Off for very large runs.")
    burn_in_months: int = Field(
        240, ge=0, le=600,
        description="Months run before month 0 at today's policy (the default levers), with the exogenous "
                    "trends at 0 and no shock, recording nothing, so that month 0 starts from the population "
                    "the monthly rules keep (stationary start; docs/ODD.md 7.9, docs/CORE_V2.md stage 5). "
                    "0 = start from the drawn population. The burnt-in state does not depend on the levers: "
                    "every scenario with the same seed starts month 0 from the same firms.")


GROUPS: dict[str, type[BaseModel]] = {"levers": Levers, "uncertainties": Uncertainties, "constants": Constants}
FIELD_GROUP: dict[str, str] = {name: group for group, cls in GROUPS.items() for name in cls.model_fields}
DEFAULTS: dict[str, object] = {
    name: field.default for cls in GROUPS.values() for name, field in cls.model_fields.items()
}
assert len(FIELD_GROUP) == sum(len(c.model_fields) for c in GROUPS.values()), "field names must be unique"


def cross_field_problems(p: dict) -> list[str]:
    """Settings that pass every field's own range but make no sense together: a month beyond the
    horizon (the event would silently never happen) and a budget with no instrument to spend it on.
    Each message starts with ``[group] field = value`` and says what is allowed."""
    problems = []
    n = p["n_months"]
    m = p["phase_out_month"]
    if m > 0 and m >= n:
        problems.append(f"[levers] phase_out_month = {m}: programmes must end before the last month of the run "
                        f"(n_months = {n}) for it to show any time without them; allowed: "
                        + (f"1 to {n - 1}, or 0 = never" if n > 1 else "0 = never (a one-month run)"))
    if p["shock_enabled"] and p["shock_month"] > n:
        problems.append(f"[uncertainties] shock_month = {p['shock_month']}: the shock is switched on (shock_enabled "
                        f"= true) but starts after the horizon of n_months = {n} months, so it would never happen; "
                        f"allowed: 1 to {n}, or shock_enabled = false")
    if p["budget_per_firm_month"] > 0 and not any(p[f"mix_{k}"] > 0 for k in INSTRUMENTS):
        problems.append(f"[levers.mix]: every instrument weight is 0 while budget_per_firm_month = "
                        f"{p['budget_per_firm_month']:g}, so the budget would never be spent; give at least one "
                        "instrument a weight above 0, or set budget_per_firm_month = 0")
    return problems


def field_info(name: str):
    """Return the pydantic FieldInfo of a flat parameter name."""
    return GROUPS[FIELD_GROUP[name]].model_fields[name]


def allowed_values(name: str) -> str:
    """Describe in words what a parameter accepts (type, range or choices)."""
    info = field_info(name)
    ann = info.annotation
    choices = getattr(ann, "__args__", None)
    if choices and all(isinstance(c, str) for c in choices):
        return "one of " + ", ".join(repr(c) for c in choices)
    lo = hi = None
    for m in info.metadata:
        lo = getattr(m, "ge", lo) if getattr(m, "ge", None) is not None else lo
        hi = getattr(m, "le", hi) if getattr(m, "le", None) is not None else hi
    kind = {bool: "true or false", int: "an integer", float: "a number"}.get(ann, str(ann))
    if lo is not None and hi is not None:
        return f"{kind} from {lo:g} to {hi:g}"
    return kind


def instrument_mix(params: dict) -> dict[str, float]:
    """Normalised instrument weights from the ``mix_*`` levers."""
    raw = {k: float(params[f"mix_{k}"]) for k in INSTRUMENTS}
    total = sum(raw.values())
    if total <= 0:
        return {k: 0.0 for k in INSTRUMENTS}
    return {k: v / total for k, v in raw.items()}
