"""The teaching app's web page (Solara). Start it with ``python run.py app``.

Left: the controls, each with a one-line explanation. Right: run controls (play, pause, step, reset,
withdraw support now), headline numbers, growth and dependence charts, the difference between two
scenarios (side-by-side mode), size classes and digital stages, a map of regions, clusters,
marketplaces and councils, and one firm's story. The simulation lives in ``app/sim.py``; charts are
SVG built in ``app/charts.py``.
"""

from __future__ import annotations

import time
import traceback
from html import escape

import solara
import solara.lab

from model.scenario import available_scenarios

from . import charts, noise, texts
from .sim import DEFAULT_N_FIRMS, DEFAULT_SEED, Session, describe_value, mix_shares
from .svg import fmt_money


def count(v: float, one: str, many: str | None = None) -> str:
    """A count with its noun in the right number: '1 firm', '3 firms', '1,204 firms'."""
    return f"{v:,.0f} {one if round(abs(v)) == 1 else (many or one + 's')}"


def firms(v: float) -> str:
    return count(v, "firm")

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
SPEEDS = ["1", "2", "4", "8"]

CSS = """
html, body { font-size: 16px; overflow: hidden; }
.msme-header { background: #1f3b57; color: white; padding: 0 22px; display: flex; align-items: center;
  gap: 18px; height: 52px; box-sizing: border-box; overflow: hidden; white-space: nowrap; }
.msme-header h1 { font-size: 1.55rem; margin: 0; font-weight: 650; letter-spacing: .2px; }
.msme-header .sub { font-size: 1.0rem; opacity: .85; }
.msme-shell { display: grid; grid-template-columns: 380px 1fr; height: calc(100vh - 52px); }
.msme-side { overflow-y: auto; padding: 10px 16px 40px 16px; background: #f6f8fa; border-right: 1px solid #dde3ea; }
.msme-main { overflow-y: auto; padding: 0 22px 40px 22px; background: #ffffff; }
.msme-side h3 { font-size: 1.02rem; margin: 16px 0 2px 0; color: #1f3b57; font-weight: 700;
  border-top: 1px solid #dde3ea; padding-top: 10px; }
.msme-side h3.first { border-top: none; padding-top: 0; margin-top: 4px; }
.msme-rec { border-collapse: collapse; font-size: .92rem; margin: 6px 0 10px 0; }
.msme-rec th, .msme-rec td { border-bottom: 1px solid #e3e8ee; padding: 4px 10px; text-align: left; }
.msme-rec td.val { font-weight: 650; text-align: right; }
.msme-rec td.unit { color: #5a6673; font-size: .85rem; }
.rec-bought, .rec-withdrawal { font-size: .95rem; margin: 6px 0; }
.msme-help { font-size: .84rem; color: #505a66; line-height: 1.25; margin: 0 0 6px 0; display: block; }
.msme-note { font-size: .84rem; color: #7a4b00; background: #fff6e0; border-radius: 6px; padding: 6px 8px;
  display: block; margin: 6px 0; }
.msme-strip { position: sticky; top: 0; z-index: 5; background: #ffffff; padding: 10px 0 8px 0;
  border-bottom: 1px solid #e3e8ee; display: flex; align-items: center; gap: 10px; flex-wrap: wrap; }
.msme-month { font-size: 1.35rem; font-weight: 700; color: #1f3b57; margin-left: 8px; }
.msme-month small { font-size: .9rem; font-weight: 500; color: #5a6673; }
.msme-card { border: 1px solid #e3e8ee; border-radius: 10px; padding: 12px 16px 10px 16px; margin: 14px 0;
  background: #fff; box-shadow: 0 1px 2px rgba(0,0,0,.04); }
.msme-card h2 { font-size: 1.22rem; margin: 0 0 2px 0; color: #1f3b57; font-weight: 700; }
.msme-card .help { font-size: .92rem; color: #505a66; margin: 0 0 6px 0; }
.msme-kpis { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 10px; }
.msme-kpi { background: #f6f8fa; border-radius: 8px; padding: 8px 12px; }
.msme-kpi .lab { font-size: .82rem; color: #505a66; text-transform: none; }
.msme-kpi .val { font-size: 1.38rem; font-weight: 700; color: #0072B2; line-height: 1.25; }
.msme-kpi .ref { font-size: .95rem; font-weight: 600; color: #b37800; }
.msme-kpi .diff { font-size: .9rem; font-weight: 600; }
.msme-kpi .up { color: #007a5a; } .msme-kpi .down { color: #c04a00; }
.msme-kpi .noise { color: #5a6673; font-weight: 500; } .msme-kpi .why { font-size: .8rem; }
.msme-scen { font-size: .98rem; color: #333; margin: 4px 0; }
.msme-scen b.you { color: #0072B2; } .msme-scen b.ref { color: #b37800; }
.msme-chips { display: flex; flex-wrap: wrap; gap: 6px; margin: 6px 0 2px 0; }
.msme-chip { background: #eef3f8; border-radius: 12px; padding: 2px 10px; font-size: .85rem; color: #1f3b57; }
.msme-two { display: grid; grid-template-columns: 1fr 1fr; gap: 12px; }
.msme-story { display: grid; grid-template-columns: 68% 32%; gap: 14px; align-items: start; }
.msme-story .facts { font-size: .95rem; line-height: 1.4; }
.msme-story .facts ul { margin: 4px 0 0 0; padding-left: 18px; }
.msme-story .facts li { margin: 1px 0; }
.msme-readout table { border-collapse: collapse; font-size: .86rem; width: 100%; }
.msme-readout td { border-bottom: 1px solid #eef1f4; padding: 3px 6px; vertical-align: top; }
.msme-readout td.k { font-family: ui-monospace, Menlo, monospace; color: #333; white-space: nowrap; }
.msme-readout td.v { font-weight: 600; white-space: nowrap; }
.msme-readout td.d { color: #666; }
.msme-perf { font-size: .8rem; color: #888; margin-top: 6px; }
.msme-side .v-label { font-size: .95rem; opacity: 1; }
.msme-slabel { font-size: .95rem; color: #222; margin: 6px 0 -6px 0; }
.msme-slider .v-slider { margin-left: 4px; margin-right: 4px; }
.msme-side .v-input__details { display: none; }
.msme-side .msme-slider, .msme-side .msme-slider .v-input, .msme-side .msme-slabel { background: transparent; }
.msme-side .v-switch .v-selection-control { min-height: 36px; }
"""


