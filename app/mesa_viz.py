"""The model in Mesa's own browser interface, ``SolaraViz``: a few levers as sliders and the headline
monthly metrics as Mesa plot components. For Mesa users who want the familiar interface; the
teaching app (``python run.py app``) is the guided one.

    python run.py app --mesa-viz        # offline, as the teaching app (the browser files from its cache)
    solara run app/mesa_viz.py          # Mesa's usual way (Solara fetches its browser files online)

Checked with Mesa 3.3.1 + ipyvuetify 3.1 + Solara 1.64 (Python 3.11; with the shim below) and Mesa 3.5
(Python 3.12); Mesa's plot components need ``altair``, a dependency of this project for that reason.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import reacton.ipyvuetify as _vuetify  # noqa: E402
from mesa.visualization import SolaraViz, make_plot_component  # noqa: E402

# Mesa 3.3's SolaraViz was written for ipyvuetify 1 (Vuetify 2) and uses its TabsItems / TabItem; the
# ipyvuetify 3 that Solara brings on Python 3.11 names them TabsWindow / TabsWindowItem (the page
# fails with "no attribute 'TabsItems'"). Mesa >= 3.4 no longer needs this.
if not hasattr(_vuetify, "TabsItems") and hasattr(_vuetify, "TabsWindow"):
    import solara  # noqa: E402

    _vuetify.TabsItems = _vuetify.TabsWindow
    _vuetify.TabItem = _vuetify.TabsWindowItem

    # ... and lays its plots out with solara.GridDraggable, whose browser code is Vue 2 only ("GlobalVue.use
    # is not a function" under Vue 3): the plots go in a responsive grid instead (not draggable)
    @solara.component
    def _PlotGrid(items, grid_layout=None, resizable=False, draggable=False, on_grid_layout=None):
        with solara.ColumnsResponsive(12, large=6) as grid:
            for item in items:
                solara.Column(children=[item])
        return grid

    solara.GridDraggable = _PlotGrid

from model import MSMEEcosystem  # noqa: E402
from model.params import DEFAULTS  # noqa: E402

N_FIRMS = 2_000  # small enough to step in a fraction of a second on a laptop

# SolaraViz's user parameters: each becomes an input; anything else is passed to the model as is
MODEL_PARAMS = {
    "governance_mode": {"type": "Select", "value": DEFAULTS["governance_mode"], "label": "Governance mode",
                        "values": ["centralised", "self_governance", "platform"]},
    "budget_per_firm_month": {"type": "SliderFloat", "value": DEFAULTS["budget_per_firm_month"],
                              "label": "Budget (IDR per firm a month)", "min": 0.0, "max": 200_000.0,
                              "step": 5_000.0},
    "targeting": {"type": "Select", "value": DEFAULTS["targeting"], "label": "Targeting",
                  "values": ["untargeted", "micro_first", "need", "potential"]},
    "cluster_programme": {"type": "Checkbox", "value": DEFAULTS["cluster_programme"],
                          "label": "Cluster programme"},
    "n_firms": {"type": "SliderInt", "value": N_FIRMS, "label": "Firms", "min": 500, "max": 20_000, "step": 500},
    "msme_agents": False,
    "n_months": 120,
}

def _labelled(title: str, unit: str):
    """A plot's ``post_process``: a title and the unit on the y axis (the x axis is the month)."""
    def post(ax):
        ax.set_title(title, fontsize=10)
        ax.set_ylabel(unit)
        ax.set_xlabel("month")
    return post


# Mesa plot components on the model's DataCollector reporters (model.reporters.METRICS)
COMPONENTS = [
    make_plot_component("value_added", post_process=_labelled("MSME value added", "IDR a month (month-0 prices)")),
    make_plot_component("employment", post_process=_labelled("Employment", "workers")),
    make_plot_component({"stage_3_share": "tab:blue", "share_small": "tab:orange"},
                        post_process=_labelled("Selling online; small firms", "share of firms")),
    make_plot_component("self_reliance", post_process=_labelled("Self-reliance (autonomy, competence, relatedness)",
                                                                "index 0-1")),
]


def make_model(**kw) -> MSMEEcosystem:
    params = {k: (v["value"] if isinstance(v, dict) else v) for k, v in MODEL_PARAMS.items()}
    params.update(kw)
    return MSMEEcosystem(seed=1, **params)


page = SolaraViz(make_model(), components=COMPONENTS, model_params=MODEL_PARAMS,
                 name="MSME ecosystem policy (Mesa SolaraViz)")
