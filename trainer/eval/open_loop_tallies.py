"""What an open-loop rollout says about playability, beyond whole-frame PSNR (part of ``jedi-eval playability``).

Whole-frame PSNR is dominated by a black background and static scenery: a dream that loses the player's
sprite scores nearly as well as one that keeps it. These tallies look where the game moves and at what
the player feels:

- ``MovingPixelTally``: PSNR restricted to the pixels that changed between the real frame and the real
  frame before it (the player, enemies, a ball), beside copy-last-frame on the same pixels;
- ``OutcomeTally``: reward events and life losses, as the dream predicts them (the app's most likely
  reward sign and end) against the real game's, over the rollout's open-loop window. An event counts as
  recalled when the dream predicts the same sign (an end) within ``tolerance`` steps of the real one, and a
  dreamed event as precise when the real game has one within ``tolerance`` steps of it.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from jedi_play.models.jedi import moved_pixels


def psnr(mse: float) -> float:
    """10 log10(1 / MSE) for pixels in [0, 1]; infinite for a perfect match."""
    return 10 * math.log10(1 / mse) if mse > 0 else float("inf")


class MovingPixelTally:
    """Squared errors at one horizon on the real frame's moving pixels, for the dream and for copy-last."""

    def __init__(self) -> None:
        self.pixels = 0
        self.sq_dream = self.sq_copy = 0.0

    def add(self, dream: Tensor, real: Tensor, real_before: Tensor, last_context: Tensor) -> None:
        """Frames ``(B, H, W, 3)`` in [0, 1]: the dreamed frame, the real frame at the same step, the real frame
        one step before it (which defines what moved) and the context's last real frame (copy-last)."""
        as_chw = lambda x: x.movedim(-1, 1) * 2 - 1  # noqa: E731  (B, 3, H, W) in [-1, 1], as moved_pixels reads it
        mask = moved_pixels(as_chw(real), as_chw(real_before))[:, 0]  # (B, H, W)
        self.pixels += int(mask.sum())
        self.sq_dream += float((dream - real).pow(2).mean(-1)[mask].sum())
        self.sq_copy += float((last_context - real).pow(2).mean(-1)[mask].sum())

    def result(self) -> dict[str, float | int | None]:
        if not self.pixels:
            return {"psnr": None, "psnr_copy_last": None, "pixels": 0}
        return {"psnr": psnr(self.sq_dream / self.pixels), "psnr_copy_last": psnr(self.sq_copy / self.pixels), "pixels": self.pixels}


def matched_events(events: Tensor, others: Tensor, valid: Tensor, tolerance: int) -> Tensor:
    """``(B, T)`` bool: where ``events`` (``(B, T)`` ints, 0 = none) has an event that ``others`` shows with the same
    value within ``tolerance`` steps, over the ``valid`` steps of each row."""
    hit = torch.zeros_like(valid)
    length = events.shape[1]
    for shift in range(-tolerance, tolerance + 1):
        lo, hi = max(0, -shift), min(length, length - shift)  # steps t whose t + shift lies in the window
        same = (others[:, lo + shift : hi + shift] == events[:, lo:hi]) & valid[:, lo + shift : hi + shift]
        hit[:, lo:hi] |= same
    return hit & (events != 0) & valid


class OutcomeTally:
    """Recall and precision of reward signs and of life losses over open-loop windows."""

    def __init__(self, tolerance: int = 1) -> None:
        self.tolerance = tolerance
        self.counts = {k: 0 for k in ("reward_real", "reward_recalled", "reward_dream", "reward_precise", "end_real", "end_recalled", "end_dream", "end_precise")}

    def add(self, real_reward: Tensor, dream_reward: Tensor, real_end: Tensor, dream_end: Tensor, valid: Tensor) -> None:
        """``(B, T)`` windows: reward signs (-1, 0, 1), ends (bool) and which steps the real episode has."""
        pairs = {"reward": (real_reward.sign().long(), dream_reward.sign().long()), "end": (real_end.long(), dream_end.long())}
        for name, (real, dream) in pairs.items():
            real, dream = real * valid, dream * valid
            self.counts[f"{name}_real"] += int((real != 0).sum())
            self.counts[f"{name}_dream"] += int((dream != 0).sum())
            self.counts[f"{name}_recalled"] += int(matched_events(real, dream, valid, self.tolerance).sum())
            self.counts[f"{name}_precise"] += int(matched_events(dream, real, valid, self.tolerance).sum())

    def result(self) -> dict[str, dict[str, float | int | None]]:
        c = self.counts
        share = lambda k, n: c[k] / c[n] if c[n] else None  # noqa: E731
        return {
            name: {
                "real_events": c[f"{key}_real"],
                "dream_events": c[f"{key}_dream"],
                "recall": share(f"{key}_recalled", f"{key}_real"),
                "precision": share(f"{key}_precise", f"{key}_dream"),
            }
            for name, key in (("rewards", "reward"), ("life_losses", "end"))
        } | {"tolerance_steps": self.tolerance}
