"""The fundamental value: the exogenous "news" process value traders and market makers observe.

``log V`` follows, on a grid of ``dt``::

    d log V = -kappa (log V - log V0) dt + sigma_t dW + J dN_t

- ``kappa = ln 2 / half_life``: slow mean reversion (ABIDES's mean-reverting fundamental). Over a session
  much shorter than the half-life V is close to a martingale, so a price that tracks V has no linear
  return autocorrelation (ABIDES's +0.2..0.3 at 1 min comes from prices trending toward a fast-reverting
  fundamental, reference §1.1.7).
- Stochastic volatility ``sigma_t = sigma * exp(X_t - s^2)``, ``X`` the sum of independent OU components
  with timescales spread over minutes to hours, each of variance ``s^2 / K``: a sum of exponentials with
  spread timescales is close to a power law over that range, which gives the slow decay of ACF(|r|)
  (Cont's fact 8); the lognormal mixture gives heavy tails and kurtosis that falls with horizon.
  ``E[sigma_t^2] = sigma^2``.
- Jumps (rate ``jump_rate`` per hour times the current activity, log-size normal) add tail mass and
  cluster with volatility.

``activity = sigma_t / sigma`` is published as the market's news intensity: order-flow rates that scale
with it make volume move with volatility (the mixture-of-distributions hypothesis, Clark 1973).
"""
from __future__ import annotations

import math

from ..kernel import Kernel
from ..rng import Draws

__all__ = ["Fundamental"]


