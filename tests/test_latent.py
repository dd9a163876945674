"""Latent paths: slerp keeps the norm of Gaussian vectors where lerp shrinks it."""

import torch

from ganlab.latent import lerp, line, loop_path, slerp


def test_slerp_keeps_norm_lerp_shrinks_it():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(256, 100, generator=g), torch.randn(256, 100, generator=g)
    ends = (a.norm(dim=1) + b.norm(dim=1)) / 2
    mid_s, mid_l = slerp(a, b, 0.5).norm(dim=1), lerp(a, b, 0.5).norm(dim=1)
    # two independent 100-d Gaussians are nearly orthogonal: the chord midpoint has ~1/sqrt(2) the norm
    assert torch.allclose(mid_s, ends, rtol=0.05)
    assert (mid_l / ends).mean().item() < 0.75


def test_slerp_endpoints_and_parallel_vectors():
    a, b = torch.randn(3, 8), torch.randn(3, 8)
    assert torch.allclose(slerp(a, b, 0.0), a, atol=1e-5)
    assert torch.allclose(slerp(a, b, 1.0), b, atol=1e-5)
    assert torch.allclose(slerp(a, 2 * a, 0.5), 1.5 * a, atol=1e-4)  # no NaN when the angle is 0


def test_loop_path_passes_every_point_and_returns():
    points = torch.randn(4, 10)
    path = loop_path(points, 5, "slerp")
    assert path.shape == (20, 10)
    for i in range(4):
        assert torch.allclose(path[i * 5], points[i], atol=1e-5)
    # the last frame is one step before the first point again: the GIF loops without a repeated frame
    assert not torch.allclose(path[-1], points[0])


def test_line_includes_both_ends():
    a, b = torch.randn(10), torch.randn(10)
    steps = line(a, b, 10, "lerp")
    assert steps.shape == (10, 10)
    assert torch.allclose(steps[0], a) and torch.allclose(steps[-1], b)
