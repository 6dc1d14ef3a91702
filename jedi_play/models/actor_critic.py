"""The agent: an actor-critic that reads the world model's states (frames for DIAMOND, latents for JEDI).

A small CNN (DIAMOND's: 3x3 convolutions, each followed by a 2x max-pool while the map is larger than
4x4) feeds an ``LSTMCell``, whose output drives zero-initialised policy and value heads, so a fresh
agent starts uniform with a zero baseline. Latents are normalised on the way in: JEDI's objective leaves
their scale to training, and the agent should not depend on it. Layer norm over each latent (the first
agents) rescales the fixed pattern JEDI's latents drift to along with their differences; standardising by
the world model's running statistics (``standardize_input``, ``set_input_statistics``) scales the
differences between states to unit spread (docs/agents.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.distributions import Categorical
from torch.nn import functional as F

from jedi_play.models.blocks import Conv2d, zero_init
from jedi_play.models.world_model import JSONConfig, WorldModel

LSTMState = tuple[Tensor, Tensor]


@dataclass(frozen=True)
class ActorCriticConfig(JSONConfig):
    """Sizes of the actor-critic (DIAMOND: channels 32, 32, 64, 64 and an LSTM of 512 units)."""

    num_actions: int
    in_channels: int = 3  # 3 for frames, the latent channels for JEDI
    size: int = 64  # spatial size of a state
    channels: tuple[int, ...] = (32, 32, 64, 64)
    feature_size: int = 4  # the max-pools stop at this size
    lstm_dim: int = 512
    normalize_input: bool = False  # layer norm over each state (JEDI's latents)
    standardize_input: bool = False  # (state - mean) / std with the world model's running statistics

    @classmethod
    def for_world_model(cls, world_model: WorldModel, num_actions: int) -> ActorCriticConfig:
        """The actor-critic that reads this world model's states (DIAMOND: frames; JEDI: latents, standardised
        by the world model's running statistics where it keeps them, else layer-normalised)."""
        with torch.no_grad():
            states = world_model.to_states(torch.zeros(1, 1, 64, 64, 3, dtype=torch.uint8, device=next(world_model.parameters()).device))
        c, h, _ = states.shape[2:]
        standardize = world_model.state_statistics() is not None
        return cls(num_actions, in_channels=c, size=h, normalize_input=h < 64 and not standardize, standardize_input=standardize)


class ActorCritic(nn.Module):
    """``forward(state, lstm_state) -> (policy logits, value, lstm_state)`` for one time step."""

    def __init__(self, cfg: ActorCriticConfig) -> None:
        super().__init__()
        self.cfg = cfg
        layers: list[nn.Module] = [nn.GroupNorm(1, cfg.in_channels, affine=False)] if cfg.normalize_input else []
        size, prev = cfg.size, cfg.in_channels
        for ch in cfg.channels:
            layers.append(Conv2d(prev, ch, 3, padding=1))
            if size > cfg.feature_size:
                layers.append(nn.MaxPool2d(2))
                size //= 2
            layers.append(nn.SiLU())
            prev = ch
        self.encoder = nn.Sequential(*layers, nn.Flatten())
        if cfg.standardize_input:  # set from the world model (``set_input_statistics``), saved with the weights
            self.register_buffer("input_mean", torch.zeros(cfg.in_channels, cfg.size, cfg.size))
            self.register_buffer("input_std", torch.ones(()))
        self.lstm = nn.LSTMCell(prev * size * size, cfg.lstm_dim)
        self.policy_head = zero_init(nn.Linear(cfg.lstm_dim, cfg.num_actions))
        self.value_head = zero_init(nn.Linear(cfg.lstm_dim, 1))

    @torch.no_grad()
    def set_input_statistics(self, mean: Tensor, std: Tensor) -> None:
        """Copy the world model's running state statistics (``WorldModel.state_statistics``) that inputs are standardised by."""
        assert self.cfg.standardize_input, "this agent reads its states unstandardised"
        self.input_mean.copy_(mean)
        self.input_std.copy_(std)

    def sync_input_statistics(self, world_model: WorldModel) -> None:
        """Take the world model's current state statistics, if this agent standardises its inputs (else a no-op)."""
        stats = world_model.state_statistics()
        if self.cfg.standardize_input and stats is not None:
            self.set_input_statistics(*stats)

    def initial_state(self, batch_size: int, device: torch.device | None = None) -> LSTMState:
        zeros = torch.zeros(batch_size, self.cfg.lstm_dim, device=device)
        return zeros, zeros.clone()

    def forward(self, state: Tensor, lstm_state: LSTMState | None = None) -> tuple[Tensor, Tensor, LSTMState]:
        # state (B, C, H, W) -> logits (B, A), value (B,)
        if lstm_state is None:
            lstm_state = self.initial_state(state.shape[0], state.device)
        if self.cfg.standardize_input:
            state = (state - self.input_mean) / self.input_std
        h, c = self.lstm(self.encoder(state), lstm_state)
        return self.policy_head(h).float(), self.value_head(h).squeeze(-1).float(), (h, c)  # float32 under autocast too

    def burn_in(self, states: Tensor, lstm_state: LSTMState | None = None) -> LSTMState:
        """Run the LSTM over states ``(B, T, C, H, W)`` (the real context) and return its state."""
        for t in range(states.shape[1]):
            _, _, lstm_state = self(states[:, t], lstm_state)
        return lstm_state if lstm_state is not None else self.initial_state(states.shape[0], states.device)

    @torch.no_grad()
    def act(
        self, state: Tensor, lstm_state: LSTMState | None, *, epsilon: float = 0.0, greedy: bool = False, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor, Tensor, LSTMState]:
        """Pick actions for states ``(B, C, H, W)``: returns actions (B,), policy entropy (B,), value (B,), LSTM state.

        Samples from the policy (``greedy`` takes its most likely action); with probability ``epsilon`` a
        uniformly random action replaces it (the training loop collects with epsilon 0.01).
        """
        logits, value, lstm_state = self(state, lstm_state)
        probs = F.softmax(logits, dim=-1)
        actions = probs.argmax(-1) if greedy else torch.multinomial(probs, 1, generator=generator).squeeze(-1)
        if epsilon > 0:
            b = actions.shape[0]
            explore = torch.rand(b, generator=generator, device=state.device) < epsilon
            random_actions = torch.randint(0, self.cfg.num_actions, (b,), generator=generator, device=state.device)
            actions = torch.where(explore, random_actions, actions)
        return actions, Categorical(logits=logits).entropy(), value, lstm_state
