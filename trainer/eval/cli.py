"""``jedi-eval``: an agent's score in the real game; ``jedi-eval fidelity`` and ``jedi-eval ranking`` for the world model."""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch

from jedi_play.agent.player import AgentPlayer
from jedi_play.cli.errors import UserError, run_main
from jedi_play.cli.parser import CliParser, add_dataclass_args, dataclass_from_args
from jedi_play.data.atomic import atomic_write_bytes
from jedi_play.device import describe_device, flush_denormals, resolve_device
from jedi_play.env.games import get_game
from jedi_play.hub.model_folder import load_model_folder
from trainer.agent.evaluate import EvalResult, UniformRandomPolicy, evaluate_agent
from trainer.eval.action_ranking import RankingConfig, run_ranking
from trainer.eval.aggregates import aggregate_table, format_table
from trainer.eval.fidelity import FidelityConfig, PlayabilityConfig, run_fidelity

PROG = "jedi-eval"


@dataclass
class EvalConfig:
    """Score agents under the evaluation protocol (all lives, 108k-frame cap), and aggregate several."""

    model: list[str] = field(default_factory=list, metadata={"help": "Hub repo id or local model folder, or a folder of model folders", "metavar": "REPO_ID_OR_PATH"})
    episodes: int = field(default=100, metadata={"help": "evaluation episodes per model", "metavar": "N"})
    parallel_envs: int = field(default=16, metadata={"help": "episodes played at once, the agent acting on all of them in one batch", "metavar": "N"})
    random_policy: list[str] = field(default_factory=list, metadata={"help": "also score the uniform random policy on GAME, under the same protocol", "metavar": "GAME"})
    json: Path | None = field(default=None, metadata={"help": "write the results to FILE", "metavar": "FILE"})
    results: list[Path] = field(default_factory=list, metadata={"help": "add the scores in an earlier 'jedi-eval --json' FILE", "metavar": "FILE"})
    seed: int = field(default=0, metadata={"help": "first episode's seed (episode i uses seed + i)"})
    device: Literal["auto", "cpu", "cuda", "mps"] = field(default="auto", metadata={"help": "torch device"})


def build_parser() -> CliParser:
    parser = CliParser(
        prog=PROG,
        description="Evaluate a trained agent in the real game.",
        epilog="'jedi-eval playability --help' measures whether a world model's dream answers the keys, keeps what moves and "
        "predicts rewards and lost lives as the real game does; 'jedi-eval fidelity --help' its open-loop PSNR; "
        "'jedi-eval ranking --help' whether its dream ranks the actions as the game does.",
    )
    add_dataclass_args(parser, EvalConfig)
    return parser


def _measure(name: str, config_type: type[FidelityConfig], description: str, args: Sequence[str]) -> tuple[FidelityConfig, dict]:
    """Parse ``jedi-eval NAME``'s options, measure the model, and print the setting's line."""
    parser = CliParser(prog=f"{PROG} {name}", description=description)
    add_dataclass_args(parser, config_type)
    config = dataclass_from_args(config_type, parser.parse_args(args))
    loaded = load_model_folder(config.model, config.game)
    with tempfile.TemporaryDirectory() as tmp:
        result = run_fidelity(config, loaded, Path(tmp) / "episodes")
    print(f"{result['game']} {result['world_model']} world model, {result['episodes']} held-out episodes ({result['policy']}), {result['rollouts']} rollouts")
    return config, result


def _print_playability(result: dict) -> None:
    response = result.get("action_response")
    if response and response["pairs"]:
        print(f"action response ({', '.join(response['pairs'])} from {response['states']} real states): correlation of where the picture changes, dream/real magnitude")
        for k in (key for key in response if key.isdigit()):
            r = response[k]
            print(f"{'held ' + k + (' step' if k == '1' else ' steps'):>15}: correlation {_fmt(r['correlation'])}, magnitude {_fmt(r['magnitude_ratio'])}")
    print(f"{'horizon':>8} {'moving-pixel PSNR dB':>21} {'copy-last dB':>13} {'pixels':>9}")
    for h, m in result["moving_psnr"].items():
        print(f"{h:>8} {_fmt(m['psnr']):>21} {_fmt(m['psnr_copy_last']):>13} {m['pixels']:>9}")
    o = result["outcomes"]
    for name, label in (("rewards", "reward events"), ("life_losses", "life losses")):
        r = o[name]
        print(f"{label}: {r['real_events']} real, {r['dream_events']} dreamed; recall {_fmt(r['recall'], '.0%')}, "
              f"precision {_fmt(r['precision'], '.0%')} (within {o['tolerance_steps']} step)")


