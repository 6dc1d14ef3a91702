"""``jedi-train``: whole-agent training, and the sub-commands ``collect``, ``inspect``, ``world-model``,
``export``, ``push`` and ``agent``.

``jedi-train --game NAME --world-model jedi|diamond --preset ...`` trains a whole agent; a first word
naming a sub-command runs that step alone.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from jedi_play.cli.errors import UserError, run_main
from jedi_play.cli.parser import CliParser, add_dataclass_args, dataclass_from_args
from jedi_play.device import flush_denormals
from jedi_play.env.games import get_game
from jedi_play.hub.weight_codec import WEIGHTS_DTYPES
from trainer.agent.config import TrainConfig
from trainer.agent.frozen_model import FrozenAgentConfig, train_frozen_agent
from trainer.agent.loop import train_agent
from trainer.data.collect import CollectConfig, collect_episodes
from trainer.data.store import EpisodeStore
from trainer.world_model.export import export_run
from trainer.world_model.train import WorldModelTrainConfig, train_world_model

PROG = "jedi-train"
STOPPED = 143  # 128 + SIGTERM: the run stopped early, checkpointed (scripts and schedulers must not treat it as done)


def _train_parser() -> CliParser:
    parser = CliParser(
        prog=PROG,
        description="Train a JEDI or DIAMOND agent on an Atari 100k game.",
        epilog="sub-commands: 'jedi-train collect' collects random-policy episodes into a folder; "
        "'jedi-train inspect DIR' checks and summarises one; 'jedi-train world-model' trains a world model "
        "on one; 'jedi-train export RUN_DIR' writes a run's model folder and 'jedi-train push RUN_DIR' uploads it "
        "to the Hugging Face Hub; 'jedi-train agent' trains an actor-critic alone against a model folder, in the "
        "real game or its dream. Each answers --help.",
    )
    add_dataclass_args(parser, TrainConfig)
    return parser


def _collect_parser() -> CliParser:
    parser = CliParser(prog=f"{PROG} collect", description="Collect episodes of the training env, played at random or like a person (--policy person).")
    add_dataclass_args(parser, CollectConfig)
    return parser


def _collect(argv: Sequence[str]) -> int:
    config = dataclass_from_args(CollectConfig, _collect_parser().parse_args(argv))
    stats = collect_episodes(config)
    line = f"collected {stats.steps} steps of {config.policy} play in {stats.episodes} episode(s) into {config.out}"
    if stats.returns:
        line += f"; mean return of the {len(stats.returns)} finished ones {sum(stats.returns) / len(stats.returns):.1f}"
    print(line)
    return 0


def _inspect(argv: Sequence[str]) -> int:
    parser = CliParser(prog=f"{PROG} inspect", description="Check and summarise an episode folder.")
    parser.add_argument("data", type=Path, metavar="DIR", help="episode folder")
    store = EpisodeStore.open(parser.parse_args(argv).data)
    lengths, returns, life_losses = [], [], 0
    for episode in store:  # loads every file: a damaged one is reported
        lengths.append(len(episode))
        returns.append(episode.episode_return)
        life_losses += int(episode.life_loss.sum())
    print(f"{store.root}: {store.game}, {len(lengths)} episodes, {sum(lengths)} steps, {life_losses} lives lost")
    if returns:
        print(f"return mean {sum(returns) / len(returns):.1f}, min {min(returns):.1f}, max {max(returns):.1f}")
    return 0


def _train(argv: Sequence[str]) -> int:
    config = dataclass_from_args(TrainConfig, _train_parser().parse_args(argv))
    get_game(config.game)
    row, finished = train_agent(config)
    if int(os.environ.get("RANK", "0")) != 0:
        return 0 if finished else STOPPED
    if not finished:
        print(f"stopped by a signal; the checkpoint in {config.out} is saved: continue with --resume")
        return STOPPED
    shown = ", ".join(f"{k} {row[k]:.3f}" for k in ("env_steps", "eval_mean_score", "eval_hns") if k in row)
    print(f"run saved in {config.out}" + (f"; {shown}" if shown else ""))
    return 0


def _world_model(argv: Sequence[str]) -> int:
    parser = CliParser(
        prog=f"{PROG} world-model", description="Train a JEDI or DIAMOND world model on an episode folder."
    )
    add_dataclass_args(parser, WorldModelTrainConfig)
    config = dataclass_from_args(WorldModelTrainConfig, parser.parse_args(argv))
    val = train_world_model(config)
    shown = ", ".join(f"{k} {v:.4f}" for k, v in val.items())
    print(f"run saved in {config.out}; held-out: {shown}")
    return 0


def _export(argv: Sequence[str]) -> int:
    parser = CliParser(
        prog=f"{PROG} export", description="Write a run's model as a model folder (config.json, safetensors, card)."
    )
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="training run folder")
    parser.add_argument("--to", type=Path, required=True, metavar="DIR", help="model folder to write")
    parser.add_argument(
        "--weights",
        choices=WEIGHTS_DTYPES,
        default="float32",
        help="weight storage: float32, float16 (half the size) or int8 (a quarter; per-channel scales)",
    )
    parser.add_argument(
        "--run-agent", action="store_true", help="a run that ended with a final agent (final_agent_updates): export the run's agent as it was before it"
    )
    args = parser.parse_args(argv)
    print(f"exported {args.run_dir} to {export_run(args.run_dir, args.to, args.weights, args.run_agent)} ({args.weights} weights)")
    return 0


def _push(argv: Sequence[str]) -> int:
    parser = CliParser(
        prog=f"{PROG} push",
        description="Export a run's model (as 'export' does) and upload it to a Hugging Face Hub repo in one commit: "
        "config.json, the safetensors weights and the model card. Uses your token: HF_TOKEN or `hf auth login`.",
    )
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="training run folder")
    parser.add_argument("--repo-id", required=True, metavar="NAMESPACE/NAME", help="Hub model repo, created if missing")
    parser.add_argument("--revision", default="main", metavar="BRANCH", help="branch to commit to, created if missing")
    parser.add_argument(
        "--private", action="store_true", help="create the repo private (an existing repo keeps its visibility)"
    )
    parser.add_argument(
        "--weights",
        choices=WEIGHTS_DTYPES,
        default="int8",
        help="weight storage: float32, float16 or int8 (default: int8, a quarter of float32's size)",
    )
    parser.add_argument("--message", metavar="TEXT", help="commit message (default: names the run and the weights)")
    args = parser.parse_args(argv)

    from jedi_play.hub.upload import check_target, push_folder  # imports huggingface_hub: only when pushing

    check_target(args.repo_id, args.revision)
    if not args.run_dir.is_dir():
        raise UserError(f"{args.run_dir} is not a folder: give a training run folder")
    if args.message is not None and not args.message.strip():
        raise UserError("--message is empty")
    message = args.message or f"Upload {args.run_dir.resolve().name} ({args.weights} weights) with jedi-train push"
    with tempfile.TemporaryDirectory(prefix="jedi-train-push-") as tmp:
        folder = export_run(args.run_dir, Path(tmp) / "model", args.weights)
        result = push_folder(folder, args.repo_id, args.revision, private=args.private, message=message)
    print(
        f"pushed {args.run_dir} to {result.repo_id} at revision {result.revision}: commit {result.commit} ({result.commit_url})"
    )
    return 0


def _agent(argv: Sequence[str]) -> int:
    parser = CliParser(
        prog=f"{PROG} agent",
        description="Train a fresh actor-critic alone against a model folder's frozen world model (which gives its "
        "states), with the whole run's loss: on real rollouts of the game (a baseline, not JEDI) or in the model's "
        "dream (--rollouts dream --data DIR); then evaluate it.",
    )
    add_dataclass_args(parser, FrozenAgentConfig)
    config = dataclass_from_args(FrozenAgentConfig, parser.parse_args(argv))
    result = train_frozen_agent(config)
    line = f"{result['game']}: {config.updates} updates on {result['steps']} {config.rollouts} steps"
    line += f" in {result['train_seconds']:.0f} s"
    if "evaluation" in result:
        ev = result["evaluation"]
        line += f"; evaluation {ev['mean_score']:.1f} +- {ev['ci95']:.1f} (95% CI) over {ev['episodes']} episodes"
        line += f", HNS {ev['hns']:.3f}"
    print(f"{line}; written to {config.json}")
    return 0


SUBCOMMANDS = {
    "collect": _collect,
    "inspect": _inspect,
    "world-model": _world_model,
    "export": _export,
    "push": _push,
    "agent": _agent,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    flush_denormals()
    if args and args[0] in SUBCOMMANDS:
        return run_main(PROG, lambda: SUBCOMMANDS[args[0]](args[1:]))
    return run_main(PROG, lambda: _train(args))


if __name__ == "__main__":
    sys.exit(main())
