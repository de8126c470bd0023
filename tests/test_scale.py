"""Scale invariance (core v2, stage 6, point 9): per-firm outcomes do not depend on how many firms
are simulated. The same comparison as ``python -m experiments.check_scale`` at small sizes: 1,500
against 6,000 firms, 4 seeds, two scenarios, 96 months."""

from experiments.check_scale import agree, compare, mean_ci

SIZES = (1500, 6000)
SEEDS = (1, 2, 3, 4)
SCENARIOS = ("baseline", "collaborative_platform")
# outcomes with enough firms behind them at 1,500 firms (the medium class is one or two firms)
GROWTH = ("va_growth", "employment_growth", "share_small", "upgrades_per_1000", "exit_rate", "self_reliance")
SUPPORT = ("support_share_income", "recipients_share", "recipient_support_share_income")
_RES = {}


def _results():
    if not _RES:
        _RES.update(compare(SCENARIOS, SIZES, SEEDS, months=96))
    return _RES


def _disagree(outcomes):
    res = _results()
    return [(s, k, mean_ci(res[s][k][SIZES[0]]), mean_ci(res[s][k][SIZES[1]]))
            for s in SCENARIOS for k in outcomes if not agree(res[s][k][SIZES[0]], res[s][k][SIZES[1]])]


def test_per_firm_outcomes_agree_across_sizes():
    bad = _disagree(GROWTH)
    # 12 comparisons of overlapping 95 % intervals: about 0.1 expected to disagree by chance
    assert len(bad) <= 1, f"outcomes that depend on the number of firms: {bad}"


def test_support_outcomes_agree_across_sizes():
    """Units are indivisible and budgets scale with the firms: programmes carry money short of a unit
    over to the next month (programmes.carry_over), so they buy their instruments in the planned
    proportion at any size. (Without it, at 1,500 firms about 60 % of the budget was spent against
    87 % at 6,000 and 95 % at 24,000.)"""
    bad = _disagree(SUPPORT)
    # at 1,500 firms the platform's share of firms supported in a month runs ~6 % above 6,000 firms'
    # (0.0137 +/- 0.0005 against 0.0129 +/- 0.0001, measured 2026-12-06; 0.0138 +/- 0.0007 against
    # 0.0130 +/- 0.0003 before the ministries' client lists): a small-population effect on the order of
    # a few firms a month, tolerated up to 10 % relative; anything larger fails
    big = [b for b in bad if abs(b[2][0] - b[3][0]) > 0.10 * abs(b[3][0])]
    assert len(bad) <= 1 and not big, f"support outcomes that depend on the number of firms: {bad}"


def test_the_comparison_sees_a_difference():
    """Power: the same comparison tells a population with programmes from one without."""
    with_budget = compare(("baseline",), (SIZES[0],), SEEDS, months=36)["baseline"]
    without = compare(("baseline",), (SIZES[1],), SEEDS, months=36, budget_per_firm_month=0.0)["baseline"]
    for k in ("support_share_income", "recipients_share"):
        assert not agree(with_budget[k][SIZES[0]], without[k][SIZES[1]])
