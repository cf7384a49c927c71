"""Tiny networks built from plain torch.nn for the tests of flatstart.montecarlo.modules and of
check_bound on networks of your own (tests/validation/test_toolkit_factory.py)."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class SmallCNN(nn.Module):
    """conv 3x3 + ReLU + average and max pooling + linear readout: (1, 4, 4) -> 1."""

    def __init__(self, channels: int = 2) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, channels, 3, padding=1)
        self.avg = nn.AvgPool2d(2)
        self.max = nn.MaxPool2d(2)
        self.head = nn.Linear(channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        h = self.max(self.avg(torch.relu(self.conv(x))))
        return self.head(h.flatten(1))


class ResidualLN(nn.Module):
    """Residual MLP with layer norm: x + tanh(W LN(x)) per block, then a linear readout."""

    def __init__(self, d: int = 3, blocks: int = 2) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            [nn.Sequential(nn.LayerNorm(d), nn.Linear(d, d), nn.Tanh()) for _ in range(blocks)])
        self.out = nn.Linear(d, 1)

    def forward(self, x: Tensor) -> Tensor:
        for b in self.blocks:
            x = x + b(x)
        return self.out(x)


class TinyTransformer(nn.Module):
    """One pre-norm transformer block (multi-head self-attention + MLP) and a mean-pooled readout:
    (seq, d) -> 1."""

    def __init__(self, d: int = 2, heads: int = 1, hidden: int = 3) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(d)
        self.attn = nn.MultiheadAttention(d, heads, batch_first=True)
        self.ln2 = nn.LayerNorm(d)
        self.mlp = nn.Sequential(nn.Linear(d, hidden), nn.GELU(), nn.Linear(hidden, d))
        self.out = nn.Linear(d, 1)

    def forward(self, x: Tensor) -> Tensor:
        h = self.ln1(x)
        a, _ = self.attn(h, h, h, need_weights=False)
        x = x + a
        x = x + self.mlp(self.ln2(x))
        return self.out(x.mean(dim=1))


class BatchNormMLP(nn.Module):
    """Linear + BatchNorm1d (training mode: batch statistics, running stats updated) + ReLU."""

    def __init__(self, d: int = 3) -> None:
        super().__init__()
        self.lin = nn.Linear(d, 4)
        self.bn = nn.BatchNorm1d(4)
        self.out = nn.Linear(4, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.out(torch.relu(self.bn(self.lin(x))))


class SignFlip(nn.Module):
    """Data-dependent Python control flow: vmap cannot batch it (the loop fallback must)."""

    def __init__(self, d: int = 3) -> None:
        super().__init__()
        self.lin = nn.Linear(d, 1)

    def forward(self, x: Tensor) -> Tensor:
        y = self.lin(x)
        return y if bool(y.sum() > 0) else -y


def cnn(seed: int) -> nn.Module:
    return SmallCNN()


def residual_ln(seed: int) -> nn.Module:
    return ResidualLN()


def transformer(seed: int) -> nn.Module:
    return TinyTransformer()


#: name -> (factory, input_shape)
NETWORKS = {
    "cnn": (cnn, (1, 4, 4)),
    "residual_ln": (residual_ln, (3,)),
    "transformer": (transformer, (3, 2)),
}