def month_label(session: Session, month: int) -> str:
    start = int(session.policy.model.p["start_year"])
    return f"{MONTHS[month % 12]} {start + month // 12}"


# ----------------------------------------------------------------------------------------------
@solara.component
def Layout(children=[]):  # noqa: B006 - Solara's signature
    """A bare layout: the page draws its own header and columns."""
    solara.Column(children=children, style={"padding": "0", "margin": "0"})


@solara.component
def Help(key: str | None = None, text: str | None = None):
    solara.HTML(tag="span", unsafe_innerHTML=escape(text if text is not None else texts.HELP[key]),
                classes=["msme-help"])


@solara.component
def LabeledSlider(label: str, value: int, min: int, max: int, step: int, on_value, name: str,
                  disabled: bool = False):
    """A slider with its label and current value on a line above it (readable from the back row)."""
    solara.HTML(tag="div", unsafe_innerHTML=label, classes=["msme-slabel", f"slabel-{name}"])
    with solara.Div(classes=["msme-slider", f"slider-{name}"]):
        solara.SliderInt(label="", value=value, min=min, max=max, step=step, on_value=on_value,
                         disabled=disabled, thumb_label=True)


@solara.component
def SectionTitle(title: str, first: bool = False):
    solara.HTML(tag="h3", unsafe_innerHTML=escape(title), classes=["first"] if first else [])


