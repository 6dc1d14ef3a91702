"""Training budgets of ``jedi-train --preset``: the paper's Atari 100k, a CPU budget, and a smoke test."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal


@dataclass(frozen=True)
class Preset:
    """How much of everything one whole-agent run does."""

    env_steps: int  # real agent steps in all (the first ``initial_random_steps`` with the random policy)
    initial_random_steps: int
    steps_per_epoch: int  # real steps collected by the agent (epsilon 0.01) each epoch
    world_model_updates: int  # per epoch (denoiser, reward/termination, and JEDI's encoder together)
    agent_updates: int  # per epoch, each on a batch of imagined rollouts
    batch_size: int  # world-model segments per update
    agent_batch_size: int  # imagined games per agent update
    horizon: int = 15
    world_model_lr: float = 1e-4  # DIAMOND's; the short budgets take bigger steps
    agent_lr: float = 1e-4
    agent_delay_epochs: int = 0  # epochs at the start in which only the world model trains
    # not in DIAMOND: after the last epoch, an actor-critic's updates in the final world model's frozen dream (the
    # run's agent as it was is kept beside it); 0 = none, the run's agent is the one it ends with
    final_agent_updates: int = 0
    # which actor-critic takes them: a fresh one, or the run's own trained further (a fresh optimizer either way)
    final_agent: Literal["fresh", "run"] = "fresh"
    # world-model updates on the random steps before the first epoch (not in DIAMOND's loop, which has none)
    initial_world_model_updates: int = 0
    entropy_weight: float = 0.001  # DIAMOND's (the ``cpu`` preset's comment says why it keeps it)
    normalize_advantages: bool = False  # DIAMOND's actor-critic does not (``ImaginationConfig``)
    agent_epochs: int = 1  # PPO's passes over each imagined batch (``ImaginationConfig.epochs``); DIAMOND's: 1
    agent_minibatches: int = 1  # PPO's optimizer steps a pass, each on its share of the games (``ImaginationConfig.minibatches``)
    denoising_steps: int = 3
    # how imagined rewards and ends come from the reward/termination model: drawn (DIAMOND) or their means
    imagined_outcomes: Literal["sample", "expected"] = "sample"
    eval_every: int = 50  # epochs between evaluations in the real game
    eval_episodes: int = 4
    eval_max_steps: int | None = None  # cut evaluation games short (smoke)
    checkpoint_minutes: float = 10.0
    # JEDI world-model config fields this budget sets (``JEDIConfig``; none of them in the paper), as pairs;
    # the command line's JEDI options override them
    jedi_options: tuple[tuple[str, Any], ...] = ()

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def epochs(self) -> int:
        """Epochs of agent collection after the random steps."""
        return math.ceil((self.env_steps - self.initial_random_steps) / self.steps_per_epoch)

    @property
    def total_agent_updates(self) -> int:
        """Actor-critic updates of a whole run (none in the first ``agent_delay_epochs``)."""
        return self.agent_updates * max(0, self.epochs - self.agent_delay_epochs)


# About two hours alone on two CPU cores (Pong: 117 min, Asterix: 97 to 108, Boxing: 100). DIAMOND's loop at a
# fraction of its budget, with the changes the CPU runs called for (docs/presets.md gives each one's history
# and measurements): 20,000 random steps and 1,000 world-model updates on them before the first epoch; then 50
# epochs of 400 real steps, 40 world-model updates and 50 agent updates (2,500 in all, at lr 1e-3: on the real
# game DIAMOND's 1e-4 needed about 1,800 updates to start improving), each imagined step denoised once, with
# the reward/termination model's means as imagined rewards and ends and entropy weight 0.01; last, a fresh
# actor-critic's 1,000 updates in the final world model's frozen dream, with which the run ends. The JEDI world
# model regresses the next latent's mean (a 96-channel mean predictor) and diffuses the residual, on
# normalised latent changes, with a 96-channel denoiser; its reward model reads the regressed next latent,
# standardised; the pixel decoder's gradient reaches the encoder (the paper's ablation, weight 100), with the
# pixels that moved weighing 100 times more, so that the latents keep a ball of two pixels.
CPU = Preset(
    env_steps=40_000,
    initial_random_steps=20_000,
    steps_per_epoch=400,
    world_model_updates=40,
    agent_updates=50,
    batch_size=32,
    agent_batch_size=16,
    world_model_lr=3e-4,
    agent_lr=1e-3,
    final_agent_updates=1_000,
    initial_world_model_updates=1_000,
    entropy_weight=0.01,
    denoising_steps=1,
    imagined_outcomes="expected",
    eval_every=25,
    eval_episodes=2,
    checkpoint_minutes=5.0,
    jedi_options=(
        ("latent_norm", True), ("predict_delta", True), ("mean_predictor_channels", (96,)), ("denoiser_channels", (96,)),
        ("decoder_grad_weight", 100.0), ("reward_reads_mean", True), ("reward_reads_standardized", True),
        ("decoder_motion_weight", 100.0),
    ),
)

PRESETS: dict[str, Preset] = {
    # DIAMOND's budget: 100k steps, ~1000 epochs of 100 steps and 400 updates of each model, batch 32.
    "atari100k": Preset(100_000, 5_000, 100, 400, 400, 32, 32, eval_every=50, eval_episodes=4),
    "cpu": CPU,
    # Seconds: every phase runs once or twice on a real game, with the `cpu` preset's models.
    "smoke": Preset(
        300, 100, 100, 2, 2, 4, 2, horizon=3, imagined_outcomes="expected", eval_every=1, eval_episodes=1, eval_max_steps=50,
        initial_world_model_updates=3, final_agent_updates=2, checkpoint_minutes=0.0, jedi_options=CPU.jedi_options,
    ),
}

# Earlier forms of the `cpu` preset and a variant of one, retired from the command line; the last commit whose
# jedi-train offers them, to resume their runs (their settings and results: docs/presets.md).
RETIRED_PRESETS: dict[str, str] = {"cpu-v3": "b13d3bb", "cpu-v2": "b13d3bb", "cpu-v1": "b13d3bb", "cpu100k": "b13d3bb"}
