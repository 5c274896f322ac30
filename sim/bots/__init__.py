"""Load bots (``bdax load``): the simulator's agents as real clients of a running ``bdax serve``.

Each bot is one agent (one member of a scenario group) with its own account and API key, one WebSocket
API connection and one market-stream connection; :mod:`sim.bots.runner` runs them, :mod:`sim.bots.cli`
is the command.
"""