@solara.component
def Controls(session: Session, refresh, settings_tick: solara.Reactive):
    """The left column: scenario, levers, population (re-rendered only when a setting changes)."""
    _ = settings_tick.value  # subscribe
    s = session.settings
    lev = s.levers
    scen_names = available_scenarios()

    def act(fn):
        def handler(*args):
            try:
                fn(*args)
            except Exception as err:  # show the problem on the page, keep the app alive
                session.message = f"Could not apply that change: {err}"
                traceback.print_exc()
            refresh()
        return handler

    with solara.Div(classes=["msme-side"]):
        SectionTitle("Scenario", first=True)
        solara.Select(label="Starting scenario", values=scen_names, value=s.scenario,
                      on_value=act(session.set_scenario), classes=["ctl-scenario"])
        Help(text=session.policy.description or texts.HELP["scenario"])
        Help("scenario")
        solara.Switch(label="Side by side: compare with a reference", value=s.side_by_side,
                      on_value=act(session.set_side_by_side), classes=["ctl-side-by-side"])
        Help("side_by_side")
        if s.side_by_side:
            solara.Select(label="Reference scenario", values=scen_names, value=s.reference,
                          on_value=act(session.set_reference), classes=["ctl-reference"])
            Help("reference")

        SectionTitle("Who delivers support")
        gov_labels = list(texts.GOVERNANCE_LABELS.values())
        inv_gov = {v: k for k, v in texts.GOVERNANCE_LABELS.items()}
        solara.Select(label="Delivery mode (restarts the run)", values=gov_labels,
                      value=texts.GOVERNANCE_LABELS[lev["governance_mode"]],
                      on_value=act(lambda v: session.set_lever("governance_mode", inv_gov[v])),
                      classes=["ctl-governance"])
        Help(text=texts.GOVERNANCE_HELP[lev["governance_mode"]])

        SectionTitle("Budget")
        total = lev["budget_per_firm_month"] * s.n_firms
        LabeledSlider(f"Budget: <b>{lev['budget_per_firm_month'] / 1000:,.0f} thousand IDR</b> per firm per month",
                      value=int(round(lev["budget_per_firm_month"] / 1000)), min=0, max=300, step=5,
                      on_value=act(lambda v: session.set_lever("budget_per_firm_month", float(v) * 1000.0)),
                      name="budget")
        Help(text=f"{texts.HELP['budget_per_firm_month']} Now {fmt_money(total)} a month for {s.n_firms:,} firms.")
        tgt_labels = list(texts.TARGETING_LABELS.values())
        inv_tgt = {v: k for k, v in texts.TARGETING_LABELS.items()}
        solara.Select(label="Who is served first", values=tgt_labels, value=texts.TARGETING_LABELS[lev["targeting"]],
                      on_value=act(lambda v: session.set_lever("targeting", inv_tgt[v])))
        Help("targeting")

        SectionTitle("Instrument mix")
        shares = mix_shares(lev)
        group_txt = " · ".join(f"{g} {sum(shares[k] for k in ks):.0%}" for g, ks in texts.INSTRUMENT_GROUPS)
        Help(text=f"{texts.HELP['mix']} Now: {group_txt}.")
        with solara.Details(summary="Show the 11 instrument sliders", expand=False):
            for g, ks in texts.INSTRUMENT_GROUPS:
                solara.HTML(tag="div", unsafe_innerHTML=f"<b>{escape(g)}</b>",
                            style="font-size:.9rem;margin-top:6px;color:#1f3b57")
                for k in ks:
                    name = f"mix_{k}"
                    LabeledSlider(f"{escape(texts.INSTRUMENT_LABELS[k])}: <b>{shares[k]:.0%}</b>",
                                  value=int(round(lev[name] * 100)), min=0, max=100, step=1,
                                  on_value=act(lambda v, name=name: session.set_lever(name, v / 100.0)), name=name)

        SectionTitle("Clusters")
        solara.Switch(label="Clustering programme", value=bool(lev["cluster_programme"]),
                      on_value=act(lambda v: session.set_lever("cluster_programme", bool(v))))
        Help("cluster_programme")
        LabeledSlider(f"Coverage target: <b>{lev['cluster_coverage_target']:.0%}</b> of small manufacturers",
                      value=int(round(lev["cluster_coverage_target"] * 100)), min=0, max=100, step=5,
                      on_value=act(lambda v: session.set_lever("cluster_coverage_target", v / 100.0)),
                      name="coverage")
        Help("cluster_coverage_target")
        LabeledSlider(f"Shared facilities: <b>{shares['shared_facilities']:.0%}</b> of the budget",
                      value=int(round(lev["mix_shared_facilities"] * 100)), min=0, max=100, step=1,
                      on_value=act(lambda v: session.set_lever("mix_shared_facilities", v / 100.0)),
                      name="facilities")
        Help("mix_shared_facilities")

        SectionTitle("E-commerce")
        solara.Switch(label="Marketplace onboarding", value=bool(lev["ecommerce_onboarding"]),
                      on_value=act(lambda v: session.set_lever("ecommerce_onboarding", bool(v))))
        Help("ecommerce_onboarding")
        LabeledSlider(f"Online promotion: <b>{shares['ecommerce_promotion']:.0%}</b> of the budget",
                      value=int(round(lev["mix_ecommerce_promotion"] * 100)), min=0, max=100, step=1,
                      on_value=act(lambda v: session.set_lever("mix_ecommerce_promotion", v / 100.0)),
                      name="promotion")
        Help("mix_ecommerce_promotion")

        SectionTitle("Timing and crisis")
        n_months = session.n_months
        po = int(lev["phase_out_month"])
        LabeledSlider("Support ends: <b>" + ("never" if po == 0 else f"month {po}") + "</b>", value=po,
                      min=0, max=n_months, step=1,
                      on_value=act(lambda v: session.set_lever("phase_out_month", int(v))), name="phaseout")
        Help("phase_out_month")
        solara.Switch(label="COVID-like crisis", value=bool(lev["shock_enabled"]),
                      on_value=act(lambda v: session.set_lever("shock_enabled", bool(v))))
        Help("shock_enabled")
        LabeledSlider(f"Crisis starts: <b>month {lev['shock_month']}</b>", value=int(lev["shock_month"]),
                      min=1, max=n_months, step=1, disabled=not lev["shock_enabled"],
                      on_value=act(lambda v: session.set_lever("shock_month", int(v))), name="shockmonth")
        Help("shock_month")

        SectionTitle("Population")
        LabeledSlider(f"Firms at start: <b>{s.n_firms:,}</b> (restarts the run)", value=s.n_firms, min=500,
                      max=10000, step=500, on_value=act(lambda v: session.set_population(n_firms=int(v))),
                      name="firms")
        Help("n_firms")
        solara.InputInt(label="Seed (restarts the run)", value=s.seed,
                        on_value=act(lambda v: session.set_population(seed=int(v or 0))), classes=["ctl-seed"])
        Help("seed")
        solara.HTML(tag="span", unsafe_innerHTML=escape(texts.HELP["live_note"]), classes=["msme-note"])


