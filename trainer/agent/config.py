"""What one whole-agent run trains: ``jedi-train``'s options (``TrainConfig``), the preset budget they
override, and the JEDI world-model options they set; a resumed run must keep every option that defines it."""

from __future__ import annotations

import json
from dataclasses import MISSING, dataclass, field, fields, replace
from pathlib import Path
from typing import Literal

from jedi_play.cli.errors import UserError
from jedi_play.cli.parser import experimental_fields, experimental_flags, option_text
from trainer.agent.presets import PRESETS, RETIRED_PRESETS, Preset
from trainer.world_model.train import check_decoder_weight, check_reward_alignment


@dataclass
class TrainConfig:
    """Whole-agent training under the Atari 100k protocol."""

    game: str = field(metadata={"help": "Atari 100k game, e.g. Asterix"})
    out: Path = field(metadata={"help": "run folder (checkpoints, metrics, replay)", "metavar": "RUN_DIR"})
    world_model: Literal["jedi", "diamond"] = field(default="jedi", metadata={"help": "world model"})
    preset: Literal["atari100k", "cpu", "smoke"] = field(default="cpu", metadata={"help": "training budget"})
    resume: bool = field(default=False, metadata={"help": "continue the run in RUN_DIR from its last checkpoint"})
    seed: int = field(default=0, metadata={"help": "random seed"})
    device: Literal["auto", "cpu", "cuda", "mps"] = field(default="auto", metadata={"help": "torch device"})
    threads: int | None = field(default=None, metadata={"help": "CPU threads for torch (default: torch's choice)", "metavar": "N"})
    precision: Literal["auto", "fp32", "bf16"] = field(
        default="auto", metadata={"help": "bf16 autocast of world-model training (weights and losses stay float32); auto: where the CPU or GPU has bf16 units"}
    )
    dream_reward_weight: float = field(
        default=0.0, metadata={"experimental": True, "help": "JEDI, not in the paper: weight of the reward loss on sampled next latents (0 = off)", "metavar": "W"}
    )
    reward_foresight: bool = field(
        default=False, metadata={"experimental": True, "help": "not in the paper: read each step's reward and end from the transition before it and the action"}
    )
    latent_norm: bool | None = field(
        default=None, metadata={"experimental": True, "help": "JEDI, not in the paper: the denoiser works on latents normalised by running statistics (default: the preset's)"}
    )
    predict_delta: bool | None = field(
        default=None, metadata={"experimental": True, "help": "JEDI, not in the paper: the denoiser predicts the change from the last latent (default: the preset's)"}
    )
    mean_predictor_channels: int | None = field(
        default=None,
        metadata={"experimental": True, "help": "JEDI, not in the paper: channels of a regressed next-latent mean the denoiser diffuses around, 0 = none (default: the preset's)", "metavar": "C"},
    )
    reward_reads_mean: bool | None = field(
        default=None, metadata={"experimental": True, "help": "JEDI, not in the paper: read each step's reward and end from the mean predictor's next latent (default: the preset's)"}
    )
    reward_reads_standardized: bool | None = field(
        default=None,
        metadata={"experimental": True, "help": "JEDI, not in the paper: the reward model reads latents standardised by latent_norm's statistics (default: the preset's)"},
    )
    decoder_grad_weight: float | None = field(
        default=None,
        metadata={"experimental": True, "help": "JEDI, the paper's ablation: weight of the pixel decoder's gradient into the encoder, 0 = none (default: the preset's)", "metavar": "W"},
    )
    decoder_motion_weight: float | None = field(
        default=None,
        metadata={"experimental": True, "help": "JEDI, not in the paper: extra weight of the decoder's error on pixels that moved since the frame before, 0 = none (default: the preset's)", "metavar": "W"},
    )
    # the preset's own values unless given
    world_model_updates: int | None = field(default=None, metadata={"experimental": True, "help": "world-model updates per epoch", "metavar": "N"})
    agent_updates: int | None = field(default=None, metadata={"experimental": True, "help": "actor-critic updates per epoch", "metavar": "N"})
    agent_lr: float | None = field(default=None, metadata={"experimental": True, "help": "actor-critic learning rate", "metavar": "LR"})
    entropy_weight: float | None = field(default=None, metadata={"experimental": True, "help": "actor-critic entropy weight", "metavar": "W"})
    agent_delay_epochs: int | None = field(
        default=None,
        metadata={"experimental": True, "help": "epochs at the start in which only the world model trains and the untrained agent collects (default: the preset's)", "metavar": "N"},
    )
    final_agent_updates: int | None = field(
        default=None,
        metadata={"experimental": True, 
            "help": "not in DIAMOND: after the last epoch, train an actor-critic (final_agent) for N updates in the final world model's frozen "
            "dream and end with it; the run's agent as it was is kept in RUN_DIR/run_agent.safetensors (default: the preset's, 0 = none)",
            "metavar": "N",
        },
    )
    final_agent: Literal["fresh", "run"] | None = field(
        default=None,
        metadata={"experimental": True, "help": "which actor-critic takes final_agent_updates: a fresh one or the run's own, trained further (default: the preset's)"},
    )
    normalize_advantages: bool | None = field(
        default=None, metadata={"experimental": True, "help": "not in DIAMOND: scale each agent batch's advantages to zero mean and unit standard deviation (default: the preset's)"}
    )
    agent_epochs: int | None = field(
        default=None,
        metadata={"experimental": True, 
            "help": "not in DIAMOND (PPO): passes of the actor-critic over each imagined batch, the later ones with the probability ratio "
            "clipped; 1 = DIAMOND's one update (default: the preset's)",
            "metavar": "K",
        },
    )
    agent_minibatches: int | None = field(
        default=None,
        metadata={"experimental": True, 
            "help": "not in DIAMOND (PPO): optimizer steps each pass over an imagined batch takes, each on its share of the games "
            "(default: the preset's)",
            "metavar": "M",
        },
    )
    steps_per_epoch: int | None = field(
        default=None, metadata={"experimental": True, "help": "real steps the agent collects each epoch; the run keeps the preset's epochs, so its real steps grow", "metavar": "N"}
    )
    denoising_steps: int | None = field(
        default=None, metadata={"experimental": True, "help": "denoising steps of each imagined step (fewer make the agent's updates cheaper)", "metavar": "N"}
    )

    def preset_overrides(self) -> dict[str, float]:
        """The preset fields this run replaces, with their values."""
        return {name: getattr(self, name) for name in PRESET_OVERRIDES if getattr(self, name) is not None}

    def budget(self) -> Preset:
        """The preset with this run's overrides; ``UserError`` for an override out of range."""
        overrides = self.preset_overrides()
        for name, value in overrides.items():
            if isinstance(value, (bool, str)):
                continue
            may_be_zero = name in ("entropy_weight", "agent_delay_epochs", "final_agent_updates")
            if value < 0 or (value == 0 and not may_be_zero) or value != value:
                raise UserError(f"{_flag(name)} must be {'at least 0' if may_be_zero else 'positive'}, got {value}")
        preset = PRESETS[self.preset]
        if "steps_per_epoch" in overrides:  # the same epochs, each collecting more (or fewer) real steps
            overrides["env_steps"] = preset.initial_random_steps + preset.epochs * overrides["steps_per_epoch"]
        budget = replace(preset, **overrides)
        if budget.agent_minibatches > budget.agent_batch_size:
            raise UserError(f"{_flag('agent_minibatches')} splits each batch's {budget.agent_batch_size} games: give at most that, got {budget.agent_minibatches}")
        if "agent_delay_epochs" in overrides and budget.agent_delay_epochs >= budget.epochs:
            raise UserError(f"{_flag('agent_delay_epochs')} must be below the run's {budget.epochs} epochs, got {budget.agent_delay_epochs}")
        return budget

    def check_resumes(self, run_info: dict) -> None:
        """Raise ``UserError`` if this config would change what the run in ``run.json`` trains.

        (Options a run's ``run.json`` predates count as their defaults.)
        """
        saved = run_info.get("train_config", {})
        for f in fields(self):
            if f.name in RUN_DEFINING_OPTIONS and saved.get(f.name, f.default) != getattr(self, f.name):
                value = saved.get(f.name, f.default)
                if value is None:
                    raise UserError(f"{self.out} was trained without {_flag(f.name)} (the preset's value); resume it without")
                raise UserError(f"{self.out} was trained with {' '.join(_setting(f.name, value))}; resume it with the same value")
        self._check_budget_resumes(saved.get("preset", "cpu"), run_info.get("preset"))

    def _check_budget_resumes(self, saved_preset: str, saved_budget: dict | None) -> None:
        """Raise ``UserError`` unless this config gives the budget the run was trained with (``run.json``): a
        preset that has taken a new form since keeps its old one under another name, or was retired."""
        if saved_preset in RETIRED_PRESETS:
            raise UserError(
                f"{self.out} was trained with the retired preset {saved_preset}: resume it with jedi-train at commit "
                f"{RETIRED_PRESETS[saved_preset]} (docs/presets.md)"
            )
        if saved_budget is None:  # a run.json without its budget
            if saved_preset != self.preset:
                raise UserError(f"{self.out} was trained with --preset {saved_preset}; resume it with the same value")
            return
        if same_budget(self.budget(), saved_budget):
            return
        now = [name for name in PRESETS if same_budget(replace(self, preset=name).budget(), saved_budget)]
        if saved_preset != self.preset:
            raise UserError(f"{self.out} was trained with --preset {saved_preset}; resume it with --preset {now[0] if now else saved_preset}")
        where = f"resume it with --preset {now[0]}, which gives that budget now" if now else "no preset gives that budget now"
        raise UserError(f"{self.out} was trained under an earlier form of the '{saved_preset}' preset; {where}")


