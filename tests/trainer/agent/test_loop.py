"""The training loop's pieces that a smoke run cannot check by itself."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from jedi_play.cli.errors import UserError
from trainer.agent.loop import TrainConfig, mean_metrics, world_model_options
from trainer.agent.presets import PRESETS, Preset


def test_epoch_metrics_skip_updates_that_did_not_measure() -> None:
    nan = float("nan")
    rows = [{"loss": 1.0, "denoise_loss_switched": nan}, {"loss": 3.0, "denoise_loss_switched": 2.0}, {"loss": 2.0, "denoise_loss_switched": nan}]
    assert mean_metrics(rows, "wm_") == {"wm_loss": 2.0, "wm_denoise_loss_switched": 2.0}
    assert np.isnan(mean_metrics(rows[:1], "")["denoise_loss_switched"])


def test_overrides_change_only_their_fields_of_the_preset() -> None:
    config = TrainConfig("Asterix", Path("run"), agent_lr=1e-3, agent_updates=8, world_model_updates=40)
    budget = config.budget()
    assert (budget.agent_lr, budget.agent_updates, budget.world_model_updates) == (1e-3, 8, 40)
    cpu = PRESETS["cpu"]
    assert budget.entropy_weight == cpu.entropy_weight and budget.env_steps == cpu.env_steps and budget.world_model_lr == cpu.world_model_lr
    assert TrainConfig("Asterix", Path("run")).budget() == cpu
    assert TrainConfig("Asterix", Path("run"), entropy_weight=0.0).budget().entropy_weight == 0.0


def test_more_steps_per_epoch_keep_the_presets_epochs() -> None:
    cpu = PRESETS["cpu"]
    budget = TrainConfig("Asterix", Path("run"), steps_per_epoch=4 * cpu.steps_per_epoch).budget()
    assert budget.epochs == cpu.epochs and budget.steps_per_epoch == 4 * cpu.steps_per_epoch
    assert budget.env_steps - budget.initial_random_steps == 4 * (cpu.env_steps - cpu.initial_random_steps)


@pytest.mark.parametrize("override", [{"agent_updates": 0}, {"steps_per_epoch": 0}, {"agent_lr": -1e-3}, {"entropy_weight": -0.1}, {"agent_lr": float("nan")}])
def test_overrides_out_of_range_are_refused(override: dict) -> None:
    with pytest.raises(UserError, match="must be"):
        TrainConfig("Asterix", Path("run"), **override).budget()


def test_a_run_resumes_only_with_its_own_overrides() -> None:
    saved = {"train_config": {"world_model": "jedi", "preset": "cpu", "agent_lr": 1e-3}}
    TrainConfig("Asterix", Path("run"), agent_lr=1e-3).check_resumes(saved)
    with pytest.raises(UserError, match="--agent-lr 0.001"):
        TrainConfig("Asterix", Path("run")).check_resumes(saved)
    with pytest.raises(UserError, match="without --agent-updates"):  # a run.json from before the option counts as its default
        TrainConfig("Asterix", Path("run"), agent_lr=1e-3, agent_updates=8).check_resumes(saved)


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


def test_the_agent_waits_its_delay_epochs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import json
    from dataclasses import replace

    from trainer.agent import loop

    monkeypatch.setitem(loop.PRESETS, "smoke", replace(PRESETS["smoke"], agent_delay_epochs=1, eval_every=100, initial_world_model_updates=0))
    row, finished = loop.train_agent(TrainConfig("Breakout", tmp_path / "run", preset="smoke", threads=1), progress=False)
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert finished and [r["epoch"] for r in rows] == [1, 2]
    assert "ac_loss" not in rows[0] and rows[0]["agent_updates"] == 0 and rows[0]["world_model_updates"] == 2
    assert "ac_loss" in rows[1] and rows[1]["agent_updates"] == 2


def test_a_runs_agent_updates_leave_out_the_delay() -> None:
    cpu, cpu_v1, smoke = PRESETS["cpu"], PRESETS["cpu-v1"], PRESETS["smoke"]
    assert cpu.epochs == 50 and cpu.total_agent_updates == 700  # the bundled Asterix agent's 700 updates
    assert cpu_v1.epochs == 150 and cpu_v1.total_agent_updates == cpu_v1.agent_updates * (150 - cpu_v1.agent_delay_epochs)
    assert smoke.epochs == 2 and smoke.total_agent_updates == 2 * smoke.agent_updates
    assert Preset(250, 100, 100, 2, 3, 4, 2, agent_delay_epochs=5).total_agent_updates == 0  # 2 epochs, both waited out


def test_the_world_models_first_updates_resume_where_a_signal_stopped_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A SIGTERM during the updates before the first epoch: the checkpoint keeps the updates done, the resumed
    run does only the rest, and the metrics hold each block once."""
    import json
    import os
    import signal
    from dataclasses import replace

    from trainer.agent import loop

    monkeypatch.setitem(loop.PRESETS, "smoke", replace(PRESETS["smoke"], initial_world_model_updates=5, eval_every=100))
    monkeypatch.setattr(loop, "PRETRAIN_BLOCK_UPDATES", 2)
    real_update = loop.AgentTraining._world_model_update

    def update_then_stop(self: loop.AgentTraining) -> dict[str, float]:
        metrics = real_update(self)
        if self.counters.world_model_updates == 3:
            os.kill(os.getpid(), signal.SIGTERM)  # inside the second block
        return metrics

    monkeypatch.setattr(loop.AgentTraining, "_world_model_update", update_then_stop)
    config = TrainConfig("Breakout", tmp_path / "run", preset="smoke", threads=1)
    _, finished = loop.train_agent(config, progress=False)
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert not finished and [(r["epoch"], r["world_model_updates"]) for r in rows] == [(0, 2), (0, 3)]

    monkeypatch.setattr(loop.AgentTraining, "_world_model_update", real_update)
    _, finished = loop.train_agent(replace(config, resume=True), progress=False)
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    smoke = PRESETS["smoke"]
    assert finished and [(r["epoch"], r["world_model_updates"]) for r in rows] == [
        (0, 2), (0, 3), (0, 5), *((e, 5 + e * smoke.world_model_updates) for e in range(1, smoke.epochs + 1))
    ]
    assert all(r["agent_updates"] == 0 for r in rows[:3])


def test_a_signal_as_the_run_opens_its_files_checkpoints_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A SIGTERM that arrives while metrics.jsonl and the TensorBoard files are being opened stops the run with
    a checkpoint (a scheduler may signal it as soon as they appear); without a handler yet it would kill it."""
    import os
    import signal
    from dataclasses import replace

    from trainer.agent import loop

    real_writer = loop.tensorboard_writer

    def signal_then_open(log_dir: Path, purge_step: int | None):
        if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
            pytest.fail("the run opens its files before it handles SIGTERM: a signal now would kill it")
        os.kill(os.getpid(), signal.SIGTERM)
        return real_writer(log_dir, purge_step)

    monkeypatch.setattr(loop, "tensorboard_writer", signal_then_open)
    config = TrainConfig("Breakout", tmp_path / "run", preset="smoke", threads=1)
    _, finished = loop.train_agent(config, progress=False)
    assert not finished and (tmp_path / "run" / "checkpoint.safetensors").exists()

    monkeypatch.setattr(loop, "tensorboard_writer", real_writer)
    _, finished = loop.train_agent(replace(config, resume=True), progress=False)
    assert finished
