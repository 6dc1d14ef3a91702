"""Evaluation: agent scores under the Atari 100k protocol and world-model fidelity."""
