"""``jedi-train --preset smoke`` end to end on a real game: train, export, load, evaluate; and kill + resume."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import assert_one_line_error, run_script, script

from jedi_play.agent.player import AgentPlayer
from jedi_play.hub.model_folder import load_model_folder
from trainer.agent.evaluate import evaluate_agent
from trainer.agent.presets import PRESETS
from trainer.data.store import EpisodeStore

SMOKE = PRESETS["smoke"]


def _train(out: Path, *extra: str, game: str = "Breakout") -> subprocess.CompletedProcess:
    return run_script("jedi-train", "--game", game, "--preset", "smoke", "--out", str(out), "--threads", "1", *extra, timeout=600)


def _rows(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def _epochs(run_dir: Path) -> list[int]:
    """The epochs of the run's rows, without the final agent's (``final_agent_updates``)."""
    return [row["epoch"] for row in _rows(run_dir) if "final_agent_updates" not in row]


def test_smoke_run_trains_exports_and_plays(tmp_path: Path) -> None:
    run_dir, folder = tmp_path / "run", tmp_path / "model"
    result = _train(run_dir)
    assert result.returncode == 0, result.stderr
    assert "device cpu" in result.stdout
    store = EpisodeStore.open(run_dir / "replay")
    assert store.num_steps() == SMOKE.env_steps  # every real step is on disk, the last episode cut at the budget
    expected_epochs = (SMOKE.env_steps - SMOKE.initial_random_steps) // SMOKE.steps_per_epoch
    assert _epochs(run_dir) == [0, *range(1, expected_epochs + 1)]  # epoch 0: the world model's updates before the agent's
    rows = _rows(run_dir)
    final_rows = [r for r in rows if "final_agent_updates" in r]  # the smoke preset's final agent, as the cpu preset's
    assert [r["final_agent_updates"] for r in final_rows] == [SMOKE.final_agent_updates] > [0] and "eval_mean_score" in final_rows[-1]
    rows = rows[: len(rows) - len(final_rows)]
    assert rows[0]["world_model_updates"] == SMOKE.initial_world_model_updates > 0 and rows[0]["agent_updates"] == 0
    assert rows[-1]["world_model_updates"] == SMOKE.initial_world_model_updates + expected_epochs * SMOKE.world_model_updates
    assert rows[-1]["agent_updates"] == expected_epochs * SMOKE.agent_updates
    assert all(np.isfinite(r["wm_loss"]) and np.isfinite(r["ac_loss"]) for r in rows[1:]) and np.isfinite(rows[0]["wm_loss"])
    assert list((run_dir / "tb").glob("events.out.tfevents.*")), "no TensorBoard event file"

    exported = run_script("jedi-train", "export", str(run_dir), "--to", str(folder))
    assert exported.returncode == 0, exported.stderr
    run_agent = run_script("jedi-train", "export", str(run_dir), "--to", str(tmp_path / "own"), "--run-agent")
    assert run_agent.returncode == 0, run_agent.stderr
    assert "exported here: the run's own agent" in (tmp_path / "own" / "README.md").read_text()
    loaded = load_model_folder(folder, "breakout")
    card = (folder / "README.md").read_text()
    assert loaded.agent is not None and "agent and world model" in card
    assert loaded.world_model.cfg.to_dict().items() >= dict(SMOKE.jedi_options).items()  # the preset's world model
    # the agent standardises its latents by the world model's running statistics as they were at its last update
    assert loaded.agent.cfg.standardize_input and float(loaded.agent.input_std) == pytest.approx(float(loaded.world_model.latent_std), rel=0.01)
    assert f"learning rates {SMOKE.world_model_lr:g} (world model) and {SMOKE.agent_lr:g} (agent), entropy weight {SMOKE.entropy_weight:g}" in card
    assert "world-model settings that differ from the paper's: " in card and "mean_predictor_channels [96]" in card
    result_eval = evaluate_agent(AgentPlayer(loaded.world_model, loaded.agent, seed=0), "Breakout", 1, max_steps=30, progress=False)
    assert result_eval.steps == 30
    scored = run_script("jedi-eval", "--model", str(folder), "--episodes", "1", "--json", str(tmp_path / "eval.json"))
    assert scored.returncode == 0, scored.stderr
    evaluation = json.loads((tmp_path / "eval.json").read_text())
    assert {"game", "episodes", "mean_score", "std_score", "hns", "scores"} <= set(evaluation) and evaluation["episodes"] == 1

    again = _train(run_dir)
    assert_one_line_error(again, "already holds a run", "--resume")
    changed = _train(run_dir, "--resume", "--experimental", "dream_reward_weight=1")
    assert_one_line_error(changed, "--experimental dream_reward_weight=0.0", "same value")
    finished = _train(run_dir, "--resume")
    assert finished.returncode == 0 and "nothing to do" in finished.stdout


@pytest.mark.parametrize(
    "setting",
    ["dream_reward_weight=1", "latent_norm=true", "predict_delta=true", "mean_predictor_channels=32", "reward_reads_mean=true",
     "reward_reads_standardized=true", "decoder_grad_weight=1", "decoder_motion_weight=1"],
)
def test_jedi_options_refuse_diamond(tmp_path: Path, setting: str) -> None:
    result = _train(tmp_path / "run", "--world-model", "diamond", "--experimental", setting)
    assert_one_line_error(result, f"--experimental {setting.split('=')[0]}", "JEDI")


def test_reward_foresight_does_not_combine_with_dream_reward_weight(tmp_path: Path) -> None:
    result = _train(tmp_path / "run", "--experimental", "reward_foresight=true", "--experimental", "dream_reward_weight=1")
    assert_one_line_error(result, "reward_foresight", "dream_reward_weight")
    assert not (tmp_path / "run").exists()


def test_killed_run_resumes_without_losing_episodes(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    proc = subprocess.Popen([script("jedi-train"), "--game", "Breakout", "--preset", "smoke", "--out", str(run_dir), "--threads", "1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ckpt = run_dir / "checkpoint.safetensors"
    deadline = time.monotonic() + 300
    while not ckpt.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    if proc.poll() is not None:
        pytest.fail("the smoke run finished before its first checkpoint: nothing to kill part-way")
    proc.send_signal(signal.SIGKILL)  # part-way through the run, after its first checkpoint
    proc.wait()
    replay = run_dir / "replay"
    before = {p.name: p.read_bytes() for p in replay.glob("episode_*.npz")}
    assert before, "the run stored no episode before its first checkpoint"

    resumed = _train(run_dir, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    after = {p.name: p.read_bytes() for p in replay.glob("episode_*.npz")}
    assert all(after.get(name) == data for name, data in before.items()), "an episode stored before the kill changed or vanished"
    assert EpisodeStore.open(replay).num_steps() == SMOKE.env_steps
    epochs = _epochs(run_dir)
    assert epochs == [0, *range(1, SMOKE.epochs + 1)]  # no epoch logged twice after the resume


def test_sigterm_saves_a_checkpoint_and_exits_143(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    proc = subprocess.Popen([script("jedi-train"), "--game", "Breakout", "--preset", "smoke", "--out", str(run_dir), "--threads", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    deadline = time.monotonic() + 300
    while not (run_dir / "metrics.jsonl").exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=300)
    if proc.returncode == 0:
        pytest.skip("the smoke run finished before the signal arrived")
    assert proc.returncode == 143, out
    assert "stopped by a signal" in out and "--resume" in out
    assert (run_dir / "checkpoint.safetensors").exists()
    no_run_agent = run_script("jedi-train", "export", str(run_dir), "--to", str(tmp_path / "own"), "--run-agent")  # before its final agent
    assert_one_line_error(no_run_agent, "no run's agent beside a final one", "final_agent_updates")


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["--preset", "cpu-v3"], ("--preset", "invalid choice")),  # retired: docs/presets.md
        (["--agent-lr", "1e-3"], ("unrecognized arguments: --agent-lr",)),  # a knob behind the door
        (["--experimental", "no_such_knob=1"], ("--experimental takes KEY=VALUE", "agent_lr")),
        (["--experimental", "agent_updates=many"], ("--experimental agent_updates takes an int, not 'many'",)),
        (["--experimental", "agent_updates=0"], ("--experimental agent_updates must be positive",)),
    ],
)
def test_bad_presets_and_experimental_settings_are_one_line(tmp_path: Path, args: list[str], fragments: tuple[str, ...]) -> None:
    result = _train(tmp_path / "run", *args)
    assert_one_line_error(result, *fragments)
    assert not (tmp_path / "run").exists()
