"""torch.compile in the background: play goes on with the eager world model while a copy of it is compiled.

``compile_plan`` decides whether to compile: ``--compile auto`` (the default) compiles on the CPU only when
eager play falls short of the frame cap (``CapWatch``, on the time each frame's work takes), since a compile
costs frames for tens of seconds on a small CPU; ``on`` compiles from the first frame.

``BackgroundCompiler`` compiles a deep copy of the world model (``compile_for_inference``: the dream's
per-frame networks, with inductor freezing) on a daemon thread, one dream batch size at a time, on a real
context at that batch size. The eager model in use is never touched: the copy is made on the main thread,
between frames, and so are inductor's traces that patch every thread's modules (``process_wide_traces``;
the compile thread waits for the main thread to run them). ``poll``, called between frames on the main
thread, starts the next compile and hands each finished copy over once, for the engine to swap into its
dreams of that batch size (the copy has the same weights and shapes, so a dream's state tensors stay
valid). A failure (no C++ compiler, any exception) is handed over once as one line, and nothing more is
compiled: play stays eager. The compile thread runs at the lowest CPU priority (Linux), and so do the
compiler processes it starts, so that play gets the cores first when both want them; the Python work of
tracing still holds the interpreter's lock, and play slows meanwhile all the same (on 2 cores the bundled
Asterix dream fell from 15 to 2 to 8 game steps per second while it compiled).

The process must not be finalised while a compile thread runs (inductor's threads then crash it: a
segmentation fault or ``terminate called``): ``compile_running`` tells the console script to end the
process at once instead (``os._exit``), after everything the app had to save is saved.
"""

from __future__ import annotations

import copy
import os
import shutil
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from jedi_play.app.panes import Context
from jedi_play.models.compiled import compile_for_inference, process_wide_traces
from jedi_play.models.world_model import WorldModel

CompileSetting = Literal["auto", "on", "off"]
CompileWhen = Literal["never", "now", "below_cap"]
CXX_NAMES = ("g++", "c++", "clang++", "cl")  # what inductor looks for (cl: MSVC on Windows)
THREAD_NAME = "jedi-play compile"
LOWEST_PRIORITY = 19  # nice value of the compile thread and the compilers it runs


@dataclass(frozen=True)
class Compiled:
    """A compiled copy of the world model, ready for the dreams of ``batch_size`` games."""

    batch_size: int
    model: WorldModel
    seconds: float

    @property
    def message(self) -> str:
        """One line for the HUD and the log."""
        return f"torch.compile: compiled in {self.seconds:.0f} s; the dream (batch {self.batch_size}) runs it now"


@dataclass(frozen=True)
class CompileFailed:
    """Compiling failed; ``message`` is one line for the HUD."""

    batch_size: int
    message: str


CompileEvent = Compiled | CompileFailed


def cxx_compiler() -> str | None:
    """The C++ compiler torch.compile would use on the CPU (``$CXX``, else one on PATH), or None."""
    names = [os.environ["CXX"]] if os.environ.get("CXX") else list(CXX_NAMES)
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    return None


@dataclass(frozen=True)
class CompilePlan:
    """When the app compiles: ``never``, ``now`` (from the first frame) or ``below_cap`` (once eager play
    falls short of ``fps``); ``line`` is for the log ('' for none)."""

    when: CompileWhen
    line: str = ""
    fps: int = 0


def compile_plan(setting: CompileSetting, device: torch.device, fps: int) -> CompilePlan:
    """When the app compiles on ``device`` with ``--compile setting`` and a frame cap of ``fps`` (0: none).

    ``auto`` compiles on the CPU when a C++ compiler is found and eager play falls short of the cap (with no
    cap there is nothing to reach; compiling on CUDA and MPS is untested here); ``on`` compiles at once
    wherever (a failure leaves play eager); ``off`` never compiles.
    """
    if setting == "off" or (setting == "auto" and (device.type != "cpu" or fps == 0)):
        return CompilePlan("never")
    if setting == "auto" and cxx_compiler() is None:
        return CompilePlan("never", "torch.compile: off (no C++ compiler found; install g++ or clang++ for a faster dream)")
    if setting == "auto":
        return CompilePlan("below_cap", f"torch.compile: only if eager play falls short of {fps} frames per second", fps)
    return CompilePlan("now", "torch.compile: compiling the dream's networks in the background; playing eager meanwhile")


class CapWatch:
    """Whether eager play holds a frame cap: the median time of the last ``frames`` frames' work (stepping,
    drawing; not the wait for the cap) against the cap's frame time. The median leaves out the first
    frames' one-off costs and the odd slow frame; 150 frames (10 s at 15 frames per second) leave out a
    passing load too: a compile started then would cost a minute of frames for nothing (seen on 2 cores: a
    test run of a few seconds beside the app started one, and play fell from 15 to 6 steps per second)."""

    def __init__(self, fps: int, frames: int = 150) -> None:
        self.frame_seconds = 1.0 / fps
        self._work: deque[float] = deque(maxlen=frames)

    def falls_short(self, work_seconds: float) -> bool:
        """Note one frame's work; True when the frames noted are too slow for the cap."""
        self._work.append(work_seconds)
        return len(self._work) == self._work.maxlen and statistics.median(self._work) > self.frame_seconds


def compile_running() -> bool:
    """Whether a compile thread is still running (the process must then end without finalising)."""
    return any(t.name.startswith(THREAD_NAME) and t.is_alive() for t in threading.enumerate())


