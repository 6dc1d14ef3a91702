"""The Atari 100k environment, the game registry and the keyboard mapping."""

from jedi_play.env.atari import AtariEnv, make_eval_env, make_train_env
from jedi_play.env.games import AGENT_OPTIMAL, GAMES, HUMAN_OPTIMAL, Game, get_game, human_normalized_score
from jedi_play.env.keymap import Keymap

__all__ = [
    "AGENT_OPTIMAL",
    "GAMES",
    "HUMAN_OPTIMAL",
    "AtariEnv",
    "Game",
    "Keymap",
    "get_game",
    "human_normalized_score",
    "make_eval_env",
    "make_train_env",
]
