from __future__ import annotations

import pytest
import torch

from core.training.averaging import WeightAverage


def _net(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Conv2d(1, 3, 3), torch.nn.BatchNorm2d(3))


def test_the_average_is_the_plain_mean_of_the_weights_added():
    nets = [_net(s) for s in range(3)]
    for i, net in enumerate(nets):
        net[1].num_batches_tracked.fill_(10 * (i + 1))
    average = WeightAverage()
    for net in nets:
        average.add(net)
    state = average.state_dict(_net(9))
    assert average.count == 3
    for name, value in nets[0].state_dict().items():
        if value.is_floating_point():
            expected = torch.stack([n.state_dict()[name] for n in nets]).mean(0)
            assert torch.allclose(state[name], expected, atol=1e-6), name
    assert state["1.num_batches_tracked"].item() == 30  # integer buffers: the latest value
    assert state["1.num_batches_tracked"].dtype == torch.long


def test_the_average_is_a_copy_not_a_view_of_the_model():
    net = _net(0)
    average = WeightAverage()
    average.add(net)
    before = average.state_dict(net)["0.weight"].clone()
    with torch.no_grad():
        net[0].weight.add_(1.0)
    assert torch.equal(average.state_dict(net)["0.weight"], before)


def test_a_checkpointed_average_continues_exactly():
    nets = [_net(s) for s in range(4)]
    straight, first = WeightAverage(), WeightAverage()
    for net in nets:
        straight.add(net)
    for net in nets[:2]:
        first.add(net)
    resumed = WeightAverage.from_checkpoint(first.to_checkpoint())
    for net in nets[2:]:
        resumed.add(net)
    assert resumed.count == 4
    a, b = straight.state_dict(nets[0]), resumed.state_dict(nets[0])
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert WeightAverage.from_checkpoint(None).count == 0


def test_an_empty_average_cannot_be_loaded():
    with pytest.raises(ValueError, match="no weights"):
        WeightAverage().state_dict(_net(0))
