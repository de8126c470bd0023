"""The reference engine: the same monthly rules written the plain Mesa way.

``ReferenceMSMEEcosystem`` is the model of ``model/model.py`` with every per-firm rule written as a
Python method of the MSME agent, called through Mesa's ``AgentSet`` (``shuffle_do``), one firm at
a time, the way the ODD describes them (``docs/ODD.md``). It is slow, and it is meant to be read:
each method below is one rule of one firm. What is aggregate by nature is computed once a month at
model level as in the vectorised engine: the local demand pools of each region and sector, the
marketplaces' buyer pools and seller totals, the clusters' means, and the programmes' ranking of
applicants (the selection itself is written plainly here: sort the candidates, serve them until the
money runs out).

Given the same seed it reproduces the vectorised engine: every firm draws its random numbers from
the same keyed streams (``model.streams.uniform_at(month, purpose, firm_id)`` is the number the
vectorised engine gives that firm's row), and each formula is evaluated in the same order with the
same floating-point operations (NumPy's ``exp``/``log``/``power`` on scalars, which round exactly like
their array versions). ``tests/test_reference_engine.py`` checks that all headline metrics agree to
1e-9 relative; ``python run.py bench`` measures how much faster the vectorised engine is.

    >>> from model.reference import ReferenceMSMEEcosystem
    >>> m = ReferenceMSMEEcosystem(seed=1, n_firms=300, n_months=12).run()
"""

from __future__ import annotations

import numpy as np

from . import clusters, demand, demography, environment, marketplaces, production, streams
from . import finance as fin
from . import learning as lrn
from .agents import _COLUMN_NAMES, MSME
from .delivery import instruments, ledger, ministries, pipeline, platform
from .delivery.councils import council_month, council_staff
from .model import MSMEEcosystem
from .params import INSTRUMENTS, N_INSTRUMENTS, SIZE_CLASSES, instrument_mix
from .population import VA_SHARE, workers_for_capital

RANK = marketplaces.RANK_WEIGHTS


