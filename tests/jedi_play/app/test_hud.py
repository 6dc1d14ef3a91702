"""The HUD's lines after scripted steps, and the help overlay's text."""

import math

from app_helpers import dream_outcomes
from jedi_play.app.hud import APP_KEYS, HUD_LINES, HudState, help_columns, hud_lines
from jedi_play.app.session import Session
from jedi_play.env.keymap import KEY_TO_ATOM, Keymap


def test_lines_show_every_value():
    state = HudState("Asterix", "dream", "person", "dream", 12, 1.0, 7.0, 31.25, 4, paused=True)
    lines = hud_lines(state)
    assert len(lines) == HUD_LINES
    assert lines[0] == "Asterix   mode dream   controller person   world dream   PAUSED (P resume, N step)"
    assert lines[1] == "step 12   reward +1   return 7   fps 31.2   denoising steps 4"
    assert lines[2] == "agent: -"
    assert lines[3] == "H help   Esc quit"
    state.agent_action, state.agent_entropy, state.agent_value, state.reward = "UPLEFT", 1.5, -0.25, -0.5
    lines = hud_lines(state, notice="mode: dream")
    assert lines[1].startswith("step 12   reward -0.50   return 7")
    assert lines[2] == "agent: action UPLEFT   entropy 1.50   value -0.25"
    assert lines[3] == "mode: dream"
    state.recording = True
    assert hud_lines(state)[0] == "REC   Asterix   mode dream   controller person   world dream   PAUSED (P resume, N step)"


def test_session_hud_after_scripted_steps(loaded):
    dream_outcomes(loaded, reward=1)
    session = Session(loaded, seed=0)
    for _ in range(3):
        session.advance(2)
    session.change_denoising_steps(+1)
    session.change_denoising_steps(+1)
    session.change_denoising_steps(-1)
    hud = session.hud(fps=42.0)
    assert (hud.game, hud.mode, hud.controller, hud.world) == ("Asterix", "dream", "person", "dream")
    assert (hud.steps, hud.reward, hud.episode_return, hud.denoising_steps) == (3, 1.0, 3.0, 4)
    assert hud.agent_action is None and math.isnan(hud.agent_value)
    assert hud_lines(hud)[1] == "step 3   reward +1   return 3   fps 42.0   denoising steps 4"
    session.set_mode("agent")
    session.advance(0)
    hud = session.hud(fps=0.0)
    step = session.mode.agent_step
    assert (hud.mode, hud.controller, hud.steps, hud.episode_return) == ("agent", "agent", 1, 1.0)
    assert (hud.agent_action, hud.agent_entropy, hud.agent_value) == (loaded.action_meanings[step.action], step.entropy, step.value)
    session.set_mode("compare")
    session.advance(0)
    hud = session.hud(fps=0.0)
    assert hud.world == "real + dream" and hud.detail.startswith("PSNR dream vs real") and hud.steps == 1
    session.close()


def test_help_lists_the_games_keys_and_the_apps_keys():
    meanings = ["NOOP", "UP", "RIGHT", "LEFT", "DOWN", "UPRIGHT", "UPLEFT", "DOWNRIGHT", "DOWNLEFT"]
    (game_title, game_rows), (app_title, app_rows) = help_columns(Keymap(meanings), "Asterix")
    assert game_title.startswith("Asterix") and [what for _, what in game_rows] == meanings
    assert game_rows[0] == ("(none)", "NOOP") and game_rows[5] == ("W+D", "UPRIGHT") and game_rows[8] == ("S+A", "DOWNLEFT")
    assert game_title == "Asterix: WASD or arrows"  # Asterix has no FIRE
    (fire_title, fire_rows), _ = help_columns(Keymap(["NOOP", "FIRE", "RIGHT", "LEFT", "RIGHTFIRE"]), "Pong")
    assert fire_title == "Pong: WASD or arrows, Space = FIRE"
    assert fire_rows[1] == ("Space", "FIRE") and fire_rows[4] == ("D+Space", "RIGHTFIRE")
    assert app_title == "App keys" and app_rows == APP_KEYS and ("F9", "record episodes on / off") in APP_KEYS
    app_key_names = {k.lower() for keys, _ in APP_KEYS for k in keys.replace("/", " ").split()}
    assert not app_key_names & set(KEY_TO_ATOM)  # no app key is a game key
