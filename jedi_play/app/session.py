"""``Session``: the app's state without pygame: the model, the real game, the current mode and its settings.

The window turns keys into calls on the session (``advance`` each frame with the person's action,
``set_mode``, ``toggle_controller``, ``toggle_world``, ``resync``, ``reset``, ``change_denoising_steps``,
``toggle_recording``, ``paused``) and draws ``views()`` and ``hud(fps)``. Commands that cannot apply leave
a notice instead of failing (``take_notice``), so no key ever stops the game. ``close`` saves the episodes
being recorded.

With ``background_compile``, the first frame starts compiling the dream's networks in the background
(``BackgroundCompiler``) while play goes on eager; with ``compile_below_fps`` as well, the compile waits
until eager play falls short of that frame cap (the window reports each frame's work: ``frame_took``).
Between frames, ``advance`` swaps the compiled copy in when it is ready. The HUD says where that stands;
a failure is a notice and play stays eager.
"""

from __future__ import annotations

import random
from pathlib import Path

from jedi_play.app.background_compile import BackgroundCompiler, CapWatch
from jedi_play.app.engine import Engine
from jedi_play.app.hud import HudState, PaneView, count
from jedi_play.app.modes import CompareMode, Mode, SoloMode, VersusMode
from jedi_play.app.recorder import Recorder, Shown
from jedi_play.cli.errors import UserError
from jedi_play.data.store import EpisodeStore
from jedi_play.env.keymap import Keymap
from jedi_play.hub.model_folder import LoadedModel

MODES = ("dream", "agent", "compare", "versus")
AGENT_MODES = ("agent", "versus")  # modes that need the model's agent
MAX_DENOISING_STEPS = 20


def default_record_folder(game: str) -> Path:
    """Where F9 records when ``--record`` was not given: a folder in the current one."""
    return Path(f"jedi-play_{game.lower()}_recordings")