_EXPERIMENTAL = {f.name for f in experimental_fields(TrainConfig)}  # set through --experimental KEY=VALUE


def _flag(name: str) -> str:
    """How the command line names a ``TrainConfig`` field: ``--experimental name`` or ``--kebab-name``."""
    return option_text(TrainConfig, name)


def _setting(name: str, value: object) -> list[str]:
    """The command line that sets field ``name`` to ``value``: ``["--experimental", "k=v"]``, ``["--seed", "1"]``."""
    if name in _EXPERIMENTAL:
        return experimental_flags(name, value)
    return ["--" + name.replace("_", "-"), str(value)]


def run_defining_flags(train_config: dict) -> list[str]:
    """The options that define a run, as its command line gave them (``run.json``'s ``train_config``), beyond
    ``--world-model``: e.g. ``["--experimental", "agent_delay_epochs=30", "--experimental", "latent_norm=false"]``."""
    flags: list[str] = []
    for f in fields(TrainConfig):
        value = train_config.get(f.name, f.default)
        if f.name == "world_model" or f.name not in RUN_DEFINING_OPTIONS or value == f.default:
            continue
        flags += _setting(f.name, value)
    return flags


def same_budget(budget: Preset, saved: dict) -> bool:
    """Whether ``budget`` is the one a run saved (``run.json``'s ``preset``). A field the run's ``run.json``
    predates counts as its default (what the run did then); one it has that the preset lost is left out, and so
    are the JEDI options: a resumed run keeps the world model it was built with."""
    now = json.loads(json.dumps(budget.to_dict()))
    defaults = {f.name: f.default for f in fields(Preset) if f.default is not MISSING and f.name != "jedi_options"}
    then = json.loads(json.dumps(defaults)) | saved
    return all(now[name] == then[name] for name in now if name in then and name != "jedi_options")