def withdraw_unavailable(session: Session) -> str | None:
    """Why "Withdraw support now" is greyed out (None when it can be pressed): there is no support to withdraw."""
    model = session.policy.model
    if model.budget_this_month > 0 or session.month == 0:
        return None
    end = int(model.p["phase_out_month"])
    if session.withdrawal is not None:
        why = f"support was already withdrawn (no programme money from month {end} on)"
    elif 0 < end <= session.month:
        why = f"the programmes ended in month {end} (the phase-out month of the levers)"
    else:
        why = "the budget is 0: no programme money is being paid"
    return f"“Withdraw support now” is greyed out: {why}, so there is nothing left to withdraw."


@solara.component
def RunStrip(session: Session, playing: solara.Reactive, speed: solara.Reactive, refresh, tick=0):
    """Play / pause / step / reset / withdraw, speed and the month."""
    month = session.month
    n_months = session.n_months

    def toggle():
        if not session.running:
            return
        playing.set(not playing.value)

    def step():
        playing.set(False)
        session.step()
        refresh()

    def reset():
        playing.set(False)
        session.reset()
        refresh()

    def withdraw():
        session.withdraw_now()
        refresh()

    with solara.Div(classes=["msme-strip"]):
        solara.Button("Pause" if playing.value else "Play", icon_name="mdi-pause" if playing.value else "mdi-play",
                      color="#0072B2", on_click=toggle, disabled=not session.running, classes=["btn-play"])
        solara.Button("Step one month", icon_name="mdi-skip-next", outlined=True, on_click=step,
                      disabled=playing.value or not session.running, classes=["btn-step"])
        solara.Button("Reset", icon_name="mdi-restart", outlined=True, on_click=reset, classes=["btn-reset"])
        solara.Button("Withdraw support now", icon_name="mdi-hand-back-left-off", color="#b04a00", outlined=True,
                      on_click=withdraw, disabled=withdraw_unavailable(session) is not None,
                      classes=["btn-withdraw"])
        solara.HTML(tag="span", unsafe_innerHTML="Speed, months per second:",
                    style="font-size:.9rem;color:#505a66;margin-left:6px")
        solara.ToggleButtonsSingle(value=str(speed.value), values=SPEEDS, on_value=lambda v: speed.set(int(v)),
                                   dense=True, classes=["ctl-speed"])
        solara.HTML(tag="span", classes=["msme-month"],
                    unsafe_innerHTML=f'Month <span class="month-value">{month}</span> of {n_months} '
                                     f'<small>({month_label(session, month)})</small>')
    if session.message:
        solara.HTML(tag="span", unsafe_innerHTML=escape(session.message), classes=["msme-note", "msg"])
    why = withdraw_unavailable(session)
    if why:
        solara.HTML(tag="span", unsafe_innerHTML=escape(why), classes=["msme-note", "withdraw-why"])


def _kpi_rows(session: Session) -> list[tuple[str, str, callable, bool]]:
    # (label, metric, formatter, higher is better)
    return [
        ("Firms in business", "firms_alive", lambda v: f"{v:,.0f}", True),
        ("Output this month", "value_added", lambda v: f"{v / 1e9:,.1f} bn IDR", True),
        ("Jobs", "employment", lambda v: f"{v:,.0f}", True),
        ("Moved up a size class", "upgrades_cumulative", firms, True),
        ("Selling online", "stage_3_share", lambda v: f"{v:.0%}", True),
        ("Support share of recipients' income", "recipient_support_share_income", lambda v: f"{v:.1%}", False),
        ("Budget spent so far", "budget_spent_cumulative", lambda v: f"{v / 1e9:,.2f} bn IDR", None),
    ]


def kpi_html(session: Session) -> str:
    runs = session.runs
    out = ['<div class="msme-kpis">']
    for label, key, f, better in _kpi_rows(session):
        a = runs[0].series[key][-1]
        cell = f'<div class="msme-kpi kpi-{key}"><div class="lab">{escape(label)}</div><div class="val">{f(a)}</div>'
        if len(runs) > 1:
            b = runs[1].series[key][-1]
            d = a - b
            pct = key in ("stage_3_share", "recipient_support_share_income")
            mag = f"{abs(d) * 100:.1f} pp" if pct else f(abs(d))  # a difference of percents: percentage points
            if mag == (f"{0:.1f} pp" if pct else f(0.0)):  # below the precision shown: no difference
                d = 0.0
            sign = "+" if d > 0 else "−" if d < 0 else "±"
            dtxt = f"{sign}{mag}"
            sd = noise.sd_at(key, session.month, session.settings.n_firms)
            if d != 0 and noise.within_noise(d, sd):  # one seed: a difference this small is not an effect
                band = f"{noise.Z * sd * 100:.1f} pp" if pct else f(noise.Z * sd)
                cls = "noise"
                dtxt += f' <span class="why">(within the run-to-run noise of about ±{band})</span>'
            else:
                cls = "" if better is None or d == 0 else ("up" if (d > 0) == better else "down")
            cell += f'<div class="ref">ref. {f(b)}</div><div class="diff {cls}">difference {dtxt}</div>'
        out.append(cell + "</div>")
    out.append("</div>")
    return "".join(out)


