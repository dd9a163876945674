"""Data-parallel training under torchrun: joining the process group, wrapping, unwrapping.

The trainer calls these and nothing else of torch.distributed, so a variant never sees DDP: it
gets the wrapped networks to call and the bare ones to change.
"""

from __future__ import annotations

import os

import torch
from torch import nn


def join(device: torch.device) -> tuple[int, int, torch.device]:
    """(rank, world size, this process's device); joins the process group when launched by torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return 0, 1, device
    if not torch.distributed.is_initialized():
        torch.distributed.init_process_group("nccl" if device.type == "cuda" else "gloo")
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)  # NCCL's object collectives use the current device
    return torch.distributed.get_rank(), world, device


def wrap(module: nn.Module, device: torch.device, world: int) -> nn.Module:
    """The module in DistributedDataParallel (gradients averaged across processes) when world > 1."""
    if world == 1:
        return module
    from torch.nn.parallel import DistributedDataParallel as DDP

    ids = [device.index] if device.type == "cuda" else None
    # progressive growing leaves the layers of later stages unused until they fade in
    return DDP(module, device_ids=ids, find_unused_parameters=True)


def unwrap(module: nn.Module) -> nn.Module:
    """The bare network inside a DDP wrapper (the module itself otherwise)."""
    return getattr(module, "module", module)


def mean(values: dict[str, torch.Tensor], world: int) -> dict[str, torch.Tensor]:
    """Each value averaged over every process (the values themselves when world == 1).

    For decisions every process must take alike: the loss guard rolls a network back on its
    losses, and a rank deciding on its own batch's losses alone would roll back while another
    does not, leaving the ranks' weights apart for good.
    """
    if world == 1:
        return values
    stacked = torch.stack([v.detach().float().reshape(()) for v in values.values()])
    torch.distributed.all_reduce(stacked)
    return dict(zip(values, stacked / world))


def gather_to_all(value, world: int) -> list:
    """[value of process 0, value of process 1, ...] on every process; [value] when world == 1.

    Tensors in `value` come back on the CPU (the checkpoint is written from the first process).
    """
    if world == 1:
        return [value]
    out = [None] * world
    torch.distributed.all_gather_object(out, value)
    return out


def barrier(world: int) -> None:
    if world > 1:
        torch.distributed.barrier()


def leave(world: int) -> None:
    """Wait for every process, then leave the process group."""
    if world > 1:
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
