"""Fixed-length segments sampled from episodes, with the recency weighting of REFERENCE.md section 3.

A segment of length ``L`` ends at a transition ``e`` (1 <= e <= T) of an episode: it holds the frames
``e - L .. e`` (``L + 1`` frames) and the steps ``e - L .. e - 1``. Near the episode start the missing
frames and steps are zero-padded and ``mask`` is False there. So with ``L = 4`` a segment is exactly one
world-model example: four context frames and actions, and the next frame as the target.

Recency: the newest ``recent_fraction`` (a quarter) of all transitions gets ``recent_weight`` (70%) of
the sampling probability, the rest is uniform over the older transitions.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from jedi_play.data.episode import Episode


@dataclass
class Segment:
    """A batch of segments; ``mask`` is False on padding before an episode's first frame."""

    frames: np.ndarray  # (B, L + 1, H, W, 3) uint8
    actions: np.ndarray  # (B, L) int64
    rewards: np.ndarray  # (B, L) float32
    terminated: np.ndarray  # (B, L) bool
    truncated: np.ndarray  # (B, L) bool
    life_loss: np.ndarray  # (B, L) bool
    mask: np.ndarray  # (B, L + 1) bool; step j is real exactly when frame j is


class SegmentSampler:
    """Samples ``Segment`` batches from a growing list of episodes."""

    def __init__(
        self,
        length: int,
        episodes: Iterable[Episode] = (),
        *,
        recent_fraction: float = 0.25,
        recent_weight: float = 0.7,
        seed: int | None = None,
    ) -> None:
        if length < 1:
            raise ValueError("segment length must be at least 1")
        if not (0 < recent_fraction <= 1 and 0 <= recent_weight <= 1):
            raise ValueError("recent_fraction must be in (0, 1] and recent_weight in [0, 1]")
        self.length = length
        self.recent_fraction = recent_fraction
        self.recent_weight = recent_weight
        self.rng = np.random.default_rng(seed)
        self.episodes: list[Episode] = []
        self._starts = np.zeros(1, dtype=np.int64)  # global index of each episode's first transition
        for episode in episodes:
            self.add(episode)

    def add(self, episode: Episode) -> None:
        """Append a newly collected episode (it becomes the most recent data)."""
        self.episodes.append(episode)
        self._starts = np.append(self._starts, self._starts[-1] + len(episode))

    @property
    def num_transitions(self) -> int:
        return int(self._starts[-1])

    def _split(self) -> int:
        """Global index where the recent transitions begin."""
        n = self.num_transitions
        return n - max(1, math.ceil(n * self.recent_fraction))

    def transition_weights(self) -> np.ndarray:
        """Probability of each transition (in collection order) ending a sampled segment."""
        n, split = self.num_transitions, self._split()
        if split == 0:
            return np.full(n, 1.0 / n)
        w = np.empty(n)
        w[:split] = (1 - self.recent_weight) / split
        w[split:] = self.recent_weight / (n - split)
        return w

    def sample_indices(self, batch_size: int) -> np.ndarray:
        """Global transition indices drawn with the recency weighting."""
        n, split = self.num_transitions, self._split()
        if n == 0:
            raise ValueError("cannot sample from an empty replay")
        if split == 0:
            return self.rng.integers(0, n, batch_size)
        recent = self.rng.random(batch_size) < self.recent_weight
        return np.where(recent, self.rng.integers(split, n, batch_size), self.rng.integers(0, split, batch_size))

    def sample(self, batch_size: int) -> Segment:
        """A batch of ``batch_size`` segments of ``length`` steps."""
        return self.segments_at(self.sample_indices(batch_size))

    def segments_at(self, indices: np.ndarray) -> Segment:
        """The segments ending at the given global transition indices."""
        ep_ids = np.searchsorted(self._starts, indices, side="right") - 1
        L = self.length
        h, w, c = self.episodes[0].frames.shape[1:]
        b = len(indices)
        out = Segment(
            frames=np.zeros((b, L + 1, h, w, c), np.uint8),
            actions=np.zeros((b, L), np.int64),
            rewards=np.zeros((b, L), np.float32),
            terminated=np.zeros((b, L), bool),
            truncated=np.zeros((b, L), bool),
            life_loss=np.zeros((b, L), bool),
            mask=np.zeros((b, L + 1), bool),
        )
        for i, (ep_id, index) in enumerate(zip(ep_ids, indices)):
            ep = self.episodes[ep_id]
            end = int(index - self._starts[ep_id]) + 1  # the transition's next frame, 1..T
            start = end - L
            pad = max(0, -start)
            out.frames[i, pad:] = ep.frames[start + pad : end + 1]
            out.mask[i, pad:] = True
            for name in ("actions", "rewards", "terminated", "truncated", "life_loss"):
                getattr(out, name)[i, pad:] = getattr(ep, name)[start + pad : end]
        return out