# (label, series, shown as, unit) of the recipients' dependence: the reports' outcomes (analysis/metrics.py)
RECIPIENT_ROWS = (
    ("Firms reached by support (supported in the last 12 months)", "recipients_share", "pct", "% of firms"),
    ("Support as a share of recipients' income (12-month averages)", "recipient_support_share_income", "pct",
     "% of their income"),
    ("Recipients loss-making without support", "recipient_loss_without_support_share", "pct",
     "% of recipients that were not loss-making before"),
    ("Chronic recipients (supported in 4 or more of the last 24 months)", "chronic_recipient_share", "pct",
     "% of recipients"),
    ("Effort gap: other firms minus recipients", "effort_gap", "num", "effort, 0-1 scale"),
)


def _money_bn(v: float) -> str:
    return f"{v * 1000:,.0f} million IDR" if v < 1 else f"{v:,.2f} bn IDR"


def recipients_html(session: Session) -> str:
    """Recipients' dependence now (both runs), what the budget bought against the no-support twin, and the
    withdrawal drop on recipients after "withdraw support now"; every number with its unit."""
    runs = session.runs
    head = "".join(f"<th>{escape(r.label)}</th>" for r in runs)
    rows = []
    for label, key, kind, unit in RECIPIENT_ROWS:
        cells = "".join(
            f"<td class='val'>{(r.series[key][-1] * 100):.1f} %</td>" if kind == "pct" else
            f"<td class='val'>{r.series[key][-1]:+.3f}</td>" for r in runs)
        rows.append(f"<tr class='rec-{key}'><td>{escape(label)}</td>{cells}<td class='unit'>{escape(unit)}</td></tr>")
    table = (f"<table class='msme-rec'><thead><tr><th></th>{head}<th>unit</th></tr></thead>"
             f"<tbody>{''.join(rows)}</tbody></table>")
    e = session.support_effect()
    if e["spent_bn"] <= 0:
        bought = "Your policy has spent nothing yet."
    elif e["extra_upgrades"] <= 0:
        bought = (f"Your policy has spent <b>{_money_bn(e['spent_bn'])}</b> and made "
                  f"{count(e['twin_upgrades'] + e['extra_upgrades'], 'size-class upgrade')}; the same firms with <b>no "
                  f"support</b> (same luck) made {e['twin_upgrades']:,.0f}: <b>no additional upgrade yet</b>, so no "
                  f"cost per additional upgrade.")
    else:
        more = count(e["extra_upgrades"], "more size-class upgrade")
        bought = (f"Your policy has spent <b>{_money_bn(e['spent_bn'])}</b> and made <b>{more}</b> than the same "
                  f"firms with no support (same luck: "
                  f"{e['twin_upgrades']:,.0f}): <b class='per-upgrade'>{_money_bn(e['budget_per_extra_upgrade_bn'])} "
                  f"per additional upgrade</b>.")
    parts = [table, f"<div class='rec-bought'>{bought}</div>"]
    w = session.withdrawal
    if w is not None:
        d = w.drop()
        if d["months_since"] == 0:
            txt = (f"Support withdrawn from month {d['month']}: {count(d['recipients'], 'recipient')} followed "
                   f"against the same firms with support continued. Play on to see the drop.")
        else:
            va, sv = d["value_added_drop_pct"], d["survival_drop_pp"]
            txt = (f"Since support was withdrawn in month {d['month']} ({count(d['months_since'], 'month')}), the "
                   f"{count(d['recipients'], 'firm')} that were recipients then produced "
                   f"<b class='wd-va'>{abs(va):.1f} % "
                   f"{'less' if va >= 0 else 'more'}</b> than the same firms with support continued (same luck), "
                   f"and <b class='wd-survival'>{abs(sv):.1f} percentage points (pp) {'fewer' if sv >= 0 else 'more'}"
                   f"</b> of them are still in business.")
        parts.append(f"<div class='rec-withdrawal'>{txt}</div>")
    return "".join(parts)


