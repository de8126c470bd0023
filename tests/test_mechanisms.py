"""Each mechanism moves outcomes in the direction its source says (paired seeds, means over seeds)."""

import numpy as np
from conftest import mean_over_seeds, run_model

from model import INSTRUMENTS, MSMEEcosystem, load_scenario


def _members_effective_productivity(m):
    f, n = m.firms, m.firms.n
    mem = f.alive[:n] & (f.cluster[:n] >= 0)
    k = np.maximum(f.capital[:n][mem], 1)
    l = np.maximum(f.workers[:n][mem], 1)
    return float(np.mean(f.capacity[:n][mem] / (k ** 0.45 * l ** 0.55)))


def test_support_without_autonomy_lowers_self_reliance():
    """Seeds 000/001: large top-down support (no participation) lowers the recipients' autonomy and
    self-reliance, compared with the same firms (same seed, common random numbers) without support."""
    cash_only = {f"mix_{k}": 0.0 for k in INSTRUMENTS} | {"mix_grants": 0.5, "mix_tax_relief": 0.5}
    kw = dict(cash_only, targeting="untargeted", n_months=24)
    for seed in (1, 2):
        none = run_model("baseline", seed=seed, budget_per_firm_month=0.0, **kw)
        lots = run_model("baseline", seed=seed, budget_per_firm_month=2_000_000.0, **kw)
        # the same firms in both runs: the 800 initial ones, paired by firm id (rows move when dead
        # rows are compacted, at different months in the two runs)
        a0 = {c: none.firms.all_firms(c)[:800] for c in ("alive", "autonomy", "competence", "relatedness")}
        a1 = {c: lots.firms.all_firms(c)[:800] for c in ("alive", "autonomy", "competence", "relatedness",
                                                         "support_total")}
        rec = (a1["support_total"] > 0) & a1["alive"] & a0["alive"]
        assert rec.sum() > 50
        # firm by firm, autonomy is lower with support: clearly (paired, 4 standard errors) and by more
        # than noise-free rounding (0.005 on the 0-1 scale)
        d = a0["autonomy"][rec] - a1["autonomy"][rec]
        assert d.mean() > max(0.005, 4 * d.std(ddof=1) / np.sqrt(d.size))
        sr0 = (a0["autonomy"] + a0["competence"] + a0["relatedness"])[rec].mean() / 3
        sr1 = (a1["autonomy"] + a1["competence"] + a1["relatedness"])[rec].mean() / 3
        assert sr1 < sr0


def test_dependence_lowers_effort():
    lo = mean_over_seeds(lambda m: m.metrics["effort"], budget_per_firm_month=2_000_000.0, dependence_elasticity=0.0)
    hi = mean_over_seeds(lambda m: m.metrics["effort"], budget_per_firm_month=2_000_000.0, dependence_elasticity=3.0)
    assert hi < lo


def test_participation_raises_self_reliance_under_self_governance():
    """Seed 001: councils involve firms; participation raises autonomy and relatedness."""
    no = mean_over_seeds(lambda m: m.metrics["autonomy"], scenario="self_governance", council_participation=0.0)
    yes = mean_over_seeds(lambda m: m.metrics["autonomy"], scenario="self_governance", council_participation=0.8)
    assert yes > no + 0.01


def test_shared_facilities_raise_member_productivity():
    """Seeds 003/004: shared production facilities raise cluster members' productivity."""
    kw = dict(scenario="clustering", n_months=48)
    without = mean_over_seeds(_members_effective_productivity, mix_shared_facilities=0.0, **kw)
    with_ = mean_over_seeds(_members_effective_productivity, mix_shared_facilities=1.0, **kw)
    assert with_ > without * 1.01


def test_clustering_programme_raises_coverage():
    base = run_model("baseline", seed=2).metrics["cluster_member_share"]
    prog = run_model("clustering", seed=2).metrics["cluster_member_share"]
    assert prog > base + 0.03


def test_promotion_raises_online_sales():
    """Seed 003: e-commerce promotion widens the promoted firms' market reach. Online spending is
    what buyers put online (internet penetration), not what sellers promote, so the promoted
    sellers' gain is taken from other sellers: the firms promoted sell more online than the same
    firms (same seed, by firm id) without the programme."""
    from model import INSTRUMENTS

    k = INSTRUMENTS.index("ecommerce_promotion")
    gains = []
    for seed in (1, 2, 3):
        kw = dict(scenario="ecommerce_promotion", seed=seed, n_months=24)
        off = run_model(mix_ecommerce_promotion=0.0, **kw)
        on = run_model(mix_ecommerce_promotion=1.0, budget_per_firm_month=200_000.0, **kw)
        f_on, f_off = on.firms, off.firms
        promoted = f_on.firm_id[: f_on.n][(f_on.support_by_instrument[: f_on.n, k] > 0) & f_on.alive[: f_on.n]]
        rows_off = off.row_of(promoted)
        both = rows_off >= 0
        rows_on = on.row_of(promoted[both])
        alive_off = f_off.alive[rows_off[both]]
        gains.append(f_on.online_revenue[rows_on][alive_off].sum() / f_off.online_revenue[rows_off[both]][alive_off].sum())
    # every seed: the same firms sell more online with the programme than without it (the size of
    # the gain is small, +0.4 to +1.2 % at this size after the burn-in: sellers' visibility is already
    # at its stationary level, higher than in the drawn population, where the gain was 8-14 %)
    assert min(gains) > 1.0