def _fmt(value: float | None, spec: str = ".2f") -> str:
    return "n/a" if value is None else format(value, spec)


def _playability(args: Sequence[str]) -> int:
    description = "Does the dream answer the keys, keep what moves and predict rewards and lost lives as the real game does?"
    config, result = _measure("playability", PlayabilityConfig, description, args)
    _print_playability(result)
    if config.json:
        atomic_write_bytes(config.json, (json.dumps(result, indent=2) + "\n").encode())
    return 0


def _fidelity(args: Sequence[str]) -> int:
    config, result = _measure("fidelity", FidelityConfig, "Open-loop PSNR and rewards of a world model against the real game.", args)
    print(f"{'horizon':>8} {'PSNR dB':>9} {'copy-last dB':>13}")
    for h in sorted(result["psnr"], key=int):
        copy = result["psnr_copy_last"].get(h)
        print(f"{h:>8} {result['psnr'][h]:>9.2f} {'' if copy is None else f'{copy:.2f}':>13}")
    recon = result.get("reconstruction")
    if recon and recon["passing_pixels"]:
        print(f"small moving things (pixels unlike the frames before and after): {recon['passing_pixels_reproduced']:.1%} of {recon['passing_pixels']} reproduced by the decoder")
    r = result["rewards"]
    print(f"rewards: {r['events']} in {r['steps']} real steps ({r['rate_real']:.2%}); the dream would draw one on {r['rate_dream']:.2%} of its steps")
    if r["events"]:
        print(f"probability of each real reward's sign: {r['recall_real_frames']:.2f} on the real frames, {r['recall_dream']:.2f} in the dream")
    _print_playability(result)
    if config.json:
        atomic_write_bytes(config.json, (json.dumps(result, indent=2) + "\n").encode())
    return 0


def _ranking(args: Sequence[str]) -> int:
    parser = CliParser(prog=f"{PROG} ranking", description="Each action held from the same real states in the game and in the dream: does the dream rank them alike?")
    add_dataclass_args(parser, RankingConfig)
    config = dataclass_from_args(RankingConfig, parser.parse_args(args))
    result = run_ranking(config, load_model_folder(config.model))
    print(f"{result['game']} {result['world_model']} world model, {result['states']} real states, each action held {result['horizon']} steps")
    print(f"{'action':>14} {'real return':>12} {'dream return':>13} {'real life lost':>15} {'dream life lost':>16}")
    for name, r in result["actions"].items():
        print(f"{name:>14} {r['real']:>12.3f} {r['dream']:>13.3f} {r['real_end']:>15.3f} {r['dream_end']:>16.3f}")
    corr, per_state = result["rank_correlation_of_means"], result["rank_correlation_per_state"]
    print(f"rank correlation of the means {'n/a' if corr is None else f'{corr:.2f}'}; "
          f"within a state {'n/a' if per_state is None else f'{per_state:.2f}'} ({result['states_with_distinct_real_returns']} states whose actions differ)")
    g = result["real_return"]
    print(f"real return of the dream's choice {g['dream_choice']:.3f}, of a random action {g['random_action']:.3f}, of the best {g['best_action']:.3f}")
    e = result["action_effects"]
    print(f"one step ahead, the next state moves with the action by {e['real_spread']:.4f} (RMS) in the game and {e['dream_spread']:.4f} "
          f"in the dream (mean of {e['samples']} samples; one sample's noise {e['dream_noise']:.4f}); "
          f"alignment {e['alignment']:.2f}, share of the real effects reproduced {e['explained']:.2f}")
    if config.json:
        atomic_write_bytes(config.json, (json.dumps(result, indent=2) + "\n").encode())
    return 0