def chips_html(session: Session) -> str:
    lev = session.policy.model.p
    shares = mix_shares(lev)
    top = sorted(shares.items(), key=lambda kv: -kv[1])[:3]
    chips = [texts.GOVERNANCE_LABELS[lev["governance_mode"]],
             describe_value("budget_per_firm_month", lev["budget_per_firm_month"]),
             "biggest shares: " + ", ".join(f"{texts.INSTRUMENT_SHORT[k]} {v:.0%}" for k, v in top),
             texts.TARGETING_LABELS[lev["targeting"]],
             describe_value("phase_out_month", lev["phase_out_month"]),
             f"crisis from month {lev['shock_month']}" if lev["shock_enabled"] else "no crisis",
             "clustering programme" if lev["cluster_programme"] else "no clustering programme",
             "e-commerce onboarding" if lev["ecommerce_onboarding"] else "no onboarding"]
    return '<div class="msme-chips">' + "".join(f'<span class="msme-chip">{escape(c)}</span>' for c in chips) + "</div>"


def scenario_html(session: Session) -> str:
    pol = session.policy
    parts = [f'<div class="msme-scen"><b class="you">{escape(pol.label)}</b> — {escape(pol.description)}']
    edits = pol.edited_summary()
    if edits:
        parts.append(f"<br><i>Your changes:</i> {escape(edits)}")
    parts.append("</div>")
    if session.reference is not None:
        ref = session.reference
        parts.append(f'<div class="msme-scen"><b class="ref">{escape(ref.label)}</b> — {escape(ref.description)} '
                     f'<i>Same {session.settings.n_firms:,} firms, same seed ({session.settings.seed}).</i></div>')
    return "".join(parts)


def readout_html(session: Session) -> str:
    rows = []
    for k, v in session.readout().items():
        desc = texts.technical(k)
        val = f"{v:g}" if isinstance(v, float) else str(v)
        rows.append(f'<tr class="readout-row readout-{k}"><td class="k">{k}</td><td class="v readout-value">'
                    f'{escape(val)}</td><td class="d">{escape(desc)}</td></tr>')
    return '<div class="msme-readout"><table>' + "".join(rows) + "</table></div>"


def story_html(session: Session, run, st: dict) -> str:
    fid = st["firm_id"]
    size = texts.SIZE_CLASS_TEXT[st["size_class"]]
    sector = texts.SECTOR_TEXT.get(st["sector"], st["sector"])
    stage = texts.STAGE_TEXT[st["digital_stage"]]
    lines = []
    status = "is" if st["alive"] else "was"
    age = st["age_months"] if st["alive"] else max(st["died"] - st["born"], 0) + st.get("age0", 0)
    lines.append(f"<b>Firm #{fid}</b> {status} a <b>{escape(size)}</b> firm in <b>region R{st['region'] + 1}</b>, "
                 f"working in {escape(sector)}, {age} months old.")
    workers = round(st["workers"])
    lines.append(f"Capital <b>{fmt_money(st['capital_idr'])}</b>, {workers} worker{'s' if workers != 1 else ''}, "
                 f"revenue {fmt_money(st['revenue_idr'])} and profit {fmt_money(st['profit_idr'])} last month.")
    cl = "in a cluster" if st["cluster"] >= 0 else "not in a cluster"
    mk = f"sells on marketplace {chr(65 + st['marketplace'])}" if st["marketplace"] >= 0 else "does not sell online"
    lines.append(f"Digital stage {escape(stage)}; {cl}; {mk}. Self-reliance {st['self_reliance']:.2f} (0 to 1).")
    if st["support_total_idr"] > 0:
        by = ", ".join(f"{texts.INSTRUMENT_SHORT[k]} {fmt_money(v)}" for k, v in
                       sorted(st["support_by_instrument"].items(), key=lambda kv: -kv[1]))
        lines.append(f"Support received: <b>{fmt_money(st['support_total_idr'])}</b> ({escape(by)}).")
    else:
        lines.append("It has received <b>no support</b> so far.")
    start_cls = st["initial_class"]
    moves = [e for e in st["events"] if "moved up" in e[1] or "fell back" in e[1]]
    lines.append(f"Started as {start_cls}; size-class changes: {len(moves)}.")
    ev = "".join(f"<li>month {t}: {escape(e)}</li>" for t, e in st["events"][-8:]) or "<li>nothing yet</li>"
    head = f'<div style="color:{charts.RUN_COLORS[0 if run.role == "policy" else 1]};font-weight:700">' \
           f'{escape(run.label)}</div>' if session.reference is not None else ""
    return f'<div class="facts story-{run.role}">{head}<div>{" ".join(lines)}</div><div style="margin-top:6px">' \
           f'<b>Key events</b><ul>{ev}</ul></div></div>'


@solara.component
def ChartCard(title: str, help_key: str, svg: str, name: str):
    """A titled card with its one-line explanation and an SVG chart."""
    with solara.Div(classes=["msme-card", f"card-{name}"]):
        solara.HTML(tag="h2", unsafe_innerHTML=escape(title))
        solara.HTML(tag="div", unsafe_innerHTML=escape(texts.HELP[help_key]), classes=["help"])
        solara.HTML(tag="div", unsafe_innerHTML=svg, classes=[f"chart-{name}"])


