"""``jedi-train agent``: an actor-critic alone against a frozen model, on real rollouts (game restarts,
learning) or in its dream, and the command."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from cli_helpers import assert_main_error

import trainer.agent.frozen_model as frozen_model
from jedi_play.dream.dream_env import DreamEnv
from jedi_play.hub import load_model_folder, save_model_folder
from tests.app_helpers import ASTERIX_ACTIONS, agent_for, tiny_world_model
from trainer.agent.imagination import ImaginationConfig, actor_critic_loss, replay
from trainer.agent.frozen_model import RealRollouts
from trainer.cli import main
from trainer.data.collect import CollectConfig, collect_episodes


class ScriptedEnv:
    """A training env stand-in: a game lasts ``length`` steps; action 0 earns reward 2 (others 0)."""

    def __init__(self, length: int) -> None:
        self.length, self.t, self.resets = length, 0, 0

    def _frame(self) -> np.ndarray:
        return np.full((64, 64, 3), 10 * self.t, dtype=np.uint8)

    def reset(self, seed: int | None = None) -> tuple[np.ndarray, dict]:
        self.t, self.resets = 0, self.resets + 1
        return self._frame(), {}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict]:
        self.t += 1
        return self._frame(), 2.0 if action == 0 else 0.0, self.t == self.length, False, {}

    def close(self) -> None:
        pass


@pytest.fixture
def scripted(monkeypatch: pytest.MonkeyPatch) -> list[ScriptedEnv]:
    envs: list[ScriptedEnv] = []

    def make(game: str) -> ScriptedEnv:
        envs.append(ScriptedEnv(length=4 + len(envs)))
        return envs[-1]

    monkeypatch.setattr(frozen_model, "make_train_env", make)
    return envs


def test_games_restart_and_their_memory_is_forgotten(scripted: list[ScriptedEnv]) -> None:
    wm = tiny_world_model(len(ASTERIX_ACTIONS)).eval()
    agent = agent_for(wm, len(ASTERIX_ACTIONS))
    games = RealRollouts("Asterix", wm, batch_size=2, seed=0)
    rollout = games.play(agent, horizon=10)
    ends = rollout.ends.bool()
    assert ends[0].nonzero().flatten().tolist() == [3, 7]  # game lengths 4 and 5
    assert ends[1].nonzero().flatten().tolist() == [4, 9]
    assert [env.resets for env in scripted] == [3, 3]
    assert set(rollout.rewards.unique().tolist()) <= {0.0, 1.0}  # sign-clipped
    assert torch.equal(rollout.weights, torch.ones(2, 10))  # every step is taken: the next game goes on
    assert len(games.finished) == 4
    assert games.lstm is not None and torch.all(games.lstm[0][1] == 0)  # game 2 ended on the last step
    assert torch.any(games.lstm[0][0] != 0)
    loss, metrics = actor_critic_loss(rollout, ImaginationConfig())
    loss.backward()
    assert all(p.grad is not None for p in agent.policy_head.parameters())



def test_replay_of_real_games_forgets_the_memory_where_they_ended(scripted: list[ScriptedEnv]) -> None:
    """PPO's passes run the agent again on the recorded states: with the LSTM rows of ended games zeroed as in
    play, the numbers are those of the games as played (and differ without the zeroing)."""
    torch.manual_seed(0)
    wm = tiny_world_model(len(ASTERIX_ACTIONS)).eval()
    agent = agent_for(wm, len(ASTERIX_ACTIONS))
    for head in (agent.policy_head, agent.value_head):  # away from the zero init: values depend on the memory
        torch.nn.init.normal_(head.weight, std=0.5)
    games = RealRollouts("Asterix", wm, batch_size=2, seed=0)
    games.play(agent, horizon=3)  # the next batch starts with a memory
    with torch.no_grad():
        played = games.play(agent, horizon=10)
    assert played.start_lstm is not None and torch.any(played.start_lstm[0] != 0)
    again = replay(agent, played)
    for name in ("log_probs", "entropy", "values"):
        torch.testing.assert_close(getattr(again, name), getattr(played, name))
    remembering = replay(agent, replace(played, restarts=False))
    assert not torch.allclose(remembering.values, played.values)


def test_agent_learns_the_rewarded_action(scripted: list[ScriptedEnv]) -> None:
    torch.manual_seed(0)
    wm = tiny_world_model(len(ASTERIX_ACTIONS)).eval().requires_grad_(False)
    agent = agent_for(wm, len(ASTERIX_ACTIONS))
    optim = torch.optim.AdamW(agent.parameters(), lr=3e-3, weight_decay=0.0)
    games = RealRollouts("Asterix", wm, batch_size=8, seed=0)
    cfg = ImaginationConfig(horizon=5)
    for _ in range(60):
        rollout = games.play(agent, cfg.horizon)
        loss, _ = actor_critic_loss(rollout, cfg)
        optim.zero_grad()
        loss.backward()
        optim.step()
    with torch.no_grad():
        logits, _, _ = agent(wm.to_states(torch.as_tensor(games.frames)[:, None])[:, 0], games.lstm)
    assert logits.softmax(-1)[:, 0].mean() > 0.5  # from 1/9


def _model_folder(tmp_path: Path, with_agent: bool = True) -> Path:
    wm = tiny_world_model(len(ASTERIX_ACTIONS))
    agent = agent_for(wm, len(ASTERIX_ACTIONS)) if with_agent else None
    save_model_folder(tmp_path / "model", wm, "jedi", "Asterix", ASTERIX_ACTIONS, "# tiny\n", agent=agent)
    return tmp_path / "model"


def test_command_trains_and_writes_its_result(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "real.json"
    argv = ["agent", "--model", str(_model_folder(tmp_path)), "--json", str(out), "--to", str(tmp_path / "trained")]
    argv += ["--updates", "3", "--batch-size", "2"]
    assert main([*argv, "--episodes", "1", "--log-every", "2", "--threads", "1"]) == 0  # the folder's agent sizes
    assert "Asterix: 3 updates on 90 real steps" in capsys.readouterr().out
    result = json.loads(out.read_text())
    source, trained = load_model_folder(tmp_path / "model"), load_model_folder(tmp_path / "trained")
    assert source.agent is not None and trained.agent is not None
    assert all(torch.equal(a, b) for a, b in zip(source.world_model.state_dict().values(), trained.world_model.state_dict().values()))
    assert not all(torch.equal(a, b) for a, b in zip(source.agent.state_dict().values(), trained.agent.state_dict().values()))
    assert trained.config["frozen_agent"]["evaluation"] == result["evaluation"]
    assert f"{result['evaluation']['mean_score']:.1f} +-" in (tmp_path / "trained" / "README.md").read_text()
    assert [row["update"] for row in result["log"]] == [2, 3]
    assert result["steps"] == 3 * 2 * 15 and result["evaluation"]["episodes"] == 1
    assert all(row["games"] >= 0 for row in result["log"])
    assert result["evaluation"]["steps"] > 0 and "ci95" in result["evaluation"]
    bare = tmp_path / "bare"
    bare.mkdir()
    argv = ["agent", "--model", str(_model_folder(bare, with_agent=False)), "--json", str(out), "--updates", "1"]
    assert main([*argv, "--batch-size", "1", "--episodes", "0", "--threads", "1"]) == 0  # a whole run's agent sizes
    result = json.loads(out.read_text())
    assert result["steps"] == 15 and "evaluation" not in result
    small = tmp_path / "trained_int8"  # --weights: another storage than the model folder's
    argv = ["agent", "--model", str(tmp_path / "model"), "--json", str(out), "--to", str(small), "--weights", "int8"]
    assert main([*argv, "--updates", "1", "--batch-size", "1", "--episodes", "0", "--threads", "1"]) == 0
    assert load_model_folder(small).config["weights_dtype"] == "int8" and "- Weights: int8;" in (small / "README.md").read_text()
    assert (small / "world_model.safetensors").stat().st_size < (tmp_path / "trained" / "world_model.safetensors").stat().st_size / 3


def test_keep_agent_starts_from_the_folders_agent(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model, out = _model_folder(tmp_path), tmp_path / "r.json"
    argv = ["agent", "--model", str(model), "--json", str(out), "--updates", "1", "--batch-size", "1", "--episodes", "0"]
    argv += ["--lr", "1e-12", "--threads", "1"]  # one step too small to move it: the trained agent is where it started
    source = load_model_folder(model).agent
    assert source is not None
    for keep, same in ((["--keep-agent"], True), ([], False)):
        assert main([*argv, *keep, "--to", str(tmp_path / f"trained{len(keep)}")]) == 0
        trained = load_model_folder(tmp_path / f"trained{len(keep)}").agent
        assert trained is not None
        close = [torch.allclose(a, b, atol=1e-6) for a, b in zip(source.state_dict().values(), trained.state_dict().values())]
        assert all(close) if same else not all(close)
    assert "the folder's own actor-critic trained further" in (tmp_path / "trained1" / "README.md").read_text()
    bare = tmp_path / "bare"
    bare.mkdir()
    bare_argv = ["agent", "--model", str(_model_folder(bare, with_agent=False)), "--json", str(out), "--keep-agent"]
    capsys.readouterr()  # the progress bars
    assert_main_error(main, capsys, bare_argv, "--keep-agent", "has none")


def test_command_trains_in_the_dream(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    dreams: list[DreamEnv] = []

    class SeenDreamEnv(DreamEnv):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            dreams.append(self)

    monkeypatch.setattr(frozen_model, "DreamEnv", SeenDreamEnv)
    data, out = tmp_path / "episodes", tmp_path / "dream.json"
    collect_episodes(CollectConfig("Asterix", 60, data))
    argv = ["agent", "--model", str(_model_folder(tmp_path)), "--json", str(out), "--rollouts", "dream"]
    argv += ["--data", str(data), "--updates", "2", "--batch-size", "3", "--episodes", "0", "--log-every", "1"]
    assert main([*argv, "--outcomes", "sample", "--denoising-steps", "1", "--threads", "1"]) == 0
    assert "Asterix: 2 updates on 90 dream steps" in capsys.readouterr().out
    result = json.loads(out.read_text())
    assert [row["update"] for row in result["log"]] == [1, 2] and "games" not in result["log"][0]
    assert result["config"]["denoising_steps"] == 1 and [dream.denoising_steps for dream in dreams] == [1]


def test_command_refuses_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    common: list[Any] = ["agent", "--json", str(tmp_path / "r.json"), "--model", str(_model_folder(tmp_path))]
    assert_main_error(main, capsys, [*common, "--updates", "0"], "--updates", "at least 1")
    assert_main_error(main, capsys, [*common, "--denoising-steps", "0"], "--denoising-steps", "at least 1")
    assert_main_error(main, capsys, [*common, "--experimental", "minibatches=0"], "--experimental minibatches", "at least 1")
    assert_main_error(main, capsys, [*common, "--batch-size", "4", "--experimental", "minibatches=5"], "minibatches=5", "at most --batch-size")
    assert_main_error(main, capsys, [*common, "--rollouts", "dream"], "--data DIR", "--rollouts dream")
    assert_main_error(main, capsys, [*common, "--data", str(tmp_path)], "--data DIR", "--rollouts dream")
    assert_main_error(main, capsys, [*common, "--to", str(tmp_path / "model")], "--to", "another folder")
    assert_main_error(main, capsys, [*common, "--weights", "int8"], "--weights", "--to DIR")
    pong = tmp_path / "pong"
    collect_episodes(CollectConfig("Pong", 10, pong))
    capsys.readouterr()  # the collector's progress bar
    assert_main_error(main, capsys, [*common, "--rollouts", "dream", "--data", str(pong)], "Pong episodes", "Asterix")
    common[-1] = str(tmp_path / "missing")
    assert_main_error(main, capsys, common, "does not exist")
    assert not (tmp_path / "r.json").exists()
