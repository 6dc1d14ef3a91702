"""The trained agent playing a game: frames in, actions out."""

from jedi_play.agent.player import AgentPlayer, AgentStep

__all__ = ["AgentPlayer", "AgentStep"]
