from __future__ import annotations

import pytest
import torch

from core.training.losses import instance_loss, loss_from_maps, lovasz_hinge, semantic_loss
from core.training.models import logits_to_maps


def _semantic_case():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 2, 16, 16, generator=g, requires_grad=True)
    mask = (torch.rand(2, 2, 16, 16, generator=g) > 0.5).float()
    valid = torch.zeros(2, 16, 16, dtype=torch.bool)
    valid[:, :8] = True
    return logits, mask, valid


def test_semantic_ignore_mask_pixels_contribute_nothing():
    logits, mask, valid = _semantic_case()
    loss = semantic_loss(logits, mask, valid)
    loss.backward()
    assert torch.all(logits.grad[:, :, 8:] == 0)
    assert torch.any(logits.grad[:, :, :8] != 0)
    # changing targets and logits outside the valid area leaves the loss unchanged
    mask2, logits2 = mask.clone(), logits.detach().clone()
    mask2[:, :, 8:] = 1 - mask2[:, :, 8:]
    logits2[:, :, 8:] = 50.0
    assert torch.allclose(semantic_loss(logits2, mask2, valid), loss.detach())


def test_semantic_loss_is_low_for_a_correct_prediction():
    _, mask, valid = _semantic_case()
    good = semantic_loss((mask * 2 - 1) * 10, mask, valid)
    bad = semantic_loss((1 - 2 * mask) * 10, mask, valid)
    assert good < 0.05 < 1.0 < bad


def test_lovasz_hinge_by_hand():
    # logits 0.5 (object) and 0.0 (background): hinge errors 0.5 and 1.0; sorted, the background pixel comes
    # first and costs IoU loss 1/2 when wrong, the object pixel the other 1/2: 1.0 * 0.5 + 0.5 * 0.5
    target = torch.tensor([1.0, 0.0]).reshape(1, 1, 1, 2)
    everywhere = torch.ones(1, 1, 2, dtype=torch.bool)
    assert lovasz_hinge(torch.tensor([0.5, 0.0]).reshape(1, 1, 1, 2), target, everywhere).item() == 0.75
    # margins of at least 1 on the right side: no loss
    assert lovasz_hinge(torch.tensor([3.0, -2.0]).reshape(1, 1, 1, 2), target, everywhere).item() == 0.0
    # only the object pixel valid: its error 0.5 is the whole IoU loss
    first = torch.tensor([True, False]).reshape(1, 1, 2)
    assert lovasz_hinge(torch.tensor([0.5, 0.0]).reshape(1, 1, 1, 2), target, first).item() == 0.5
    # nothing valid: zero, still differentiable
    logits = torch.zeros(1, 1, 1, 2, requires_grad=True)
    loss = lovasz_hinge(logits, target, torch.zeros(1, 1, 2, dtype=torch.bool))
    loss.backward()
    assert loss.item() == 0.0 and torch.all(logits.grad == 0)


def test_lovasz_hinge_pushes_the_wrong_pixels():
    logits, mask, valid = _semantic_case()
    lovasz_hinge(logits, mask, valid).backward()
    wrong = ((logits.detach() > 0).float() != mask) & valid.unsqueeze(1)
    # gradient descent raises the logits of wrongly negative pixels and lowers those of wrongly positive ones
    assert torch.all(logits.grad[wrong & (mask == 1)] <= 0)
    assert torch.all(logits.grad[wrong & (mask == 0)] >= 0)
    assert torch.any(logits.grad[wrong] != 0)


def test_instance_ignore_mask_and_distance_term():
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(2, 4, 16, 16, generator=g, requires_grad=True)  # 1 label: 3 classes + distance
    cls = torch.randint(0, 3, (2, 1, 16, 16), generator=g)
    dist = torch.rand(2, 1, 16, 16, generator=g)
    valid = torch.ones(2, 16, 16, dtype=torch.bool)
    valid[:, :, :5] = False
    loss = instance_loss(logits, cls, valid, dist)
    loss.backward()
    assert torch.all(logits.grad[..., :5] == 0)
    assert torch.any(logits.grad[:, 3] != 0)  # the distance channel is trained
    assert instance_loss(logits.detach(), cls, valid, None) < loss.detach()


