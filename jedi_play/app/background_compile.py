"""torch.compile in the background: play goes on with the eager world model while a copy of it is compiled.

``BackgroundCompiler`` compiles a deep copy of the world model (``compile_for_inference``: the dream's
per-frame networks, with inductor freezing) on a daemon thread, one dream batch size at a time, on a real
context at that batch size. The eager model in use is never touched: the copy is made on the main thread,
between frames, and so are inductor's traces that patch every thread's modules (``process_wide_traces``;
the compile thread waits for the main thread to run them). ``poll``, called between frames on the main
thread, starts the next compile and hands each finished copy over once, for the engine to swap into its
dreams of that batch size (the copy has the same weights and shapes, so a dream's state tensors stay
valid). A failure (no C++ compiler, any exception) is handed over once as one line, and nothing more is
compiled: play stays eager.
"""

from __future__ import annotations

import copy
import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from jedi_play.app.panes import Context
from jedi_play.models.compiled import compile_for_inference, process_wide_traces
from jedi_play.models.world_model import WorldModel

CompileSetting = Literal["auto", "on", "off"]
CXX_NAMES = ("g++", "c++", "clang++", "cl")  # what inductor looks for (cl: MSVC on Windows)


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


def compile_plan(setting: CompileSetting, device: torch.device) -> tuple[bool, str]:
    """Whether the app compiles on ``device`` with ``--compile setting``, and a line for the log ('' for none).

    ``auto`` compiles on the CPU when a C++ compiler is found (compiling on CUDA and MPS is untested here);
    ``on`` tries wherever (a failure leaves play eager); ``off`` never compiles.
    """
    if setting == "off" or (setting == "auto" and device.type != "cpu"):
        return False, ""
    if setting == "auto" and cxx_compiler() is None:
        return False, "torch.compile: off (no C++ compiler found; install g++ or clang++ for a faster dream)"
    return True, "torch.compile: compiling the dream's networks in the background; playing eager meanwhile"


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
    main thread."""

    def __init__(self, model: WorldModel) -> None:
        self.model = model
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
        """True while a compile is running or waiting to start."""
        return self.failed is None and (self._thread is not None or bool(self._wanted))

    @property
    def status(self) -> str:
        """A word or two for the HUD: compiling, compiled, or eager after a failure."""
        if self.failed is not None:
            return "eager (compile failed)"
        return "compiling" if self.busy else "compiled" if self.done else ""

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
        if self._thread is None and self._wanted and self.failed is None:
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
        name = f"jedi-play compile (batch {batch_size})"
        thread = threading.Thread(target=self._compile, args=(model, frames, actions), name=name, daemon=True)
        thread.start()
        self._thread = thread

    def _compile(self, model: WorldModel, frames: torch.Tensor, actions: torch.Tensor) -> None:
        """The thread: compile ``model`` on the example context, and leave the outcome for ``poll``."""
        start = time.perf_counter()
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
