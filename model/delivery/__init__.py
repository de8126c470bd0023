"""How programme money reaches firms: the delivery layer (governance modes, instruments, ledger).

Module map -- which file holds which decision:

* ``modes.py`` -- the month's entry points ``model.py`` calls: ``update`` (the councils' capacity
  and participation, or the platform's PAS services) and ``allocate`` (this month's budget, handed
  to the mode that runs);
* ``ministries.py`` -- *centralised*: how ministries split the budget (national mix, owners), who
  knows of national programmes, no registry (duplicates), the national lag and overhead;
* ``councils.py`` -- *self-governance*: how councils buy capacity (staff, four steps), who takes
  part, what they observe (constraint prevalence), how they split and pass on money, capture;
* ``platform.py`` -- *collaborative platform*: the seven paid PAS services (unit cost, capacity)
  and how the platform matches firms to programmes (step, constraint and registration bonuses);
* ``instruments.py`` -- the instruments as data (``TABLE``: unit cost, duration, own eligibility
  rule, constraint relieved, effect) and the rules and effects it names; unit costs (KUR's per loan);
* ``selection.py`` -- shared by every mode: the targeting priority, awareness of national
  programmes, the ranked pool (``RankedPool``) programmes take candidates from, the registry
  (``reserve``);
* ``pipeline.py`` -- shared: the programmes' accounts (carried over, returned), scheduling approved
  support, paying it after the lag (cancelled, duplicates) and applying the effects;
* ``ledger.py`` -- shared leaf: the month's budget (phase-out, taper), the ledger's columns, booking.

Imports go one way: ``modes`` -> the three modes -> ``selection`` / ``pipeline`` -> ``instruments``
-> ``ledger``; ``ledger`` imports nothing else of the model, so that the economy's modules
(``clusters.py``) may read the budget without an import circle (``tests/test_structure.py`` checks
that the modules of ``model/`` import each other without a circle). This file imports nothing.

The reference engine (``model/reference.py``) writes the same selections plainly, firm by firm; it
uses ``ledger``, ``pipeline``, ``instruments`` and the councils' and platform's aggregate steps.
"""