def model_paths(given: list[str]) -> list[str]:
    """Expand each folder that is not itself a model folder into the model folders inside it."""
    found: list[str] = []
    for item in given:
        path = Path(item)
        if path.is_dir() and not (path / "config.json").exists():
            inner = sorted(str(p.parent) for p in path.glob("*/config.json"))
            if not inner:
                raise UserError(f"{path} is neither a model folder nor a folder of model folders")
            found += inner
        else:
            found.append(item)
    return found


def _evaluate_one(path: str, config: EvalConfig, device: torch.device) -> dict:
    loaded = load_model_folder(path, device=device)
    if loaded.agent is None:
        raise UserError(f"{path} holds a world model without an agent; train one with 'jedi-train --game ... --preset ...'")
    print(f"{loaded.game}: {loaded.kind} agent from {loaded.path} on {describe_device(device)}", flush=True)
    result = evaluate_agent(AgentPlayer(loaded.world_model, loaded.agent, seed=config.seed), loaded.game, config.episodes, seed=config.seed, parallel=config.parallel_envs)
    _print_score(result)
    return {**result.to_dict(), "model": str(path)}


def _evaluate_random(game_name: str, config: EvalConfig) -> dict:
    game = get_game(game_name)
    print(f"{game.name}: the uniform random policy", flush=True)
    policy = UniformRandomPolicy(game.num_actions, seed=config.seed)
    result = evaluate_agent(policy, game.name, config.episodes, seed=config.seed, parallel=config.parallel_envs)
    _print_score(result)
    return {**result.to_dict(), "model": "uniform random policy"}


def _print_score(result: EvalResult) -> None:
    print(
        f"{result.game}: mean score {result.mean_score:.1f} +- {result.ci95:.1f} (95% CI), std {result.std_score:.1f}, "
        f"{len(result.scores)} episodes; HNS {result.hns:.3f}"
    )


def _read_results(path: Path) -> list[dict]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise UserError(f"cannot read results {path}: {e}") from None
    rows = data.get("results", [data]) if isinstance(data, dict) else None
    if not rows or not all(isinstance(r, dict) and "game" in r and "hns" in r for r in rows):
        raise UserError(f"{path} is not a 'jedi-eval --json' file")
    return rows


def _evaluate(config: EvalConfig) -> int:
    if config.episodes < 1:
        raise UserError(f"--episodes must be at least 1, got {config.episodes}")
    if config.parallel_envs < 1:
        raise UserError(f"--parallel-envs must be at least 1, got {config.parallel_envs}")
    if not config.model and not config.results and not config.random_policy:
        raise UserError("give at least one --model (or --results FILE from an earlier run, or --random-policy GAME)")
    device = resolve_device(config.device) if config.model else torch.device("cpu")
    rows = [r for f in config.results for r in _read_results(f)]
    rows += [_evaluate_one(path, config, device) for path in model_paths(config.model)]
    rows += [_evaluate_random(game, config) for game in config.random_policy]
    output: dict = rows[0] if len(rows) == 1 else {"results": rows}
    if len(rows) > 1:
        scores: dict[str, list[float]] = {}
        for r in rows:
            scores.setdefault(r["game"], []).append(r["hns"])
        output["aggregates"] = aggregate_table(scores)
        print(format_table(output["aggregates"]))
    if config.json:
        atomic_write_bytes(config.json, (json.dumps(output, indent=2) + "\n").encode())
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    flush_denormals()

    def body() -> int:
        if args and args[0] == "fidelity":
            return _fidelity(args[1:])
        if args and args[0] == "playability":
            return _playability(args[1:])
        if args and args[0] == "ranking":
            return _ranking(args[1:])
        return _evaluate(dataclass_from_args(EvalConfig, build_parser().parse_args(args)))

    return run_main(PROG, body)


if __name__ == "__main__":
    sys.exit(main())
