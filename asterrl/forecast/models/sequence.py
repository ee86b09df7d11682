"""Training and inference of the torch sequence forecasters (``lstm``, ``cnn``).

Loss = MSE of the scaled return + binary cross-entropy of the up logit. Adam, mini-batches drawn from the
fit rows (at most ``max_samples_per_epoch`` per epoch), early stopping on the validation rows' loss with the
best weights kept. Windows are gathered on the device from one tensor of the whole design.
"""

from __future__ import annotations

import copy
from dataclasses import asdict
from pathlib import Path

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from asterrl.errors import ConfigError
from asterrl.files import atomic_path, atomic_write_json
from asterrl.forecast.config import NetConfig
from asterrl.forecast.models.base import Prediction, RowArray, TrainingSet, read_json
from asterrl.forecast.models.networks import AttentionLSTM, PatternCNN

#: Rows per inference batch.
PREDICT_BATCH = 4096


def resolve_device(name: str) -> torch.device:
    """``auto``: CUDA when torch sees a GPU, else CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("forecast.device=cuda but torch sees no CUDA device")
    return torch.device(name)


def _windows(design: torch.Tensor, rows: torch.Tensor, window: int) -> torch.Tensor:
    """``(len(rows), window, features)``: rows ``t − window + 1 .. t`` of the design for each ``t``."""
    offsets = torch.arange(1 - window, 1, device=design.device)
    return design[rows[:, None] + offsets[None, :]]


class SequenceForecaster:
    """An ``AttentionLSTM`` (``lstm``) or ``PatternCNN`` (``cnn``) with its training loop."""

    def __init__(self, name: str, config: NetConfig, window: int, device: str = "auto") -> None:
        if name not in ("lstm", "cnn"):
            raise ConfigError(f"no sequence model named {name!r}")
        self.name = name
        self.config = config
        self.window = window
        self.device = resolve_device(device)
        self.network: nn.Module | None = None
        self.n_features = 0
        self.label_scale = 1.0

    def _build(self, n_features: int) -> nn.Module:
        c = self.config
        if self.name == "lstm":
            net: nn.Module = AttentionLSTM(n_features, c.hidden, c.layers, c.dropout)
        else:
            net = PatternCNN(n_features, c.hidden, c.layers, c.kernel, c.dropout)
        return net.to(self.device)

    def _loss(self, out: torch.Tensor, ret: torch.Tensor, up: torch.Tensor) -> torch.Tensor:
        mse = nn.functional.mse_loss(out[:, 0], ret)
        bce = nn.functional.binary_cross_entropy_with_logits(out[:, 1], up)
        return mse + bce

    def fit(self, data: TrainingSet, seed: int) -> dict[str, float]:
        """Train with early stopping on the validation rows; keep the best epoch's weights."""
        torch.manual_seed(seed)
        rng = np.random.default_rng(seed)
        c = self.config
        self.n_features = data.design.shape[1]
        self.label_scale = data.label_scale
        net = self._build(self.n_features)
        design = torch.from_numpy(data.design).to(self.device)
        ret = torch.from_numpy((data.label / data.label_scale).astype(np.float32)).to(self.device)
        up = torch.from_numpy(data.up.astype(np.float32)).to(self.device)
        val_rows = torch.from_numpy(data.val_rows).to(self.device)
        optimizer = torch.optim.Adam(net.parameters(), lr=c.lr, weight_decay=c.weight_decay)
        best_loss, best_state, best_epoch, stale = np.inf, copy.deepcopy(net.state_dict()), 0, 0
        epoch = 0
        for epoch in range(1, c.epochs + 1):
            net.train()
            rows = rng.permutation(data.fit_rows)
            if c.max_samples_per_epoch and rows.shape[0] > c.max_samples_per_epoch:
                rows = rows[: c.max_samples_per_epoch]
            for start in range(0, rows.shape[0], c.batch_size):
                batch = torch.from_numpy(rows[start : start + c.batch_size]).to(self.device)
                optimizer.zero_grad(set_to_none=True)
                loss = self._loss(net(_windows(design, batch, self.window)), ret[batch], up[batch])
                loss.backward()
                nn.utils.clip_grad_norm_(net.parameters(), 1.0)
                optimizer.step()
            val_loss = self._evaluate(net, design, val_rows, ret, up)
            if val_loss < best_loss - 1e-6:
                best_loss, best_state, best_epoch, stale = val_loss, copy.deepcopy(net.state_dict()), epoch, 0
            else:
                stale += 1
                if stale >= c.patience:
                    break
        net.load_state_dict(best_state)
        net.eval()
        self.network = net
        return {"epochs": float(epoch), "best_epoch": float(best_epoch), "val_loss": float(best_loss)}

    @torch.no_grad()
    def _evaluate(
        self, net: nn.Module, design: torch.Tensor, rows: torch.Tensor, ret: torch.Tensor, up: torch.Tensor
    ) -> float:
        net.eval()
        total = 0.0
        for start in range(0, rows.shape[0], PREDICT_BATCH):
            batch = rows[start : start + PREDICT_BATCH]
            total += float(
                self._loss(net(_windows(design, batch, self.window)), ret[batch], up[batch])
            ) * len(batch)
        return total / max(int(rows.shape[0]), 1)

    @torch.no_grad()
    def predict(self, design: npt.NDArray[np.float32], rows: RowArray) -> Prediction:
        if self.network is None:
            raise ConfigError(f"{self.name}: predict() before fit() or load()")
        self.network.eval()
        tensor = torch.from_numpy(np.ascontiguousarray(design, dtype=np.float32)).to(self.device)
        index = torch.from_numpy(np.asarray(rows, dtype=np.int64)).to(self.device)
        outs = [
            self.network(_windows(tensor, index[s : s + PREDICT_BATCH], self.window)).double().cpu()
            for s in range(0, index.shape[0], PREDICT_BATCH)
        ]
        out = torch.cat(outs).numpy() if outs else np.empty((0, 2))
        return Prediction(out[:, 0] * self.label_scale, 1.0 / (1.0 + np.exp(-out[:, 1])))

    def gain_importance(self) -> None:
        return None

    def save(self, directory: Path) -> None:
        if self.network is None:
            raise ConfigError(f"{self.name}: nothing to save before fit()")
        state = {k: v.detach().cpu() for k, v in self.network.state_dict().items()}
        with atomic_path(directory / f"{self.name}.pt") as temporary:
            torch.save(state, temporary)
        atomic_write_json(
            directory / f"{self.name}.json",
            {
                "kind": "sequence",
                "name": self.name,
                "config": asdict(self.config),
                "window": self.window,
                "n_features": self.n_features,
                "label_scale": self.label_scale,
            },
        )

    @classmethod
    def load(cls, directory: Path, name: str, device: str = "auto") -> SequenceForecaster:
        """Rebuild the network from its JSON description and load the ``state_dict`` (tensors only)."""
        meta = read_json(directory / f"{name}.json")
        model = cls(name, NetConfig(**meta["config"]), int(meta["window"]), device)
        model.n_features = int(meta["n_features"])
        model.label_scale = float(meta["label_scale"])
        net = model._build(model.n_features)
        state = torch.load(directory / f"{name}.pt", map_location=model.device, weights_only=True)
        net.load_state_dict(state)
        net.eval()
        model.network = net
        return model
