"""A seeded synthetic perpetual-futures market for offline work and tests.

Model, per base step of length ``dt`` (``base_interval``, 1 minute by default):

* a volatility regime ``k`` follows a Markov chain: it is left with probability ``1 - exp(-dt / d_k)``
  (``d_k`` = mean stay in hours), for one of the other regimes chosen uniformly;
* the log price moves by ``(mu - sigma_k**2 / 2) dt + sigma_k sqrt(dt) Z`` plus, with probability
  ``1 - exp(-lambda dt)``, a jump ``N(jump_mean, jump_std**2)`` (log terms; annualised over 365 days);
* high and low are each drawn from the exact law of a Brownian bridge's maximum (minimum) between open and
  close; the two draws are independent, which makes range-based estimators (Parkinson) read ~1 % high;
* base volume is ``volume_per_hour * dt * (sigma_k / sigma_0)**beta`` times log-normal noise of mean 1;
  the taker-buy share leans towards the move's sign; trades are volume over ``mean_trade_size``;
* the mark price is the last price times ``1 + basis``, the basis a mean-zero AR(1) (``mark_basis_bps``);
* a premium index follows an AR(1) around ``premium_mean``; each settlement pays Aster's formula
  ``F = [P + clamp(I - P, -c, c)] * N / 8`` (``P`` the interval's average premium, ``I`` the 8-hour
  interest rate, ``N`` the interval in hours), capped at ``+-funding_cap`` (reference §14).

Every random draw is a counter-based hash of (seed, symbol, step, stream), and the path always starts at
``origin_ms``, so a row's values depend only on the seed, the symbol and its timestamp: fetching ``[a, c)``
equals fetching ``[a, b)`` and ``[b, c)``. Coarser bars aggregate the base steps, so a 1h bar is exactly
the twelve 5m bars it covers.
"""

from __future__ import annotations

import math
import time
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numba import njit

from asterrl.data.schema import (
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
    YEAR_MS,
    DataKind,
    SeriesKey,
    interval_ms,
    interval_offset_ms,
    normalize_symbol,
)
from asterrl.data.sources.base import ProgressCallback
from asterrl.data.sources.http import Clock
from asterrl.errors import ConfigError, SourceError

_HOUR_MS = 3_600_000
_N_STREAMS = 16
_MASK64 = (1 << 64) - 1


