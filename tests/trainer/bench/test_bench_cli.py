"""``jedi-bench`` end to end at a tiny budget: every figure DESIGN.md names is there (timings are not checked)."""

from __future__ import annotations

import json
from pathlib import Path

from cli_helpers import run_script


def test_bench_writes_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    result = run_script("jedi-bench", "--updates", "1", "--dream-steps", "2", "--batch-size", "2", "--no-compile", "--json", str(out), timeout=900)
    assert result.returncode == 0, result.stderr
    data = json.loads(out.read_text())
    assert {"device", "torch", "threads", "jedi", "diamond", "ratios"} <= set(data)
    for kind in ("jedi", "diamond"):
        figures = data[kind]
        assert {"params", "train_updates_per_s", "train_peak_mem_mb", "dream_fps_b1", "imagined_steps_per_s_b32"} <= set(figures)
        assert figures["train_updates_per_s"] > 0 and figures["dream_fps_b1"] > 0 and figures["train_peak_mem_mb"] > 0
    assert data["jedi"]["params"] != data["diamond"]["params"]
    for name in ("jedi_cpu", "jedi_cpu_reads_mean"):  # the cpu preset's world model, plain and reading the mean
        assert data["cpu_preset"][name]["train_updates_per_s"] > 0 and data["cpu_preset"][name]["imagined_steps_per_s_b32"] > 0
    assert data["cpu_preset"]["jedi_cpu"]["params"] == data["cpu_preset"]["jedi_cpu_reads_mean"]["params"] < data["jedi"]["params"]
    assert "reads mean" in result.stdout
    assert "JEDI/DIAMOND" in result.stdout and "device:" in result.stdout
