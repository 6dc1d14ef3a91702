"""Aggregate human-normalised scores over games and runs, the way the field reports Atari 100k.

``scores`` maps a game to its runs' HNS (one per seed / model). Following rliable (Agarwal et al.,
2021): the mean and median are over games of each game's mean over runs; the IQM is the 25%-trimmed
mean over all runs of all games; the optimality gap is ``1 - mean(min(HNS, 1))`` over all runs; the
95% confidence intervals come from a stratified bootstrap (runs resampled within each game) with
percentile intervals. JEDI's harmonic-mean HNS is ``1 / mean_i(1 / (HNS_i + 0.1))`` over games.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from jedi_play.env.games import AGENT_OPTIMAL, HUMAN_OPTIMAL

Aggregate = Callable[[Sequence[np.ndarray]], float]


def _per_game_means(runs: Sequence[np.ndarray]) -> np.ndarray:
    return np.array([r.mean() for r in runs])


def mean_hns(runs: Sequence[np.ndarray]) -> float:
    return float(_per_game_means(runs).mean())


def median_hns(runs: Sequence[np.ndarray]) -> float:
    return float(np.median(_per_game_means(runs)))


def iqm(runs: Sequence[np.ndarray]) -> float:
    """Interquartile mean over all runs of all games (``scipy.stats.trim_mean(x, 0.25)``)."""
    x = np.sort(np.concatenate(runs))
    cut = int(0.25 * len(x))  # scipy trims int(proportion * n) from each end
    return float(x[cut : len(x) - cut].mean())


def optimality_gap(runs: Sequence[np.ndarray], gamma: float = 1.0) -> float:
    return float(gamma - np.minimum(np.concatenate(runs), gamma).mean())


def harmonic_mean_hns(runs: Sequence[np.ndarray]) -> float:
    return float(1.0 / np.mean(1.0 / (_per_game_means(runs) + 0.1)))


AGGREGATES: dict[str, Aggregate] = {
    "mean": mean_hns,
    "median": median_hns,
    "iqm": iqm,
    "optimality_gap": optimality_gap,
    "harmonic_mean": harmonic_mean_hns,
}


def stratified_bootstrap_ci(
    runs: Sequence[np.ndarray], fn: Aggregate, reps: int = 2000, size: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile interval of ``fn`` over ``reps`` resamplings of each game's runs (with replacement)."""
    rng = np.random.default_rng(seed)
    stats = np.empty(reps)
    for i in range(reps):
        stats[i] = fn([r[rng.integers(0, len(r), len(r))] for r in runs])
    alpha = (1 - size) / 2
    return float(np.quantile(stats, alpha)), float(np.quantile(stats, 1 - alpha))


def aggregate_set(scores: Mapping[str, Sequence[float]], reps: int = 2000, seed: int = 0) -> dict:
    """Every aggregate with its 95% CI, and the number of games whose mean HNS is at least 1."""
    games = sorted(scores)
    runs = [np.asarray(scores[g], dtype=float) for g in games]
    out: dict = {"games": games, "runs": sum(len(r) for r in runs), "games_at_or_above_human": int((_per_game_means(runs) >= 1).sum())}
    for name, fn in AGGREGATES.items():
        out[name] = fn(runs)
        out[f"{name}_ci"] = list(stratified_bootstrap_ci(runs, fn, reps, seed=seed))
    return out


def aggregate_table(scores: Mapping[str, Sequence[float]], reps: int = 2000, seed: int = 0) -> dict[str, dict]:
    """Aggregates over all games given, and over those of them in the Agent-Optimal and Human-Optimal sets."""
    table = {"all": aggregate_set(scores, reps, seed)}
    for name, members in (("agent_optimal", AGENT_OPTIMAL), ("human_optimal", HUMAN_OPTIMAL)):
        subset = {g: s for g, s in scores.items() if g in members}
        if subset:
            table[name] = aggregate_set(subset, reps, seed)
    return table


def format_table(table: Mapping[str, Mapping]) -> str:
    """The aggregate table as aligned text: one row per measure, one column per game set."""
    sets = list(table)
    header = f"{'':<22}" + "".join(f"{s:>30}" for s in sets)
    lines = [header]
    for name in AGGREGATES:
        cells = [f"{table[s][name]:.3f} [{table[s][name + '_ci'][0]:.3f}, {table[s][name + '_ci'][1]:.3f}]" for s in sets]
        lines.append(f"{name + ' HNS' if name != 'optimality_gap' else name:<22}" + "".join(f"{c:>30}" for c in cells))
    lines.append(f"{'games >= human':<22}" + "".join(f"{table[s]['games_at_or_above_human']:>30d}" for s in sets))
    lines.append(f"{'games / runs':<22}" + "".join(f"{len(table[s]['games'])} / {table[s]['runs']}".rjust(30) for s in sets))
    return "\n".join(lines)
