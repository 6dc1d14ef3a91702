"""Aggregates of human-normalised scores: DIAMOND's published figures, and rliable on the same scores."""

from __future__ import annotations

import numpy as np
import pytest

from jedi_play.env.games import GAMES
from trainer.eval.aggregates import AGGREGATES, aggregate_table, format_table, harmonic_mean_hns, stratified_bootstrap_ci


def test_diamond_published_aggregates() -> None:
    table = aggregate_table({n: [g.hns(g.diamond_score)] for n, g in GAMES.items()}, reps=10)
    assert table["all"]["mean"] == pytest.approx(1.459, abs=0.002)
    assert table["all"]["median"] == pytest.approx(0.373, abs=0.002)
    assert table["all"]["games_at_or_above_human"] == 11
    assert table["agent_optimal"]["mean"] == pytest.approx(2.79, abs=0.01)
    assert table["human_optimal"]["mean"] == pytest.approx(0.13, abs=0.01)
    assert len(table["agent_optimal"]["games"]) == len(table["human_optimal"]["games"]) == 13
    text = format_table(table)
    assert "iqm HNS" in text and "games >= human" in text


def test_harmonic_mean_by_hand() -> None:
    # 1 / mean(1 / 0.6, 1 / 2.1) = 2 / (1.6667 + 0.47619)
    assert harmonic_mean_hns([np.array([0.4, 0.6]), np.array([2.0])]) == pytest.approx(2 / (1 / 0.6 + 1 / 2.1))


@pytest.fixture
def random_scores() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    games = sorted(GAMES)[:10]
    return {g: rng.gamma(1.0, 0.5 + i / 5, size=5) for i, g in enumerate(games)}  # 5 runs x 10 games


def test_point_estimates_match_rliable(random_scores: dict[str, np.ndarray]) -> None:
    metrics = pytest.importorskip("rliable.metrics")
    matrix = np.stack([random_scores[g] for g in sorted(random_scores)], axis=1)  # (runs, games), rliable's layout
    runs = [random_scores[g] for g in sorted(random_scores)]
    assert AGGREGATES["mean"](runs) == pytest.approx(metrics.aggregate_mean(matrix))
    assert AGGREGATES["median"](runs) == pytest.approx(metrics.aggregate_median(matrix))
    assert AGGREGATES["iqm"](runs) == pytest.approx(metrics.aggregate_iqm(matrix))
    assert AGGREGATES["optimality_gap"](runs) == pytest.approx(metrics.aggregate_optimality_gap(matrix))


def test_bootstrap_intervals_match_rliable(random_scores: dict[str, np.ndarray]) -> None:
    pytest.importorskip("rliable.metrics")
    library = pytest.importorskip("rliable.library")
    metrics = pytest.importorskip("rliable.metrics")
    matrix = np.stack([random_scores[g] for g in sorted(random_scores)], axis=1)
    runs = [random_scores[g] for g in sorted(random_scores)]
    theirs_fns = {"mean": metrics.aggregate_mean, "median": metrics.aggregate_median, "iqm": metrics.aggregate_iqm, "optimality_gap": metrics.aggregate_optimality_gap}
    _, intervals = library.get_interval_estimates(
        {"x": matrix}, lambda m: np.array([f(m) for f in theirs_fns.values()]), reps=4000, random_state=np.random.RandomState(0)
    )
    for i, name in enumerate(theirs_fns):
        lo, hi = stratified_bootstrap_ci(runs, AGGREGATES[name], reps=4000, seed=1)
        their_lo, their_hi = intervals["x"][:, i]
        width = their_hi - their_lo
        assert width > 0
        # two independent Monte-Carlo estimates of the same interval: equal up to resampling noise
        assert lo == pytest.approx(their_lo, abs=0.08 * width), name
        assert hi == pytest.approx(their_hi, abs=0.08 * width), name
