"""Replay data: the episode folder, the segment sampler and the collectors."""

from trainer.data.sampler import Segment, SegmentSampler
from trainer.data.store import EpisodeStore

__all__ = ["EpisodeStore", "Segment", "SegmentSampler"]