class Session:
    """The running app: ``advance(person_action)`` plays one frame of the current mode."""

    def __init__(
        self,
        loaded: LoadedModel,
        *,
        mode: str = "dream",
        denoising_steps: int | None = None,
        seed: int | None = None,
        record: Path | None = None,
        background_compile: bool = False,
        compile_below_fps: int | None = None,
    ) -> None:
        """``record``: an episode folder to record every episode played into (``UserError`` when unfit).
        ``background_compile``: torch.compile the dream's networks in the background, from the first frame on,
        or with ``compile_below_fps`` once eager play falls short of that many frames a second."""
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; the modes are {', '.join(MODES)}")
        if mode in AGENT_MODES and loaded.agent is None:
            raise ValueError(f"{mode} mode needs an agent, and the model in {loaded.path} has none")
        steps = max(1, min(denoising_steps or loaded.world_model.sampler.steps, MAX_DENOISING_STEPS))
        store = None if record is None else EpisodeStore.create(record, loaded.game, loaded.action_meanings, "--record")
        self.recorder = Recorder({"game": loaded.game, "model": str(loaded.path), "model_kind": loaded.kind}, store)
        held = compile_below_fps is not None
        compiler = BackgroundCompiler(loaded.world_model, held=held) if background_compile else None
        self._cap_watch = CapWatch(compile_below_fps) if background_compile and compile_below_fps else None
        self.engine = Engine(loaded, steps, random.randrange(2**31) if seed is None else seed, self.recorder, compiler)
        self.compile_log: list[str] = []  # a line per compile that ended (for the end of the run)
        self._compile_announced = False
        self.loaded = loaded
        self.game = loaded.game
        self.keymap = Keymap(loaded.action_meanings)
        self.paused = False
        self.game_steps = 0  # frames on which some pane stepped its game
        self._notice = ""
        self.engine.new_real_episode()  # the real game's first frames are every dream's first context
        self.mode: Mode = self._build(mode)
        self.mode.start()

    # -- one frame ------------------------------------------------------------------------------------

    def advance(self, person_action: int) -> list[PaneView]:
        """Play one frame of the current mode with the person's action; returns the panes to draw."""
        self._poll_compile()
        mode = self.mode
        shown = [Shown(pane, mode.name, i, mode.controller_of(pane)) for i, pane in enumerate(mode.panes)]
        self.recorder.follow(shown, self.engine.denoising_steps)
        before = [pane.steps for pane in mode.panes]
        mode.advance(int(person_action))
        if any(pane.steps > n for pane, n in zip(mode.panes, before)):  # a reset only lowers the counts
            self.game_steps += 1
        return self.mode.views()

    def views(self) -> list[PaneView]:
        return self.mode.views()

    # -- commands (keys) ------------------------------------------------------------------------------

    def set_mode(self, name: str) -> None:
        """Switch mode; the new mode starts from the real game's current context."""
        if name not in MODES:
            raise ValueError(f"unknown mode {name!r}")
        if name == self.mode.name:
            return
        if name in AGENT_MODES and not self.engine.has_agent:
            self.notice(f"{name} mode needs an agent; this model has none")
            return
        self.mode = self._build(name)
        self.mode.start()
        self.notice(f"mode: {name}")

    def toggle_controller(self) -> None:
        self.notice(self.mode.toggle_controller())

    def toggle_world(self) -> None:
        self.notice(self.mode.toggle_world())

    def resync(self) -> None:
        self.notice(self.mode.resync())

    def reset(self) -> None:
        """A new episode (a new match in versus mode)."""
        self.mode.reset()
        self.notice("new episode" if self.mode.name != "versus" else "new match")

    def change_denoising_steps(self, delta: int) -> None:
        """Denoising steps up or down (1 to ``MAX_DENOISING_STEPS``); the next dreamed frame uses them."""
        self.engine.denoising_steps = max(1, min(self.engine.denoising_steps + delta, MAX_DENOISING_STEPS))
        self.notice(f"denoising steps: {self.engine.denoising_steps}")

    @property
    def denoising_steps(self) -> int:
        return self.engine.denoising_steps

    def toggle_recording(self) -> None:
        """Recording on or off (into ``--record``'s folder, else ``default_record_folder``); off saves the takes."""
        recorder = self.recorder
        if recorder.store is None:
            folder = default_record_folder(self.game)
            try:
                recorder.store = EpisodeStore.create(folder, self.game, self.loaded.action_meanings, None)
            except UserError as e:
                self.notice(f"cannot record ({e}): give jedi-play --record DIR")
                return
        recorder.set_enabled(not recorder.enabled)
        assert recorder.store is not None
        if recorder.enabled:
            self.notice(f"recording into {recorder.store.root}")
        else:
            self.notice(f"recording off ({count(recorder.recorded, 'episode')} recorded into {recorder.store.root})")

    @property
    def recording(self) -> bool:
        return self.recorder.enabled

    # -- what the HUD shows ---------------------------------------------------------------------------

    def hud(self, fps: float) -> HudState:
        mode, pane = self.mode, self.mode.primary
        state = HudState(
            game=self.game,
            mode=mode.name,
            controller="person vs agent" if isinstance(mode, VersusMode) else mode.controller,
            world=mode.world if not isinstance(mode, CompareMode) else "real + dream",
            steps=pane.steps,
            reward=pane.reward,
            episode_return=pane.episode_return,
            fps=fps,
            denoising_steps=self.engine.denoising_steps,
            paused=self.paused,
            recording=self.recording,
            detail=mode.detail,
            compile=self.engine.compiler.status if self.engine.compiler is not None else "",
        )
        if mode.agent_step is not None:
            step = mode.agent_step
            state.agent_action = self.keymap.action_meanings[step.action]
            state.agent_entropy, state.agent_value = step.entropy, step.value
        return state

    def _poll_compile(self) -> None:
        """Between frames: start compiling, swap in what is compiled, say so in the HUD."""
        compiler = self.engine.compiler
        if compiler is None:
            return
        for event in self.engine.poll_compile():
            self.compile_log.append(event.message)
            self.notice(event.message)
        if not self._compile_announced and compiler.busy:
            self._compile_announced = True
            self.notice("compiling the dream's networks in the background; playing eager meanwhile")

    def frame_took(self, work_seconds: float) -> None:
        """The window's report of a frame that stepped a game: its work, without the wait for the frame cap.
        A compile held for eager play that falls short of the cap starts now."""
        watch, compiler = self._cap_watch, self.engine.compiler
        if watch is None or compiler is None or not compiler.held:
            return
        if watch.falls_short(work_seconds):
            compiler.release()
            fps = round(1 / watch.frame_seconds)
            self.compile_log.append(f"torch.compile: eager play fell short of {fps} frames per second; compiling")

    def notice(self, text: str) -> None:
        self._notice = text

    def take_notice(self) -> str:
        """The latest notice (once), for the window to show for a moment; else news of the recordings saved."""
        for line in self.recorder.messages():
            self._notice = self._notice or line
        text, self._notice = self._notice, ""
        return text

    def close(self) -> list[str]:
        """Save the episodes being recorded and close the games; returns a line per recording written."""
        try:
            return self.recorder.close()
        finally:
            self.engine.close()

    def _build(self, name: str) -> Mode:
        if name == "dream":
            return SoloMode(self.engine, "dream", "person")
        if name == "agent":
            return SoloMode(self.engine, "agent", "agent")
        if name == "compare":
            return CompareMode(self.engine)
        return VersusMode(self.engine)