def lower_this_threads_priority() -> None:
    """The calling thread, and the processes it starts from now on, at the lowest CPU priority (Linux:
    each thread has its own nice value); elsewhere nothing."""
    native_id = getattr(threading, "get_native_id", None)
    if native_id is None or not hasattr(os, "setpriority"):
        return
    try:
        os.setpriority(os.PRIO_PROCESS, native_id(), LOWEST_PRIORITY)
    except OSError:
        pass


def one_line(error: BaseException, limit: int = 100) -> str:
    """``Type: first line of the message``, cut to ``limit`` characters."""
    text = str(error).strip().splitlines()
    line = f"{type(error).__name__}: {text[0]}" if text else type(error).__name__
    return line if len(line) <= limit else line[: limit - 3] + "..."


def failure_line(error: BaseException) -> str:
    """The HUD's notice for a compile that failed with ``error``."""
    return f"torch.compile failed ({one_line(error)}): playing eager"


class BackgroundCompiler:
    """Compiles copies of ``model`` for the dream batch sizes asked for (``want``), one at a time, off the
    main thread; ``held``: nothing starts until ``release()``."""

    def __init__(self, model: WorldModel, held: bool = False) -> None:
        self.model = model
        self.held = held
        self.failed: str | None = None  # the failure's line, once compiling failed
        self.done: dict[int, float] = {}  # batch size -> seconds its compile took
        self._wanted: dict[int, Context] = {}  # batch size -> a real context to compile on
        self._thread: threading.Thread | None = None
        self._batch_size = 0  # of the compile in progress
        self._result: CompileEvent | None = None
        self._lock = threading.Lock()
        self._traces: list[Callable[[], object]] = []  # handed by the thread, for the main thread to run
        self._traced = threading.Event()  # set once the main thread ran them

    @property
    def busy(self) -> bool:
        """True while a compile is running or waiting to start (not while held)."""
        return self.failed is None and (self._thread is not None or (bool(self._wanted) and not self.held))

    @property
    def status(self) -> str:
        """A word or two for the HUD: compiling, compiled, or eager after a failure."""
        if self.failed is not None:
            return "eager (compile failed)"
        return "compiling" if self.busy else "compiled" if self.done else ""

    def release(self) -> None:
        """Let the compiles wanted start (at the next ``poll``)."""
        self.held = False

    def want(self, batch_size: int, context: Context) -> None:
        """Ask for a copy compiled for dreams of ``batch_size`` games, on ``context`` (the real game's)."""
        running = self._thread is not None and self._batch_size == batch_size
        if self.failed is None and batch_size not in self.done and not running:
            self._wanted.setdefault(batch_size, context)

    def poll(self) -> list[CompileEvent]:
        """Between frames, on the main thread: the compiles that ended since the last call, each once; then
        the next compile wanted starts when none runs."""
        events: list[CompileEvent] = []
        self._run_traces()
        with self._lock:
            result, self._result = self._result, None
        if result is not None:
            assert self._thread is not None
            self._thread.join()
            self._thread = None
            events.append(self._ended(result))
        if self._thread is None and self._wanted and self.failed is None and not self.held:
            batch_size, context = self._wanted.popitem()
            try:
                self._start(batch_size, context)
            except Exception as e:  # the copy or the thread could not be made: play stays eager
                events.append(self._ended(CompileFailed(batch_size, failure_line(e))))
        return events

    def _ended(self, result: CompileEvent) -> CompileEvent:
        """Note how a compile ended (a failure ends compiling)."""
        if isinstance(result, CompileFailed):
            self.failed, self._wanted = result.message, {}
        else:
            self.done[result.batch_size] = result.seconds
        return result

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the compile in progress ends (tests); False on timeout."""
        thread = self._thread
        deadline = None if timeout is None else time.perf_counter() + timeout
        while thread is not None and thread.is_alive():
            self._run_traces()  # what poll would do meanwhile
            if deadline is not None and time.perf_counter() >= deadline:
                return False
            thread.join(0.05)
        return True

    def _run_traces(self) -> None:
        """On the main thread, between frames: run the process-wide traces the compile thread handed over."""
        with self._lock:
            traces, self._traces = self._traces, []
        if not traces:
            return
        try:
            for trace in traces:
                trace()
        except Exception:  # the compile will trace for itself: no worse than not running them here
            pass
        finally:
            self._traced.set()

    def _start(self, batch_size: int, context: Context) -> None:
        """Copy the model and start compiling the copy on a daemon thread (quitting does not wait for it)."""
        device = next(self.model.parameters()).device
        frames = torch.as_tensor(np.repeat(context.frames[None], batch_size, axis=0), device=device)
        actions = torch.as_tensor(np.repeat(context.actions[None], batch_size, axis=0), device=device)
        model = copy.deepcopy(self.model)  # here, between frames: the eager model is not in use
        self._batch_size = batch_size
        name = f"{THREAD_NAME} (batch {batch_size})"
        thread = threading.Thread(target=self._compile, args=(model, frames, actions), name=name, daemon=True)
        thread.start()
        self._thread = thread

    def _compile(self, model: WorldModel, frames: torch.Tensor, actions: torch.Tensor) -> None:
        """The thread: compile ``model`` on the example context, and leave the outcome for ``poll``."""
        start = time.perf_counter()
        lower_this_threads_priority()
        result: CompileEvent
        try:
            if not self._traced.is_set():
                traces = process_wide_traces()  # the slow import, here; the traces on the main thread
                if traces:
                    with self._lock:
                        self._traces = traces
                    self._traced.wait()
            compile_for_inference(model, frames, actions)
            result = Compiled(frames.shape[0], model, time.perf_counter() - start)
        except Exception as e:  # torch.compile fails in many ways (no compiler, platform, a bug): play stays eager
            result = CompileFailed(frames.shape[0], failure_line(e))
        with self._lock:
            self._result = result
