"""The one loss vocabulary of flatstart.montecarlo.losses: formulas, names and old spellings."""

from __future__ import annotations

import pytest
import torch

from flatstart.montecarlo.curvature import flat_function_batch
from flatstart.montecarlo.losses import LOSSES, check_loss, network_loss, per_sample_loss
from flatstart.montecarlo.networks import mlps

F64 = torch.float64


def _out_y(k: int = 3, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(2, 5, k, generator=g, dtype=F64), torch.randn(5, k, generator=g, dtype=F64)


def test_every_loss_against_its_formula() -> None:
    out, y = _out_y()
    r = out - y
    sq = r.square()
    expected = {
        "mse": sq.mean(dim=(1, 2)),
        "half_mse": 0.5 * sq.mean(dim=(1, 2)),
        "half_sq_norm": 0.5 * sq.sum(dim=2).mean(dim=1),
        "half_sq_norm_sum": 0.5 * sq.sum(dim=(1, 2)),
    }
    for name, ref in expected.items():
        torch.testing.assert_close(network_loss(out, y, name), ref, rtol=1e-14, atol=0)
    signs = torch.sign(y)
    torch.testing.assert_close(network_loss(out, signs, "logistic"),
                               torch.log1p(torch.exp(-signs * out)).mean(dim=(1, 2)))
    labels = torch.tensor([0, 2, 1, 1, 0])
    ce = torch.stack([torch.nn.functional.cross_entropy(out[n], labels) for n in range(2)])
    torch.testing.assert_close(network_loss(out, labels, "cross_entropy"), ce)
    torch.testing.assert_close(network_loss(out, labels.expand(2, 5), "cross_entropy"), ce)
    # the losses differ for k > 1 outputs: a mutant that confuses two names is caught
    assert not torch.allclose(expected["mse"], 2 * expected["half_sq_norm"])
    assert set(LOSSES) == set(expected) | {"logistic", "cross_entropy"}


def test_per_sample_loss_shapes_and_scalar_output_coincidence() -> None:
    out, y = _out_y(k=1)
    assert per_sample_loss(out, y, "mse").shape == (2, 5)
    torch.testing.assert_close(network_loss(out, y, "half_mse"),
                               network_loss(out, y, "half_sq_norm"), rtol=0, atol=0)
    with pytest.raises(ValueError, match="loss must be one of"):
        per_sample_loss(out, y, "sum")


def test_check_loss_aliases_refusals_and_exclusions() -> None:
    assert check_loss("half_mse") == "half_mse"
    assert check_loss("sum", aliases={"sum": "half_sq_norm_sum"}) == "half_sq_norm_sum"
    with pytest.raises(ValueError, match="ambiguous in f: it used to mean 'half_sq_norm'"):
        check_loss("mse", refused={"mse": "half_sq_norm"}, where="f")
    with pytest.raises(ValueError, match="loss must be one of"):
        check_loss("cross_entropy", exclude=("cross_entropy",))
    with pytest.raises(ValueError, match="loss must be one of"):
        check_loss(3)
    with pytest.raises(ValueError, match="old spellings"):
        check_loss("l1", aliases={"sum": "half_sq_norm_sum"})


def test_flat_function_batch_takes_every_name() -> None:
    nets = mlps(2, 4, 2, input_dim=3, output_dim=3, seed=0)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(5, 3, generator=g, dtype=F64)
    y = torch.randn(5, 3, generator=g, dtype=F64)
    out = nets.forward(x)
    for name in ("mse", "half_mse", "half_sq_norm", "half_sq_norm_sum"):
        f, theta = flat_function_batch(nets, x, y, loss=name)
        torch.testing.assert_close(f(theta), network_loss(out, y, name), rtol=0, atol=0)
    with pytest.raises(ValueError, match="loss must be one of"):
        flat_function_batch(nets, x, y, loss="sum")