PRESET_OVERRIDES = (
    "world_model_updates", "agent_updates", "agent_lr", "entropy_weight", "agent_delay_epochs", "normalize_advantages", "agent_epochs", "agent_minibatches",
    "steps_per_epoch", "denoising_steps", "final_agent_updates", "final_agent",
)
JEDI_ONLY_OPTIONS = (
    "dream_reward_weight", "latent_norm", "predict_delta", "mean_predictor_channels", "reward_reads_mean", "reward_reads_standardized", "decoder_grad_weight",
    "decoder_motion_weight",
)
RUN_DEFINING_OPTIONS = ("world_model", "reward_foresight", *JEDI_ONLY_OPTIONS, *PRESET_OVERRIDES)


def world_model_options(config: TrainConfig, preset: Preset, num_actions: int) -> dict:
    """The world model's config fields this run sets: the preset's JEDI options, then the command line's."""
    options: dict = {"num_actions": num_actions}
    if config.world_model == "jedi":
        options.update(preset.jedi_options)
    for name in JEDI_ONLY_OPTIONS:
        value = getattr(config, name)
        if value is None:
            continue
        if config.world_model != "jedi":
            if value:
                raise UserError(f"{_flag(name)} applies to the JEDI world model only")
            continue
        if name == "mean_predictor_channels":
            if value < 0:
                raise UserError(f"{_flag(name)} must be at least 0, got {value}")
            value = (value,) if value else ()
        if name in ("decoder_grad_weight", "decoder_motion_weight"):
            check_decoder_weight(name, value)
        options[name] = value
    if options.get("reward_reads_standardized") and not options.get("latent_norm"):
        raise UserError("--experimental reward_reads_standardized reads latents standardised by latent_norm's statistics: add --experimental latent_norm=true")
    check_reward_alignment(config.reward_foresight, config.dream_reward_weight, bool(options.get("reward_reads_mean")), bool(options.get("mean_predictor_channels")))
    if config.reward_foresight:
        options["reward_foresight"] = True
    return options
