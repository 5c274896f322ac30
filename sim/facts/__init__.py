"""Stylized facts of a simulated market, each with its pass band (reference doc §2.3, calm regime).

``compute_facts(trades, l1, tick_size=..., start_ns=..., end_ns=...)`` turns one run's recorded columns
into a ``FactsTable``; ``aggregate_facts(tables)`` combines seeds (median, bootstrap CI, fraction of seeds
passing). Modules: ``returns`` (clock-grid sampling), ``acf`` (ACF, Ljung-Box), ``tails`` (moments,
Hill), ``powerlaw`` (decay exponents), ``bands`` (pass bands and minimum samples), ``table``, ``compute``.
Numpy only.
"""
from sim.facts.compute import DEFAULT_HORIZONS_S, compute_facts
from sim.facts.returns import FactsInputError
from sim.facts.table import FactRow, FactsTable, aggregate_facts

__all__ = ["compute_facts", "aggregate_facts", "FactsTable", "FactRow", "FactsInputError",
           "DEFAULT_HORIZONS_S"]
