"""JEDI Play runtime: the Atari environment, world-model definitions, the dream env and the pygame app."""

__version__ = "0.1.0"