def test_onboarding_raises_digital_stage():
    off = mean_over_seeds(lambda m: m.metrics["stage_3_share"], scenario="ecommerce_promotion",
                          ecommerce_onboarding=False)
    on = mean_over_seeds(lambda m: m.metrics["stage_3_share"], scenario="ecommerce_promotion",
                         ecommerce_onboarding=True)
    assert on > off


def test_internet_penetration_drives_adoption():
    slow = mean_over_seeds(lambda m: m.metrics["stage_3_share"], internet_growth_per_year=0.0)
    fast = mean_over_seeds(lambda m: m.metrics["stage_3_share"], internet_growth_per_year=0.15)
    assert fast > slow


def _shock_revenue_ratio(scenario, seed, **levers):
    kw = dict(n_firms=800, n_months=24, **levers)
    shocked = MSMEEcosystem(load_scenario(scenario), seed=seed, **kw).run().metrics_frame()
    calm = MSMEEcosystem(load_scenario(scenario), seed=seed, shock_enabled=False, **kw).run().metrics_frame()
    window = slice(13, 19)  # the depth of the shock
    return float(shocked["revenue"].loc[window].mean() / calm["revenue"].loc[window].mean())


def test_shock_cuts_revenue_and_shared_resources_soften_it():
    """Seeds 002/003: the shock cuts revenue; collaboration softens it through the resources it
    shares: clusters' shared facilities and joint delivery, paid from the programme budget."""
    alone = np.mean([_shock_revenue_ratio("covid_shock", s) for s in (1, 2)])
    shared = dict(cluster_programme=True, mix_shared_facilities=0.5, mix_logistics=0.5, mix_grants=0.0,
                  mix_kur_credit=0.0)
    together = np.mean([_shock_revenue_ratio("covid_shock_collaborative", s, **shared) for s in (1, 2)])
    assert alone < 0.9
    assert together > alone


def test_duplication_only_without_registry():
    central = run_model("baseline", seed=1)
    council = run_model("self_governance", seed=1)
    platform = run_model("collaborative_platform", seed=1)
    assert central.ledger[:, :, 3].sum() > 0
    assert council.ledger[:, :, 3].sum() == 0 and platform.ledger[:, :, 3].sum() == 0


def test_capture_only_in_self_governance_and_falls_with_capacity():
    council = run_model("self_governance", seed=1, n_months=60)
    assert run_model("baseline", seed=1).ledger[:, :, 4].sum() == 0
    cap = council.ledger[:, :, 4].sum(axis=1)
    spent = council.ledger[:, :, 0].sum(axis=1)
    early, late = cap[1:6].sum() / spent[1:6].sum(), cap[-6:].sum() / spent[-6:].sum()
    assert late < early


def test_council_capacity_is_bought_through_four_steps():
    """Seed 001's four steps, reached by the councils' spending on staff and activities."""
    caps = []
    m = MSMEEcosystem(load_scenario("self_governance"), seed=1, n_firms=300, n_months=80)
    while m.running:
        m.step()
        caps.append(m.council_cap.copy())
    assert caps[0].max() == 0  # nothing at the start: capacity is bought
    assert caps[-1].max() == 1.0 and caps[-1].mean() >= 0.75  # the fastest councils reach the fourth step
    caps = [c.mean() for c in caps]
    assert all(a <= b for a, b in zip(caps, caps[1:]))
    assert m.ledger[:, :, 11].sum() > 0  # the staff were paid (services column)
    # no staff spending: no capacity, and nobody takes part
    m = MSMEEcosystem(load_scenario("self_governance"), seed=1, n_firms=300, n_months=40, council_staff_share=0.0).run()
    assert m.council_cap.max() == 0 and m.firms.participant[: m.firms.n].max() == 0


def test_platform_registration_and_pas_steps():
    m = run_model("collaborative_platform", seed=1)
    steps = m.platform_agent.step_counts()
    assert steps[1:].sum() > 0 and steps[4:].sum() > 0  # registered, and some firms far along the PAS path


def test_phase_out_stops_spending():
    m = run_model("baseline", seed=1, phase_out_month=12)
    df = m.metrics_frame()
    assert df.loc[13:, "budget_spent"].sum() == 0
    assert df.loc[2:11, "budget_spent"].sum() > 0


def test_kur_needs_a_licence():
    m = run_model("baseline", seed=1, mix_kur_credit=1.0, budget_per_firm_month=200_000.0)
    f = m.firms
    k = f.support_by_instrument[: f.n, 6] > 0
    assert k.any() and f.licensed[: f.n][k].all()


def test_middlemen_hold_back_artisan_clusters():
    from model.clusters import MIDDLEMAN_FACTOR

    assert MIDDLEMAN_FACTOR[0] > MIDDLEMAN_FACTOR[-1]
    lo = mean_over_seeds(lambda m: m.metrics["value_added"], middleman_margin=0.0)
    hi = mean_over_seeds(lambda m: m.metrics["value_added"], middleman_margin=0.5)
    assert hi < lo


def test_modes_differ_only_through_mechanisms():
    """Every mode's channel is paid from the budget (issue 11, point 1): with no budget the three modes
    give identical results, with platform outreach and council participation switched on."""
    kw = dict(budget_per_firm_month=0.0, council_participation=0.8, platform_outreach=0.5)
    frames = [run_model("baseline", seed=4, governance_mode=mode, **kw).metrics_frame()
              for mode in ("centralised", "self_governance", "platform")]
    for f in frames[1:]:
        assert f.equals(frames[0])