def test_loss_from_maps_equals_loss_from_logits():
    g = torch.Generator().manual_seed(2)
    logits = torch.randn(1, 4, 8, 8, generator=g)
    cls = torch.randint(0, 3, (1, 1, 8, 8), generator=g)
    dist = torch.rand(1, 1, 8, 8, generator=g)
    valid = torch.rand(1, 8, 8, generator=g) > 0.3
    maps = logits_to_maps(logits, "instance", 1, distance=True)
    a = instance_loss(logits, cls, valid, dist)
    b = loss_from_maps(maps, {"cls": cls, "valid": valid, "dist": dist}, "instance")
    assert torch.allclose(a, b, atol=1e-4)
    mask = (torch.rand(1, 4, 8, 8, generator=g) > 0.5).float()
    a = semantic_loss(logits, mask, valid)
    b = loss_from_maps(logits_to_maps(logits, "semantic", 4, distance=False), {"mask": mask, "valid": valid}, "semantic")
    assert torch.allclose(a, b, atol=1e-4)


def test_instance_weights_scale_each_pixels_focal_and_distance_terms():
    g = torch.Generator().manual_seed(3)
    logits = torch.randn(1, 4, 8, 8, generator=g)
    cls = torch.randint(0, 3, (1, 1, 8, 8), generator=g)
    dist = torch.rand(1, 1, 8, 8, generator=g)
    valid = torch.ones(1, 8, 8, dtype=torch.bool)
    plain = instance_loss(logits, cls, valid, dist)
    assert torch.allclose(instance_loss(logits, cls, valid, dist, torch.ones(1, 1, 8, 8)), plain)
    heavy = torch.ones(1, 1, 8, 8)
    heavy[..., 3:5, :] = 5.0  # a contact band
    weighted = instance_loss(logits.clone().requires_grad_(), cls, valid, dist, heavy)
    assert weighted > plain
    # the distance channel (no Dice term) of a band pixel gets five times the gradient
    x = logits.clone().requires_grad_()
    instance_loss(x, cls, valid, dist, heavy).backward()
    y = logits.clone().requires_grad_()
    instance_loss(y, cls, valid, dist).backward()
    band_x, band_y = float(x.grad[:, 3, 3:5].abs().sum()), float(y.grad[:, 3, 3:5].abs().sum())
    assert band_x == pytest.approx(5 * band_y, rel=1e-4)
    # validation computes the same weighted loss from maps
    maps = logits_to_maps(logits, "instance", 1, distance=True)
    from_maps = loss_from_maps(maps, {"cls": cls, "valid": valid, "dist": dist, "weight": heavy}, "instance")
    assert torch.allclose(from_maps, weighted.detach(), atol=1e-4)


def test_ray_loss_by_hand_on_uncut_object_rays():
    from core.training.losses import ray_loss

    k = 16
    cls = torch.zeros(1, 1, 4, 4, dtype=torch.long)
    cls[0, 0, 1:3, 1:3] = 1  # four object pixels
    dist = torch.zeros(1, 1, 4, 4)
    dist[0, 0, 1:3, 1:3] = torch.tensor([[1.0, 0.5], [0.5, 0.5]])
    rays = torch.full((1, k, 4, 4), 2.0)
    valid = torch.ones(1, 4, 4, dtype=torch.bool)
    cut = torch.zeros(1, k, 4, 4, dtype=torch.bool)
    targets = {"cls": cls, "dist": dist, "valid": valid, "rays": rays, "ray_cut": cut}
    assert float(ray_loss(rays.clone(), targets)) == 0.0
    pred = rays.clone()
    pred[0, 0, 1, 1] = 5.0  # 3 px off on one ray of the centre pixel (weight 1)
    total_weight = k * (1.0 + 3 * 0.5)
    assert float(ray_loss(pred, targets)) == pytest.approx(3.0 / total_weight)
    pred[0, :, 0, 0] = 100.0  # a background pixel: not counted
    assert float(ray_loss(pred, targets)) == pytest.approx(3.0 / total_weight)
    cut[0, 0, 1, 1] = True  # that ray left the patch: its length is unknown
    assert float(ray_loss(pred, targets)) == pytest.approx(0.0)
    valid[0, 1, 2] = False  # an unannotated pixel counts nothing either
    pred[0, 3, 1, 2] = 7.0
    assert float(ray_loss(pred, targets)) == pytest.approx(0.0)
    # without a distance head every object pixel counts once
    no_dist = {key: value for key, value in targets.items() if key != "dist"}
    pred[0, 5, 2, 2] = 4.0
    assert float(ray_loss(pred, no_dist)) == pytest.approx(2.0 / (k * 3 - 1))
    # rays given on every 2nd pixel are compared with the network's rays there
    pred = rays.clone()
    pred[0, 2, 2, 2] = 3.0  # on the grid: object pixel (2, 2), weight 0.5
    pred[0, 2, 1, 2] = 9.0  # off the grid: not compared
    grid = {**targets, "rays": rays[..., ::2, ::2], "ray_cut": torch.zeros(1, k, 2, 2, dtype=torch.bool)}
    assert float(ray_loss(pred, grid)) == pytest.approx(0.5 / (k * 0.5))