class Fundamental:
    """The fundamental value process (see the module docstring). Values are floats in price units: they
    are signals agents read, never prices or quantities sent to the engine (those are rounded ints).

    Args:
        kernel: the clock; the process updates itself every ``dt_ns``.
        draws: its own random stream.
        start_price: V at time 0, in price units.
        sigma_per_min: mean volatility of log V per sqrt(minute).
        half_life_s: mean-reversion half-life of log V toward log V0.
        vol_timescales_s: OU timescales of the log-volatility components (empty: constant volatility).
        vol_of_vol: standard deviation of log sigma_t (s).
        jump_rate_per_hour, jump_sigma: jump intensity (at activity 1) and log-size standard deviation.
        dt_ns: the update grid.
    """

    def __init__(self, kernel: Kernel, draws: Draws, *, start_price: float, sigma_per_min: float,
                 half_life_s: float, vol_timescales_s: list[float], vol_of_vol: float,
                 jump_rate_per_hour: float, jump_sigma: float, dt_ns: int = 1_000_000_000) -> None:
        self.kernel = kernel
        self.draws = draws
        self.log_v0 = math.log(start_price)
        self.log_v = self.log_v0
        self.value = start_price
        self.dt_ns = dt_ns
        dt_min = dt_ns / 60e9
        self.sigma_dt = sigma_per_min * math.sqrt(dt_min)
        self.kappa_dt = math.log(2) / half_life_s * (dt_ns / 1e9) if half_life_s > 0 else 0.0
        k = len(vol_timescales_s)
        self.s2 = vol_of_vol ** 2
        var_k = self.s2 / k if k else 0.0
        self.decay = [math.exp(-(dt_ns / 1e9) / tau) for tau in vol_timescales_s]
        self.shock = [math.sqrt(var_k * (1.0 - a * a)) for a in self.decay]
        # Start each component from its stationary law so there is no warm-up transient.
        self.x = [draws.normal(0.0, math.sqrt(var_k)) for _ in vol_timescales_s]
        self.jump_p = jump_rate_per_hour * (dt_ns / 3.6e12)
        self.jump_sigma = jump_sigma
        self.activity = 1.0
        self._update_activity()
        self.jumps = 0
        # Views of this process in other venues' ticks (a partner with a finer tick): same path, scaled.
        self.scale: float = 1.0
        self.followers: list[Fundamental] = []
        # A scheduled collapse (crash): log-value drift per step and the steps it lasts.
        self.crash_dlog: float = 0.0
        self.crash_steps: int = 0
        # A follower's local premium: log(value / (scale * leader's value)), an OU process (0: none).
        self.premium: float = 0.0
        self.premium_decay: float = 1.0
        self.premium_shock: float = 0.0

    def follower(self, scale: float, premium_sigma: float = 0.0, premium_half_life_s: float = 0.0,
                 draws: Draws | None = None) -> "Fundamental":
        """A view of this process for another venue: in a unit ``scale`` times finer, and optionally with
        a venue-local premium (segmented demand, the kimchi premium): ``value = scale * V * exp(P)``, ``P``
        an OU process of stationary standard deviation ``premium_sigma`` (log units) and half-life
        ``premium_half_life_s``, drawn from ``draws`` (the venue's own stream). It has no clock of its own:
        this process updates it every step, after its own move."""
        own = draws if draws is not None else self.draws
        # The constructor with no volatility components and no jumps draws nothing from the stream.
        f = Fundamental(self.kernel, own, start_price=self.value * scale,
                        sigma_per_min=self.sigma_dt / math.sqrt(self.dt_ns / 60e9), half_life_s=0.0,
                        vol_timescales_s=[], vol_of_vol=0.0, jump_rate_per_hour=0.0, jump_sigma=0.0,
                        dt_ns=self.dt_ns)
        f.scale = scale
        f.activity = self.activity
        if premium_sigma > 0 and draws is not None and premium_half_life_s > 0:
            a = math.exp(-math.log(2) * (self.dt_ns / 1e9) / premium_half_life_s)
            f.premium_decay = a
            f.premium_shock = premium_sigma * math.sqrt(1.0 - a * a)
            f.premium = draws.normal(0.0, premium_sigma)   # from the stationary law: no warm-up
            f.value = self.value * scale * math.exp(f.premium)
        self.followers.append(f)
        return f

    def crash(self, drop: float, over_ns: int) -> None:
        """Collapse the value by the fraction ``drop`` (0.99: to 1%) spread evenly over ``over_ns`` from the
        next step on, on top of its own moves; the mean-reversion anchor falls with it (no rebound)."""
        steps = max(1, over_ns // self.dt_ns)
        self.crash_dlog = math.log(1.0 - drop) / steps
        self.crash_steps = steps

    def _update_activity(self) -> None:
        self.activity = math.exp(sum(self.x) - self.s2)

    def start(self) -> None:
        self.kernel.schedule(self.kernel.now + self.dt_ns, self._step)

    def _step(self, _: object = None) -> None:
        d = self.draws
        x = self.x
        for i, a in enumerate(self.decay):
            x[i] = a * x[i] + self.shock[i] * d.normal()
        self._update_activity()
        act = self.activity
        dlog = act * self.sigma_dt * d.normal() - self.kappa_dt * (self.log_v - self.log_v0)
        if self.jump_p and d.uniform() < self.jump_p * act:
            dlog += d.normal(0.0, self.jump_sigma)
            self.jumps += 1
        if self.crash_steps:
            self.crash_steps -= 1
            dlog += self.crash_dlog
            self.log_v0 += self.crash_dlog
        self.log_v += dlog
        self.value = math.exp(self.log_v)
        for f in self.followers:
            if f.premium_shock:
                f.premium = f.premium_decay * f.premium + f.premium_shock * f.draws.normal()
            f.log_v = self.log_v + math.log(f.scale) + f.premium
            f.value = math.exp(f.log_v)
            f.activity = act
            f.jumps = self.jumps
        k = self.kernel
        k.at(k.now + self.dt_ns, self._step)   # dt_ns > 0 (validated by the scenario)

    def sigma_now_per_min(self) -> float:
        """The current volatility of log V per sqrt(minute)."""
        return self.activity * self.sigma_dt / math.sqrt(self.dt_ns / 60e9)