@solara.component
def ExportCard(session: Session, view: dict):
    """Downloads of the current run: monthly metrics (CSV), the growth and dependence charts (SVG, vector) and
    "your policy" as a scenario file the command line accepts. Each file is made when its button is pressed."""
    name = session.export_name()
    with solara.Div(classes=["msme-card", "card-export"]):
        solara.HTML(tag="h2", unsafe_innerHTML=escape(texts.CHART_TITLES["export"]))
        solara.HTML(tag="div", unsafe_innerHTML=escape(texts.HELP["export"]), classes=["help"])
        with solara.Row(style={"flex-wrap": "wrap", "gap": "8px"}):
            solara.FileDownload(session.metrics_csv, filename=f"{name}_monthly.csv", mime_type="text/csv",
                                label="Monthly metrics (CSV)")
            for key in ("growth", "dependence"):
                solara.FileDownload(view[key], filename=f"{name}_{key}.svg", mime_type="image/svg+xml",
                                    label=f"{texts.CHART_TITLES[key]} chart (SVG)")
            solara.FileDownload(session.scenario_toml, filename=f"{name}.toml", mime_type="application/toml",
                                label="Your policy as a scenario file (TOML)")


# ----------------------------------------------------------------------------------------------
@solara.component
def Page():
    """The page shell. It re-renders only on play/pause; the controls re-render when a setting changes
    and the dashboard when the model moves (each reads its own reactive counter), so a playing month
    updates only the charts and numbers."""
    session = solara.use_memo(lambda: Session(n_firms=DEFAULT_N_FIRMS, seed=DEFAULT_SEED), [])
    tick = solara.use_reactive(0)           # what the dashboard shows changed
    settings_tick = solara.use_reactive(0)  # a setting changed (controls and dashboard)
    playing = solara.use_reactive(False)
    speed = solara.use_reactive(4)

    def _make_refresh():
        def refresh():
            settings_tick.set(settings_tick.value + 1)
            tick.set(tick.value + 1)
        return refresh

    refresh = solara.use_memo(_make_refresh, [])  # stable callback: children are not re-rendered for it

    def loop():
        while playing.value and session.running:
            t0 = time.perf_counter()
            session.step()
            t1 = time.perf_counter()
            tick.set(tick.value + 1)  # renders the dashboard (in this thread)
            session.last_render_seconds = time.perf_counter() - t1
            time.sleep(max(0.02, 1.0 / max(speed.value, 1) - (time.perf_counter() - t0)))
        if not session.running:
            playing.set(False)

    solara.lab.use_task(loop, dependencies=[playing.value], prefer_threaded=True)

    solara.Title(texts.APP_TITLE)
    solara.Style(CSS)
    solara.HTML(tag="div", classes=["msme-header"],
                unsafe_innerHTML=f"<h1>{escape(texts.APP_TITLE)}</h1>"
                                 f"<span class='sub'>{escape(texts.APP_SUBTITLE)}</span>")
    with solara.Div(classes=["msme-shell"]):
        Controls(session, refresh, settings_tick)
        Dashboard(session, tick, settings_tick, playing, speed, refresh)


