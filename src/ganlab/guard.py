"""Razzaq's loss-bounds guard against mode collapse.

While both losses sit in their "healthy" ranges the guard keeps a copy of G's and D's weights;
when a network's loss leaves its wider "bounds", that network is rolled back to the copy and
training goes on. The ranges are for the non-saturating BCE losses of DCGAN-like models: set
them per model, since Wasserstein losses live on another scale.
"""

from __future__ import annotations

import torch

from ganlab.model_params import GuardParams


def _copy(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


class LossGuard:
    """Keeps the last in-bounds weights of G and D and restores whichever network strays."""

    def __init__(self, p: GuardParams, G: torch.nn.Module, D: torch.nn.Module):
        self.p, self.G, self.D = p, G, D
        self.saved: dict[str, dict[str, torch.Tensor]] | None = None
        self.restores = {"G": 0, "D": 0}

    def after_step(self, losses: dict[str, float]) -> None:
        if not self.p.enabled:
            return
        d, g = losses["loss_d"], losses["loss_g"]
        inside = lambda x, r: r[0] <= x <= r[1]  # noqa: E731
        if inside(d, self.p.keep_d) and inside(g, self.p.keep_g):
            self.saved = {"G": _copy(self.G), "D": _copy(self.D)}
        elif self.saved is not None:
            if not inside(d, self.p.bounds_d):
                self.D.load_state_dict(self.saved["D"])
                self.restores["D"] += 1
            if not inside(g, self.p.bounds_g):
                self.G.load_state_dict(self.saved["G"])
                self.restores["G"] += 1

    def state_dict(self) -> dict:
        return {"saved": self.saved, "restores": dict(self.restores)}

    def load_state_dict(self, state: dict) -> None:
        self.saved, self.restores = state["saved"], dict(state["restores"])
