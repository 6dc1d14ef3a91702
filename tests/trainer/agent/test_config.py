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
    assert TrainConfig("Asterix", Path("run"), final_agent_updates=500).budget() == replace(cpu, final_agent_updates=500)
    assert TrainConfig("Asterix", Path("run"), final_agent_updates=0).budget() == replace(cpu, final_agent_updates=0)
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
    with pytest.raises(UserError, match=f"--experimental agent_minibatches splits each batch's {games} games"):
        TrainConfig("Asterix", Path("run"), agent_minibatches=games + 1).budget()


def test_a_run_resumes_only_with_its_own_overrides() -> None:
    saved = {"train_config": {"world_model": "jedi", "preset": "cpu", "agent_lr": 1e-3}}
    TrainConfig("Asterix", Path("run"), agent_lr=1e-3).check_resumes(saved)
    with pytest.raises(UserError, match="--experimental agent_lr=0.001"):
        TrainConfig("Asterix", Path("run")).check_resumes(saved)
    with pytest.raises(UserError, match="without --experimental agent_updates"):  # a run.json from before the option counts as its default
        TrainConfig("Asterix", Path("run"), agent_lr=1e-3, agent_updates=8).check_resumes(saved)
    normalized = {"train_config": {"world_model": "jedi", "preset": "cpu", "normalize_advantages": True}}
    with pytest.raises(UserError, match="with --experimental normalize_advantages=true; resume it with the same"):
        TrainConfig("Asterix", Path("run"), normalize_advantages=False).check_resumes(normalized)


def test_a_run_resumes_only_with_the_budget_it_was_trained_with() -> None:
    """A run of an earlier form of the preset is refused; one of a retired preset is pointed to the commit that has it."""
    earlier = replace(PRESETS["cpu"], agent_updates=14)
    saved = {"train_config": {"world_model": "jedi", "preset": "cpu"}, "preset": json.loads(json.dumps(earlier.to_dict()))}
    with pytest.raises(UserError, match="earlier form of the 'cpu' preset; no preset gives that budget now"):
        TrainConfig("Asterix", Path("run")).check_resumes(saved)
    with pytest.raises(UserError, match="was trained with --preset cpu; resume it with --preset cpu"):
        TrainConfig("Asterix", Path("run"), preset="smoke").check_resumes(saved)
    retired = {"train_config": {"world_model": "jedi", "preset": "cpu-v3"}, "preset": saved["preset"]}
    with pytest.raises(UserError, match="retired preset cpu-v3: resume it with jedi-train at commit b13d3bb"):
        TrainConfig("Asterix", Path("run")).check_resumes(retired)

    # a run whose overrides give the present preset's budget resumes under it, whatever its JEDI options' place
    pong = TrainConfig("Pong", Path("run"), preset="cpu", world_model_updates=40, steps_per_epoch=400, agent_updates=50, denoising_steps=1)
    budget = json.loads(json.dumps(pong.budget().to_dict())) | {"jedi_options": []}
    pong.check_resumes({"train_config": {"world_model": "jedi", "preset": "cpu", **pong.preset_overrides()}, "preset": budget})


def test_a_budget_field_a_run_predates_counts_as_its_default() -> None:
    """A run saved before a preset field existed did what its default does: a preset that sets it otherwise
    (a final phase) is another budget, and a field the preset has since lost does not count."""
    cpu = PRESETS["cpu"]
    before_final_agents = replace(cpu, final_agent_updates=0)
    old = {k: v for k, v in json.loads(json.dumps(before_final_agents.to_dict())).items() if k not in ("final_agent_updates", "final_agent")}
    assert same_budget(before_final_agents, old) and same_budget(before_final_agents, old | {"a_field_since_removed": 1})
    assert not same_budget(cpu, old) and not same_budget(replace(before_final_agents, final_agent="run"), old)
    TrainConfig("Asterix", Path("run"), final_agent_updates=0).check_resumes(
        {"train_config": {"world_model": "jedi", "preset": "cpu", "final_agent_updates": 0}, "preset": old}
    )


