"""The ministries' client lists and renewal (model/delivery/ministries.py, ODD 7.4).

A ministry does not select a firm it is already serving for the same programme (its own client list);
two ministries running the same instrument do not share lists, so a firm on both is paid twice
(duplication). With ``renew_clients`` a ministry serves its past clients first when their benefit
period ends: support goes to the same firms year after year.
"""


from model import MSMEEcosystem, load_scenario
from model.delivery import ledger
from model.params import INSTRUMENT_INDEX

GRANTS_ONLY = {f"mix_{k}": 0.0 for k in INSTRUMENT_INDEX} | {"mix_grants": 1.0}
SMALL = dict(n_firms=1500, n_months=48, grant_amount=12_000_000.0, budget_per_firm_month=100_000.0,
             max_eligible_class="micro", **GRANTS_ONLY)


def _run(**kw):
    return MSMEEcosystem(load_scenario("baseline"), seed=4, **{**SMALL, **kw}).run()


def test_one_ministry_never_pays_its_own_client_twice():
    """Targeting by need ranks the same weak firms first month after month: a ministry that forgot its
    own clients would pick them again during the delivery lag and the benefit period, and the second
    payment would be duplication. With its own list, one ministry alone duplicates nothing."""
    m = _run(n_ministries=1, targeting="need")
    led = m.ledger
    assert led[:, :, ledger.SUPPORT].sum() > 0
    assert led[:, :, ledger.DUPLICATION].sum() == 0
    # with two grant ministries (the overlap of seed 001) the lists are not shared: duplication exists
    two = _run(n_ministries=6, targeting="need")
    assert two.ledger[:, :, ledger.DUPLICATION].sum() > 0


def test_renewal_concentrates_support_on_the_same_firms():
    """At the same budget, renewing past clients reaches fewer distinct firms, more of them more than once."""
    k = INSTRUMENT_INDEX["grants"]
    counts = {}
    for renew in (False, True):
        m = _run(renew_clients=renew)
        grants = m.firms.all_firms("support_by_instrument")[:, k] / m.p["grant_amount"]
        spent = m.ledger[:, :, ledger.SPENT].sum()
        counts[renew] = (int((grants > 0).sum()), int((grants >= 2).sum()), spent)
    (distinct0, repeat0, spent0), (distinct1, repeat1, spent1) = counts[False], counts[True]
    assert abs(spent1 - spent0) < 0.1 * spent0  # the same money
    assert distinct1 < 0.8 * distinct0
    assert repeat1 > 2 * max(repeat0, 1)
