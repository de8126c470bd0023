"""The model works with Mesa's own tools: batch_run, DataCollector, agents, running."""

import inspect

import mesa
import numpy as np
from conftest import run_model

from model import MSMEEcosystem
from model.agents import MSME, CollaborativePlatform, Cluster, Marketplace, Ministry, Programme, RegionalCouncil


def test_batch_run_with_flat_parameters():
    params = {"n_firms": 200, "n_months": 6, "governance_mode": ["centralised", "self_governance"], "mix_grants": 0.5}
    if "rng" in inspect.signature(mesa.batch_run).parameters:  # Mesa >= 3.4: seeds go through rng=
        kw = {"rng": [1, 2]}
    else:                                                        # Mesa 3.3: seed is a model parameter
        kw = {}
        params["seed"] = [1, 2]
    results = mesa.batch_run(MSMEEcosystem, parameters=params, number_processes=1, data_collection_period=1,
                             max_steps=6, display_progress=False, **kw)
    # Mesa 3.3 reports months 0..5, Mesa >= 3.4 months 0..6
    assert len(results) in (2 * 2 * 6, 2 * 2 * 7)
    assert {r["RunId"] for r in results} == {0, 1, 2, 3}
    row = results[-1]
    for key in ("value_added", "recipient_support_share_income", "self_reliance", "budget_spent", "governance_mode"):
        assert key in row
    assert all(np.isfinite(r["value_added"]) for r in results)
    # the seed reaches the model: the two seeds of one governance mode differ
    last = {}
    for r in results:
        last[(r["governance_mode"], r["RunId"])] = r["value_added"]
    for mode in ("centralised", "self_governance"):
        assert len({v for (m, _), v in last.items() if m == mode}) == 2


def test_datacollector_has_snake_case_reporters(baseline_run):
    df = baseline_run.datacollector.get_model_vars_dataframe()
    assert len(df) == baseline_run.month + 1
    assert all(c == c.lower() and " " not in c for c in df.columns)


def test_agents_of_every_kind_and_views():
    m = run_model("collaborative_platform", seed=1, n_firms=300, n_months=6)
    types = set(m.agent_types)
    assert {MSME, Cluster, Marketplace, Programme, Ministry, RegionalCouncil, CollaborativePlatform} <= types
    msmes = m.agents_by_type[MSME]
    assert len(msmes) == int(m.firms.alive[: m.firms.n].sum())  # exited firms leave the model
    a = next(iter(msmes))
    assert a.capital == m.firms.capital[a.row]
    assert a.size_class_name in ("micro", "small", "medium", "large")
    story = a.story()
    assert story["alive"] and "support_by_instrument" in story


def test_running_turns_off_at_horizon():
    m = MSMEEcosystem(seed=1, n_firms=100, n_months=3)
    while m.running:
        m.step()
    assert m.month == 3


def test_without_agent_views_results_are_identical():
    a = run_model("baseline", seed=9, n_firms=300, n_months=12).metrics_frame()
    b = run_model("baseline", seed=9, n_firms=300, n_months=12, msme_agents=False).metrics_frame()
    assert a.equals(b)


def test_signature_lists_every_parameter_with_its_default():
    """Tools that read the model's signature (SolaraViz, batch_run, EMA) see every schema field with
    its default; the signature is generated from the schema, this checks it is what they read."""
    from model.params import DEFAULTS

    sig = inspect.signature(MSMEEcosystem)
    assert list(sig.parameters)[:3] == ["scenario", "seed", "rng"]
    fields = {name: p.default for name, p in sig.parameters.items() if name not in ("scenario", "seed", "rng")}
    assert fields == DEFAULTS
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for name, p in sig.parameters.items() if name in DEFAULTS)


def test_batch_run_over_scenario_names():
    """``mesa.batch_run`` can vary the scenario by name; a name gives the same run as the loaded scenario."""
    from model import load_scenario

    res = mesa.batch_run(MSMEEcosystem, parameters={"scenario": ["baseline", "self_governance"], "n_firms": 300,
                                                    "n_months": 3, "burn_in_months": 12, "msme_agents": False},
                         iterations=1, max_steps=3, number_processes=1, display_progress=False)
    assert {r["scenario"] for r in res} == {"baseline", "self_governance"}
    by_name = MSMEEcosystem("self_governance", seed=7, n_firms=300, n_months=3, burn_in_months=12).run()
    loaded = MSMEEcosystem(load_scenario("self_governance"), seed=7, n_firms=300, n_months=3, burn_in_months=12).run()
    assert by_name.p["governance_mode"] == "self_governance"
    assert by_name.metrics_frame().equals(loaded.metrics_frame())


def test_firm_level_data_through_the_datacollector():
    """``collect_firms``: Mesa agent reporters on a sample of firms, month 0 included; following them
    changes nothing in the run; the sample depends on the seed only."""
    from model.agents import MSME

    kw = dict(seed=2, n_firms=400, n_months=6, msme_agents=False, burn_in_months=12)
    plain = MSMEEcosystem(**kw).run()
    m = MSMEEcosystem(**kw)
    dc = m.collect_firms({"firm_id": "firm_id", "capital": "capital", "size": "size_class_name"}, sample=40)
    m.run()
    df = dc.get_agenttype_vars_dataframe(MSME)
    assert m.metrics_frame().equals(plain.metrics_frame())
    first = df.xs(0, level="Step")
    assert len(first) == 40 and first["firm_id"].is_unique
    ids = set(first["firm_id"])
    assert set(df["firm_id"]) == ids  # a panel: entrants do not join
    last = df.xs(6, level="Step")
    alive_ids = set(m.firms.firm_id[: m.firms.n][m.firms.alive[: m.firms.n]].tolist())
    assert set(last["firm_id"]) == ids & alive_ids  # exits leave it
    row = m.row_of(int(last["firm_id"].iloc[0]))
    assert last["capital"].iloc[0] == m.firms.capital[row]
    again = MSMEEcosystem(**kw)
    again.collect_firms({"firm_id": "firm_id"}, sample=40)
    assert set(again.datacollector.get_agenttype_vars_dataframe(MSME)["firm_id"]) == ids
