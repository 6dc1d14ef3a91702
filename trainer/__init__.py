"""JEDI Play trainer: data collection, replay storage, training loops, evaluation and benchmarks."""