def test_the_presets_jedi_options_apply_unless_the_command_line_says_otherwise() -> None:
    preset = Preset(300, 100, 100, 2, 2, 4, 2, jedi_options=(("latent_norm", True), ("mean_predictor_channels", (96,))))
    jedi = TrainConfig("Asterix", Path("run"))
    assert world_model_options(jedi, preset, 9) == {"num_actions": 9, "latent_norm": True, "mean_predictor_channels": (96,), "dream_reward_weight": 0.0}
    changed = TrainConfig("Asterix", Path("run"), latent_norm=False, mean_predictor_channels=0, predict_delta=True)
    options = world_model_options(changed, preset, 9)
    assert (options["latent_norm"], options["mean_predictor_channels"], options["predict_delta"]) == (False, (), True)
    assert world_model_options(TrainConfig("Asterix", Path("run"), world_model="diamond"), preset, 9) == {"num_actions": 9}
    with pytest.raises(UserError, match="--experimental mean_predictor_channels must be at least 0"):
        world_model_options(TrainConfig("Asterix", Path("run"), mean_predictor_channels=-1), preset, 9)
    assert world_model_options(TrainConfig("Asterix", Path("run"), reward_reads_mean=True), preset, 9)["reward_reads_mean"] is True
    with pytest.raises(UserError, match="--experimental reward_reads_mean reads the mean predictor's next latent"):
        world_model_options(TrainConfig("Asterix", Path("run"), reward_reads_mean=True, mean_predictor_channels=0), preset, 9)
    assert world_model_options(TrainConfig("Asterix", Path("run"), decoder_grad_weight=30.0), preset, 9)["decoder_grad_weight"] == 30.0
    for weight in (-1.0, float("nan")):
        with pytest.raises(UserError, match="--experimental decoder_grad_weight must be at least 0"):
            world_model_options(TrainConfig("Asterix", Path("run"), decoder_grad_weight=weight), preset, 9)
    assert world_model_options(TrainConfig("Asterix", Path("run"), decoder_motion_weight=100.0), preset, 9)["decoder_motion_weight"] == 100.0
    assert "decoder_motion_weight" not in world_model_options(TrainConfig("Asterix", Path("run")), preset, 9)  # the preset's: off
    for weight in (-1.0, float("nan")):
        with pytest.raises(UserError, match="--experimental decoder_motion_weight must be at least 0"):
            world_model_options(TrainConfig("Asterix", Path("run"), decoder_motion_weight=weight), preset, 9)


def test_a_run_resumes_only_with_its_own_jedi_options() -> None:
    saved = {"train_config": {"world_model": "jedi", "preset": "cpu", "latent_norm": False, "mean_predictor_channels": 64}}
    TrainConfig("Asterix", Path("run"), latent_norm=False, mean_predictor_channels=64).check_resumes(saved)
    with pytest.raises(UserError, match="--experimental latent_norm=false; resume it with the same"):
        TrainConfig("Asterix", Path("run"), mean_predictor_channels=64).check_resumes(saved)
    with pytest.raises(UserError, match="--experimental mean_predictor_channels=64"):
        TrainConfig("Asterix", Path("run"), latent_norm=False).check_resumes(saved)


def test_experimental_settings_go_through_one_door(capsys) -> None:
    from jedi_play.cli.parser import CliParser, add_dataclass_args, dataclass_from_args

    parser = CliParser(prog="jedi-train")
    add_dataclass_args(parser, TrainConfig)
    parse = lambda *a: dataclass_from_args(TrainConfig, parser.parse_args(["--game", "Pong", "--out", "run", *a]))  # noqa: E731
    config = parse("--experimental", "agent_lr=3e-4", "--experimental", "latent-norm=false", "--experimental", "final_agent=run")
    assert (config.agent_lr, config.latent_norm, config.final_agent, config.agent_updates) == (3e-4, False, "run", None)
    with pytest.raises(SystemExit):  # the knobs have no flags of their own
        parser.parse_args(["--game", "Pong", "--out", "run", "--agent-lr", "3e-4"])
    assert "--experimental KEY=VALUE" in parser.format_help() and "--agent-lr" not in parser.format_help()
    for bad, message in [
        ("agent_lr", "takes KEY=VALUE"), ("no_such_knob=1", "KEY one of"), ("agent_lr=fast", "takes a float, not 'fast'"),
        ("latent_norm=maybe", "true or false"), ("final_agent=other", "one of fresh, run"),
    ]:
        with pytest.raises(UserError, match=message):
            parse("--experimental", bad)


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
    assert "agent_delay_epochs=30" in flags and "latent_norm=false" in flags and "reward_foresight=true" in flags and "--threads" not in flags
    assert set(flags[::2]) == {"--experimental"}
    parser = argparse.ArgumentParser()
    add_dataclass_args(parser, TrainConfig)
    again = dataclass_from_args(TrainConfig, parser.parse_args(["--game", "Breakout", "--out", "run", *flags]))
    assert again == run
    assert run_defining_flags(json.loads(json.dumps(asdict(TrainConfig("Breakout", Path("run"))), default=str))) == []
