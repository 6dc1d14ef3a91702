"""torch.compile in the background: play goes on eager, the compiled copy is swapped into the dreams between
frames, and a failure is one notice in the HUD while play stays eager.

One test really compiles the tiny model (tens of seconds); the others replace ``compile_for_inference``.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pygame
import pytest
import torch
from torch._dynamo.utils import counters

from jedi_play.app import background_compile
from jedi_play.app.background_compile import BackgroundCompiler, CapWatch, Compiled, CompilePlan, compile_plan, one_line
from jedi_play.app.canvas import Canvas
from jedi_play.app.session import Session
from jedi_play.app.window import Window, close_display
from jedi_play.dream.dream_env import DreamEnv
from jedi_play.hub import LoadedModel
from jedi_play.models.compiled import process_wide_traces

COMPILE_DEADLINE_S = 300  # the real compile takes 15 to 60 s on a busy 2-core machine


@pytest.fixture
def hud_seen(monkeypatch) -> list[list[str]]:
    """Every HUD drawn, as its lines."""
    seen: list[list[str]] = []
    draw = Canvas.hud

    def recording_hud(self, screen, lines, notice=False):
        seen.append(list(lines))
        draw(self, screen, lines, notice)

    monkeypatch.setattr(Canvas, "hud", recording_hud)
    return seen


def play_until(session: Session, done, extra_frames: int = 5, fps: int = 30) -> tuple[Window, dict[str, int]]:
    """Run a headless window over ``session`` until ``done(session)`` holds, then ``extra_frames`` more;
    returns the window and the frame at which ``done`` first held."""
    seen: dict[str, int] = {}
    deadline = time.perf_counter() + COMPILE_DEADLINE_S

    def on_frame(window: Window, frame: int) -> None:
        if "done" not in seen and done(session):
            seen["done"] = frame
        if frame >= seen.get("done", frame + extra_frames + 1) + extra_frames or time.perf_counter() > deadline:
            pygame.event.post(pygame.event.Event(pygame.QUIT))

    window = Window(session, pane_size=64, fps=fps, on_frame=on_frame)
    window.open()
    try:
        window.run()
    finally:
        close_display()
    assert "done" in seen, "timed out"
    return window, seen


def test_compile_plan(monkeypatch) -> None:
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert compile_plan("off", cpu, 15) == CompilePlan("never")
    assert compile_plan("auto", cuda, 15) == CompilePlan("never")  # untested on GPUs: only when asked for
    assert compile_plan("on", cuda, 15).when == "now"
    monkeypatch.setattr(background_compile, "cxx_compiler", lambda: "/usr/bin/g++")
    assert compile_plan("auto", cpu, 15) == CompilePlan("below_cap", "torch.compile: only if eager play falls short of 15 frames per second", 15)
    assert compile_plan("auto", cpu, 0) == CompilePlan("never")  # no cap to reach
    assert compile_plan("on", cpu, 0).when == "now"
    monkeypatch.setattr(background_compile, "cxx_compiler", lambda: None)
    plan = compile_plan("auto", cpu, 15)
    assert plan.when == "never" and "no C++ compiler" in plan.line
    assert compile_plan("on", cpu, 15).when == "now"  # tried anyway; a failure leaves play eager


def test_cap_watch_judges_the_median_of_the_last_frames() -> None:
    watch = CapWatch(fps=20, frames=5)  # 50 ms a frame
    assert not any(watch.falls_short(0.2) for _ in range(2))  # the first frames' one-off costs: too few to judge
    assert not any(watch.falls_short(0.03) for _ in range(3))  # median 30 ms: holds the cap
    assert not watch.falls_short(0.3)  # one slow frame among fast ones
    assert not watch.falls_short(0.06)  # 30, 30, 30, 300, 60 ms: median 30
    assert watch.falls_short(0.06)  # 30, 30, 300, 60, 60 ms: median 60, above the cap's 50


def test_one_line() -> None:
    assert one_line(RuntimeError("no compiler\n  at line 2")) == "RuntimeError: no compiler"
    assert one_line(ValueError()) == "ValueError"
    assert len(one_line(OSError("x" * 500))) == 100


def test_swaps_into_every_dream_of_its_batch_size(loaded: LoadedModel, monkeypatch) -> None:
    """With a stand-in compile: each batch size gets its own copy, swapped into the live dreams of that size
    between frames; dreams of a size not yet compiled stay on the eager model."""
    compiled_for: list[int] = []

    def fake_compile(model, frames, actions, warmup_steps=3):
        assert model is not loaded.world_model and frames.shape[:2] == actions.shape and frames.dtype == torch.uint8
        compiled_for.append(frames.shape[0])

    monkeypatch.setattr(background_compile, "compile_for_inference", fake_compile)
    session = Session(loaded, seed=0, background_compile=True)
    engine, compiler = session.engine, session.engine.compiler
    assert compiler is not None and session.mode.group.env.model is loaded.world_model
    try:
        session.advance(0)  # the first frame starts compiling for batch 1
        assert compiler.wait(60)
        dream = session.mode.group
        session.advance(0)  # swapped in between frames
        model_1 = engine.compiled[1]
        assert compiled_for == [1] and model_1 is not loaded.world_model and dream.env.model is model_1
        assert session.hud(0).compile == "compiled" and "compiled in" in session.take_notice()
        session.set_mode("versus")  # batch 2: eager until its own copy is compiled
        assert session.mode.group.env.model is loaded.world_model and session.hud(0).compile == "compiling"
        session.advance(0)
        assert compiler.wait(60)
        session.advance(0)
        assert compiled_for == [1, 2] and session.mode.group.env.model is engine.compiled[2] is not model_1
        assert session.mode.agent.world_model is loaded.world_model  # the agent stays eager
        session.set_mode("compare")  # a new batch-1 dream starts on the compiled copy
        assert session.mode.group.env.model is model_1 and compiled_for == [1, 2]
        assert session.mode.primary.steps == 0 and session.advance(0)  # and plays
    finally:
        session.close()


def test_a_failed_compile_is_one_notice_and_play_goes_on_eager(loaded: LoadedModel, monkeypatch, hud_seen) -> None:
    def no_compiler(model, frames, actions, warmup_steps=3):
        raise RuntimeError("Compiler: g++ is not found\nTraceback (most recent call last): ...")

    monkeypatch.setattr(background_compile, "compile_for_inference", no_compiler)
    session = Session(loaded, seed=0, background_compile=True)
    try:
        _, seen = play_until(session, lambda s: bool(s.compile_log))
        message = "torch.compile failed (RuntimeError: Compiler: g++ is not found): playing eager"
        assert session.compile_log == [message]
        assert any(lines[-1] == message for lines in hud_seen)  # the notice
        assert all("Traceback" not in line for lines in hud_seen for line in lines)
        assert "eager (compile failed)" in hud_seen[-1][1]
        assert session.mode.group.env.model is loaded.world_model
        assert session.mode.primary.steps >= seen["done"] + 4  # play went on
    finally:
        session.close()


@pytest.mark.skipif(background_compile.cxx_compiler() is None, reason="torch.compile needs a C++ compiler")
@pytest.mark.filterwarnings("ignore::DeprecationWarning:torch.jit")  # torch.compile's own imports
def test_really_compiles_in_the_background_while_the_window_plays(loaded: LoadedModel, hud_seen) -> None:
    """The tiny model compiled for real: frames are drawn meanwhile, the copy is swapped in, the dream goes on
    on it without compiling again, and it dreams what the eager model dreams."""
    session = Session(loaded, seed=0, background_compile=True)
    try:
        graphs: list[int] = []

        def swapped(s: Session) -> bool:
            if 1 in s.engine.compiled and not graphs:
                graphs.append(counters["stats"]["unique_graphs"])
            return bool(graphs) or bool(s.compile_log)

        _, seen = play_until(session, swapped, extra_frames=20)
        assert 1 in session.engine.compiled, session.compile_log
        compiled = session.engine.compiled[1]
        dream = session.mode.group
        assert seen["done"] >= 5, "no frames were drawn while compiling"
        assert dream.env.model is compiled and compiled is not loaded.world_model
        assert hasattr(compiled.denoiser.inner, "_orig_mod") and hasattr(compiled.decoder, "_orig_mod")
        assert not hasattr(loaded.world_model.denoiser.inner, "_orig_mod")  # the eager model was not touched
        assert session.mode.primary.steps >= seen["done"] + 19  # the dream went on, compiled
        assert counters["stats"]["unique_graphs"] == graphs[0]  # and nothing was compiled on the main thread
        assert any(lines[-1].startswith("compiling the dream's networks in the background") for lines in hud_seen)
        assert any(lines[-1].startswith("torch.compile: compiled in") for lines in hud_seen)
        assert hud_seen[-1][1].endswith("compiled")

        context = session.engine.real.context()
        outputs = []
        for model in (loaded.world_model, compiled):
            env = DreamEnv(model, 3)
            env.seed(7)
            first = env.reset(context.frames[None], context.actions[None])
            steps = [env.step_states(torch.tensor([a]))[0] for a in (2, 5, 0)]
            outputs.append((first, torch.cat(steps), env.step([3])[0]))
        (eager_first, eager_states, eager_frame), (compiled_first, compiled_states, compiled_frame) = outputs
        torch.testing.assert_close(compiled_states, eager_states, atol=1e-4, rtol=1e-4)
        for eager_pixels, compiled_pixels in ((eager_first, compiled_first), (eager_frame, compiled_frame)):
            assert np.abs(compiled_pixels.astype(int) - eager_pixels.astype(int)).max() <= 1  # rounding to uint8
    finally:
        session.close()


@pytest.mark.skipif(background_compile.cxx_compiler() is None, reason="torch.compile needs a C++ compiler")
@pytest.mark.filterwarnings("ignore::DeprecationWarning:torch.jit")
def test_process_wide_traces_run_on_the_main_thread(loaded: LoadedModel, monkeypatch) -> None:
    """A plain ``torch.fx`` trace patches every thread's modules while it runs (a module called meanwhile raises
    NameError): inductor's, made on the compile thread, would break the eager dream now and then. The
    compiler has the main thread run it between frames; the dream, stepped without pause, goes on."""
    known = process_wide_traces()
    for trace in known:
        trace.cache_clear()  # as in a fresh process: inductor has not traced yet
    plain_traces: list[bool] = []  # for each plain fx trace: was it on the main thread?
    trace_on = torch.fx.Tracer.trace

    def recording_trace(self, *args, **kwargs):
        if type(self) is torch.fx.Tracer:  # make_fx's tracers leave other threads' modules alone
            plain_traces.append(threading.current_thread() is threading.main_thread())
        return trace_on(self, *args, **kwargs)

    monkeypatch.setattr(torch.fx.Tracer, "trace", recording_trace)
    compiler = BackgroundCompiler(loaded.world_model)
    session = Session(loaded, seed=0)
    try:
        context = session.engine.real.context()
        dream = DreamEnv(loaded.world_model, 1)
        dream.reset(context.frames[None], context.actions[None])
        compiler.want(1, context)
        events, steps, deadline = compiler.poll(), 0, time.perf_counter() + COMPILE_DEADLINE_S
        while not events and time.perf_counter() < deadline:
            dream.step([steps % 3])  # never idle
            steps += 1
            events = compiler.poll()
        (event,) = events
        assert isinstance(event, Compiled), event
        assert all(plain_traces) and (plain_traces or not known), plain_traces
        assert steps >= 10  # the dream went on while compiling
    finally:
        session.close()


def test_a_held_compile_starts_once_eager_frames_fall_short_of_the_cap(loaded: LoadedModel, monkeypatch) -> None:
    """``--compile auto``: nothing is compiled while the frames' work fits the cap; slow frames start it."""
    compiled_for: list[int] = []
    monkeypatch.setattr(background_compile, "compile_for_inference", lambda model, frames, actions: compiled_for.append(frames.shape[0]))
    session = Session(loaded, seed=0, background_compile=True, compile_below_fps=15)
    compiler = session.engine.compiler
    assert compiler is not None
    try:
        for _ in range(40):
            session.advance(0)
            session.frame_took(0.03)  # 30 ms: holds 15 frames per second
        for _ in range(110):
            session.frame_took(0.03)
        for _ in range(50):
            session.frame_took(0.09)  # a passing load: 3 s of slow frames
        assert compiler.held and not compiler.busy and session.hud(0).compile == "" and session.compile_log == []
        for _ in range(30):
            session.frame_took(0.09)  # 90 ms for more than half of the last 150 frames: falls short
        assert not compiler.held and session.compile_log == ["torch.compile: eager play fell short of 15 frames per second; compiling"]
        session.advance(0)  # starts it
        assert compiler.busy and compiler.wait(60)
        session.advance(0)
        assert compiled_for == [1] and session.mode.group.env.model is session.engine.compiled[1]
    finally:
        session.close()


