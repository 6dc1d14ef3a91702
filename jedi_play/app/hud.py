"""What the windows show, free of pygame: a pane's view, the HUD's text and the help overlay's text.

The HUD always has ``HUD_LINES`` lines, so the window's layout does not jump: (REC while recording,) the
game, mode, controller and world; step, reward, return, frames per second and denoising steps (and where
torch.compile stands, when the app compiles); the agent's action, policy entropy and value (when the agent
plays); and a mode-specific line (PSNR, versus score) or a notice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from jedi_play.env.keymap import Keymap

HUD_LINES = 4
REC_MARK = "REC"  # leads the HUD's first line while episodes are recorded

# (keys, what they do); none of them is a game key (WASD, arrows, space)
APP_KEYS: list[tuple[str, str]] = [
    ("1 2 3 4", "dream / agent / compare / versus"),
    ("Tab", "person / agent plays"),
    ("R", "dream / real game"),
    ("Y", "re-sync the dream (compare)"),
    ("P", "pause / resume"),
    ("N", "one step while paused"),
    ("Backspace", "new episode or match"),
    ("+ / -", "denoising steps up / down"),
    ("F9", "record episodes on / off"),
    ("F12", "screenshot (current folder)"),
    ("H / F1", "this help"),
    ("Esc", "quit"),
]

HelpColumn = tuple[str, list[tuple[str, str]]]  # a title and (keys, what they do) rows


@dataclass
class PaneView:
    """What the window draws for one pane: a title, the 64x64 frame, its counters and a caption."""

    title: str
    frame: np.ndarray  # (64, 64, 3) uint8
    steps: int
    reward: float
    episode_return: float
    done: bool
    caption: str = ""


@dataclass
class HudState:
    """Everything the HUD shows, taken from the session after a frame."""

    game: str
    mode: str
    controller: str
    world: str
    steps: int
    reward: float
    episode_return: float
    fps: float
    denoising_steps: int
    paused: bool = False
    recording: bool = False
    agent_action: str | None = None  # the agent's last action's name, when the agent plays
    agent_entropy: float = math.nan
    agent_value: float = math.nan
    detail: str = ""  # PSNR in compare mode, the score in versus mode
    compile: str = ""  # torch.compile in the background: "compiling", "compiled", ... ("" when off)


def count(n: int, noun: str) -> str:
    """``count(1, "step")`` -> ``"1 step"``, ``count(3, "step")`` -> ``"3 steps"``."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def number(x: float) -> str:
    """A reward or return as the HUD shows it: whole numbers without decimals."""
    return f"{x:.0f}" if float(x).is_integer() else f"{x:.2f}"


def hud_lines(state: HudState, notice: str = "") -> list[str]:
    """The ``HUD_LINES`` lines of the HUD; ``notice`` (a recent message) takes the last line's place."""
    head = f"{state.game}   mode {state.mode}   controller {state.controller}   world {state.world}"
    if state.recording:
        head = f"{REC_MARK}   {head}"
    if state.paused:
        head += "   PAUSED (P resume, N step)"
    reward = number(state.reward)
    counters = (
        f"step {state.steps}   reward {'+' if state.reward > 0 else ''}{reward}   return {number(state.episode_return)}"
        f"   fps {state.fps:.1f}   denoising steps {state.denoising_steps}"
    )
    if state.compile:
        counters += f"   {state.compile}"
    if state.agent_action is not None:
        agent = f"agent: action {state.agent_action}   entropy {state.agent_entropy:.2f}   value {state.agent_value:.2f}"
    else:
        agent = "agent: -"
    last = notice or state.detail or "H help   Esc quit"
    return [head, counters, agent, last]


def help_columns(keymap: Keymap, game: str) -> tuple[HelpColumn, HelpColumn]:
    """The help overlay: the game's keys (one row per action; arrows work as WASD) and the app's keys."""
    game_rows = []
    for action, meaning in enumerate(keymap.action_meanings):
        keys = keymap.keys_for_action(action)
        game_rows.append(("+".join("Space" if k == "space" else k.upper() for k in keys) or "(none)", meaning))
    fire = ", Space = FIRE" if any("FIRE" in m for m in keymap.action_meanings) else ""
    return (f"{game}: WASD or arrows{fire}", game_rows), ("App keys", list(APP_KEYS))
