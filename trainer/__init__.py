"""JEDI Play trainer: data collection, replay storage, training loops, evaluation and benchmarks."""

import jedi_play  # noqa: F401  (limits OpenBLAS's threads before anything imports numpy)