@dataclass
class SyntheticConfig:
    """Parameters of the synthetic market (Hydra structured config). Rates are in log terms."""

    #: Listed symbols and their price at the origin (USDT).
    symbols: dict[str, float] = field(
        default_factory=lambda: {
            "BTCUSDT": 30_000.0,
            "ETHUSDT": 2_000.0,
            "SOLUSDT": 100.0,
            "LTCUSDT": 70.0,
            "XRPUSDT": 0.5,
        }
    )
    #: First base step (UTC ms); nothing exists before it. Default 2020-01-01 00:00 UTC.
    origin_ms: int = 1_577_836_800_000
    #: Simulation step; served intervals must be multiples of it.
    base_interval: str = "1m"
    #: Annualised drift of the price (arithmetic return rate), e.g. 0.1 = +10 %/year.
    drift_annual: float = 0.0
    #: Annualised diffusion volatility of each regime, calm first.
    regime_vols: list[float] = field(default_factory=lambda: [0.35, 0.70, 1.40])
    #: Mean stay in each regime, hours.
    regime_durations_h: list[float] = field(default_factory=lambda: [240.0, 72.0, 12.0])
    #: Jump intensity, jumps per day.
    jump_rate_per_day: float = 0.5
    #: Mean and standard deviation of a jump's log size.
    jump_mean: float = 0.0
    jump_std: float = 0.02
    #: Mean base-asset volume per hour in the calm regime.
    volume_per_hour: float = 1_000.0
    #: Volume scales as (regime vol / calm vol) ** this.
    volume_vol_elasticity: float = 1.0
    #: Standard deviation of the log-normal volume noise per base step.
    volume_noise: float = 0.5
    #: Mean trade size, base asset (sets the trade count).
    mean_trade_size: float = 0.05
    #: How far the taker-buy share leans with the step's standardised move (0 = always half).
    taker_imbalance: float = 0.3
    #: Stationary standard deviation of the mark-vs-last basis, bps, and its half-life in minutes.
    mark_basis_bps: float = 2.0
    mark_basis_half_life_min: float = 30.0
    #: Funding settlement interval, hours (settlements on the UTC grid of this interval).
    funding_interval_h: int = 8
    #: Interest rate per 8 hours (Aster: 0.01 %).
    interest_rate: float = 0.0001
    #: Premium index: mean, stationary standard deviation and half-life in hours.
    premium_mean: float = 0.0001
    premium_sd: float = 0.0004
    premium_half_life_h: float = 24.0
    #: Clamp on (interest - premium) and the cap on the funding rate, per settlement.
    funding_clamp: float = 0.0005
    funding_cap: float = 0.03

    def validate(self) -> None:
        """Raise :class:`ConfigError` on an inconsistent parameter."""
        step = interval_ms(self.base_interval)
        if not self.symbols or any(p <= 0 or not math.isfinite(p) for p in self.symbols.values()):
            raise ConfigError("synthetic.symbols must map at least one symbol to a positive price")
        if self.origin_ms % step:
            raise ConfigError(f"synthetic.origin_ms must lie on the {self.base_interval} grid")
        if len(self.regime_vols) != len(self.regime_durations_h) or not self.regime_vols:
            raise ConfigError("synthetic.regime_vols and regime_durations_h need the same, non-zero length")
        if min(self.regime_vols) < 0 or min(self.regime_durations_h) <= 0:
            raise ConfigError("synthetic: regime vols must be >= 0 and durations > 0")
        if self.jump_rate_per_day < 0 or self.jump_std < 0 or self.volume_per_hour < 0:
            raise ConfigError("synthetic: jump rate, jump std and volume must be >= 0")
        if self.mean_trade_size <= 0 or self.funding_interval_h <= 0 or 24 % self.funding_interval_h:
            raise ConfigError("synthetic: mean_trade_size > 0 and funding_interval_h dividing 24 required")


@dataclass(frozen=True)
class SyntheticPath:
    """Bars and mark klines of one span with the hidden state: regime at each bar's close and the number
    of jumps inside each bar."""

    bars: pd.DataFrame
    mark: pd.DataFrame
    regime: np.ndarray[Any, np.dtype[np.int8]]
    jumps: np.ndarray[Any, np.dtype[np.int32]]


