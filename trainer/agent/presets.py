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


# The `cpu` preset until 2026-12-03 (the runs docs/agents.md reports under `cpu` before then): a fifth of the
# data, 1/17 of the world-model updates and 1/50 of the agent's, smaller imagined batches; world-model lr
# 3e-4 (as in the world-model fidelity runs) to make up a little. At these few thousand updates the paper's
# denoiser hardly learns what the action does, so the world model regresses the next latent's mean (a
# 96-channel mean predictor) and diffuses the residual, on normalised latent changes, with a 96-channel
# denoiser that makes an imagined step about 1.6 times cheaper than the paper's 160 (docs/agents.md). The
# agent waits 20 epochs (480 world-model updates) before it learns: at lr 1e-3 an agent trained from the
# first epoch on an untrained reward model's rewards fell to entropy 1.1 (ln 9 = 2.197) by epoch 4. The
# agent learns at lr 1e-3: on the real game DIAMOND's 1e-4 needed about 1,800 updates to start improving,
# 1e-3 beat random within 1,200. Imagined rewards and ends are the reward/termination model's means, for
# their lower variance. The pixel decoder's gradient reaches the encoder (the paper's ablation, weight 100):
# without it the latents drift to a fixed pattern with a small spread, and after 1,000 updates the dream's
# one-step action effects hardly align with the game's (0.05 on Boxing, 0.29 on Asterix); with it they align
# 0.56 on both (docs/agents.md).
CPU_V1 = Preset(
    env_steps=20_000,
    initial_random_steps=5_000,
    steps_per_epoch=100,
    world_model_updates=24,
    agent_updates=9,
    batch_size=32,
    agent_batch_size=16,
    world_model_lr=3e-4,
    agent_lr=1e-3,
    agent_delay_epochs=20,
    entropy_weight=0.001,
    imagined_outcomes="expected",
    eval_every=25,
    eval_episodes=2,
    checkpoint_minutes=5.0,
    jedi_options=(
        ("latent_norm", True), ("predict_delta", True), ("mean_predictor_channels", (96,)), ("denoiser_channels", (96,)),
        ("decoder_grad_weight", 100.0),
    ),
)

# The `cpu` preset from 2026-12-03 to 2026-12-05: about 35 minutes on two CPU cores (Asterix: 33 min), so a
# run fits in one working session. The bundled Asterix agent's recipe (version 3: 1,000 world-model updates on
# 20,000 random steps, then 700 agent updates in the frozen dream) as one run: the world model first learns
# from the random steps alone (~11 min), then 50 short epochs train the agent in its dream (14 updates each,
# 700 in all, lr 1e-3, entropy weight 0.01) while the world model follows the new data (10 updates each). The
# reward model reads the mean predictor's guess of the next latent, standardised, and imagined rewards and
# ends are its means. The world model regresses the next latent's mean (a 96-channel mean predictor) and
# diffuses the residual, on normalised latent changes, with a 96-channel denoiser; the pixel decoder's
# gradient reaches the encoder (the paper's ablation, weight 100). On Asterix its policy fell to one action
# within 150 updates, as the frozen-dream agent's did, but to RIGHT rather than UPRIGHT: 50.0 over 100
# episodes (docs/agents.md).
CPU_V2 = replace(
    CPU_V1,
    env_steps=25_000,
    initial_random_steps=20_000,
    initial_world_model_updates=1_000,
    world_model_updates=10,
    agent_updates=14,
    agent_delay_epochs=0,
    entropy_weight=0.01,
    jedi_options=(*CPU_V1.jedi_options, ("reward_reads_mean", True), ("reward_reads_standardized", True)),
)

# The `cpu` preset from 2026-12-05 to 2026-12-06, 70 to 95 minutes alone on two CPU cores (Pong: 69 min,
# Breakout: 93). ``cpu-v2`` with the changes its runs called for (docs/agents.md): 40 world-model updates an epoch instead of 10 (Asterix beat random with them); 400 real
# steps an epoch instead of 100, 40,000 in all; a decoder that weighs the pixels that moved 100 times more,
# so that the latents keep Pong's and Breakout's ball; and 50 agent updates an epoch instead of 14, 2,500 in
# all, at one denoising step instead of three (as faithful on Pong, and an agent update about twice as
# cheap): on the real game this actor-critic began to learn Pong only after about 1,600 updates.
CPU_V3 = replace(
    CPU_V2,
    env_steps=40_000,
    steps_per_epoch=400,
    world_model_updates=40,
    agent_updates=50,
    denoising_steps=1,
    jedi_options=(*CPU_V2.jedi_options, ("decoder_motion_weight", 100.0)),
)

# About two hours alone on two CPU cores (Pong: 117 min). ``cpu-v3`` and then 1,000 updates of a fresh
# actor-critic in the final world model's frozen dream (``final_agent_updates``), and the run ends with it. In
# the final dreams of ``cpu-v3`` runs a fresh agent given 1,000 updates beat the uniform random policy on
# Breakout in 3 of 3 (where the runs' own agents did not) and on Pong (where the run's own did too), not on
# Asterix (docs/agents.md, "A fresh agent in the final dream" and after).
CPU = replace(CPU_V3, final_agent_updates=1_000)

PRESETS: dict[str, Preset] = {
    # DIAMOND's budget: 100k steps, ~1000 epochs of 100 steps and 400 updates of each model, batch 32.
    "atari100k": Preset(100_000, 5_000, 100, 400, 400, 32, 32, eval_every=50, eval_episodes=4),
    "cpu": CPU,
    "cpu-v3": CPU_V3,
    "cpu-v2": CPU_V2,
    "cpu-v1": CPU_V1,
    # The `cpu-v1` preset's 150 epochs of updates over Atari 100k's whole 100,000 real steps (collection costs
    # minutes, not hours). Made to test whether more varied data puts the game's rewards in the dream; on
    # Asterix it did not, and the agent scored below the `cpu-v1` run's (docs/agents.md).
    "cpu100k": replace(CPU_V1, env_steps=100_000, initial_random_steps=10_000, steps_per_epoch=600),
    # Seconds: every phase runs once or twice on a real game, with the `cpu` preset's models.
    "smoke": Preset(
        300, 100, 100, 2, 2, 4, 2, horizon=3, imagined_outcomes="expected", eval_every=1, eval_episodes=1, eval_max_steps=50,
        initial_world_model_updates=3, final_agent_updates=2, checkpoint_minutes=0.0, jedi_options=CPU.jedi_options,
    ),
}