def test_compiler_reports_each_outcome_once(loaded: LoadedModel, monkeypatch) -> None:
    monkeypatch.setattr(background_compile, "compile_for_inference", lambda model, frames, actions: None)
    compiler = BackgroundCompiler(loaded.world_model)
    session = Session(loaded, seed=0)
    try:
        context = session.engine.real.context()
    finally:
        session.close()
    assert compiler.poll() == [] and compiler.status == ""
    compiler.want(1, context)
    compiler.want(1, context)
    assert compiler.status == "compiling" and compiler.poll() == [] and compiler.wait(60)
    (event,) = compiler.poll()
    assert isinstance(event, Compiled) and event.batch_size == 1 and compiler.poll() == []
    compiler.want(1, context)  # already compiled: nothing to do
    assert compiler.status == "compiled" and not compiler.busy and compiler.poll() == []


def test_a_model_that_cannot_be_copied_is_a_failure_not_a_crash(loaded: LoadedModel, monkeypatch) -> None:
    session = Session(loaded, seed=0, background_compile=True)

    def no_copy(model):
        raise TypeError("cannot pickle 'generator' object")

    monkeypatch.setattr(background_compile.copy, "deepcopy", no_copy)
    try:
        session.advance(0)
        assert session.compile_log == ["torch.compile failed (TypeError: cannot pickle 'generator' object): playing eager"]
        assert session.hud(0).compile == "eager (compile failed)" and session.advance(0)
        session.set_mode("versus")  # nothing more is tried
        session.advance(0)
        assert len(session.compile_log) == 1 and session.engine.compiler.failed is not None
    finally:
        session.close()
