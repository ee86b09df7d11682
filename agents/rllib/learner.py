"""``ArrayPPOLearner``: RLlib's torch PPO learner with two per-step costs taken out, results unchanged.

- Before GAE, RLlib's PPO learner appends one artificial step to every episode chunk (for the bootstrap
  value) and writes a loss mask and per-step terminated and truncated flags. RLlib's piece builds those
  three columns as Python lists and adds them one item at a time: three Python calls per env step.
  ``AppendBootstrapStep`` writes the same values as one array per chunk.
- Between epochs RLlib shuffles the train batch by indexing its torch tensors with a permutation, and it
  copies every minibatch out of the batch with ``torch.cat`` even when the minibatch is one slice. On the
  CPU torch's row gather and copy run at a fifth of numpy's speed on the development box (0.7 and 1.6
  GB/s against 3.5 and 8.8 GB/s), so these copies cost about a quarter of an iteration at 32k-step
  batches. ``HostShuffledBatch`` draws the same permutation and gathers CPU tensors' rows with numpy;
  ``SlicedMinibatches`` hands out a minibatch that lies within one pass over the batch as a view.

``benchmarks/README.md`` has the profiles these numbers come from.
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import numpy.typing as npt
import torch
import tree
from ray.rllib.algorithms.ppo.torch.ppo_torch_learner import PPOTorchLearner
from ray.rllib.connectors.learner import AddOneTsToEpisodesAndTruncate
from ray.rllib.core.columns import Columns
from ray.rllib.core.rl_module.rl_module import RLModule
from ray.rllib.env.multi_agent_episode import MultiAgentEpisode
from ray.rllib.policy.sample_batch import MultiAgentBatch, SampleBatch, concat_samples
from ray.rllib.utils.minibatch_utils import MiniBatchCyclicIterator
from ray.rllib.utils.postprocessing.episodes import add_one_ts_to_episodes_and_truncate


class AppendBootstrapStep(AddOneTsToEpisodesAndTruncate):
    """``AddOneTsToEpisodesAndTruncate`` with its per-step columns built as arrays (same values)."""

    def __call__(
        self,
        *,
        rl_module: RLModule,
        batch: dict[str, Any],
        episodes: list[Any],
        explore: bool | None = None,
        shared_data: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        if not episodes or isinstance(episodes[0], MultiAgentEpisode):
            return super().__call__(
                rl_module=rl_module,
                batch=batch,
                episodes=episodes,
                explore=explore,
                shared_data=shared_data,
                **kwargs,
            )
        for i, episode in enumerate(
            self.single_agent_episode_iterator(episodes, agents_that_stepped_only=False)
        ):
            episode.id_ += "_" + str(i)  # chunks of one episode stay separate rows, as RLlib's piece does
            steps = len(episode)
            add_one_ts_to_episodes_and_truncate([episode])
            loss_mask = np.ones(steps + 1, dtype=np.bool_)
            loss_mask[steps] = False  # the appended step only feeds the bootstrap value
            terminateds = np.zeros(steps + 1, dtype=np.bool_)
            terminateds[steps - 1] = episode.is_terminated
            truncateds = np.zeros(steps + 1, dtype=np.bool_)
            truncateds[steps - 1] = episode.is_truncated  # set on every chunk that did not terminate
            for column, values in (
                (Columns.LOSS_MASK, loss_mask),
                (Columns.TERMINATEDS, terminateds),
                (Columns.TRUNCATEDS, truncateds),
            ):
                self.add_n_batch_items(batch, column, values, steps + 1, episode)
        if shared_data is not None:
            shared_data["_added_loss_mask_for_valid_episode_ts"] = True
        return batch


def take_rows(value: Any, permutation: npt.NDArray[np.int64]) -> Any:
    """``value[permutation]`` along the first axis; CPU tensors are gathered through their numpy view."""
    if isinstance(value, torch.Tensor) and value.device.type == "cpu" and not value.requires_grad:
        return torch.from_numpy(np.take(value.numpy(), permutation, axis=0))
    return value[permutation]


class HostShuffledBatch(SampleBatch):
    """A ``SampleBatch`` whose ``shuffle`` is RLlib's (same permutation draw, same columns moved) with the
    rows of CPU tensors gathered by numpy. Batches with sequence lengths (LSTM) shuffle as RLlib's do."""

    def shuffle(self) -> SampleBatch:
        if self.get(SampleBatch.SEQ_LENS) is not None:
            return super().shuffle()
        permutation = np.random.permutation(self.count)
        columns = {key: value for key, value in self.items() if key != Columns.INFOS}
        self.update(tree.map_structure(lambda v: take_rows(v, permutation), columns))
        self.intercepted_values = {}
        return self


class SlicedMinibatches(MiniBatchCyclicIterator):
    """RLlib's ``MiniBatchCyclicIterator`` (same minibatches, same epoch count, same shuffle points) for
    batches without sequence lengths; a minibatch that lies within one pass is a view of the batch."""

    def __iter__(self) -> Any:
        while (
            self._num_total_minibatches == 0 and min(self._num_covered_epochs.values()) < self._num_epochs
        ) or (self._num_total_minibatches > 0 and self._minibatch_count < self._num_total_minibatches):
            minibatch: dict[str, SampleBatch] = {}
            for module_id, module_batch in self._batch.policy_batches.items():
                if len(module_batch) == 0:
                    raise ValueError(f"the train batch of module {module_id} is empty")
                start, wanted = self._start[module_id], self._minibatch_size
                pieces: list[SampleBatch] = []
                while start + wanted >= len(module_batch):  # the pass ends inside this minibatch
                    pieces.append(cast(SampleBatch, module_batch[start:]))
                    wanted -= len(pieces[-1])
                    start = 0
                    self._num_covered_epochs[module_id] += 1
                    if self._shuffle_batch_per_epoch:
                        module_batch.shuffle()
                end = start + wanted
                if end > start:
                    pieces.append(cast(SampleBatch, module_batch[start:end]))
                minibatch[module_id] = (
                    pieces[0] if len(pieces) == 1 else cast(SampleBatch, concat_samples(list[Any](pieces)))
                )
                self._start[module_id] = end
            yield MultiAgentBatch(minibatch, len(self._batch))
            self._minibatch_count += 1


class ArrayPPOLearner(PPOTorchLearner):
    """``PPOTorchLearner`` with ``AppendBootstrapStep`` first in its pipeline, ``HostShuffledBatch`` train
    batches and ``SlicedMinibatches``."""

    def build(self) -> None:
        super().build()
        pipeline = self._learner_connector
        if pipeline is not None and any(
            type(p) is AddOneTsToEpisodesAndTruncate for p in pipeline.connectors
        ):
            pipeline.remove(AddOneTsToEpisodesAndTruncate)
            pipeline.prepend(AppendBootstrapStep())

    def _make_batch_if_necessary(self, training_data: Any) -> Any:
        batch = super()._make_batch_if_necessary(training_data)
        if isinstance(batch, MultiAgentBatch):
            for module_batch in batch.policy_batches.values():
                if type(module_batch) is SampleBatch:
                    module_batch.__class__ = HostShuffledBatch  # same object and state, numpy-gather shuffle
        return batch

    def _create_iterator_if_necessary(self, **kwargs: Any) -> Any:
        iterator = super()._create_iterator_if_necessary(**kwargs)
        if type(iterator) is MiniBatchCyclicIterator and not any(
            SampleBatch.SEQ_LENS in b for b in iterator._batch.policy_batches.values()
        ):
            iterator.__class__ = SlicedMinibatches  # same object and state, minibatches as views
        return iterator
