"""``jedi-train``'s options: preset overrides, JEDI world-model options, and what a resume must keep."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from jedi_play.cli.errors import UserError
from trainer.agent.config import TrainConfig, same_budget, world_model_options
from trainer.agent.presets import PRESETS, Preset


def test_overrides_change_only_their_fields_of_the_preset() -> None:
    config = TrainConfig("Asterix", Path("run"), agent_lr=1e-3, agent_updates=8, world_model_updates=40)
    budget = config.budget()
    assert (budget.agent_lr, budget.agent_updates, budget.world_model_updates) == (1e-3, 8, 40)
    cpu = PRESETS["cpu"]
    assert budget.entropy_weight == cpu.entropy_weight and budget.env_steps == cpu.env_steps and budget.world_model_lr == cpu.world_model_lr
    assert TrainConfig("Asterix", Path("run")).budget() == cpu
    assert TrainConfig("Asterix", Path("run"), entropy_weight=0.0).budget().entropy_weight == 0.0
    assert TrainConfig("Asterix", Path("run"), denoising_steps=2).budget().denoising_steps == 2 != cpu.denoising_steps
    assert TrainConfig("Asterix", Path("run"), normalize_advantages=True).budget().normalize_advantages is not cpu.normalize_advantages
    assert TrainConfig("Asterix", Path("run"), normalize_advantages=False).budget() == cpu
    delayed = TrainConfig("Asterix", Path("run"), agent_delay_epochs=30, agent_updates=125).budget()
    assert delayed.total_agent_updates == 125 * (cpu.epochs - 30) and delayed.epochs == cpu.epochs
    assert TrainConfig("Asterix", Path("run"), preset="cpu-v1", agent_delay_epochs=0).budget().agent_delay_epochs == 0
    assert TrainConfig("Asterix", Path("run"), final_agent_updates=500).budget() == replace(cpu, final_agent_updates=500)
    assert TrainConfig("Asterix", Path("run"), final_agent_updates=0).budget() == PRESETS["cpu-v3"] == replace(cpu, final_agent_updates=0)
    assert TrainConfig("Asterix", Path("run"), final_agent="run").budget() == replace(cpu, final_agent="run") != cpu


def test_more_steps_per_epoch_keep_the_presets_epochs() -> None:
    cpu = PRESETS["cpu"]
    budget = TrainConfig("Asterix", Path("run"), steps_per_epoch=4 * cpu.steps_per_epoch).budget()
    assert budget.epochs == cpu.epochs and budget.steps_per_epoch == 4 * cpu.steps_per_epoch
    assert budget.env_steps - budget.initial_random_steps == 4 * (cpu.env_steps - cpu.initial_random_steps)


@pytest.mark.parametrize(
    "override",
    [{"agent_updates": 0}, {"steps_per_epoch": 0}, {"denoising_steps": 0}, {"agent_lr": -1e-3}, {"entropy_weight": -0.1}, {"agent_lr": float("nan")},
     {"agent_delay_epochs": -1}, {"agent_delay_epochs": PRESETS["cpu"].epochs}, {"final_agent_updates": -1}, {"agent_minibatches": 0}],
)
def test_overrides_out_of_range_are_refused(override: dict) -> None:
    with pytest.raises(UserError, match="must be"):
        TrainConfig("Asterix", Path("run"), **override).budget()


def test_minibatches_split_no_fewer_games_than_they_are() -> None:
    games = PRESETS["cpu"].agent_batch_size
    assert TrainConfig("Asterix", Path("run"), agent_minibatches=games).budget().agent_minibatches == games
    with pytest.raises(UserError, match=f"--agent-minibatches splits each batch's {games} games"):
        TrainConfig("Asterix", Path("run"), agent_minibatches=games + 1).budget()


def test_a_run_resumes_only_with_its_own_overrides() -> None:
    saved = {"train_config": {"world_model": "jedi", "preset": "cpu", "agent_lr": 1e-3}}
    TrainConfig("Asterix", Path("run"), agent_lr=1e-3).check_resumes(saved)
    with pytest.raises(UserError, match="--agent-lr 0.001"):
        TrainConfig("Asterix", Path("run")).check_resumes(saved)
    with pytest.raises(UserError, match="without --agent-updates"):  # a run.json from before the option counts as its default
        TrainConfig("Asterix", Path("run"), agent_lr=1e-3, agent_updates=8).check_resumes(saved)
    normalized = {"train_config": {"world_model": "jedi", "preset": "cpu", "normalize_advantages": True}}
    with pytest.raises(UserError, match="with --normalize-advantages; resume it with the same"):
        TrainConfig("Asterix", Path("run"), normalize_advantages=False).check_resumes(normalized)


def test_a_run_resumes_only_with_the_budget_it_was_trained_with() -> None:
    """A run of an earlier form of a preset is pointed to the name that form has now, and resumes under it."""
    old_cpu = TrainConfig("Asterix", Path("run"), preset="cpu-v2")
    saved = {"train_config": {"world_model": "jedi", "preset": "cpu"}, "preset": json.loads(json.dumps(old_cpu.budget().to_dict()))}
    with pytest.raises(UserError, match="earlier form of the 'cpu' preset; resume it with --preset cpu-v2"):
        TrainConfig("Asterix", Path("run")).check_resumes(saved)
    old_cpu.check_resumes(saved)
    with pytest.raises(UserError, match="was trained with --preset cpu; resume it with --preset cpu-v2"):
        TrainConfig("Asterix", Path("run"), preset="cpu-v1").check_resumes(saved)

    # a run whose overrides give the present preset's budget resumes under it, whatever its JEDI options' place
    pong = TrainConfig("Pong", Path("run"), preset="cpu", world_model_updates=40, steps_per_epoch=400, agent_updates=50, denoising_steps=1)
    budget = json.loads(json.dumps(pong.budget().to_dict())) | {"jedi_options": []}
    pong.check_resumes({"train_config": {"world_model": "jedi", "preset": "cpu", **pong.preset_overrides()}, "preset": budget})

    gone = saved | {"preset": saved["preset"] | {"agent_updates": 3}}
    with pytest.raises(UserError, match="no preset gives that budget now"):
        TrainConfig("Asterix", Path("run")).check_resumes(gone)


def test_a_budget_field_a_run_predates_counts_as_its_default() -> None:
    """A run saved before a preset field existed did what its default does: a preset that sets it otherwise
    (a final phase) is another budget, and a field the preset has since lost does not count."""
    cpu_v3 = PRESETS["cpu-v3"]
    old = {k: v for k, v in json.loads(json.dumps(cpu_v3.to_dict())).items() if k not in ("final_agent_updates", "final_agent")}
    assert same_budget(cpu_v3, old) and same_budget(cpu_v3, old | {"a_field_since_removed": 1})
    assert not same_budget(PRESETS["cpu"], old) and not same_budget(replace(cpu_v3, final_agent="run"), old)
    # a `cpu` run from before the preset's final agent is pointed to the preset that gives its budget now
    saved = {"train_config": {"world_model": "jedi", "preset": "cpu"}, "preset": old}
    with pytest.raises(UserError, match="earlier form of the 'cpu' preset; resume it with --preset cpu-v3"):
        TrainConfig("Asterix", Path("run")).check_resumes(saved)
    TrainConfig("Asterix", Path("run"), preset="cpu-v3").check_resumes(saved)


def test_the_presets_jedi_options_apply_unless_the_command_line_says_otherwise() -> None:
    preset = Preset(300, 100, 100, 2, 2, 4, 2, jedi_options=(("latent_norm", True), ("mean_predictor_channels", (96,))))
    jedi = TrainConfig("Asterix", Path("run"))
    assert world_model_options(jedi, preset, 9) == {"num_actions": 9, "latent_norm": True, "mean_predictor_channels": (96,), "dream_reward_weight": 0.0}
    changed = TrainConfig("Asterix", Path("run"), latent_norm=False, mean_predictor_channels=0, predict_delta=True)
    options = world_model_options(changed, preset, 9)
    assert (options["latent_norm"], options["mean_predictor_channels"], options["predict_delta"]) == (False, (), True)
    assert world_model_options(TrainConfig("Asterix", Path("run"), world_model="diamond"), preset, 9) == {"num_actions": 9}
    with pytest.raises(UserError, match="--mean-predictor-channels must be at least 0"):
        world_model_options(TrainConfig("Asterix", Path("run"), mean_predictor_channels=-1), preset, 9)
    assert world_model_options(TrainConfig("Asterix", Path("run"), reward_reads_mean=True), preset, 9)["reward_reads_mean"] is True
    with pytest.raises(UserError, match="--reward-reads-mean reads the mean predictor's next latent"):
        world_model_options(TrainConfig("Asterix", Path("run"), reward_reads_mean=True, mean_predictor_channels=0), preset, 9)
    assert world_model_options(TrainConfig("Asterix", Path("run"), decoder_grad_weight=30.0), preset, 9)["decoder_grad_weight"] == 30.0
    for weight in (-1.0, float("nan")):
        with pytest.raises(UserError, match="--decoder-grad-weight must be at least 0"):
            world_model_options(TrainConfig("Asterix", Path("run"), decoder_grad_weight=weight), preset, 9)
    assert world_model_options(TrainConfig("Asterix", Path("run"), decoder_motion_weight=100.0), preset, 9)["decoder_motion_weight"] == 100.0
    assert "decoder_motion_weight" not in world_model_options(TrainConfig("Asterix", Path("run")), preset, 9)  # the preset's: off
    for weight in (-1.0, float("nan")):
        with pytest.raises(UserError, match="--decoder-motion-weight must be at least 0"):
            world_model_options(TrainConfig("Asterix", Path("run"), decoder_motion_weight=weight), preset, 9)


def test_a_run_resumes_only_with_its_own_jedi_options() -> None:
    saved = {"train_config": {"world_model": "jedi", "preset": "cpu", "latent_norm": False, "mean_predictor_channels": 64}}
    TrainConfig("Asterix", Path("run"), latent_norm=False, mean_predictor_channels=64).check_resumes(saved)
    with pytest.raises(UserError, match="--no-latent-norm; resume it with the same"):
        TrainConfig("Asterix", Path("run"), mean_predictor_channels=64).check_resumes(saved)
    with pytest.raises(UserError, match="--mean-predictor-channels 64"):
        TrainConfig("Asterix", Path("run"), latent_norm=False).check_resumes(saved)


def test_a_runs_flags_give_its_options_back() -> None:
    """The model card's command line (``run_defining_flags``) parses back to the run's own options."""
    import argparse
    from dataclasses import asdict

    from jedi_play.cli.parser import add_dataclass_args, dataclass_from_args
    from trainer.agent.config import run_defining_flags

    run = TrainConfig(
        "Breakout", Path("run"), agent_delay_epochs=30, agent_lr=1e-3, latent_norm=False, reward_foresight=True, decoder_motion_weight=0.0,
    )
    saved = json.loads(json.dumps(asdict(run), default=str))
    flags = run_defining_flags(saved)
    assert "--agent-delay-epochs" in flags and "--no-latent-norm" in flags and "--reward-foresight" in flags and "--threads" not in flags
    parser = argparse.ArgumentParser()
    add_dataclass_args(parser, TrainConfig)
    again = dataclass_from_args(TrainConfig, parser.parse_args(["--game", "Breakout", "--out", "run", *flags]))
    assert again == run
    assert run_defining_flags(json.loads(json.dumps(asdict(TrainConfig("Breakout", Path("run"))), default=str))) == []
