"""``AsterPerpVectorEnv``: N accounts stepped in one numba call, a ``gymnasium.vector.VectorEnv``.

Reached with ``gymnasium.make_vec("asterrl/AsterPerp-v0", num_envs=N, vectorization_mode=
"vector_entry_point")``. ``reset(seed=s)`` seeds account ``i`` with ``account_seed(s, i)``, a hash of both,
and account ``i`` then follows exactly the trajectory of a single ``AsterPerpEnv`` reset with that seed.
A hash rather than Gymnasium's ``s + i``: RLlib seeds env runner ``w`` with ``s + w``, so ``s + i`` would give
account 1 of runner 0 and account 0 of runner 1 the same episodes.
Autoreset is Gymnasium's next-step mode by default (what RLlib expects); ``autoreset_mode="same_step"``
resets in the same step and returns the last observation in ``info["final_obs"]``.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
import numpy.typing as npt
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from asterrl.errors import ConfigError
from asterrl.sim.account import padded_accounts
from asterrl.sim.layout import N_REPORT, REPORT_KEYS, Account, Counter, Report
from envs.core import EnvCore, build_core
from envs.coverage import EpisodeCoverage
from envs.kernel_choice import KernelPicker
from envs.kernels import new_env_state, reset_accounts, step_accounts, step_accounts_parallel


def account_seed(seed: int, index: int) -> int:
    """Seed of account ``index``'s episode-start stream when its vector env is reset with ``seed``.

    Different for every ``(seed, index)`` pair, so accounts, and env runners seeded ``s + w``, never share a
    stream.
    """
    state = np.random.SeedSequence([seed % 2**64, index]).generate_state(1, np.uint64)
    return int(state[0])


#: Batches at least this large may be spread over numba's threads (when that is measured to be faster).
PARALLEL_MIN_ACCOUNTS = 64


class AsterPerpVectorEnv(VectorEnv[Any, Any, Any]):
    """Batched perp trading env; same arguments as ``AsterPerpEnv`` plus ``num_envs``.

    Every array ``step`` returns (observations, rewards, flags and the ``info`` columns) is new: none is
    overwritten by a later step, so callers may keep them (RLlib keeps per-env views of the observations).
    """

    def __init__(self, num_envs: int = 1, core: EnvCore | None = None, **kwargs: Any) -> None:
        if num_envs < 1:
            raise ConfigError("num_envs must be >= 1")
        kwargs.pop("max_episode_steps", None)  # episode length comes from the env config
        self.core = core if core is not None else build_core(**kwargs)
        self.num_envs = num_envs
        self.single_observation_space = self.core.observation_space
        self.single_action_space = self.core.action_space
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        same_step = self.core.config.autoreset_mode == "same_step"
        self.metadata = {"autoreset_mode": AutoresetMode.SAME_STEP if same_step else AutoresetMode.NEXT_STEP}
        self.render_mode = None
        self._same_step = same_step
        # State and reports hold padded_accounts(N) columns (rows that don't alias in cache); the kernels
        # step the first N, the spare columns are never read.
        self._columns = padded_accounts(num_envs)
        self._fstate, self._istate = new_env_state(self._columns)
        self._final = np.zeros((num_envs, self.core.obs_size), dtype=np.float32)
        parallel = num_envs >= PARALLEL_MIN_ACCOUNTS and numba.get_num_threads() > 1
        self._kernel = KernelPicker((step_accounts, step_accounts_parallel) if parallel else (step_accounts,))
        self._seeded = False
        self._last_obs = np.zeros((num_envs, self.core.obs_size), dtype=np.float32)
        #: Episode starts and visited bars of every account (``envs.coverage``).
        self.coverage = EpisodeCoverage(*self.core.coverage_range)
        self._episode_start = np.zeros(num_envs, dtype=np.int64)
        self._pending = np.zeros(num_envs, dtype=np.bool_)  # next-step mode: reset by the coming step
        self._any_pending = False

    def reset(
        self, *, seed: int | list[int | None] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """Reset all accounts (or ``options["reset_mask"]``); ``seed`` as in ``gymnasium.vector``.

        ``options["start_bar"]`` (an int, or one per env; -1 draws) starts the reset episodes at that
        decision bar, within ``core.start_bounds``, without advancing their streams.
        """
        n = self.num_envs
        options = options or {}
        which = np.ones(n, dtype=np.bool_)
        if "reset_mask" in options:
            which = np.asarray(options["reset_mask"], dtype=np.bool_).reshape(n)
        starts = self.core.start_bars(options.get("start_bar"), n)
        reseed = np.zeros(n, dtype=np.bool_)
        seeds = np.zeros(n, dtype=np.uint64)
        if seed is None and not self._seeded:
            seed = int(np.random.SeedSequence().generate_state(1, np.uint64)[0] >> np.uint64(1))
        if isinstance(seed, int):
            seeds[:] = [account_seed(seed, i) for i in range(n)]
            reseed[:] = True
        elif seed is not None:
            if len(seed) != n:
                raise ConfigError(f"got {len(seed)} seeds for {n} envs")
            for i, s in enumerate(seed):
                if s is not None:
                    seeds[i], reseed[i] = s % 2**64, True
        self._seeded = True
        obs = np.empty((n, self.core.obs_size), dtype=np.float32)
        if not which.all():
            obs[:] = self._last_obs
        c = self.core
        reset_accounts(
            which,
            reseed,
            seeds,
            starts,
            self._fstate,
            self._istate,
            c.data.values,
            c.features_flat,
            c.consts,
            obs,
        )
        self._last_obs = obs
        self._record_starts(which)
        self._pending &= ~which
        self._any_pending = bool(self._pending.any())
        bars = self._istate[Counter.BAR, :n].copy()
        return c.format_obs(obs), {"bar": bars, "equity": self._fstate[Account.EQUITY, :n].copy()}

    def step(
        self, actions: Any
    ) -> tuple[Any, npt.NDArray[np.float64], npt.NDArray[np.bool_], npt.NDArray[np.bool_], dict[str, Any]]:
        """Step all accounts; returns batched ``obs, rewards, terminated, truncated, info``.

        ``info`` maps each key of ``asterrl.sim.layout.REPORT_KEYS`` to a float64 array over the envs
        (rows of one new report array); with same-step autoreset also ``final_obs`` and ``_final_obs``.
        """
        n = self.num_envs
        acts = np.asarray(actions, dtype=np.float64).reshape(n)
        obs = np.empty((n, self.core.obs_size), dtype=np.float32)
        report = np.empty((N_REPORT, self._columns), dtype=np.float64)
        c = self.core
        self._kernel(
            acts,
            self._fstate,
            self._istate,
            c.data.values,
            c.features_flat,
            c.consts,
            obs,
            report,
            self._final,
        )
        self._last_obs = obs
        report = report[:, :n]  # each row a contiguous view over the N envs
        info: dict[str, Any] = dict(zip(REPORT_KEYS, report, strict=True))
        terminated = report[Report.TERMINATED] != 0.0
        truncated = report[Report.TRUNCATED] != 0.0
        done = terminated | truncated
        self._track_episodes(done, report[Report.BAR])
        if self._same_step:
            final = np.zeros_like(self._final)
            final[done] = self._final[done]
            info["final_obs"] = c.format_obs(final)
            info["_final_obs"] = done
        return c.format_obs(obs), report[Report.REWARD], terminated, truncated, info

    def get_state(self) -> dict[str, Any]:
        """Everything that decides the env's next steps, copied: every account's state (position, bar,
        episode-start stream in ``envs.kernels.I_RNG``), the last observations, the pending resets and the
        coverage counters. ``set_state`` on an env over the same core continues exactly from here."""
        return {
            "num_envs": self.num_envs,
            "fstate": self._fstate.copy(),
            "istate": self._istate.copy(),
            "last_obs": self._last_obs.copy(),
            "seeded": self._seeded,
            "episode_start": self._episode_start.copy(),
            "pending": self._pending.copy(),
            "coverage": self.coverage.snapshot(),
        }

    def set_state(self, state: dict[str, Any]) -> None:
        """Continue from a ``get_state`` of an env with as many accounts over the same core.

        A later ``reset(seed=None)`` then keeps the episode-start streams where they were.
        """
        if int(state["num_envs"]) != self.num_envs or state["fstate"].shape != self._fstate.shape:
            raise ConfigError(
                f"the saved env state has {state['num_envs']} accounts, this env {self.num_envs}"
            )
        self._fstate[:] = state["fstate"]
        self._istate[:] = state["istate"]
        self._last_obs = np.array(state["last_obs"], dtype=np.float32)
        self._seeded = bool(state["seeded"])
        self._episode_start[:] = state["episode_start"]
        self._pending[:] = state["pending"]
        self._any_pending = bool(self._pending.any())
        self.coverage.restore(state["coverage"])

    def _record_starts(self, which: npt.NDArray[np.bool_]) -> None:
        starts = self._istate[Counter.START, : self.num_envs][which]
        self.coverage.record_starts(starts)
        self._episode_start[which] = starts

    def _track_episodes(self, done: npt.NDArray[np.bool_], bars: npt.NDArray[np.float64]) -> None:
        """Feed ``coverage``: spans of the episodes that ended this step and starts of the new ones."""
        if self._any_pending:  # next-step mode: this step reset the accounts that ended the step before
            self._record_starts(self._pending)
            self._pending[:] = False
            self._any_pending = False
        if not done.any():
            return
        self.coverage.record_spans(self._episode_start[done], bars[done])
        if self._same_step:  # the kernel has already started their next episodes
            self._record_starts(done)
        else:
            self._pending |= done
            self._any_pending = True
