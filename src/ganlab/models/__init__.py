"""The models: one package per model, ganlab/models/<name>/, named as in params.yaml.

Each holds params.py (its params class, `Params`; no torch) and variant.py (its networks and
losses, `VARIANT`); base.py and layers.py hold what models share. `REGISTRY[name]` is the
variant class, built with its params: `REGISTRY[name](params)`; `REGISTRY[name].Params`
validates the model's section of params.yaml.

The registry imports a model's package by its name when first asked for it, rather than
listing every model here: a list here would make this file a DVC dep of every model's stages,
and adding a model would rerun them all. Nothing here imports torch, so that params.py
modules import without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping

from ganlab.params import ByModelName

if TYPE_CHECKING:
    from ganlab.models.base import Variant

REGISTRY: Mapping[str, type[Variant]] = ByModelName("variant", "VARIANT")