class ReferenceMSME(MSME):
    """An MSME whose monthly rules are its own methods. Attributes read and write its row."""

    def __setattr__(self, name, value):
        if name in _COLUMN_NAMES:
            getattr(self.model.firms, name)[self.row] = value
        else:
            object.__setattr__(self, name, value)

    def draw(self, purpose: int) -> float:
        """This firm's uniform random number of this month for ``purpose``."""
        return self.model.streams.uniform_at(self.model.month, purpose, self.firm_id)

    # ---- governance (seed 001 councils; seed 000 platform) --------------------------------------
    def take_part_in_council(self) -> None:
        """Participation follows the council's capacity (paid staff; none without councils) and
        the firm's own propensity."""
        m = self.model
        cap = m.council_cap[self.region] if m.p["governance_mode"] == "self_governance" else 0.0
        target = 1.0 if m.participation_propensity[self.row] < m.p["council_participation"] * cap else 0.0
        self.participant = self.participant + 0.1 * (target - self.participant)

    def receive_pas(self, s: int) -> None:
        """Receive the platform's PAS service ``s`` (0 registration .. 6 capital matching): the
        firm reaches step ``s + 1`` and gets the service's effect (platform.apply_pas)."""
        self.platform_step = s + 1
        if s == 1:  # training: a short digital-skills course
            self.digital_skill = self.digital_skill + 0.15 * (1 - self.digital_skill)
        elif s == 2:  # mentoring by partners
            self.competence = self.competence + 0.15 * (1 - self.competence)
            self.relatedness = self.relatedness + 0.15 * (1 - self.relatedness)
            self.literacy = self.literacy + 0.10 * (1 - self.literacy)
        elif s == 3:  # licensing facilitation
            self.licensed = True
        elif s == 4:  # marketing: a joint promotion package
            if self.stage == 3:
                self.visibility = self.visibility + promotion_visibility(platform.PAS_UNIT[4], self.reputation)
            else:
                self.market_reach = min(self.market_reach + platform.MARKETING_REACH, 1.5)
        elif s == 5:  # financial reporting; bank partners read the reports
            self.literacy = self.literacy + 0.15 * (1 - self.literacy)
            if self.draw(streams.FINANCE) > 0.7:
                self.credit_access = 2

    # ---- programmes -------------------------------------------------------------------------------
    def eligible(self, k: int) -> bool:
        """May the firm receive instrument ``k``?"""
        if self.size_class > SIZE_CLASSES.index(self.model.p["max_eligible_class"]):
            return False
        name = INSTRUMENTS[k]
        if name == "kur_credit":  # bank screening: licensed, profitable, not over-indebted
            return self.licensed and self.own_profit > 0 and self.debt < 0.5 * self.capital
        if name == "ecommerce_promotion":
            return self.stage == 3 or (self.stage == 2 and self.model.p["ecommerce_onboarding"])
        if name == "shared_facilities":
            return self.cluster >= 0
        if name == "licensing":
            return not self.licensed
        if name == "financing":
            return self.credit_access < 2
        return True

    def constrained_by(self, k: int) -> bool:
        """Is the firm's binding constraint one that instrument ``k`` relieves?"""
        name = INSTRUMENTS[k]
        if name == "hr_training":
            return self.digital_skill < 0.35 or self.literacy < 0.35
        if name == "ecommerce_promotion":
            return self.stage == 2 or (self.stage == 3 and self.visibility < 0.5)
        if name == "market_access":
            return self.utilisation < 0.75
        if name in ("kur_credit", "financing"):
            return self.credit_access < 2 and self.utilisation > 0.9 and self.own_profit > 0
        if name == "licensing":
            return not self.licensed
        if name == "product_development":
            return self.productivity < 0.9
        if name == "logistics":
            return self.stage == 3 and self.model.region_remoteness[self.region] > 0.5
        if name in ("grants", "tax_relief"):
            return self.own_profit < 0
        if name == "shared_facilities":
            return self.cluster >= 0 and self.model.facility_usage_firm[self.row] < 0.5
        raise KeyError(name)

    def priority(self) -> float:
        """This month's score under the targeting rule (higher is served first)."""
        rule, u = self.model.p["targeting"], self.draw(streams.PRIORITY)
        if rule == "untargeted":
            return u
        if rule == "micro_first":
            return float(2 - self.size_class) + u
        if rule == "need":
            margin = (self.profit_ewm - self.support_ewm) / (self.capital + 1e6)
            return -min(max(margin, -1.0), 1.0) * 3 + 0.3 * u
        if rule == "potential":
            return float(np.log(self.productivity)) + self.effort + 0.3 * u
        raise KeyError(rule)

    def national_awareness(self) -> float:
        """Probability of knowing a national programme: falls with remoteness, rises with literacy."""
        m = self.model
        return min(max(m.p["awareness_base"] * (1 - 0.6 * m.region_remoteness[self.region])
                       * (0.5 + self.literacy), 0.0), 1.0)

    def council_awareness(self) -> float:
        """Probability of knowing the regional council's programmes: rises with its capacity."""
        m, ab = self.model, self.model.p["awareness_base"]
        cap = m.council_cap[self.region]
        return min(max(ab + (0.9 - ab) * cap, 0.0), 1.0) * (0.7 + 0.3 * self.literacy)

    def served(self, k: int) -> bool:
        return self.model.firms.served_until[self.row, k] > self.model.month

    def support_cost(self, k: int) -> float:
        """What serving this firm with instrument ``k`` costs the programme."""
        if k == instruments.I["kur_credit"]:
            p = self.model.p
            spread = max(p["commercial_interest_rate"] - p["kur_interest_rate"], 0.0)
            loan = min(max(0.5 * self.capital, instruments.KUR_MIN), instruments.KUR_MAX)
            return loan * spread * instruments.KUR_TERM_YEARS
        return float(self.model.unit_cost[k])

    def receive(self, k: int, amount: float) -> None:
        """What a unit of instrument ``k`` does to the firm (ODD 7.4)."""
        m, name = self.model, INSTRUMENTS[k]
        if name == "market_access":
            self.market_reach = min(self.market_reach + 0.4, 1.5)
        elif name == "hr_training":
            self.digital_skill = self.digital_skill + 0.25 * (1 - self.digital_skill)
            self.literacy = self.literacy + 0.20 * (1 - self.literacy)
            self.competence = self.competence + 0.10 * (1 - self.competence)
        elif name == "product_development":
            self.productivity = self.productivity * float(np.exp(0.05 * (0.5 + self.literacy)))
        elif name == "licensing":
            self.licensed = True
        elif name == "financing":
            if self.draw(streams.FINANCE) < 0.6:
                self.credit_access = 2
        elif name == "logistics":
            self.logistics = min(self.logistics + 0.5, 1.0)
        elif name == "kur_credit":  # a KUR loan record, invested at once; cut in the shock
            loan = float(instruments.kur_loan(self.capital)) * (1.0 - m.p["shock_credit_tightening"] * m.shock)
            if loan > 0:
                self.borrow(fin.KUR, loan, m.p["kur_interest_rate"])
                m.loan_ledger[m.month, fin.KUR, fin.DISBURSED] += loan
                self.capital = self.capital + loan
                self.sum_loans()
        elif name in ("grants", "tax_relief"):
            self.support_cash = self.support_cash + amount
        elif name == "ecommerce_promotion":
            if self.stage == 3:
                self.visibility = self.visibility + promotion_visibility(amount, self.reputation)
            else:  # onboarding: training and listing
                self.digital_skill = self.digital_skill + 0.15 * (1 - self.digital_skill)
                if self.draw(streams.FINANCE) < 0.5:
                    self.join_marketplace()
        elif name == "shared_facilities":
            m.cluster_table.facility[self.cluster] += amount
        else:  # pragma: no cover
            raise KeyError(name)

    # ---- marketplaces (seed 003) ----------------------------------------------------------------
    def join_marketplace(self) -> None:
        """Start selling online on a marketplace chosen by reach, network and commission."""
        m = self.model
        cum = np.cumsum(marketplaces.choice_probabilities(m.market_table))
        u = self.draw(streams.MARKET)
        self.marketplace = min(int(np.searchsorted(cum, u, side="right")), cum.size - 1)
        self.stage = 3
        self.reputation = max(self.reputation, 0.2)

    def promote(self) -> None:
        """Visibility decays; sellers buy promotion and get joint promotion; ranking weight."""
        m, r = self.model, self.row
        self.visibility = self.visibility * (1 - marketplaces.VISIBILITY_DECAY)
        if not self.is_seller():
            return
        own = marketplaces.OWN_PROMOTION_RATE * self.online_revenue * self.effort
        joint = float(m.cluster_promotion_firm[r])
        vis = self.visibility + (promotion_visibility(own, self.reputation) + joint)
        self.visibility = vis
        m.own_promotion[r] = own
        score = float(np.exp(RANK["quality"] * np.log(self.productivity) + RANK["reputation"] * self.reputation
                             + RANK["visibility"] * np.log1p(vis) + RANK["logistics"] * self.logistics))
        scale = self.customers * float(m.spending[m.group[r]])  # its customer base, not its capacity
        m.ranking_weight[r] = score * float(np.sqrt(max(scale, 1.0) / 1e7))

    def is_seller(self) -> bool:
        return self.marketplace >= 0

    def get_orders(self) -> None:
        """A seller's share of its marketplace's buyers, by ranking weight."""
        m, r, mp = self.model, self.row, self.marketplace
        share = m.ranking_weight[r] / max(m.weight_total[mp], 1e-300)
        m.online_demand[r] = share * m.market_table.pool[mp]
        m.commission_firm[r] = m.market_table.commission[mp]

    def build_reputation(self) -> None:
        """Reputation follows fulfilled orders (quality, logistics, literacy)."""
        if not self.is_seller() or self.online_revenue <= 0:
            return
        target = min(max(0.3 + 0.3 * float(np.log(self.productivity)) + 0.3 * self.logistics
                         + 0.2 * self.literacy, 0.0), 1.0)
        self.reputation = self.reputation + 0.05 * (target - self.reputation)

    # ---- production and sales ---------------------------------------------------------------------
    def exposure(self) -> float:
        """Exposure to the shock: shared resources someone paid for (facilities, joint delivery)
        soften it (seed 002; production.collaboration)."""
        m = self.model
        collab = float(m.facility_usage_firm[self.row]) + self.logistics
        return 1.0 - m.p["collaboration_softening"] * min(max(collab, 0.0), 1.0)

    def plan_production(self) -> None:
        """Capacity from capital, workers and productivity; the export weight from its customers."""
        m, r, p, s = self.model, self.row, self.model.p, self.model.shock
        kl = float(np.exp(production.ALPHA * np.log(max(self.capital, 1.0))
                          + (1 - production.ALPHA) * np.log(max(self.workers, 1.0))))   # K^a L^(1-a)
        cap = production.A_SCALE * self.productivity * kl
        cap = cap * (0.20 * float(m.facility_usage_firm[r]) + 1.0) * float(m.agglomeration_firm[r])
        if s > 0:
            cap = cap * (1.0 - p["shock_supply_cut"] * s * self.exposure() * 0.5)
        self.capacity = cap
        g = int(m.group[r])
        m.export_weight[r] = self.customers * float(m.spending[g]) * float(m.cluster_export_firm[r]) * self.productivity

    def take_orders(self) -> None:
        """Orders from its customers (local), marketplaces and export buyers; what capacity leaves
        unserved goes to the market's pool of unserved local demand, spare capacity is offered."""
        m, r = self.model, self.row
        g = int(m.group[r])
        d_local = float(m.local_pool[g]) * self.customers
        d_export = m.world_pool * m.export_weight[r] / max(m.export_total, 1e-300)
        d = d_local + d_export + float(m.online_demand[r])
        m.d_local[r], m.d_export[r] = d_local, d_export
        self.demand = d
        if d > self.capacity:
            self.unfilled = d - self.capacity
            m.unserved[g] += d_local * (d - self.capacity) / d
        else:
            self.unfilled = 0.0
            m.spare_w[g] += (self.capacity - d) * self.customers

    def sell(self) -> None:
        """Sales up to capacity, plus a share of its market's unserved local demand if it has spare
        capacity; revenue (net of the middleman margin) and value added."""
        m, r, p, s = self.model, self.row, self.model.p, self.model.shock
        g = int(m.group[r])
        cap, d = self.capacity, self.demand
        sales = min(cap, d)
        frac = sales / d if d > 0 else 0.0
        local = float(m.d_local[r]) * frac
        if d < cap and m.spare_w[g] > 0:
            extra = min(float(m.unserved[g]) * (cap - d) * self.customers / float(m.spare_w[g]), cap - d)
            local, sales = local + extra, sales + extra
        online, export = frac * float(m.online_demand[r]), frac * float(m.d_export[r])
        margin, direct = production.trade_margin(*production.trade_terms(p), float(m.middleman_factor_firm[r]),
                                                 self.stage == 3, float(m.commission_firm[r]), self.logistics)
        if margin > 0:
            m.trade_va_region[self.region] += (margin - p["trade_cost"]) * local
        revenue = local * (1.0 - margin) + online + export
        inputs = sales * (1.0 - VA_SHARE[self.sector])
        if s > 0:
            inputs = inputs * (1.0 + 0.3 * p["shock_supply_cut"] * s * self.exposure())
        inputs = inputs * ((1.0 - 0.08 * float(m.facility_usage_firm[r]))
                           * (1.0 - production.LOGISTICS_COST_CUT * self.logistics))
        inputs += direct * local
        self.revenue, self.online_revenue, self.export_revenue = revenue, online, export
        self.value_added = revenue - inputs
        self.utilisation = sales / max(cap, 1e-300)

    # ---- customers (demand.py) ------------------------------------------------------------------
    def attractiveness(self) -> float:
        """exp(price_sensitivity x log efficiency + appeal + log(1 + reach)); efficiency is its
        price advantage (demand.efficiency)."""
        m, r = self.model, self.row
        eff = float(demand.efficiency(self.productivity, float(m.facility_usage_firm[r]),
                                      float(m.agglomeration_firm[r]), self.logistics))
        m.eff[r] = eff
        return float(np.exp(m.p["price_sensitivity"] * np.log(eff) + self.appeal + np.log1p(self.market_reach)))

    def lose_customers(self) -> None:
        """Churn, and customers it failed to serve, leave to look again."""
        m, p = self.model, self.model.p
        g = int(m.group[self.row])
        u = self.unfilled / self.demand if self.demand > 0 else 0.0
        lost = self.customers * min(p["customer_churn"] + p["unserved_churn"] * u, 1.0)
        self.customers = self.customers - lost
        m.looking[g] += lost
        w = self.attractiveness()
        m.attract[self.row] = w
        m.attract_total[g] += w

    def win_customers(self) -> None:
        """Its share of the customers looking in its market, by attractiveness; its appeal moves."""
        m, p, r = self.model, self.model.p, self.row
        g = int(m.group[r])
        b = self.customers + float(m.looking[g]) * float(m.attract[r]) / float(m.attract_total[g])
        self.customers = b
        m.cost[g] += b / float(m.eff[r])
        m.cust[g] += b
        # now and then its appeal moves: its normal score steps, appeal is read from month 0's distribution
        if p["appeal_persistence"] < 1.0 and m.streams.uniform_at(m.month, demand.DEMAND, self.firm_id) \
                < demand.APPEAL_MOVES:
            u1 = m.streams.uniform_at(m.month, demand.DEMAND + 1, self.firm_id)
            u2 = m.streams.uniform_at(m.month, demand.DEMAND + 2, self.firm_id)
            self.appeal_z, self.appeal = demand.appeal_move(self.appeal_z, u1, u2, demand.move_persistence(p),
                                                            m.appeal_table)

    # ---- finance ------------------------------------------------------------------------------------
    def loans(self):
        """This firm's loan records (principal, annual rate, monthly payment by lender), its row's views."""
        f = self.model.firms
        return f.loan_principal[self.row], f.loan_rate[self.row], f.loan_payment[self.row]

    def borrow(self, j: int, amount: float, new_rate: float) -> None:
        """A loan of ``amount`` from lender ``j``, consolidated with what the firm owes it, repaid by
        an annuity over the lender's term."""
        principal, rate, payment = self.loans()
        old = float(principal[j])
        total = old + amount
        r = (old * float(rate[j]) + amount * new_rate) / total
        principal[j], rate[j] = total, r
        payment[j] = fin.annuity(total, r, int(fin.TERM_MONTHS[j]))

    def sum_loans(self) -> None:
        principal, rate, _ = self.loans()
        tot, wsum = 0.0, 0.0
        for j in range(fin.N_LENDERS):
            tot += float(principal[j])
            wsum += float(principal[j]) * float(rate[j])
        self.debt = tot
        self.debt_rate = wsum / tot if tot > 0 else 0.0

    def settle_accounts(self) -> None:
        """Costs and profit; cash; loan payments, new loans, investment, capital sales, default and the
        owner's draws; hiring (ODD 7.2)."""
        m, r, p = self.model, self.row, self.model.p
        led = m.loan_ledger[m.month]
        wage = fin.real_wage(m)
        principal, rate, payment = self.loans()
        k = self.capital
        profit = self.value_added - max(self.workers - 1.0, 0.0) * wage
        profit -= fin.FIXED_BASE + fin.FIXED_CAPITAL * k
        profit -= self.revenue * (fin.TRANSACTION_LICENSED if self.licensed else fin.TRANSACTION_UNLICENSED)
        profit -= self.online_revenue * float(m.commission_firm[r])
        profit -= float(m.own_promotion[r])
        interest, debt, due, pay_total = 0.0, 0.0, 0.0, 0.0
        scheduled = [0.0] * fin.N_LENDERS
        for j in range(fin.N_LENDERS):  # each loan's interest and scheduled principal (annuity less interest)
            pj = float(principal[j])
            if pj > 0:
                ij = pj * float(rate[j]) / 12
                interest += ij
                debt += pj
                sj = min(max(float(payment[j]) - ij, 0.0), pj)
                if pj - sj < 1e-9 * float(payment[j]):
                    sj = pj
                scheduled[j] = sj
                due += sj
                pay_total += float(payment[j])
                led[j, fin.INTEREST] += ij
        profit -= interest
        dep = fin.DEPRECIATION * k
        profit -= dep
        support = self.support_cash
        profit += support
        saving = max(p["commercial_interest_rate"] - float(rate[fin.KUR]), 0.0) * float(principal[fin.KUR]) / 12
        self.profit = profit
        self.own_profit = profit - support - saving
        self.loss_months = self.loss_months + 1 if profit < 0 else 0
        # expected profit against the owner's outside option (an entrant's first year counts anyway)
        ewm = self.profit_ewm + (profit - self.profit_ewm) * fin.EWM
        self.profit_ewm = ewm
        b = self.below_months
        self.below_months = b + 1 if ewm < p["outside_option_share"] * wage or b < 0 else 0
        # cash: operating cash flow in, scheduled principal out
        cash = self.cash + (profit + dep) - due
        outgo = max(self.workers - 1.0, 0.0) * wage + fin.FIXED_BASE + fin.FIXED_CAPITAL * k + pay_total
        e = self.exposure() if m.shock > 0 else 1.0
        tight = 1.0 - p["shock_credit_tightening"] * m.shock * e
        premium = 1.0 + p["shock_rate_premium"] * m.shock * e
        rates = fin.lender_rates(p)
        grow = float(fin.capital_ratio(np.array([self.demand]), np.array([self.capacity]))[0])
        want, gap = fin.desired_investment(k, grow)  # (this month's share of the gap, the gap)
        retained = min(max(want, 0.0), fin.RETAIN * self.effort * max(profit, 0.0))
        new = 0.0
        u = self.draw(streams.FINANCE + 30)
        if self.credit_access == 2 and gap > retained and profit > 0 and debt < 0.6 * k:
            if u < fin.BORROW_PROB * self.effort * tight:  # a bank if licensed, else a cooperative/BPR
                new = min(fin.LOAN_SHARE * k, gap)
                j = fin.BANK if self.licensed else fin.COOP
                self.borrow(j, new, float(rates[j]) * premium)
                led[j, fin.DISBURSED] += new
                cash += new
        # investment: replacement (none of what demand no longer needs), retained profit and the new
        # loan, as cash allows
        inv = min(max(dep + min(want, 0.0), 0.0) + retained + new, max(cash, 0.0))
        cash -= inv
        k += inv - dep
        ml = 0.0
        if cash < 0 and self.credit_access == 1 and debt < 0.5 * k and u < tight:  # the moneylender bridges
            ml = -cash
            self.borrow(fin.MONEYLENDER, ml, float(rates[fin.MONEYLENDER]) * premium)
            led[fin.MONEYLENDER, fin.DISBURSED] += ml
            cash = 0.0
        sold = 0.0
        if cash < 0 and k > 0:  # capital sold at the resale discount (all of it if not enough)
            s = -cash / (1.0 - fin.RESALE_DISCOUNT)
            if s < k:
                k, sold, cash = k - s, -cash, 0.0
            else:
                sold = k * (1.0 - fin.RESALE_DISCOUNT)
                k = 0.0
                cash += sold
        paid = due
        self.defaulted = False
        if cash < 0:  # it cannot pay: default (it exits this month)
            self.defaulted = True
            if due > 0:
                short = min(-cash, due)
                paid = due - short
                cash += short
        frac = paid / due if due > 0 else 0.0
        for j in range(fin.N_LENDERS):  # principal repaid reduces debt, never capital
            if scheduled[j] > 0:
                rj = scheduled[j] * frac
                led[j, fin.REPAID] += rj
                principal[j] -= rj
                if principal[j] <= 0.0:
                    principal[j] = rate[j] = payment[j] = 0.0
        self.sum_loans()
        buffer = fin.CASH_BUFFER_MONTHS * outgo  # the owner draws what is above a month of outgoings
        draws = cash - buffer if cash > buffer else 0.0
        cash -= draws
        self.cash, self.capital = cash, k
        self.draws, self.investment, self.repaid, self.borrowed, self.asset_sales = draws, inv, paid, new + ml, sold
        # workforce follows capital and how busy the firm is
        target = float(workers_for_capital(k)) * (min(self.utilisation / 0.85, 1.2) * 0.4 + 0.6)
        self.workers = max((target - self.workers) * fin.WORKER_ADJUST + self.workers, 1.0)

    # ---- learning and adoption ----------------------------------------------------------------------
    def learn_and_adopt(self) -> None:
        """Self-determination, effort, skills, productivity and digital adoption."""
        m, r, p, t = self.model, self.row, self.model.p, self.model.month
        councils, _ = lrn._any_participants(m)
        s = self.support_ewm
        dep = s / (max(self.income_ewm, 0.0) + s + 1.0)   # support as a share of income
        coop = float(m.cluster_coop_firm[r])
        part = self.participant
        # self-determination (seed 001): autonomy, competence, relatedness
        aut_t = 0.75 - 0.8 * dep
        if councils:
            aut_t += 0.3 * part
        comp_t = 0.15 + 0.4 * self.literacy + 0.2 * self.digital_skill + 0.25 * (self.own_profit > 0)
        rel_t = 0.25 + 0.45 * coop
        if councils:
            rel_t += 0.3 * part
        rate = lrn.SDT_RATE
        self.autonomy = self.autonomy + (_clip01(aut_t) - self.autonomy) * rate
        self.competence = self.competence + (_clip01(comp_t) - self.competence) * rate
        self.relatedness = self.relatedness + (_clip01(rel_t) - self.relatedness) * rate
        self_reliance = (self.autonomy + self.competence + self.relatedness) / 3
        effort = 0.75 * self_reliance + 0.25 - dep * p["dependence_elasticity"]
        if councils:
            effort -= p["participation_time_cost"] * part  # owner hours given to the council
        effort = min(max(effort, 0.05), 1.0)
        self.effort = effort
        # skills: learning by doing, peers in the cluster, forgetting
        skill, lit = self.digital_skill, self.literacy
        skill = skill + (0.004 * (self.stage >= 2) * (1 - skill)
                         + max(float(m.cluster_skill_mean_firm[r]) - skill, 0.0) * (0.02 * coop)
                         - 0.0015 * skill)
        lit = lit + (0.002 * effort * (1 - lit) - 0.001 * lit)
        # productivity: innovation effort, cluster spillover, mean reversion, noise
        logp = np.log(self.productivity)
        z = m.streams.normal_at(t, streams.PRODUCTIVITY, self.firm_id)
        logp = logp + (lrn.INNOVATION * effort * lit + float(m.spillover_gap[r]) - lrn.MEAN_REVERSION * logp
                       + z * p["productivity_volatility"])
        self.productivity = float(np.exp(logp))
        # digital adoption (seed 000 stages): 1.0 -> 2.0 -> 3.0, and some sellers stop selling online
        u = self.draw(streams.ADOPTION)
        net = min(m.internet * m.region_internet[self.region], 1.0)
        if self.stage == 1:
            if u < lrn.ADOPT_12 * net * (0.3 + skill) * (1 + 0.5 * lit):
                self.stage = 2
        elif self.stage == 2:
            if u < lrn.ADOPT_23 * net * (0.2 + skill) ** 2 * (self.capital > 5e6):
                self.join_marketplace()
        elif u > 1 - lrn.LEAVE_ONLINE and self.online_revenue < self.revenue * 0.05:
            self.stage = 2
            self.marketplace = -1
        self.market_reach = self.market_reach * 0.95
        self.logistics = self.logistics * 0.97
        self.digital_skill = _clip01(skill)
        self.literacy = _clip01(lit)

    # ---- exit ---------------------------------------------------------------------------------------
    def consider_exit(self) -> None:
        """Exit when insolvent or by the exogenous hazard (higher when young)."""
        m, p = self.model, self.model.p
        insolvent = (self.defaulted or self.capital < demography.MIN_CAPITAL
                     or self.cash + self.capital < self.debt or self.loss_months >= demography.MAX_LOSS_MONTHS
                     or self.below_months >= fin.OUTSIDE_MONTHS)
        young = 1.5 if m.month - self.born + self.age0 < 24 else 1.0
        hazard = p["exit_hazard"] * young  # the shock acts through the books, not on this hazard
        if insolvent or self.draw(streams.EXIT) < hazard:
            self.liquidate()
            self.alive = False
            self.died = m.month
            m.waiting_customers[int(m.group[self.row])] += self.customers  # they choose again next month
            self.customers = 0.0
            m.exits_month += 1
            m.msme_by_row.pop(self.row, None)
            self.remove()


    def liquidate(self) -> None:
        """Cash and capital at the resale price repay the loans in proportion to what each lender is
        owed; the rest is booked as the lenders' defaults."""
        m = self.model
        led = m.loan_ledger[m.month]
        principal, rate, payment = self.loans()
        d = 0.0
        for j in range(fin.N_LENDERS):
            d += float(principal[j])
        if d > 0:
            proceeds = max(self.cash + self.capital * (1.0 - fin.RESALE_DISCOUNT), 0.0)
            frac = min(proceeds / d, 1.0)
            for j in range(fin.N_LENDERS):
                pj = float(principal[j])
                if pj > 0:
                    back = pj * frac
                    led[j, fin.REPAID] += back
                    led[j, fin.DEFAULTS] += pj - back
                principal[j] = rate[j] = payment[j] = 0.0
        self.debt = self.debt_rate = self.cash = 0.0


