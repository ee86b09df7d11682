"""``ArrayEnvRunner``: RLlib's single-agent env runner, sampling the batched env as whole arrays.

RLlib's ``SingleAgentEnvRunner`` does Python work for every account at every step: it splits the batched
observations, actions and info dicts into one object per account (``DictInfoToList``, ``unbatch``), appends
to one ``SingleAgentEpisode`` per account, runs connector pieces that loop over those episodes and calls
the episode callbacks. With hundreds of accounts in one numba vector env that work, not the env or the
network, is what a training iteration spends its time on (``benchmarks/README.md``).

This runner keeps RLlib's contract (the same ``sample()``, the same episode chunks handed to the learner,
the same metrics) but, for a stateless module over a ``Box`` observation with no custom connectors or
callbacks, steps the env with one module forward and one distribution sample over all accounts and
records each step as rows of arrays. The episode chunks are cut out of those arrays once per ``sample``
call: per-account Python work happens once per chunk instead of once per step. Anything else (an LSTM,
custom connectors, callbacks, random actions, sampling whole episodes) runs RLlib's own loop.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, cast

import gymnasium as gym
import numpy as np
import numpy.typing as npt
import torch
from ray.rllib.algorithms.algorithm_config import AlgorithmConfig
from ray.rllib.core.columns import Columns
from ray.rllib.env.single_agent_env_runner import SingleAgentEnvRunner
from ray.rllib.env.single_agent_episode import SingleAgentEpisode
from ray.rllib.env.utils.infinite_lookback_buffer import InfiniteLookbackBuffer
from ray.rllib.utils.metrics import WEIGHTS_SEQ_NO
from ray.rllib.utils.numpy import convert_to_numpy
from ray.rllib.utils.spaces.space_utils import clip_action, unsquash_action


@dataclass
class _Carry:
    """What one ``sample`` call hands to the next, per account.

    :param obs: observation the next action is taken on, ``(N, obs_size)``.
    :param pending: the account ended its episode at the last step: the next step only resets it.
    :param ids: episode id of each account's ongoing episode.
    :param t: env steps of the ongoing episode so far (``t_started`` of its next chunk).
    :param returns: reward summed over the ongoing episode.
    """

    obs: npt.NDArray[np.float32]
    pending: npt.NDArray[np.bool_]
    ids: list[str]
    t: npt.NDArray[np.int64]
    returns: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))


class ArrayEnvRunner(SingleAgentEnvRunner):
    """``SingleAgentEnvRunner`` whose timestep sampling handles all accounts as arrays (see module doc)."""

    def __init__(self, *, config: AlgorithmConfig, **kwargs: Any) -> None:
        super().__init__(config=config, **kwargs)
        self._carry: _Carry | None = None
        self.samples_arrays = self._arrays_apply()

    def _arrays_apply(self) -> bool:
        """Whether this runner's setup is one the array loop reproduces exactly."""
        config = self.config
        callbacks = [getattr(config, name, None) for name in dir(config) if name.startswith("callbacks_on_")]
        return bool(
            self.env is not None
            and self.module is not None
            and not self.module.is_stateful()
            and isinstance(self.env.single_observation_space, gym.spaces.Box)
            and config._env_to_module_connector is None
            and config._module_to_env_connector is None
            and not any(callbacks)
            and all(type(c).__name__ == "RLlibCallback" for c in self._callbacks)
        )

    def _sample(
        self,
        *,
        num_timesteps: int | None = None,
        num_episodes: int | None = None,
        explore: bool,
        random_actions: bool = False,
        force_reset: bool = False,
    ) -> list[SingleAgentEpisode]:
        if not self.samples_arrays or num_timesteps is None or random_actions:
            # RLlib's loop, from a fresh reset when the array loop ran last (its episodes are not RLlib's);
            # the array loop likewise starts from a fresh reset after RLlib's.
            switching, self._carry = self._carry is not None, None
            episodes: list[SingleAgentEpisode] = super()._sample(
                num_timesteps=num_timesteps,
                num_episodes=num_episodes,
                explore=explore,
                random_actions=random_actions,
                force_reset=force_reset or switching,
            )
            return episodes
        if force_reset or self._carry is None:
            self._carry = self._reset_carry()
        return self._sample_arrays(num_timesteps, explore, self._carry)

    def _reset_carry(self) -> _Carry:
        obs, _ = self._try_env_reset(seed=self._seed if self._needs_initial_reset else None, options=None)
        self._needs_initial_reset = False
        n = self.num_envs
        return _Carry(
            obs=np.asarray(obs, dtype=np.float32),
            pending=np.zeros(n, dtype=np.bool_),
            ids=[uuid.uuid4().hex for _ in range(n)],
            t=np.zeros(n, dtype=np.int64),
            returns=np.zeros(n, dtype=np.float64),
        )

    def _sample_arrays(self, num_timesteps: int, explore: bool, carry: _Carry) -> list[SingleAgentEpisode]:
        """Step every account until ``num_timesteps`` env steps (resets excluded) are taken; return the
        finished episodes, then the chunks of the ongoing ones (RLlib's order)."""
        assert self.env is not None and self.module is not None  # ``samples_arrays`` requires both
        env, module = self.env.unwrapped, self.module
        dist_cls = (
            module.get_exploration_action_dist_cls() if explore else module.get_inference_action_dist_cls()
        )
        runners = self.config.num_env_runners or 1
        obs_rows: list[npt.NDArray[np.float32]] = [carry.obs]
        columns: dict[str, list[npt.NDArray[Any]]] = {}
        rewards, terminated, truncated, stepped = [], [], [], []
        pending = carry.pending
        taken = 0
        while taken < num_timesteps:
            t = (self.num_env_steps_sampled_lifetime // runners + taken) * runners
            outputs = self._act(obs_rows[-1], dist_cls, explore, t)
            actions = outputs[Columns.ACTIONS]
            obs, reward, term, trunc, _ = env.step(self._actions_for_env(actions))
            for key, value in outputs.items():
                columns.setdefault(key, []).append(value)
            live = ~pending
            obs_rows.append(np.asarray(obs, dtype=np.float32))
            rewards.append(np.asarray(reward, dtype=np.float64))
            terminated.append(np.asarray(term, dtype=np.bool_) & live)
            truncated.append(np.asarray(trunc, dtype=np.bool_) & live)
            stepped.append(live)
            pending = terminated[-1] | truncated[-1]
            taken += int(live.sum())
        steps = _Steps(
            obs=np.stack(obs_rows),
            columns={k: np.stack(v) for k, v in columns.items()},
            rewards=np.stack(rewards),
            terminated=np.stack(terminated),
            truncated=np.stack(truncated),
            stepped=np.stack(stepped),
        )
        steps.columns[WEIGHTS_SEQ_NO] = np.full(steps.rewards.shape, self._weights_seq_no, dtype=np.int64)
        done, ongoing = self._cut_episodes(steps, carry)
        carry.obs, carry.pending = obs_rows[-1], pending
        self._log_env_steps(metric=self._metrics_num_env_steps_sampled, num_steps=taken)
        self._increase_sampled_metrics(taken, len(done))
        return done + ongoing

    def _act(
        self, obs: npt.NDArray[np.float32], dist_cls: Any, explore: bool, t: int
    ) -> dict[str, npt.NDArray[Any]]:
        """Module forward and action draw for all accounts: what RLlib's default connectors compute."""
        assert self.module is not None
        module = self.module
        batch = {Columns.OBS: torch.from_numpy(obs).to(self._device)}
        with torch.no_grad():
            out = module.forward_exploration(batch, t=t) if explore else module.forward_inference(batch)
            dist = dist_cls.from_logits(out[Columns.ACTION_DIST_INPUTS])
            if not explore:
                dist = dist.to_deterministic()
            actions = dist.sample()
            out[Columns.ACTION_LOGP] = dist.logp(actions)
        out[Columns.ACTIONS] = actions
        # as RLlib's TensorToNumpy (int64 to int32, float64 to float32)
        return cast(dict[str, npt.NDArray[Any]], convert_to_numpy(out))

    def _actions_for_env(self, actions: npt.NDArray[Any]) -> npt.NDArray[Any]:
        """Unsquash or clip continuous actions as RLlib's ``NormalizeAndClipActions`` does."""
        assert self.env is not None
        space = self.env.single_action_space
        if not isinstance(space, gym.spaces.Box):
            return actions
        if self.config.normalize_actions:
            return np.asarray(unsquash_action(actions, space))
        if self.config.clip_actions:
            return np.asarray(clip_action(actions, space))
        return actions

    def _cut_episodes(
        self, steps: _Steps, carry: _Carry
    ) -> tuple[list[SingleAgentEpisode], list[SingleAgentEpisode]]:
        """Episode chunks of every account; logs the return and length of each finished episode."""
        done: list[tuple[int, int, SingleAgentEpisode]] = []
        ongoing: list[SingleAgentEpisode] = []
        n_steps = steps.rewards.shape[0]
        ends = (steps.terminated | steps.truncated).T
        for i in range(self.num_envs):
            start = 0 if steps.stepped[0, i] else 1
            for end in np.flatnonzero(ends[i]).tolist():
                episode = self._chunk(steps, carry, i, start, end + 1)
                carry.returns[i] += float(steps.rewards[start : end + 1, i].sum())
                length = int(carry.t[i]) + end + 1 - start
                self._log_episode_metrics(length, float(carry.returns[i]), 0.0)
                done.append((end, i, episode))
                carry.ids[i], carry.t[i], carry.returns[i] = uuid.uuid4().hex, 0, 0.0
                start = end + 2  # the step after an episode's end only resets the account
            if start < n_steps:
                ongoing.append(self._chunk(steps, carry, i, start, n_steps))
                carry.returns[i] += float(steps.rewards[start:, i].sum())
                carry.t[i] += n_steps - start
        done.sort(key=lambda item: (item[0], item[1]))
        return [episode for _, _, episode in done], ongoing

    def _chunk(self, steps: _Steps, carry: _Carry, i: int, start: int, stop: int) -> SingleAgentEpisode:
        """The chunk of account ``i``'s ongoing episode made of steps ``start`` to ``stop - 1``."""
        assert self.env is not None
        n = stop - start
        return SingleAgentEpisode(
            id_=carry.ids[i],
            observations=InfiniteLookbackBuffer(steps.obs[start : stop + 1, i]),
            observation_space=self.env.single_observation_space,
            infos=InfiniteLookbackBuffer([{}] * (n + 1)),
            actions=InfiniteLookbackBuffer(steps.columns[Columns.ACTIONS][start:stop, i]),
            action_space=self.env.single_action_space,
            rewards=InfiniteLookbackBuffer(steps.rewards[start:stop, i]),
            terminated=bool(steps.terminated[stop - 1, i]),
            truncated=bool(steps.truncated[stop - 1, i]),
            extra_model_outputs={
                key: InfiniteLookbackBuffer(value[start:stop, i])
                for key, value in steps.columns.items()
                if key != Columns.ACTIONS
            },
            t_started=int(carry.t[i]),
            len_lookback_buffer=0,
        )


@dataclass
class _Steps:
    """One ``sample`` call's steps as time-major arrays: ``obs`` ``(T + 1, N, obs_size)``, the rest
    ``(T, N, ...)``; ``stepped`` is False where the step only reset the account."""

    obs: npt.NDArray[np.float32]
    columns: dict[str, npt.NDArray[Any]]
    rewards: npt.NDArray[np.float64]
    terminated: npt.NDArray[np.bool_]
    truncated: npt.NDArray[np.bool_]
    stepped: npt.NDArray[np.bool_]
