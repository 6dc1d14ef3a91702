"""``jedi-play``: the command-line contract of the app (DESIGN.md, "Command-line contracts").

Order of work: check the options, open pygame's display (no display is one line, before any download),
set the CPU threads (fewer on a busy machine) and pick the device, find and load the model (one line says
what was loaded from where), start the real game whose first frames seed the dream, then open the window:
play starts on its first frame, eager; the dream's networks are compiled in the background and swapped in
when ready only where that pays (``--compile``: by default on the CPU once eager play falls short of the
frame cap). With ``--record`` every episode played is saved into an episode folder. Every way of quitting
(Esc, closing the window, ``--max-frames``, Ctrl-C, SIGTERM) ends play after the frame in progress, saves
the recordings in progress, prints the closing lines and exits 0 (``QuitOnSignals``); the console script
then ends the process at once if a compile thread is still running (``script``).

A first word naming a sub-command runs it instead: ``jedi-play export-video`` writes recorded episodes as
an MP4 or a GIF, ``jedi-play replay`` plays them back in a window. Neither needs torch or a model.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

from jedi_play.app.hud import count
from jedi_play.cli.errors import UserError, run_main
from jedi_play.cli.parser import CliParser, add_dataclass_args, dataclass_from_args
from jedi_play.data.store import EpisodeStore
from jedi_play.env.games import get_game

if TYPE_CHECKING:
    from jedi_play.app.recorder import Recorder

PROG = "jedi-play"
MIN_SIZE, MAX_SIZE = 64, 4096
STOPPED = 143  # 128 + SIGTERM


@dataclass
class PlayConfig:
    """Options of the play window."""

    game: str = field(default="Asterix", metadata={"help": "Atari 100k game"})
    model: str | None = field(default=None, metadata={"help": "Hub repo id or local model folder", "metavar": "REPO_ID_OR_PATH"})
    revision: str | None = field(default=None, metadata={"help": "Hub revision (branch, tag or commit) to pin"})
    mode: Literal["dream", "agent", "compare", "versus"] = field(default="dream", metadata={"help": "what to show"})
    fps: int = field(default=15, metadata={"help": "frame cap, 0 for none"})
    size: int = field(default=640, metadata={"help": "game pane size in pixels", "metavar": "PX"})
    steps: int = field(default=3, metadata={"help": "denoising steps per frame", "metavar": "N"})
    device: Literal["auto", "cpu", "cuda", "mps"] = field(default="auto", metadata={"help": "torch device"})
    threads: int | None = field(
        default=None,
        metadata={
            "help": "torch CPU threads (default: OMP_NUM_THREADS, else the cores other processes leave free)",
            "metavar": "N",
        },
    )
    compile: Literal["auto", "on", "off"] = field(
        default="auto",
        metadata={
            "help": "torch.compile the dream's networks in the background while playing "
            "(auto: on the CPU, once eager play falls short of the --fps cap)"
        },
    )
    record: Path | None = field(
        default=None, metadata={"help": "record every episode played into this episode folder (F9 toggles)", "metavar": "DIR"}
    )
    max_frames: int | None = field(default=None, metadata={"help": "quit after N frames", "metavar": "N"})
    screenshot: Path | None = field(default=None, metadata={"help": "save the window to FILE on quit", "metavar": "FILE"})


@dataclass
class ExportConfig:
    """Options of ``jedi-play export-video``."""

    source: Path = field(metadata={"positional": True, "metavar": "EPISODE_FILE_OR_DIR", "help": "an episode file or folder"})
    to: Path = field(metadata={"help": "video to write: .mp4 (needs ffmpeg on PATH) or .gif", "metavar": "OUT"})
    fps: int = field(default=15, metadata={"help": "frames per second of the video"})
    scale: int = field(default=4, metadata={"help": "upscaling factor (nearest neighbour)", "metavar": "K"})
    episode: int | None = field(default=None, metadata={"help": "only this episode of a folder (from 0)", "metavar": "I"})


@dataclass
class ReplayConfig:
    """Options of ``jedi-play replay``."""

    source: Path = field(metadata={"positional": True, "metavar": "DIR_OR_FILE", "help": "an episode folder or file"})
    episode: int | None = field(default=None, metadata={"help": "only this episode of a folder (from 0)", "metavar": "I"})
    fps: int = field(default=15, metadata={"help": "playback frames per second, 0 for no cap (+ and - change it)"})
    size: int = field(default=640, metadata={"help": "pane size in pixels", "metavar": "PX"})
    max_frames: int | None = field(default=None, metadata={"help": "quit after N frames", "metavar": "N"})
    screenshot: Path | None = field(default=None, metadata={"help": "save the window to FILE on quit", "metavar": "FILE"})


def build_parser() -> CliParser:
    parser = CliParser(
        prog=PROG,
        description="Play Atari inside a JEDI diffusion world model.",
        epilog="sub-commands: 'jedi-play export-video' writes recorded episodes as an MP4 or a GIF; "
        "'jedi-play replay' plays them back. Each answers --help.",
    )
    add_dataclass_args(parser, PlayConfig)
    return parser


def check_config(config: PlayConfig) -> None:
    """Refuse options that cannot work, before anything slow happens."""
    from jedi_play.app.session import MAX_DENOISING_STEPS

    get_game(config.game)
    if not 1 <= config.steps <= MAX_DENOISING_STEPS:
        raise UserError(f"--steps must be between 1 and {MAX_DENOISING_STEPS}, not {config.steps}")
    if config.threads is not None and config.threads < 1:
        raise UserError(f"--threads must be at least 1, not {config.threads}")
    check_window_options(config.fps, config.size, config.max_frames, config.screenshot)
    if config.record is not None:
        EpisodeStore.check(config.record, config.game, "--record")


def check_window_options(fps: int, size: int, max_frames: int | None, screenshot: Path | None) -> None:
    """The options the play and replay windows share."""
    if fps < 0:
        raise UserError(f"--fps must be 0 (no cap) or more, not {fps}")
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise UserError(f"--size must be between {MIN_SIZE} and {MAX_SIZE} pixels, not {size}")
    if max_frames is not None and max_frames < 1:
        raise UserError(f"--max-frames must be at least 1, not {max_frames}")
    if screenshot is not None and not screenshot.parent.is_dir():
        raise UserError(f"--screenshot: the folder {screenshot.parent} does not exist")


class StoppableWindow(Protocol):
    def stop(self) -> None: ...


class QuitOnSignals:
    """SIGTERM and Ctrl-C (SIGINT): while a window plays (``window`` is set), they end it after the frame in
    progress, as Esc does. Before that (the model loading), SIGTERM ends the app through its ``finally`` blocks
    with exit code 143 and Ctrl-C is a ``KeyboardInterrupt`` (exit code 130)."""

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self) -> None:
        self.window: StoppableWindow | None = None  # the play or replay window, once it plays

    def handle(self, signum: int, frame: object) -> None:
        if self.window is not None:
            self.window.stop()
        elif signum == signal.SIGTERM:
            raise SystemExit(STOPPED)
        else:
            raise KeyboardInterrupt

    @contextmanager
    def installed(self) -> Iterator[QuitOnSignals]:
        """The handlers, from before pygame starts (SDL leaves a signal that has a handler alone)."""
        try:
            previous = [signal.signal(s, self.handle) for s in self.SIGNALS]
        except ValueError:  # not the main thread
            yield self
            return
        try:
            yield self
        finally:
            for s, handler in zip(self.SIGNALS, previous):
                signal.signal(s, handler)


def play(config: PlayConfig) -> int:
    """Run the app with ``config``; returns the exit code."""
    check_config(config)
    with QuitOnSignals().installed() as signals:
        return _play(config, signals)


def _play(config: PlayConfig, signals: QuitOnSignals) -> int:
    # torch, pygame and the Hub client are imported here, so that --help answers at once
    from jedi_play.app.background_compile import compile_plan
    from jedi_play.app.session import AGENT_MODES, Session
    from jedi_play.app.window import Window, close_display, open_display
    from jedi_play.device import configure_threads, describe_device, resolve_device
    from jedi_play.hub.download import locate_model
    from jedi_play.hub.model_folder import load_model_folder

    open_display()
    try:
        why_threads = configure_threads(config.threads)
        device = resolve_device(config.device)
        print(f"device: {describe_device(device)}" + (f"; {why_threads}" if why_threads else ""), flush=True)
        source = locate_model(config.model, config.game, config.revision)
        loaded = load_model_folder(source.folder, config.game, device)
        agent = "with its agent" if loaded.agent is not None else "without an agent"
        print(f"{source.description}: a {loaded.kind} world model of {loaded.game}, {agent}", flush=True)
        if config.mode in AGENT_MODES and loaded.agent is None:
            raise UserError(f"--mode {config.mode} needs an agent, and this model has none; try --mode dream or compare")
        plan = compile_plan(config.compile, device, config.fps)
        if plan.line:
            print(plan.line, flush=True)
        session = Session(
            loaded,
            mode=config.mode,
            denoising_steps=config.steps,
            record=config.record,
            background_compile=plan.when != "never",
            compile_below_fps=plan.fps if plan.when == "below_cap" else None,
        )
        try:
            window = Window(
                session, pane_size=config.size, fps=config.fps, max_frames=config.max_frames, screenshot=config.screenshot
            )
            signals.window = window
            window.open()
            stats = window.run()
        finally:
            written = session.close()
    finally:
        close_display()
    for line in session.compile_log:
        print(line)
    if session.engine.compiler is not None and session.engine.compiler.busy:
        print("torch.compile: still compiling at quit; the dream played eager")
    print(
        f"played {stats.advanced} frames in {stats.seconds:.1f} s: {stats.mean_fps:.1f} frames per second on average; "
        f"{stats.game_steps} stepped the game, at {stats.steps_per_second:.1f} game steps per second"
    )
    _report_recordings(session.recorder, written)
    return 0


def _report_recordings(recorder: Recorder, lines: list[str]) -> None:
    """At the end, one line for the episodes recorded (and one per write that failed, on stderr)."""
    for line in lines:
        if line.startswith("recording failed"):
            print(f"{PROG}: {line}", file=sys.stderr)
    if recorder.store is not None:
        print(f"recorded {count(recorder.recorded, 'episode')} into {recorder.store.root}", flush=True)


def export(argv: Sequence[str]) -> int:
    """``jedi-play export-video``."""
    from jedi_play.app.video import export_video

    parser = CliParser(prog=f"{PROG} export-video", description="Write recorded episodes as an MP4 (ffmpeg) or a GIF.")
    add_dataclass_args(parser, ExportConfig)
    config = dataclass_from_args(ExportConfig, parser.parse_args(argv))
    info = export_video(config.source, config.to, fps=config.fps, scale=config.scale, episode=config.episode)
    width, height = info.size
    print(f"wrote {info.path}: {info.episodes} episode(s), {info.frames} frames of {width}x{height} at {config.fps} fps")
    return 0


def replay(argv: Sequence[str]) -> int:
    """``jedi-play replay``."""
    parser = CliParser(prog=f"{PROG} replay", description="Play recorded episodes back in a window.")
    add_dataclass_args(parser, ReplayConfig)
    config = dataclass_from_args(ReplayConfig, parser.parse_args(argv))
    check_window_options(config.fps, config.size, config.max_frames, config.screenshot)
    from jedi_play.app.canvas import close_display, open_display
    from jedi_play.app.replay import ReplayPlayer, find_recordings
    from jedi_play.app.replay_window import ReplayWindow

    player = ReplayPlayer(find_recordings(config.source, config.episode))
    with QuitOnSignals().installed() as signals:
        open_display()
        try:
            window = ReplayWindow(
                player, pane_size=config.size, fps=config.fps, max_frames=config.max_frames, screenshot=config.screenshot
            )
            signals.window = window
            window.open()
            frames = window.run()
        finally:
            close_display()
    print(f"replayed {player.count} episode(s) from {config.source}: {frames} frames drawn")
    return 0


SUBCOMMANDS = {"export-video": export, "replay": replay}


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in SUBCOMMANDS:
        return run_main(PROG, lambda: SUBCOMMANDS[args[0]](args[1:]))
    return run_main(PROG, lambda: play(dataclass_from_args(PlayConfig, build_parser().parse_args(args))))


def script() -> None:
    """The console script: ``main``, then exit. While a background compile still runs, the process ends at
    once (``os._exit``, after flushing the output): finalising Python under a running inductor compile
    crashes it (a segmentation fault, or ``terminate called without an active exception``). Everything the
    app had to save is saved by then."""
    code = main()
    compiler = sys.modules.get("jedi_play.app.background_compile")  # imported only when the app played
    if compiler is not None and compiler.compile_running():
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    script()
