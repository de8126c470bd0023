"""MSME ecosystem policy simulator: the model.

>>> from model import MSMEEcosystem, load_scenario
>>> m = MSMEEcosystem(load_scenario("baseline"), seed=1, n_firms=2000, n_months=24).run()
"""

from .model import MSMEEcosystem
from .params import DEFAULTS, GOVERNANCE_MODES, INSTRUMENTS
from .scenario import Scenario, ScenarioError, available_scenarios, load_scenario

__version__ = "0.1.0"
__all__ = ["MSMEEcosystem", "Scenario", "ScenarioError", "load_scenario", "available_scenarios",
           "DEFAULTS", "INSTRUMENTS", "GOVERNANCE_MODES", "__version__"]