@solara.component
def Dashboard(session: Session, tick: solara.Reactive, settings_tick: solara.Reactive, playing: solara.Reactive,
              speed: solara.Reactive, refresh):
    """The right column: run controls, numbers, charts, map, firm story, parameter readout."""
    color_by = solara.use_reactive("size class")
    version = (tick.value, settings_tick.value)

    # everything the charts need, built once per change (fast: SVG text)
    def build():
        t0 = time.perf_counter()
        with session.lock:
            runs = session.runs
            n_months = session.n_months
            for r in runs:
                if getattr(r, "map_layout", None) is None:
                    r.map_layout = charts.MapLayout(r.model)
            fid = min(session.firm_id, runs[0].model.firms.next_id - 1)
            cb = "stage" if color_by.value == "digital stage" else "class"
            out = {
                "growth": charts.growth_svg(runs, n_months),
                "dependence": charts.dependence_svg(runs, n_months),
                "difference": charts.difference_svg(runs[0], runs[1], n_months) if len(runs) > 1 else "",
                "composition": charts.composition_svg(runs, n_months),
                "maps": [charts.map_svg(r, r.map_layout, cb, fid, compact=len(runs) > 1) for r in runs],
                "kpis": kpi_html(session),
                "recipients": recipients_html(session),
                "chips": chips_html(session),
                "scenario": scenario_html(session),
                "readout": readout_html(session),
            }
            stories = [(r, r.firm_story(fid)) for r in runs if fid < r.model.firms.next_id]
            out["story_svg"] = charts.story_svg(stories, n_months)
            out["story_html"] = [story_html(session, r, st) for r, st in stories]
        out["seconds"] = time.perf_counter() - t0
        return out

    view = solara.use_memo(build, [version, color_by.value, session.version, session.firm_id])

    def redraw():
        tick.set(tick.value + 1)

    def choose(kind):
        def handler():
            with session.lock:
                session.firm_id = session.pick_firm(kind)
            redraw()
        return handler

    def set_firm(v):
        if v is None:
            return
        with session.lock:
            n = session.policy.model.firms.next_id
            session.firm_id = max(0, min(int(v), n - 1))
        redraw()

    with solara.Div(classes=["msme-main"]):
        RunStrip(session, playing, speed, refresh, tick=version)
        solara.HTML(tag="div", unsafe_innerHTML=view["scenario"] + view["chips"])
        with solara.Div(classes=["msme-card"]):
            solara.HTML(tag="div", unsafe_innerHTML=view["kpis"])
            solara.HTML(tag="div", unsafe_innerHTML=escape(texts.HELP["kpis"]), classes=["help"],
                        style="font-size:.85rem;color:#5a6673;margin-top:6px")
        ChartCard(texts.CHART_TITLES["growth"], "growth", view["growth"], "growth")
        ChartCard(texts.CHART_TITLES["dependence"], "dependence", view["dependence"], "dependence")
        ExportCard(session, view)
        with solara.Div(classes=["msme-card", "card-recipients"]):
            solara.HTML(tag="h2", unsafe_innerHTML=escape(texts.CHART_TITLES["recipients"]))
            solara.HTML(tag="div", unsafe_innerHTML=escape(texts.HELP["recipients"]), classes=["help"])
            solara.HTML(tag="div", unsafe_innerHTML=view["recipients"], classes=["recipients"])
        if view["difference"]:
            ChartCard(texts.CHART_TITLES["difference"], "difference", view["difference"], "difference")
        ChartCard(texts.CHART_TITLES["composition"], "composition", view["composition"], "composition")
        with solara.Div(classes=["msme-card"]):
            solara.HTML(tag="h2", unsafe_innerHTML=escape(texts.CHART_TITLES["map"]))
            with solara.Row(style={"align-items": "center"}):
                solara.HTML(tag="div", unsafe_innerHTML=escape(texts.HELP["map"]), classes=["help"])
                solara.HTML(tag="span", unsafe_innerHTML="Colour firms by:",
                            style="font-size:.9rem;color:#505a66;margin-left:auto")
                solara.ToggleButtonsSingle(value=color_by.value, values=["size class", "digital stage"],
                                           on_value=color_by.set, dense=True, classes=["ctl-colour"])
            if len(view["maps"]) > 1:
                with solara.Div(classes=["msme-two"]):
                    for i, svg in enumerate(view["maps"]):
                        label = session.runs[i].label if i < len(session.runs) else ""
                        solara.HTML(tag="div", classes=["chart-map"],
                                    unsafe_innerHTML=f'<div style="font-weight:700;color:{charts.RUN_COLORS[i]};'
                                                     f'font-size:1.02rem">{escape(label)}</div>{svg}')
                solara.HTML(tag="div", unsafe_innerHTML=charts.legend_html(
                    "stage" if color_by.value == "digital stage" else "class"))
            else:
                solara.HTML(tag="div", unsafe_innerHTML=view["maps"][0], classes=["chart-map"])
        with solara.Div(classes=["msme-card"]):
            solara.HTML(tag="h2", unsafe_innerHTML=escape(texts.CHART_TITLES["story"]))
            solara.HTML(tag="div", unsafe_innerHTML=escape(texts.HELP["story"]), classes=["help"])
            with solara.Row(style={"align-items": "center", "flex-wrap": "wrap"}):
                solara.InputInt(label="Firm number", value=session.firm_id, on_value=set_firm,
                                classes=["ctl-firm"], dense=True, style={"max-width": "150px"})
                solara.Button("Random firm", on_click=choose("random"), outlined=True)
                solara.Button("A firm that moved up", on_click=choose("upgraded"), outlined=True)
                solara.Button("A firm that got support", on_click=choose("supported"), outlined=True)
                solara.Button("A firm that closed", on_click=choose("exited"), outlined=True)
            with solara.Div(classes=["msme-story"]):
                solara.HTML(tag="div", unsafe_innerHTML=view["story_svg"], classes=["chart-story"])
                solara.HTML(tag="div", unsafe_innerHTML="".join(view["story_html"]))
        with solara.Div(classes=["msme-card"]):
            solara.HTML(tag="h2", unsafe_innerHTML="What the model is using now")
            solara.HTML(tag="div", unsafe_innerHTML=escape(texts.HELP["readout"]), classes=["help"])
            solara.HTML(tag="div", unsafe_innerHTML=view["readout"], classes=["param-readout"])
            solara.HTML(tag="div", classes=["msme-perf"],
                        unsafe_innerHTML=f'Last update: model step {session.last_step_seconds * 1000:.0f} ms, '
                                         f'charts built in <span class="build-ms">{view["seconds"] * 1000:.0f}'
                                         f'</span> ms, page updated in <span class="render-ms">'
                                         f'{session.last_render_seconds * 1000:.0f}</span> ms (while playing) '
                                         f'on the server.')
