"""The simulator's side of shared liquidity (issue 6; DESIGN.md §4): partner venues, the links between them
and the home venue, the models wired in, crisis schedules and what a run records.

- :mod:`.spec`: the scenario's ``[sharing]``, partner-venue keys and ``[[schedule]]``, validated into a
  ``LiquiditySpec`` (flow cloning at partners, account ranges per venue).
- :mod:`.world`: ``LiquidityWorld``, built by ``sim.build.Simulation`` for a sharing scenario: setup
  deposits, the settlement clock, settlements landing after the transfer delay, the home venue's outbound
  events carried out, the conservation check across venues.
- :mod:`.links`: ``PartnerLink``, one home <-> partner link: depth feed, heartbeats, routed children,
  health and latency spikes.
- :mod:`.schedule`: the schedule's actions in virtual time (stale, down, default, up, latency, crash,
  halt, resume).
- :mod:`.record`: per-venue recordings, home executions and ``liquidity.json`` (the recording contract
  ``sim.compare`` reads).

The home venue's engine is a plain ``exchange.Engine`` (isolated) or a hub from ``exchange.liquidity``
(``MirroredVenue``, ``PooledVenue``); every command any venue gets goes through that venue's journal.
"""
