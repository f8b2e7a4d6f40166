from __future__ import annotations

import pytest
import torch

from core.errors import InvalidInputError
from core.training.batch import CPU_MAX_BATCH, activation_bytes_per_sample, choose_batch_size
from core.training.bn import recalibrate_batchnorm
from core.training.device import cpu_bf16_ok, pick_device
from core.training.lr_range import DEFAULT_LR, lr_range_test


def test_pick_device_cpu_and_bad_values():
    choice = pick_device("cpu")
    assert choice.device.type == "cpu"
    use_bf16, reason = cpu_bf16_ok()
    assert (choice.amp_dtype == torch.bfloat16) == use_bf16 and reason
    assert choice.channels_last == torch.backends.mkldnn.is_available()  # oneDNN's own layout, bf16 or not
    with pytest.raises(InvalidInputError, match="auto, cpu or cuda|'auto', 'cpu', 'cuda'"):
        pick_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(InvalidInputError, match="no CUDA GPU"):
            pick_device("cuda")


def test_batch_size_follows_the_ram_budget():
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(8, 1, 1))
    choice = pick_device("cpu")
    per_sample = activation_bytes_per_sample(model, 1, 32, choice)
    assert per_sample >= 32 * 32 * 8 * 4  # at least the ReLU output of one sample
    assert choose_batch_size(model, 1, 32, choice, ram_budget_bytes=1) == 1
    assert choose_batch_size(model, 1, 32, choice, ram_budget_bytes=2 * per_sample * 3) == 3
    assert choose_batch_size(model, 1, 32, choice, ram_budget_bytes=10**12) == CPU_MAX_BATCH


def _regression():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 4, generator=g)
    y = x @ torch.tensor([1.0, -2.0, 0.5, 3.0])
    model = torch.nn.Linear(4, 1)

    def step(optimizer, i):
        loss = ((model(x).squeeze(1) - y) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return float(loss.detach())

    return model, step


def test_lr_range_test_picks_a_rate_and_restores_the_weights():
    torch.manual_seed(0)
    model, step = _regression()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    result = lr_range_test(model, lambda m, lr: torch.optim.AdamW(m.parameters(), lr=lr), step, n_steps=40)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert len(result.lrs) == len(result.losses) >= 4
    assert result.lrs == sorted(result.lrs)
    assert 1e-4 <= result.lr <= 5e-3 and result.reason


def test_lr_range_test_falls_back_when_the_loss_does_not_fall():
    model = torch.nn.Linear(2, 1)
    result = lr_range_test(model, lambda m, lr: torch.optim.SGD(m.parameters(), lr=lr), lambda o, i: 1.0, n_steps=10)
    assert result.lr == DEFAULT_LR and "did not fall" in result.reason


def test_precise_batchnorm_matches_the_batches():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 1), torch.nn.BatchNorm2d(2))
    batches = [torch.randn(4, 1, 8, 8) * 3 + 5 for _ in range(3)]
    assert recalibrate_batchnorm(model, batches) == 3
    bn = model[1]
    with torch.no_grad():
        feats = torch.cat([model[0](b) for b in batches])
    assert torch.allclose(bn.running_mean, feats.mean((0, 2, 3)), atol=1e-4)
    assert bn.momentum == 0.1
