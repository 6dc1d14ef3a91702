"""The training loop's pieces that a smoke run cannot check by itself."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from trainer.agent.config import TrainConfig
from trainer.agent.imagination import ImaginationConfig, Rollout, actor_critic_loss
from trainer.agent.presets import PRESETS, Preset


def metrics_rows(run_dir: Path) -> list[dict]:
    """The rows of a run's ``metrics.jsonl``."""
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def epoch_rows(run_dir: Path) -> list[dict]:
    """The rows of a run's epochs and of the world model's updates before them: not the final agent's."""
    return [row for row in metrics_rows(run_dir) if "final_agent_updates" not in row]


def test_the_agent_waits_the_delay_epochs_the_command_line_gives(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dataclasses import replace

    from trainer.agent import loop

    monkeypatch.setitem(PRESETS, "smoke", replace(PRESETS["smoke"], eval_every=100, initial_world_model_updates=0))
    row, finished = loop.train_agent(TrainConfig("Breakout", tmp_path / "run", preset="smoke", threads=1, agent_delay_epochs=1), progress=False)
    rows = epoch_rows(tmp_path / "run")
    assert json.loads((tmp_path / "run" / "run.json").read_text())["preset"]["agent_delay_epochs"] == 1
    assert finished and [r["epoch"] for r in rows] == [1, 2]
    assert "ac_loss" not in rows[0] and rows[0]["agent_updates"] == 0 and rows[0]["world_model_updates"] == 2
    assert "ac_loss" in rows[1] and rows[1]["agent_updates"] == 2


def test_normalize_advantages_reaches_the_runs_actor_critic_loss(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dataclasses import replace

    from trainer.agent import loop

    seen: list[bool] = []

    def recording_loss(rollout: Rollout, cfg: ImaginationConfig) -> tuple[torch.Tensor, dict[str, float]]:
        seen.append(cfg.normalize_advantages)
        return actor_critic_loss(rollout, cfg)

    monkeypatch.setattr(loop, "actor_critic_loss", recording_loss)
    monkeypatch.setitem(PRESETS, "smoke", replace(PRESETS["smoke"], eval_every=100, initial_world_model_updates=0))
    config = TrainConfig("Breakout", tmp_path / "run", preset="smoke", threads=1, normalize_advantages=True)
    _, finished = loop.train_agent(config, progress=False)
    assert finished and seen == [True] * (PRESETS["smoke"].total_agent_updates + PRESETS["smoke"].final_agent_updates)
    assert json.loads((tmp_path / "run" / "run.json").read_text())["preset"]["normalize_advantages"] is True



def test_agent_epochs_and_minibatches_make_ppo_passes_over_each_imagined_batch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dataclasses import replace

    from trainer.agent import loop

    imagined: list[bool] = []
    passes: list[tuple[int, int, int]] = []
    real_imagine, real_replayed_loss = loop.imagine, loop.replayed_loss

    def recording_imagine(*args, **kwargs) -> Rollout:
        imagined.append(torch.is_grad_enabled())
        return real_imagine(*args, **kwargs)

    def recording_replayed_loss(agent, played: Rollout, cfg: ImaginationConfig) -> tuple[torch.Tensor, dict[str, float]]:
        passes.append((cfg.epochs, cfg.minibatches, played.rewards.shape[0]))
        return real_replayed_loss(agent, played, cfg)

    monkeypatch.setattr(loop, "imagine", recording_imagine)
    monkeypatch.setattr(loop, "replayed_loss", recording_replayed_loss)
    monkeypatch.setitem(PRESETS, "smoke", replace(PRESETS["smoke"], eval_every=100, initial_world_model_updates=0))
    config = TrainConfig("Breakout", tmp_path / "run", preset="smoke", threads=1, agent_epochs=3, agent_minibatches=2)
    _, finished = loop.train_agent(config, progress=False)
    batches = PRESETS["smoke"].total_agent_updates + PRESETS["smoke"].final_agent_updates
    games = PRESETS["smoke"].agent_batch_size // 2
    assert finished and imagined == [False] * batches and passes == [(3, 2, games)] * (6 * batches)  # each batch played once, without gradients
    preset = json.loads((tmp_path / "run" / "run.json").read_text())["preset"]
    assert preset["agent_epochs"] == 3 and preset["agent_minibatches"] == 2
    rows = metrics_rows(tmp_path / "run")
    assert all(0.0 <= row["clip_fraction"] <= 1.0 for row in rows if "ac_loss" in row)
    assert rows[-1]["agent_updates"] == PRESETS["smoke"].total_agent_updates  # a batch counts as one update


def test_a_runs_agent_updates_leave_out_the_delay() -> None:
    cpu, smoke = PRESETS["cpu"], PRESETS["smoke"]
    assert cpu.epochs == 50 and cpu.total_agent_updates == 2_500 and cpu.env_steps == 40_000 and cpu.final_agent_updates == 1_000
    assert set(PRESETS) == {"atari100k", "cpu", "smoke"}
    assert smoke.epochs == 2 and smoke.total_agent_updates == 2 * smoke.agent_updates
    assert Preset(250, 100, 100, 2, 3, 4, 2, agent_delay_epochs=5).total_agent_updates == 0  # 2 epochs, both waited out


def test_the_world_models_first_updates_resume_where_a_signal_stopped_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A SIGTERM during the updates before the first epoch: the checkpoint keeps the updates done, the resumed
    run does only the rest, and the metrics hold each block once."""
    import os
    import signal
    from dataclasses import replace

    from trainer.agent import loop

    monkeypatch.setitem(PRESETS, "smoke", replace(PRESETS["smoke"], initial_world_model_updates=5, eval_every=100))
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
    rows = epoch_rows(tmp_path / "run")
    assert not finished and [(r["epoch"], r["world_model_updates"]) for r in rows] == [(0, 2), (0, 3)]

    monkeypatch.setattr(loop.AgentTraining, "_world_model_update", real_update)
    _, finished = loop.train_agent(replace(config, resume=True), progress=False)
    rows = epoch_rows(tmp_path / "run")
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

    from trainer.agent import loop, run_log

    real_writer = run_log.tensorboard_writer

    def signal_then_open(log_dir: Path, purge_step: int | None):
        if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
            pytest.fail("the run opens its files before it handles SIGTERM: a signal now would kill it")
        os.kill(os.getpid(), signal.SIGTERM)
        return real_writer(log_dir, purge_step)

    monkeypatch.setattr(run_log, "tensorboard_writer", signal_then_open)
    config = TrainConfig("Breakout", tmp_path / "run", preset="smoke", threads=1)
    _, finished = loop.train_agent(config, progress=False)
    assert not finished and (tmp_path / "run" / "checkpoint.safetensors").exists()

    monkeypatch.setattr(run_log, "tensorboard_writer", real_writer)
    _, finished = loop.train_agent(replace(config, resume=True), progress=False)
    assert finished


def test_an_epoch_a_signal_cut_short_is_finished_by_the_resumed_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A SIGTERM between the first epoch's world-model updates: the resumed run does that epoch's remaining
    updates (a second row for it), plays again the steps of the episode that was in progress, and ends with
    the epochs, updates and real steps of a run never stopped."""
    import os
    import signal
    from dataclasses import replace

    from trainer.agent import loop
    from trainer.data.store import EpisodeStore

    smoke = replace(PRESETS["smoke"], initial_world_model_updates=1, eval_every=100)
    monkeypatch.setitem(PRESETS, "smoke", smoke)
    real_update = loop.AgentTraining._world_model_update

    def update_then_stop(self: loop.AgentTraining) -> dict[str, float]:
        metrics = real_update(self)
        if self.counters.epoch == 1 and self.counters.world_model_updates == 2:  # the first of epoch 1's two
            os.kill(os.getpid(), signal.SIGTERM)
        return metrics

    monkeypatch.setattr(loop.AgentTraining, "_world_model_update", update_then_stop)
    config = TrainConfig("Breakout", tmp_path / "run", preset="smoke", threads=1)
    _, finished = loop.train_agent(config, progress=False)
    assert not finished
    replay = EpisodeStore.open(tmp_path / "run" / "replay")
    assert replay.num_steps() < smoke.initial_random_steps + smoke.steps_per_epoch, "no episode was in progress at the stop"

    monkeypatch.setattr(loop.AgentTraining, "_world_model_update", real_update)
    _, finished = loop.train_agent(replace(config, resume=True), progress=False)
    rows = epoch_rows(tmp_path / "run")
    wm, ac = smoke.world_model_updates, smoke.agent_updates
    assert finished and [(r["epoch"], r["world_model_updates"], r["agent_updates"]) for r in rows] == [
        (0, 1, 0), (1, 2, 0), (1, 1 + wm, ac), (2, 1 + 2 * wm, 2 * ac)
    ]
    assert EpisodeStore.open(tmp_path / "run" / "replay").num_steps() == smoke.env_steps == rows[-1]["env_steps"]


def test_a_run_killed_before_its_first_checkpoint_resumes_on_its_stored_episodes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Killed after the random steps were stored but before any checkpoint: ``--resume`` keeps every stored
    episode, starts the models again and ends with a whole run's steps and rows; without ``--resume`` the
    folder is refused, as is ``--resume`` on a folder that holds no run."""
    from dataclasses import replace

    from jedi_play.cli.errors import UserError
    from trainer.agent import loop
    from trainer.data.store import EpisodeStore

    class Killed(Exception):
        pass

    def kill(*args: object) -> bool:
        raise Killed  # as SIGKILL would: no checkpoint, nothing written after this point

    real_pretrain = loop.AgentTraining._pretrain_world_model
    monkeypatch.setattr(loop.AgentTraining, "_pretrain_world_model", kill)
    config = TrainConfig("Breakout", tmp_path / "run", preset="smoke", threads=1)
    with pytest.raises(Killed):
        loop.train_agent(config, progress=False)
    replay = tmp_path / "run" / "replay"
    before = {p.name: p.read_bytes() for p in replay.glob("episode_*.npz")}
    assert before and not (tmp_path / "run" / "checkpoint.safetensors").exists()

    monkeypatch.setattr(loop.AgentTraining, "_pretrain_world_model", real_pretrain)
    with pytest.raises(UserError, match="already holds a run"):
        loop.train_agent(config, progress=False)
    with pytest.raises(UserError, match="no run to resume"):
        loop.train_agent(replace(config, out=tmp_path / "empty", resume=True), progress=False)
    _, finished = loop.train_agent(replace(config, resume=True), progress=False)
    after = {p.name: p.read_bytes() for p in replay.glob("episode_*.npz")}
    assert finished and all(after.get(name) == data for name, data in before.items())
    smoke = PRESETS["smoke"]
    assert EpisodeStore.open(replay).num_steps() == smoke.env_steps
    assert [r["epoch"] for r in epoch_rows(tmp_path / "run")] == [0, *range(1, smoke.epochs + 1)]


def test_a_fresh_final_agent_ends_the_run_and_resumes_after_a_signal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``--final-agent-updates``: after the last epoch the run's agent is kept in ``run_agent.safetensors`` and a
    fresh one (with its seeded initial weights) takes the updates in blocks; a SIGTERM among them is resumed
    without starting it again, and the export gives the fresh agent, or the run's with ``run_agent``."""
    import os
    import signal
    from dataclasses import replace

    from jedi_play.models.actor_critic import ActorCritic
    from trainer.agent import loop
    from trainer.checkpoint import RUN_AGENT_FILE, load_checkpoints
    from trainer.world_model.export import export_run

    smoke = replace(PRESETS["smoke"], initial_world_model_updates=0, eval_every=100, final_agent_updates=3)
    monkeypatch.setitem(PRESETS, "smoke", smoke)
    monkeypatch.setattr(loop, "FINAL_AGENT_BLOCK_UPDATES", 2)
    run_agents: list[dict[str, torch.Tensor]] = []
    fresh_agents: list[dict[str, torch.Tensor]] = []
    real_start, real_update = loop.AgentTraining._start_final_agent, loop.AgentTraining._agent_update

    def start_and_record(self: loop.AgentTraining) -> None:
        run_agents.append({k: v.clone() for k, v in self.agent.state_dict().items()})
        real_start(self)
        fresh_agents.append({k: v.clone() for k, v in self.agent.state_dict().items()})

    def update_then_stop(self: loop.AgentTraining) -> dict[str, float]:
        metrics = real_update(self)
        if self.counters.final_agent_updates == 1:
            os.kill(os.getpid(), signal.SIGTERM)
        return metrics

    monkeypatch.setattr(loop.AgentTraining, "_start_final_agent", start_and_record)
    monkeypatch.setattr(loop.AgentTraining, "_agent_update", update_then_stop)
    config = TrainConfig("Breakout", tmp_path / "run", preset="smoke", threads=1)
    _, finished = loop.train_agent(config, progress=False)
    assert not finished and len(run_agents) == 1
    assert not all(torch.equal(run_agents[0][k], fresh_agents[0][k]) for k in run_agents[0])
    with torch.random.fork_rng():
        torch.manual_seed(config.seed + loop.FRESH_AGENT_SEED)
        seeded = ActorCritic(_agent_config(tmp_path / "run")).state_dict()
    assert all(torch.equal(seeded[k], fresh_agents[0][k]) for k in seeded if "input" not in k)

    world_model_training: list[bool] = []

    def recording_update(self: loop.AgentTraining) -> dict[str, float]:
        world_model_training.append(self.world_model.training)
        return real_update(self)

    monkeypatch.setattr(loop.AgentTraining, "_agent_update", recording_update)
    _, finished = loop.train_agent(replace(config, resume=True), progress=False)
    assert finished and len(run_agents) == 1, "the resumed run started the fresh agent again"
    assert world_model_training == [False, False], "the frozen world model's running statistics would move"
    rows = metrics_rows(tmp_path / "run")
    ac = smoke.total_agent_updates
    assert [(r["epoch"], r["agent_updates"], r.get("final_agent_updates")) for r in rows] == [(1, ac // 2, None), (2, ac, None), (2, ac, 1), (2, ac, 3)]
    assert "eval_mean_score" in rows[-1] and "eval_mean_score" not in rows[-2]

    kept = ActorCritic(_agent_config(tmp_path / "run"))
    assert load_checkpoints(tmp_path / "run" / RUN_AGENT_FILE, {"agent": kept})["agent_updates"] == ac
    assert all(torch.equal(v, run_agents[0][k]) for k, v in kept.state_dict().items())
    final_card = (export_run(tmp_path / "run", tmp_path / "final") / "README.md").read_text()
    run_card = (export_run(tmp_path / "run", tmp_path / "own", run_agent=True) / "README.md").read_text()
    assert "a fresh actor-critic took 3 updates" in final_card and "exported here: this agent" in final_card
    assert "exported here: the run's own agent" in run_card
    assert (tmp_path / "final" / "agent.safetensors").read_bytes() != (tmp_path / "own" / "agent.safetensors").read_bytes()


def test_the_runs_own_agent_can_take_the_final_updates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``--final-agent run``: the run's agent keeps its weights, gets a fresh optimizer and takes the final updates;
    ``run_agent.safetensors`` and ``--run-agent`` give it as it was before them."""
    from dataclasses import replace

    from jedi_play.models.actor_critic import ActorCritic
    from trainer.agent import loop
    from trainer.checkpoint import RUN_AGENT_FILE, load_checkpoints
    from trainer.world_model.export import export_run

    monkeypatch.setitem(PRESETS, "smoke", replace(PRESETS["smoke"], initial_world_model_updates=0, eval_every=100))
    starts: list[tuple[dict[str, torch.Tensor], dict[str, torch.Tensor], int]] = []
    real_start = loop.AgentTraining._start_final_agent

    def start_and_record(self: loop.AgentTraining) -> None:
        before = {k: v.clone() for k, v in self.agent.state_dict().items()}
        real_start(self)
        starts.append((before, {k: v.clone() for k, v in self.agent.state_dict().items()}, len(self.agent_optim.state)))

    monkeypatch.setattr(loop.AgentTraining, "_start_final_agent", start_and_record)
    config = TrainConfig("Breakout", tmp_path / "run", preset="smoke", threads=1, final_agent_updates=2, final_agent="run")
    _, finished = loop.train_agent(config, progress=False)
    (before, after, optimizer_states), = starts
    assert finished and optimizer_states == 0, "the final agent's optimizer is not fresh"
    assert all(torch.equal(before[k], after[k]) for k in before), "the run's agent was replaced"
    kept = ActorCritic(_agent_config(tmp_path / "run"))
    load_checkpoints(tmp_path / "run" / RUN_AGENT_FILE, {"agent": kept})
    assert all(torch.equal(v, before[k]) for k, v in kept.state_dict().items())
    assert metrics_rows(tmp_path / "run")[-1]["final_agent_updates"] == 2
    final_card = (export_run(tmp_path / "run", tmp_path / "final") / "README.md").read_text()
    run_card = (export_run(tmp_path / "run", tmp_path / "own", run_agent=True) / "README.md").read_text()
    assert "the run's own actor-critic took 2 more updates" in final_card and "--experimental final_agent=run" in final_card
    assert "exported here: the run's agent before them (`--run-agent`)" in run_card
    # the final updates went through the fresh optimizer (on the smoke run's rewardless dream their gradients are 0)
    final = ActorCritic(_agent_config(tmp_path / "run"))
    optim = torch.optim.AdamW(final.parameters())
    load_checkpoints(tmp_path / "run" / loop.CHECKPOINT, {"agent": final}, {"agent_optim": optim})
    assert {float(state["step"]) for state in optim.state.values()} == {2.0}


def _agent_config(run_dir: Path):  # -> ActorCriticConfig
    from jedi_play.models.actor_critic import ActorCriticConfig

    return ActorCriticConfig.from_dict(json.loads((run_dir / "run.json").read_text())["agent_config"])
