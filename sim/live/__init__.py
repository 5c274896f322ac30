"""A live market: a scenario's agents trading inside the gateway in wall-clock time (``bdax serve --market``).

- :mod:`sim.live.engine`: the scenario behind a config's ``[market]``, the engine (plain or hub) it needs,
  the config a scenario's home venue gives on a first run.
- :mod:`sim.live.home`: the home venue's engine stand-in (reads: the pump's engine; writes: the pump).
- :mod:`sim.live.market`: :class:`LiveMarket`, the simulation wired to the gateway's pump.
"""
from .market import LiveMarket

__all__ = ["LiveMarket"]
