"""Data-parallel training with 2 gloo processes on CPU: replicas stay identical; ``torchrun`` runs ``jedi-train``."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp

from trainer.agent.presets import PRESETS
from trainer.data.store import EpisodeStore

WORLD_SIZE = 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _join(rank: int, port: int) -> None:
    os.environ.update({"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": str(WORLD_SIZE)})
    torch.set_num_threads(1)


def _digest(module: torch.nn.Module) -> list[float]:
    return [float(p.detach().double().sum()) for p in module.parameters()]


def _update_worker(rank: int, port: int, out: str, parallel: bool) -> None:
    """A few world-model and actor-critic updates on batches that differ between the ranks."""
    _join(rank, port)
    from jedi_play.dream.dream_env import DreamEnv
    from jedi_play.models.actor_critic import ActorCritic, ActorCriticConfig
    from jedi_play.models.factory import build_world_model
    from trainer.agent.imagination import ImaginationConfig, actor_critic_loss, imagine
    from trainer.data.sampler import Segment
    from trainer.distributed import Objective, data_parallel, init_distributed, shutdown_distributed
    from trainer.world_model.train import segment_to_batch, world_model_update

    ctx, device = init_distributed(torch.device("cpu"))
    torch.manual_seed(rank)  # different initial weights: DDP must send rank 0's
    wm = build_world_model("jedi", {"num_actions": 4})
    agent = ActorCritic(ActorCriticConfig.for_world_model(wm, 4))
    dream = DreamEnv(wm, 1, outcomes="sample")
    wm_objective = Objective(wm, type(wm).training_loss)
    agent_objective = Objective(agent, lambda a, f, x: actor_critic_loss(imagine(dream, a, f, x, 3), ImaginationConfig(horizon=3)))
    start = {"wm": _digest(wm), "agent": _digest(agent)}
    if parallel:
        wm_objective, agent_objective = data_parallel(wm_objective, ctx, device), data_parallel(agent_objective, ctx, device)
    wm_optim = torch.optim.AdamW(wm.parameters(), lr=1e-3)
    agent_optim = torch.optim.AdamW(agent.parameters(), lr=1e-3)
    rng = np.random.default_rng(100 + rank)  # each rank its own data
    n, b = wm.num_cond_steps, 2
    for step in range(2):
        seg = Segment(
            frames=rng.integers(0, 256, (b, n + 2, 64, 64, 3), dtype=np.uint8),
            actions=rng.integers(0, 4, (b, n + 1)),
            rewards=rng.choice([-1.0, 0.0, 1.0], (b, n + 1)).astype(np.float32),
            terminated=np.zeros((b, n + 1), bool),
            truncated=np.zeros((b, n + 1), bool),
            life_loss=np.zeros((b, n + 1), bool),
            mask=np.ones((b, n + 2), bool),
        )
        world_model_update(wm, wm_optim, [1e-3], segment_to_batch(seg, device), step, 1, 1.0, wm_objective)
        frames = torch.from_numpy(seg.frames[:, :n])
        actions = torch.from_numpy(seg.actions[:, : n - 1])
        loss, _ = agent_objective(frames, actions)
        agent_optim.zero_grad()
        loss.backward()
        agent_optim.step()
    Path(out, f"rank{rank}.json").write_text(json.dumps({"start": start, "end": {"wm": _digest(wm), "agent": _digest(agent)}}))
    shutdown_distributed(wait_for_others=True)


def _check_worker(rank: int, port: int, out: str, perturb: bool) -> None:
    _join(rank, port)
    from trainer.distributed import check_replicas_identical, init_distributed, shutdown_distributed

    ctx, device = init_distributed(torch.device("cpu"))
    torch.manual_seed(0)
    layer = torch.nn.Linear(4, 4)
    if perturb and rank == 1:
        with torch.no_grad():
            layer.weight[2, 3] += 1e-6
    try:
        check_replicas_identical({"layer": layer}, ctx, device)
        outcome = "identical"
    except RuntimeError as e:
        outcome = str(e)
    Path(out, f"rank{rank}.txt").write_text(outcome)
    shutdown_distributed(wait_for_others=True)


def _spawn(worker, tmp_path: Path, flag: bool) -> None:
    mp.spawn(worker, args=(_free_port(), str(tmp_path), flag), nprocs=WORLD_SIZE, join=True)


@pytest.mark.parametrize("parallel", [True, False])
def test_data_parallel_updates_keep_the_replicas_identical(tmp_path: Path, parallel: bool) -> None:
    _spawn(_update_worker, tmp_path, parallel)
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(WORLD_SIZE)]
    for name in ("wm", "agent"):
        assert ranks[0]["start"][name] != ranks[1]["start"][name], "the ranks should start from different weights"
        assert ranks[0]["end"][name] != ranks[0]["start"][name], f"the {name} did not change"
        if parallel:
            assert ranks[0]["end"][name] == ranks[1]["end"][name], f"the {name} replicas differ after the updates"
        else:  # the control: without DDP, different data and weights give different replicas
            assert ranks[0]["end"][name] != ranks[1]["end"][name]


@pytest.mark.parametrize("perturb", [False, True])
def test_replica_check_catches_one_changed_weight(tmp_path: Path, perturb: bool) -> None:
    _spawn(_check_worker, tmp_path, perturb)
    outcomes = [(tmp_path / f"rank{r}.txt").read_text() for r in range(WORLD_SIZE)]
    if perturb:
        assert all("the replicas of the layer differ" in o for o in outcomes), outcomes
    else:
        assert outcomes == ["identical"] * WORLD_SIZE


def test_torchrun_runs_jedi_train_on_two_processes(tmp_path: Path) -> None:
    """The smoke preset under torchrun: rank 0 plays and writes; every checkpoint checks the replicas."""
    run_dir = tmp_path / "run"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(WORLD_SIZE), "-m", "trainer.cli",
           "--game", "Breakout", "--preset", "smoke", "--out", str(run_dir), "--threads", "1"]  # fmt: skip
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    assert "2 data-parallel ranks" in result.stdout and result.stdout.count("run saved in") == 1
    smoke = PRESETS["smoke"]
    assert EpisodeStore.open(run_dir / "replay").num_steps() == smoke.env_steps
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    epochs = (smoke.env_steps - smoke.initial_random_steps) // smoke.steps_per_epoch
    assert rows.pop()["final_agent_updates"] == smoke.final_agent_updates  # the fresh final agent, the same on both ranks
    assert [r["epoch"] for r in rows] == [0, *range(1, epochs + 1)]  # epoch 0: the world model's updates before the agent's
    assert rows[-1]["world_model_updates"] == smoke.initial_world_model_updates + epochs * smoke.world_model_updates
