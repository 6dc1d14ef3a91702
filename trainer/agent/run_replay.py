"""A whole-agent run's real episodes, the same on every rank: rank 0 stores each one in ``RUN_DIR/replay`` as
it ends (atomically, ``trainer.data.store``), and every rank samples its batches from all of them."""

from __future__ import annotations

from pathlib import Path

from trainer.data.sampler import SegmentSampler
from jedi_play.data.episode import Episode
from trainer.data.store import EpisodeStore
from trainer.distributed import DistributedContext, broadcast


class RunReplay:
    """The run's episodes in two segment samplers: world-model segments (``num_cond_steps`` context frames, the
    next frame and the one after) and the real contexts that start an imagination (``num_cond_steps`` frames).

    Rank 0 opens the store and sends the other ranks its episodes, then each one it finishes (``share``).
    """

    def __init__(self, replay_dir: Path, game: str, action_meanings: list[str], num_cond_steps: int, seed: int, dist: DistributedContext) -> None:
        self.dist = dist
        self.store: EpisodeStore | None = None  # rank 0's
        episodes: list[Episode] = []
        if dist.is_main:
            self.store = EpisodeStore.create(replay_dir, game, action_meanings)
            episodes = self.store.load_all()
        episodes = broadcast(episodes, dist)
        self.num_episodes = len(episodes)
        self.stored_steps = sum(len(e) for e in episodes)
        self.shared_steps = self.stored_steps  # the other ranks' view of the run's real steps, sent by rank 0
        self._unshared: list[Episode] = []  # finished on rank 0 since the last share
        self.wm_sampler = SegmentSampler(num_cond_steps + 1, episodes, seed=seed)
        self.context_sampler = SegmentSampler(num_cond_steps - 1, episodes, seed=seed + 1)

    def add(self, episode: Episode) -> None:
        """A finished episode is on disk (rank 0) or has arrived (the others): sample from it from now on."""
        self.num_episodes += 1
        self.stored_steps += len(episode)
        self.wm_sampler.add(episode)
        self.context_sampler.add(episode)
        if self.dist.is_main and self.dist.enabled:
            self._unshared.append(episode)

    def share(self, env_steps: int) -> None:
        """Send the other ranks the episodes rank 0 finished since the last call and its ``env_steps`` (a no-op
        in a single process); every rank calls it at the same point."""
        if not self.dist.enabled:
            return
        episodes, self.shared_steps = broadcast((self._unshared, env_steps), self.dist)
        self._unshared = []
        if not self.dist.is_main:
            for episode in episodes:
                self.add(episode)