def _clip01(x: float) -> float:
    return min(max(x, 0.0), 1.0)


def promotion_visibility(amount: float, reputation: float) -> float:
    """Visibility bought with ``amount`` IDR of promotion spread over the three tools (seed 003)."""
    v = 0.0
    for share, per_m, uses_rep in marketplaces.TOOLS.values():
        eff = per_m * (0.5 + reputation) if uses_rep else per_m
        v += share * eff * amount / 1e6
    return v


class ReferenceMSMEEcosystem(MSMEEcosystem):
    """``MSMEEcosystem`` with per-firm rules run agent by agent (see the module docstring).

    Takes the same arguments; MSME agents are always created (``msme_agents`` is forced on).
    """

    engine = "reference"

    def __init__(self, scenario=None, **kwargs):
        kwargs["msme_agents"] = True
        super().__init__(scenario, **kwargs)

    def add_msme_agents(self, rows: np.ndarray) -> None:
        if len(rows) == 0:
            return
        for a in ReferenceMSME.create_agents(self, len(rows), row=np.asarray(rows)):
            self.msme_by_row[a.row] = a

    @property
    def firms_agents(self):
        """The MSME agents (alive firms), an ``AgentSet``."""
        return self.agents_by_type[ReferenceMSME]

    def _per_firm_arrays(self) -> None:
        n = self.firms.n
        self.group = production.group_of(self)
        for name in ("export_weight", "online_demand", "commission_firm", "own_promotion", "ranking_weight",
                     "d_local", "d_export", "eff", "attract"):
            setattr(self, name, np.zeros(n))

    # ------------------------------------------------------------------------------------------
    def step(self) -> None:
        """One month, stage by stage, as in ``MSMEEcosystem.step``; firm rules are agent methods."""
        self.month = self.steps
        f = self.firms
        firms = self.firms_agents
        self.alive_start_month = len(firms)
        f.support_month[: f.n] = 0.0
        f.support_cash[: f.n] = 0.0
        environment.update(self)
        clusters.programme_formation(self)
        clusters.update(self)                      # cluster means and per-member effects (aggregate)
        demand.aggregate(self)                     # spending of each market (aggregate)
        self._per_firm_arrays()
        mode = self.p["governance_mode"]
        self.services_month = 0.0
        if mode == "self_governance":
            self.councils_active = True
            council_month(self)  # the capacity the councils' staff spending bought
            firms.shuffle_do("take_part_in_council")
        elif mode == "platform":
            self.platform_active = True
            # the platform decides whom its staff serve this month (capacity, money); each firm receives
            rows, svc, spent = platform.pas_selection(self)
            self.services_month = spent
            if spent > 0:
                ledger.book_services(self, spent)
                for r, s in zip(rows.tolist(), svc.tolist(), strict=True):
                    self.msme_by_row[r].receive_pas(s)
        if mode != "self_governance" and getattr(self, "councils_active", False):
            firms.shuffle_do("take_part_in_council")  # the mode changed: participation fades
        pipeline.deliver(self, effect=_effect_by_agent)   # support approved earlier arrives
        self._allocate()                           # programmes choose recipients
        self._markets()                            # marketplace promotion, ranking and orders
        self._produce_and_sell()
        self._customers()
        firms.shuffle_do("settle_accounts")
        self._after_sales()
        firms.shuffle_do("learn_and_adopt")
        self.exits_month = 0
        firms.shuffle_do("consider_exit")
        self.entries_month = demography.enter_firms(self)
        self._bookkeeping()
        self._compact()                            # as in MSMEEcosystem.step: same months, same rows
        if self.month >= self.p["n_months"]:
            self.running = False

    # ---- aggregate stages ----------------------------------------------------------------------
    def _markets(self) -> None:
        if not hasattr(self, "ranking_weight"):  # month 0 (set-up) uses the vectorised flows
            return super()._markets()
        mt = self.market_table
        firms = self.firms_agents
        firms.shuffle_do("promote")
        sellers = sorted(a.row for a in firms if a.is_seller())
        ms = self.firms.marketplace[sellers].astype(np.int64)
        mt.sellers = np.bincount(ms, minlength=mt.n)
        marketplaces.buyer_pools(self)
        self.weight_total = np.bincount(ms, weights=self.ranking_weight[sellers], minlength=mt.n)
        for r in sellers:
            self.msme_by_row[r].get_orders()

    def _produce_and_sell(self) -> None:
        firms = self.firms_agents
        firms.shuffle_do("plan_production")
        ng = self.local_pool.size
        # a running sum in row order, as production.produce_and_sell (np.cumsum adds one by one)
        self.export_total = float(np.cumsum(self.export_weight)[-1]) if self.export_weight.size else 0.0
        self.unserved, self.spare_w = np.zeros(ng), np.zeros(ng)
        self.trade_va_region = np.zeros(self.p["n_regions"])
        firms.shuffle_do("take_orders")
        firms.shuffle_do("sell")
        self.exposure = 1.0  # per-firm exposure is computed by each agent (``ReferenceMSME.exposure``)

    def _customers(self) -> None:
        """Customers leave and choose again (demand.update_customers, agent by agent); the markets'
        price indices and the regions' incomes."""
        ng = self.local_pool.size
        firms = self.firms_agents
        self.looking = self.waiting_customers.copy()
        self.waiting_customers = np.zeros(ng)
        self.attract_total, self.cost, self.cust = np.zeros(ng), np.zeros(ng), np.zeros(ng)
        firms.shuffle_do("lose_customers")
        firms.shuffle_do("win_customers")
        self.price_index = np.where(self.cust > 0, self.cost / np.maximum(self.cust, 1e-300) / self.cost0, 1.0)
        self.region_income = demand.region_income(self)

    def _after_sales(self) -> None:
        mt, f = self.market_table, self.firms
        sellers = sorted(a.row for a in self.firms_agents if a.is_seller())
        mt.online_sales = np.bincount(f.marketplace[sellers].astype(np.int64),
                                      weights=f.online_revenue[sellers], minlength=mt.n)
        self.firms_agents.shuffle_do("build_reputation")

    def _allocate(self) -> None:
        """Each programme serves its candidates in the order of their score until its money runs out;
        what is short of its next unit is carried over (``pipeline.carry_over``)."""
        budget = ledger.monthly_budget(self, self.month)
        self.budget_this_month = budget
        pipeline.open_accounts(self, budget)  # programmes that do not run this month return their balances
        if budget <= 0 or self.firms.n == 0:
            pipeline.close_accounts(self)
            return
        self._allocate_programmes(budget)
        pipeline.close_accounts(self)  # the balances carried over to next month

    def _allocate_programmes(self, budget: float) -> None:
        p, t = self.p, self.month
        firms = sorted(self.firms_agents, key=lambda a: a.row)
        eligible_any = [a for a in firms if a.size_class <= SIZE_CLASSES.index(p["max_eligible_class"])]
        prio = {a.row: a.priority() for a in eligible_any}
        u_aware = {a.row: a.draw(streams.AWARENESS) for a in eligible_any}

        def knows(a, j):  # national programme j: one draw per firm, rotated per programme
            return float(np.modf(u_aware[a.row] + 0.6180339887 * (j + 1))[0]) < aware_p[a.row]
        mix = instrument_mix(p)
        mode = p["governance_mode"]

        def serve(cands, score, k, money):
            """The candidates served until the money runs out, and whether one was left unserved."""
            order = sorted(cands, key=lambda a: -score(a))  # stable: ties keep row order
            rows, amounts, total, remains = [], [], 0.0, False
            for a in order:
                cost = a.support_cost(k)
                total += cost
                if total > money:
                    remains = True
                    break
                rows.append(a.row)
                amounts.append(cost)
            return np.array(rows, dtype=np.int64), np.array(amounts, dtype=float), remains

        def carry_over(pid, rest, remains, keep):
            """Carry ``rest`` over in programme ``pid``'s balance, or give back what it cannot keep."""
            return float(pipeline.carry_over(self, np.array([pid]), np.array([rest]), np.array([remains]), keep)[0])

        if mode == "centralised":
            owners = np.bincount([k for _, k in self.ownership], minlength=N_INSTRUMENTS)
            ccol = ministries.client_columns(self.ownership)
            renew = bool(p["renew_clients"])
            lag = p["central_lag_months"]
            aware_p = {a.row: a.national_awareness() for a in eligible_any}
            keep = 1 - p["central_overhead"]
            for j, prog in enumerate(self.programme_list):
                k = prog.instrument
                money = budget * mix[INSTRUMENTS[k]] / owners[k]
                prog.budget = money
                ledger.book(self, ledger.BUDGET, [k], [money])
                # its balance carried over and its new money, net of overhead
                net = self.programme_balance[prog.programme_id] * keep + money * keep
                if net <= 0:
                    rows, amts, remains = np.zeros(0, dtype=np.int64), np.zeros(0), True
                else:
                    # its own clients whose benefit period has not ended are not selected again; with
                    # renew_clients its past clients know it and come first
                    until = {a.row: int(self.firms.client_until[a.row, ccol[j]]) for a in eligible_any}
                    cands = [a for a in eligible_any if a.eligible(k) and until[a.row] <= t
                             and (knows(a, j) or (renew and until[a.row] > 0))]
                    rows, amts, remains = serve(cands, lambda a, until=until: prio[a.row] + (
                        ministries.RENEW_BONUS * (until[a.row] > 0) if renew else 0.0), k, net)
                    self.firms.client_until[rows, ccol[j]] = t + lag + instruments.DUR[k]
                # short of a unit: carried over; money to spare with nobody left: returned
                back = carry_over(prog.programme_id, net - float(amts.sum()), remains, keep)
                ledger.book(self, ledger.RETURNED, [k], [back / keep])
                pipeline.schedule(self, t + lag,
                            pipeline.Delivery(k, rows, amts, p["central_overhead"], prog.programme_id, registry=False))
        elif mode == "self_governance":
            cap = self.council_cap
            lag = p["local_lag_months"]
            national = np.array([mix[k] for k in INSTRUMENTS])
            nreg = len(cap)
            prevalence = np.zeros((nreg, N_INSTRUMENTS))
            for a in eligible_any:  # what each council observes among its own firms
                for k in range(N_INSTRUMENTS):
                    if a.eligible(k) and a.constrained_by(k):
                        prevalence[a.region, k] += 1
            unit = np.where(np.isnan(self.unit_cost), 2.0e6, self.unit_cost)
            need = prevalence * unit
            need_mix = need / np.maximum(need.sum(axis=1, keepdims=True), 1e-12)
            keep = 1 - p["council_overhead"]
            # each council's staff and activities first (its capacity, delivery/councils.py)
            staff = council_staff(self, budget * self.region_budget_share)
            ledger.book_services(self, staff)
            for r, council in enumerate(self.council_agents):
                b_r = budget * self.region_budget_share[r] - staff[r]
                capture = b_r * p["capture_rate"] * (1 - 0.5 * cap[r])
                self.ledger[t, :, ledger.CAPTURE] += capture * national
                self.ledger[t, :, ledger.SPENT] += capture * national
                council.record_capture(capture, cap[r])
                mix_r = (1 - cap[r]) * national + cap[r] * need_mix[r]
                money = (b_r - capture) * keep
                ledger.book(self, ledger.BUDGET, np.arange(N_INSTRUMENTS),
                        (staff[r] * national + capture * national) + (b_r - capture) * mix_r)
                bonus_w = 2.0 * cap[r]
                local = [a for a in eligible_any if a.region == r and u_aware[a.row] < a.council_awareness()]
                left = 0.0
                order = np.argsort(-mix_r, kind="stable")
                for j, k in enumerate(order):
                    # the instrument's balance carried over, its new money and what the previous one passed on
                    pid = council.programme_ids[k]
                    net = self.programme_balance[pid] * keep + money * mix_r[k] + left
                    if net <= 0:
                        left = carry_over(pid, net, True, keep)
                        continue
                    cands = [a for a in local if a.eligible(k) and not a.served(k)]
                    rows, amts, remains = serve(cands, lambda a, k=k: prio[a.row] + bonus_w * a.constrained_by(k), k,
                                                net)
                    # short of a unit: carried over; money to spare with nobody left: to the next instrument
                    left = carry_over(pid, net - float(amts.sum()), remains, keep)
                    if left != 0:
                        ledger.book(self, ledger.REALLOCATED, [k], [-left / keep])
                        if j + 1 < N_INSTRUMENTS:
                            ledger.book(self, ledger.REALLOCATED, [order[j + 1]], [left / keep])
                        else:
                            ledger.book(self, ledger.RETURNED, [k], [left / keep])
                    self.firms.served_until[rows, k] = t + lag + instruments.DUR[k]
                    pipeline.schedule(self, t + lag, pipeline.Delivery(k, rows, amts, p["council_overhead"],
                                                           council.programme_ids[k], registry=True))
        else:
            lag = p["local_lag_months"]
            keep = 1 - p["platform_overhead"]
            aware = [a for a in eligible_any if a.platform_step > 0 or u_aware[a.row] < a.national_awareness()]
            for k, name in enumerate(INSTRUMENTS):
                pid = self.platform_agent.programme_ids[k]
                ledger.book(self, ledger.BUDGET, [k], [budget * mix[name]])
                money = (budget - self.services_month) * mix[name]  # the PAS services were paid first
                net = self.programme_balance[pid] * keep + money * keep
                if net <= 0:
                    carry_over(pid, net, True, keep)
                    continue
                steps = [s for s, names in platform.PAS_INSTRUMENTS.items() if name in names]

                def score(a, k=k, steps=steps):
                    bonus = 2.0 * a.constrained_by(k) + 1.5 * (a.platform_step in steps) + 1.0 * (a.platform_step > 0)
                    return prio[a.row] + bonus

                cands = [a for a in aware if a.eligible(k) and not a.served(k)]
                rows, amts, remains = serve(cands, score, k, net)
                back = carry_over(pid, net - float(amts.sum()), remains, keep)
                ledger.book(self, ledger.RETURNED, [k], [back / keep])
                if rows.size == 0:
                    continue
                self.firms.served_until[rows, k] = t + lag + instruments.DUR[k]
                pipeline.schedule(self, t + lag, pipeline.Delivery(k, rows, amts, p["platform_overhead"],
                                                       self.platform_agent.programme_ids[k], registry=True))


def _effect_by_agent(model, k: int, rows: np.ndarray, amounts: np.ndarray) -> None:
    """Deliver instrument ``k`` firm by firm (in the order the programme paid them)."""
    for r, amount in zip(rows.tolist(), amounts.tolist()):
        model.msme_by_row[r].receive(k, amount)