class SyntheticMarket:
    """The synthetic market; also a :class:`~asterrl.data.sources.base.MarketDataSource` (``synthetic``).

    :param config: model parameters.
    :param seed: seed of every random draw.
    :param clock: wall clock (seconds since the epoch); bars not closed by then are not served.
    """

    name = "synthetic"

    def __init__(
        self, config: SyntheticConfig | None = None, seed: int = 0, clock: Clock = time.time
    ) -> None:
        self.config = config or SyntheticConfig()
        self.config.validate()
        self.seed = seed
        self._clock = clock
        self._step_ms = interval_ms(self.config.base_interval)
        self._symbols = {normalize_symbol(s): float(p) for s, p in self.config.symbols.items()}

    # -- MarketDataSource -------------------------------------------------------------------------------

    def fetch(
        self,
        key: SeriesKey,
        start_ms: int,
        end_ms: int,
        progress: ProgressCallback | None = None,
    ) -> pd.DataFrame:
        """Rows of ``key`` with ``start_ms <= timestamp < end_ms`` closed by the clock, canonical schema.

        Spot keys get the same last-price bars as the perpetual.
        """
        now_ms = int(self._clock() * 1000)
        if key.kind is DataKind.FUNDING:
            frame = self.funding(key.symbol, start_ms, min(end_ms, now_ms + 1))
        else:
            interval = str(key.interval)
            closed_end = self._closed_end(interval, now_ms)
            path = self.path(key.symbol, interval, start_ms, min(end_ms, closed_end))
            frame = path.bars if key.kind is DataKind.OHLCV else path.mark
        if progress is not None:
            progress(len(frame), max(0, end_ms - start_ms))
        frame.attrs["source"] = self.name
        return frame

    def exchange_info(self) -> dict[str, Any]:
        """A minimal ``exchangeInfo``: the configured symbols, all trading."""
        return {
            "timezone": "UTC",
            "serverTime": int(self._clock() * 1000),
            "rateLimits": [],
            "symbols": [
                {
                    "symbol": s,
                    "status": "TRADING",
                    "contractType": "PERPETUAL",
                    "baseAsset": s.removesuffix("USDT"),
                    "quoteAsset": "USDT",
                    "marginAsset": "USDT",
                }
                for s in self._symbols
            ],
        }

    # -- generator API ----------------------------------------------------------------------------------

    def path(self, symbol: str, interval: str, start_ms: int, end_ms: int) -> SyntheticPath:
        """Bars, mark klines, regimes and jump counts of the bars opening in ``[start_ms, end_ms)``."""
        step, agg = self._agg(interval)
        first = self._first_bar_ms(interval)
        lo = max(0, -(-(start_ms - first) // step))
        hi = max(lo, -(-(end_ms - first) // step))
        out = self._simulate(
            symbol, skip=(first - self.config.origin_ms) // self._step_ms, agg=agg, n_bars=hi
        )
        sl = slice(lo, hi)
        ts = first + step * np.arange(lo, hi, dtype=np.int64)
        bars = pd.DataFrame(
            {"timestamp": ts}
            | {c: out[c][sl] for c in REQUIRED_COLUMNS[DataKind.OHLCV][1:] + OPTIONAL_COLUMNS[DataKind.OHLCV]}
        )
        mark = pd.DataFrame({"timestamp": ts} | {c: out[c][sl] for c in REQUIRED_COLUMNS[DataKind.MARK][1:]})
        for frame in (bars, mark):
            frame.attrs["source"] = self.name
        return SyntheticPath(bars, mark, out["regime"][sl].copy(), out["jumps"][sl].copy())

    def funding(self, symbol: str, start_ms: int, end_ms: int) -> pd.DataFrame:
        """Funding settlements with ``start_ms <= timestamp < end_ms`` (UTC ms, decimal rate)."""
        origin, fund_ms = self.config.origin_ms, self.config.funding_interval_h * _HOUR_MS
        first = (origin // fund_ms + 1) * fund_ms  # first settlement after the origin
        lo = max(0, -(-(start_ms - first) // fund_ms))
        hi = max(lo, -(-(end_ms - first) // fund_ms))
        ts = first + fund_ms * np.arange(lo, hi, dtype=np.int64)
        rates = np.empty(0)
        if hi > 0:
            n_steps = (first + (hi - 1) * fund_ms - origin) // self._step_ms
            rates = self._simulate(symbol, skip=n_steps, agg=1, n_bars=0)["funding_rate"][lo:hi]
        frame = pd.DataFrame({"timestamp": ts, "funding_rate": np.asarray(rates, dtype=np.float64)})
        frame.attrs["source"] = self.name
        return frame

    # -- internals --------------------------------------------------------------------------------------

    def _agg(self, interval: str) -> tuple[int, int]:
        step = interval_ms(interval)
        if step % self._step_ms:
            raise SourceError(
                f"synthetic: interval {interval} is not a multiple of "
                f"synthetic.base_interval {self.config.base_interval}"
            )
        return step, step // self._step_ms

    def _first_bar_ms(self, interval: str) -> int:
        step, offset = interval_ms(interval), interval_offset_ms(interval)
        origin = self.config.origin_ms
        return origin + (offset - origin) % step

    def _closed_end(self, interval: str, now_ms: int) -> int:
        """Exclusive bound on bar open times such that every bar below it closed by ``now_ms``."""
        step = interval_ms(interval)
        return now_ms - step + 1

    def _simulate(self, symbol: str, *, skip: int, agg: int, n_bars: int) -> dict[str, np.ndarray[Any, Any]]:
        sym = normalize_symbol(symbol)
        if sym not in self._symbols:
            listed = ", ".join(self._symbols)
            raise SourceError(f"synthetic: unknown symbol {sym}; listed in synthetic.symbols: {listed}")
        c = self.config
        dt_ms = float(self._step_ms)
        key = _stream_key(self.seed, sym)
        vols = np.asarray(c.regime_vols, dtype=np.float64) * math.sqrt(dt_ms / YEAR_MS)
        leave = 1.0 - np.exp(-dt_ms / (np.asarray(c.regime_durations_h, dtype=np.float64) * _HOUR_MS))
        drift = c.drift_annual * dt_ms / YEAR_MS
        params = np.array(
            [
                math.log(self._symbols[sym]),
                drift,
                1.0 - math.exp(-c.jump_rate_per_day * dt_ms / 86_400_000.0),
                c.jump_mean,
                c.jump_std,
                c.volume_per_hour * dt_ms / _HOUR_MS,
                c.volume_vol_elasticity,
                c.volume_noise,
                c.mean_trade_size,
                c.taker_imbalance,
                c.mark_basis_bps * 1e-4,
                0.5 ** (dt_ms / (c.mark_basis_half_life_min * 60_000.0)),
                c.premium_mean,
                c.premium_sd,
                0.5 ** (dt_ms / (c.premium_half_life_h * _HOUR_MS)),
                c.interest_rate,
                c.funding_clamp,
                c.funding_cap,
                c.funding_interval_h / 8.0,
            ],
            dtype=np.float64,
        )
        fund_steps = c.funding_interval_h * _HOUR_MS // self._step_ms
        phase = (c.origin_ms % (c.funding_interval_h * _HOUR_MS)) // self._step_ms
        names = (
            *("open", "high", "low", "close", "volume", "quote_volume", "trades", "taker_buy_volume"),
            *("mark_open", "mark_high", "mark_low", "mark_close", "regime", "jumps", "funding_rate"),
        )
        arrays = _simulate_kernel(key, skip, agg, n_bars, vols, leave, params, fund_steps, phase)
        return dict(zip(names, arrays, strict=True))


def _mix64(z: int) -> int:
    """The splitmix64 finaliser of a 64-bit integer (a bijection that spreads every input bit)."""
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


def _stream_key(seed: int, symbol: str) -> np.uint64:
    """64-bit key of one (seed, symbol) stream.

    Hashed, not linear in the seed: the draws are ``hash(key + counter * golden)``, so a key linear in the
    seed (``seed * golden + ...``) made seed ``s + 16`` replay seed ``s``'s path one step later.
    """
    return np.uint64(_mix64(_mix64(seed & _MASK64) ^ zlib.crc32(symbol.encode())))


@njit(cache=True, inline="always")
def _uniform(key: np.uint64, counter: int) -> float:
    """A uniform in (0, 1) from the splitmix64 hash of ``key`` and ``counter``."""
    z = key + np.uint64(counter) * np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return (float(z >> np.uint64(11)) + 0.5) * (1.0 / 9007199254740992.0)


@njit(cache=True, inline="always")
def _normal(key: np.uint64, counter: int) -> float:
    """A standard normal (Box-Muller) from the uniforms at ``counter`` and ``counter + 1``."""
    u1 = _uniform(key, counter)
    u2 = _uniform(key, counter + 1)
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


@njit(cache=True)
def _simulate_kernel(
    key: np.uint64,
    skip: int,
    agg: int,
    n_bars: int,
    vols: np.ndarray,
    leave: np.ndarray,
    p: np.ndarray,
    fund_steps: int,
    phase: int,
) -> tuple[np.ndarray, ...]:
    """Run ``skip + n_bars * agg`` base steps from the origin; aggregate steps ``skip + j*agg ...`` into
    bar ``j`` and emit a funding rate at every settlement crossed (each step ends ``phase + i + 1`` steps
    after a settlement boundary)."""
    n_steps = skip + n_bars * agg
    o_ = np.empty(n_bars)
    h_ = np.empty(n_bars)
    l_ = np.empty(n_bars)
    c_ = np.empty(n_bars)
    v_ = np.zeros(n_bars)
    qv_ = np.zeros(n_bars)
    tr_ = np.zeros(n_bars, dtype=np.int64)
    tb_ = np.zeros(n_bars)
    mo_ = np.empty(n_bars)
    mh_ = np.empty(n_bars)
    ml_ = np.empty(n_bars)
    mc_ = np.empty(n_bars)
    reg_ = np.zeros(n_bars, dtype=np.int8)
    jmp_ = np.zeros(n_bars, dtype=np.int32)
    fund_ = np.empty((phase + n_steps) // fund_steps)
    log_price, drift, p_jump, j_mean, j_std = p[0], p[1], p[2], p[3], p[4]
    vol_step, vol_beta, vol_noise, trade_size, imbalance = p[5], p[6], p[7], p[8], p[9]
    basis_sd, basis_phi, prem_mean, prem_sd, prem_phi = p[10], p[11], p[12], p[13], p[14]
    interest, clamp, cap, n_over_8 = p[15], p[16], p[17], p[18]
    basis_innov = basis_sd * math.sqrt(1.0 - basis_phi * basis_phi)
    prem_innov = prem_sd * math.sqrt(1.0 - prem_phi * prem_phi)
    n_regimes = vols.shape[0]
    regime = 0
    basis = 0.0
    premium = prem_mean
    prem_sum = 0.0
    prem_count = 0
    n_fund = 0
    for i in range(n_steps):
        ctr = i * 16
        if n_regimes > 1 and _uniform(key, ctr) < leave[regime]:
            nxt = int(_uniform(key, ctr + 1) * (n_regimes - 1))
            regime = nxt + 1 if nxt >= regime else nxt
        sigma = vols[regime]
        z = _normal(key, ctr + 2)
        move = drift - 0.5 * sigma * sigma + sigma * z
        jumped = _uniform(key, ctr + 4) < p_jump
        if jumped:
            move += j_mean + j_std * _normal(key, ctr + 5)
        var = sigma * sigma
        up = 0.5 * (move + math.sqrt(move * move - 2.0 * var * math.log(_uniform(key, ctr + 7))))
        dn = 0.5 * (move - math.sqrt(move * move - 2.0 * var * math.log(_uniform(key, ctr + 8))))
        o = math.exp(log_price)
        c = math.exp(log_price + move)
        hi = math.exp(log_price + up)
        lo = math.exp(log_price + dn)
        log_price += move
        new_basis = basis_phi * basis + basis_innov * _normal(key, ctr + 9)
        mid_basis = 0.5 * (basis + new_basis)
        mo = o * (1.0 + basis)
        mc = c * (1.0 + new_basis)
        mh = max(hi * (1.0 + mid_basis), mo, mc)
        ml = min(lo * (1.0 + mid_basis), mo, mc)
        basis = new_basis
        premium = prem_mean + prem_phi * (premium - prem_mean) + prem_innov * _normal(key, ctr + 11)
        prem_sum += premium
        prem_count += 1
        if (phase + i + 1) % fund_steps == 0:
            avg = prem_sum / prem_count
            rate = (avg + min(max(interest - avg, -clamp), clamp)) * n_over_8
            fund_[n_fund] = min(max(rate, -cap), cap)
            n_fund += 1
            prem_sum = 0.0
            prem_count = 0
        if i < skip:
            continue
        scale = (sigma / vols[0]) ** vol_beta if vols[0] > 0 else 1.0
        vol = vol_step * scale * math.exp(vol_noise * _normal(key, ctr + 13) - 0.5 * vol_noise * vol_noise)
        zmove = move / sigma if sigma > 0 else 0.0
        share = 0.5 + imbalance * math.tanh(zmove) + 0.05 * (_uniform(key, ctr + 15) - 0.5)
        share = min(max(share, 0.0), 1.0)
        j = (i - skip) // agg
        if (i - skip) % agg == 0:
            o_[j], h_[j], l_[j], mo_[j], mh_[j], ml_[j] = o, hi, lo, mo, mh, ml
        else:
            h_[j] = max(h_[j], hi)
            l_[j] = min(l_[j], lo)
            mh_[j] = max(mh_[j], mh)
            ml_[j] = min(ml_[j], ml)
        c_[j], mc_[j], reg_[j] = c, mc, regime
        v_[j] += vol
        qv_[j] += vol * 0.25 * (o + hi + lo + c)
        tb_[j] += vol * share
        tr_[j] += math.ceil(vol / trade_size) if vol > 0 else 0
        if jumped:
            jmp_[j] += 1
    return o_, h_, l_, c_, v_, qv_, tr_, tb_, mo_, mh_, ml_, mc_, reg_, jmp_, fund_[:n_fund]
