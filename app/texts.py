"""Plain-words explanations for every control and chart of the teaching app.

Each control has a one-line caption for the class (``HELP``) and, as a tooltip, the technical
description of the parameter from ``model/params.py`` (``technical``), so a teacher can see both
the classroom sentence and what the model actually does.
"""

from __future__ import annotations

from model.params import INSTRUMENTS, field_info

APP_TITLE = "MSME Policy Lab"
APP_SUBTITLE = "How support programmes shape the growth and independence of small firms"

GOVERNANCE_LABELS = {
    "centralised": "Ministries (centralised)",
    "self_governance": "Regional councils (self-governance)",
    "platform": "Collaborative platform",
}
GOVERNANCE_HELP = {
    "centralised": "Each ministry runs its own programmes with national rules: no shared list of who got what, "
                   "so some firms get the same help twice and remote firms often never hear of it.",
    "self_governance": "Regional councils spend their region's budget on the problems they see locally and keep a "
                       "shared list; they learn step by step, and some money can be captured locally.",
    "platform": "One platform links government, banks, universities and communities; firms register and are "
                "matched to the right help, step by step (registration, training, mentoring, licence, "
                "marketing, bookkeeping, capital).",
}
TARGETING_LABELS = {
    "micro_first": "Micro firms first",
    "need": "Firms in most need first",
    "potential": "Most promising firms first",
    "untargeted": "No priority (first come)",
}
CLASS_LABELS = {"micro": "micro", "small": "small", "medium": "medium"}

INSTRUMENT_LABELS = {
    "market_access": "Market access (trade fairs, buyers)",
    "hr_training": "Training (skills, bookkeeping)",
    "product_development": "Product development",
    "licensing": "Licensing help (business permit)",
    "financing": "Bank linkage (credit guarantee)",
    "logistics": "Logistics (shipping help)",
    "kur_credit": "KUR cheap credit",
    "grants": "Cash grants",
    "tax_relief": "Tax and utility relief",
    "ecommerce_promotion": "E-commerce promotion",
    "shared_facilities": "Shared production facilities",
}
INSTRUMENT_SHORT = {
    "market_access": "market access", "hr_training": "training", "product_development": "product dev.",
    "licensing": "licensing", "financing": "bank linkage", "logistics": "logistics", "kur_credit": "KUR credit",
    "grants": "grants", "tax_relief": "tax relief", "ecommerce_promotion": "e-commerce promo",
    "shared_facilities": "shared facilities",
}
# Instruments grouped the way a class can discuss them
INSTRUMENT_GROUPS = (
    ("Cash and credit", ("grants", "kur_credit", "tax_relief")),
    ("Skills and products", ("hr_training", "product_development", "licensing", "financing")),
    ("Markets and online selling", ("market_access", "ecommerce_promotion", "logistics")),
    ("Clusters", ("shared_facilities",)),
)
assert sorted(k for _, ks in INSTRUMENT_GROUPS for k in ks) == sorted(INSTRUMENTS)

HELP = {
    # scenario and mode
    "scenario": "Pick a ready-made policy story; its settings are loaded into the controls below.",
    "side_by_side": "Run a second, reference scenario on exactly the same firms, to see only what your policy changes.",
    "reference": "The scenario to compare against; it runs unchanged, with the same firms and the same luck.",
    # levers
    "governance_mode": "Who decides which firms get help and how the help reaches them.",
    "budget_per_firm_month": "How much money the programmes spend each month, per firm in the economy.",
    "targeting": "Which applicants are served first when there is not enough money for everyone.",
    "mix": "How the budget is split between kinds of help; the shares are rescaled to add up to 100 %.",
    "cluster_programme": "Government groups small manufacturers into clusters that share machines, skills and "
                         "promotion.",
    "cluster_coverage_target": "Share of small manufacturers the programme aims to bring into clusters.",
    "ecommerce_onboarding": "Programmes also pay to train firms with basic digital tools and list them on "
                            "marketplaces.",
    "mix_ecommerce_promotion": "Budget share for online ads, social media and email promotion of firms that sell "
                               "online.",
    "mix_shared_facilities": "Budget share for machines and workshops that cluster members share.",
    "phase_out_month": "The month when all support stops (0 = never): does growth survive without help?",
    "withdraw": "Stop all support from next month, in the running model, and watch what happens.",
    "shock_enabled": "A COVID-like crisis: buyers stay home, inputs get dearer, banks lend less, buying moves online.",
    "shock_month": "The month the crisis starts; it lasts a year, with recovery in its second half.",
    "n_firms": "How many firms the model economy starts with (more firms = smoother curves, slower steps).",
    "seed": "The 'luck' of the run: the same seed gives exactly the same story again.",
    "speed": "How many months the model moves forward per second while playing.",
    "live_note": "Policy changes act from next month; Reset replays from month 0. Scenario, delivery mode, "
                 "firms and seed restart the run.",
    # charts
    "kpis": "Headline numbers this month; in side-by-side mode, the difference is your policy minus the reference "
            "(grey, 'within the run-to-run noise', when it is small enough to be the luck of this one seed).",
    "growth": "Is the economy growing? Output of all firms, jobs, and firms that grew into a bigger size class.",
    "dependence": "Do supported firms stand on their own? Among firms supported in the last 12 months: support "
                  "as a share of their income, how many are supported again and again, and how much less effort "
                  "they put in than the other firms.",
    "difference": "Your policy minus the reference, month by month. Green: your policy does better (more output, "
                  "more firms moving up, less dependence, more self-reliance); orange: worse. Grey band: the "
                  "run-to-run noise of one seed (about 95% of same-seed differences between policies fall inside "
                  "it by luck alone), so a difference inside it is not yet an effect.",
    "recipients": "The firms supported in the last 12 months, this month. What the money bought is measured against "
                  "a twin of your policy that runs alongside with no budget: the same firms with the same luck, "
                  "so the difference is what the support did. After 'withdraw support now', the firms that were "
                  "supported then are compared with themselves in a copy of the run where support continued.",
    "composition": "Who the firms are: how big they are and how digital they are.",
    "map": "The economy as islands from the capital (west) to remote regions (east): each dot is a firm.",
    "story": "Follow one firm through the months: its money, its size class, and the help it received.",
    "readout": "The values the running model is using right now (read from the model itself).",
    "export": "Download the months so far as a table, the charts as pictures, or your levers as a scenario file "
              "that the command line runs with more seeds and firms (python run.py run FILE).",
}

CHART_TITLES = {
    "growth": "Growth",
    "dependence": "Dependence on support",
    "recipients": "Recipients: dependence, what the money bought, and withdrawal",
    "difference": "Difference: your policy minus the reference",
    "composition": "Size classes and digital stages",
    "map": "Regions, clusters, marketplaces and councils",
    "story": "One firm's story",
    "export": "Take this run with you",
}

SIZE_CLASS_TEXT = {
    "micro": "micro (capital up to 1 billion IDR)",
    "small": "small (1 to 5 billion IDR)",
    "medium": "medium (5 to 10 billion IDR)",
    "large": "large (above 10 billion IDR)",
}
STAGE_TEXT = {"1.0": "1.0 traditional", "2.0": "2.0 basic digital tools", "3.0": "3.0 selling online"}
SECTOR_TEXT = {
    "food_beverage": "food and drink", "fashion_textile": "fashion and textiles", "handicraft": "handicraft",
    "agro_processing": "agro-processing", "trade_services": "trade and services",
}


def technical(name: str) -> str:
    """The model's own description of parameter ``name`` (tooltip text)."""
    try:
        return field_info(name).description or ""
    except KeyError:
        return ""
