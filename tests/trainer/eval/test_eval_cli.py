"""``jedi-eval``'s aggregation of several results, and its one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

from cli_helpers import assert_one_line_error, run_script


def _result(game: str, hns: float) -> dict:
    return {"game": game, "episodes": 3, "mean_score": 0.0, "std_score": 0.0, "hns": hns, "scores": [0.0, 0.0, 0.0]}


def test_aggregates_over_earlier_results(tmp_path: Path) -> None:
    first, second, out = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "agg.json"
    first.write_text(json.dumps(_result("Pong", 0.2)))  # a single-model file
    second.write_text(json.dumps({"results": [_result("Pong", 0.4), _result("Breakout", 1.5), _result("Asterix", 0.1)]}))
    result = run_script("jedi-eval", "--results", str(first), "--results", str(second), "--json", str(out))
    assert result.returncode == 0, result.stderr
    assert "iqm HNS" in result.stdout and "agent_optimal" in result.stdout
    data = json.loads(out.read_text())
    assert len(data["results"]) == 4
    table = data["aggregates"]
    assert table["all"]["mean"] == (0.3 + 1.5 + 0.1) / 3  # per-game means first: Pong's two runs average to 0.3
    assert table["all"]["games_at_or_above_human"] == 1
    assert set(table) == {"all", "agent_optimal", "human_optimal"}


def test_random_policy_baseline(tmp_path: Path) -> None:
    out = tmp_path / "random.json"
    result = run_script("jedi-eval", "--random-policy", "pong", "--episodes", "2", "--json", str(out))
    assert result.returncode == 0, result.stderr
    data = json.loads(out.read_text())
    assert data["game"] == "Pong" and data["model"] == "uniform random policy" and data["episodes"] == 2
    assert all(-21 <= s <= -15 for s in data["scores"])  # random play loses Pong by far
    assert data["steps"] > 2 * 500  # whole games: 21 points take hundreds of steps
    assert "Pong: mean score" in result.stdout


def test_errors_are_one_line(tmp_path: Path) -> None:
    assert_one_line_error(run_script("jedi-eval"), "--model")
    assert_one_line_error(run_script("jedi-eval", "--model", str(tmp_path / "missing")), "does not exist")
    assert_one_line_error(run_script("jedi-eval", "--model", str(tmp_path)), "neither a model folder")
    bad = tmp_path / "bad.json"
    bad.write_text("{\"x\": 1}")
    assert_one_line_error(run_script("jedi-eval", "--results", str(bad)), "not a 'jedi-eval --json' file")
    assert_one_line_error(run_script("jedi-eval", "--model", "x", "--episodes", "0"), "--episodes")
    assert_one_line_error(run_script("jedi-eval", "--model", "x", "--parallel-envs", "0"), "--parallel-envs")
    assert_one_line_error(run_script("jedi-eval", "--random-policy", "Boxx"), "unknown game")
