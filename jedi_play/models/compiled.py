"""Compiling a world model's per-frame networks for inference with ``torch.compile`` (inductor, frozen weights).

On a CPU this fuses the many small operations of batch-1 sampling (group norms, activations, the
adaptive norms' scale and shift) around oneDNN convolutions; on the 2-core benchmark machine it lifts
JEDI's dream from about 50 to about 65 frames per second. It needs a C++ compiler and takes tens of
seconds the first time (inductor caches the result on disk), so callers compile in the background and
keep using the eager networks until it is done. Frozen weights: compile only a model that is no longer
being trained.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from jedi_play.dream.dream_env import DreamEnv
from jedi_play.models.world_model import WorldModel

# the networks called for every dreamed frame, by attribute path on the world model
PER_FRAME_NETWORKS = ("denoiser.inner", "decoder")


def process_wide_traces() -> list[Callable[[], object]]:
    """Inductor's one-off ``torch.fx.symbolic_trace`` calls, imported here (slow), for the caller to run once
    where no module is being called.

    Such a trace patches ``torch.nn.Module.__call__`` for every thread while it runs: a module called on
    another thread meanwhile raises ``NameError: module is not installed as a submodule``. Inductor caches
    the result for the process, so once it has run on the thread that plays, compiling on another thread no
    longer traces that way. Empty where this torch has no such trace.
    """
    try:
        from torch._inductor.loop_body import InterpreterShim
    except ImportError:
        return []
    dummy_graph = getattr(InterpreterShim, "_dummy_gm", None)  # symbolic_trace(identity), functools.cache'd
    return [dummy_graph] if callable(dummy_graph) else []


def compile_for_inference(model: WorldModel, example_frames: torch.Tensor, example_actions: torch.Tensor, warmup_steps: int = 3) -> None:
    """Replace ``model``'s per-frame networks by compiled ones and compile them now.

    ``example_frames`` (B, n, H, W, 3) uint8 and ``example_actions`` (B, n) are a context to compile on,
    at the batch size that will be used. A few dream steps from it compile every variant the dream
    meets (the first step's inputs are laid out differently from the later ones'); sampling results
    are unchanged. Raises whatever ``torch.compile`` raises where it cannot work (no compiler, platform).
    """
    for path in PER_FRAME_NETWORKS:
        owner_path, _, name = path.rpartition(".")
        owner = model.get_submodule(owner_path) if owner_path else model
        network = getattr(owner, name, None)
        if isinstance(network, torch.nn.Module):
            setattr(owner, name, torch.compile(network, dynamic=False))
    # freezing (weights as constants, oneDNN weight prepacking) is what makes batch-1 CPU inference fast;
    # it is an inductor setting, applied while the graphs are compiled
    with torch._inductor.config.patch(freezing=True), torch.no_grad():
        dream = DreamEnv(model)
        states = dream.reset_states(example_frames, example_actions)
        model.to_frames(states[:, -1])  # what a reset shows
        for _ in range(warmup_steps):
            nxt, _, _ = dream.step_states(example_actions[:, -1])
            model.to_frames(nxt)  # what a step shows
