"""Torch sequence networks: a stacked LSTM with attention over the window, and a causal 1-D CNN.

Both map a window ``(batch, window, features)`` to two outputs per sample: the scaled forward return and the
logit of P(up).
"""

from __future__ import annotations

import torch
from torch import nn


class AttentionLSTM(nn.Module):
    """``layers``-deep LSTM; additive attention pools its outputs over the window, and the pooled context is
    joined with the last step's output before the two heads."""

    def __init__(self, n_features: int, hidden: int, layers: int, dropout: float) -> None:
        super().__init__()
        self.lstm = nn.LSTM(
            n_features, hidden, num_layers=layers, batch_first=True, dropout=dropout if layers > 1 else 0.0
        )
        self.score = nn.Sequential(nn.Linear(hidden, hidden), nn.Tanh(), nn.Linear(hidden, 1, bias=False))
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * hidden, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outputs, _ = self.lstm(x)  # (batch, window, hidden)
        weights = torch.softmax(self.score(outputs), dim=1)  # (batch, window, 1)
        context = (weights * outputs).sum(dim=1)
        out: torch.Tensor = self.head(torch.cat([context, outputs[:, -1]], dim=1))
        return out


class CausalConvBlock(nn.Module):
    """Dilated convolution padded on the left only (no look-ahead inside the window), ReLU, residual."""

    def __init__(self, channels_in: int, channels: int, kernel: int, dilation: int, dropout: float) -> None:
        super().__init__()
        self.pad = (kernel - 1) * dilation
        self.conv = nn.Conv1d(channels_in, channels, kernel, dilation=dilation)
        self.skip = nn.Conv1d(channels_in, channels, 1) if channels_in != channels else nn.Identity()
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(nn.functional.pad(x, (self.pad, 0)))
        out: torch.Tensor = self.drop(torch.relu(y)) + self.skip(x)
        return out


class PatternCNN(nn.Module):
    """Stack of causal dilated convolutions (dilation 1, 2, 4, ...); mean- and max-pooled over the window
    plus the last step feed the two heads."""

    def __init__(self, n_features: int, channels: int, layers: int, kernel: int, dropout: float) -> None:
        super().__init__()
        blocks = [
            CausalConvBlock(n_features if i == 0 else channels, channels, kernel, 2**i, dropout)
            for i in range(layers)
        ]
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Linear(3 * channels, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.blocks(x.transpose(1, 2))  # (batch, channels, window)
        pooled = torch.cat([h.mean(dim=2), h.amax(dim=2), h[:, :, -1]], dim=1)
        out: torch.Tensor = self.head(pooled)
        return out
