"""Benchmarks: training speed, memory and dream frame rate of JEDI against DIAMOND."""
