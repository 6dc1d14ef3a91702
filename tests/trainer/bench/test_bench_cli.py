"""``jedi-bench`` end to end at a tiny budget: every figure DESIGN.md names is there (timings are not checked),
Ctrl-C during its compile, and ``jedi-bench app``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from app_helpers import ASTERIX_ACTIONS, write_model
from cli_helpers import assert_one_line_error, run_script, script


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
        # the float32 path, timed in the same run: the speedup is the ratio of the two measured figures
        assert figures["train_speedup"] == pytest.approx(figures["train_updates_per_s"] / figures["train_updates_per_s_fp32"])
        assert figures["train_precision"] in ("fp32", "bf16") and figures["train_peak_mem_mb_fp32"] > 0
    assert data["jedi"]["params"] != data["diamond"]["params"]
    cpu_preset = data["cpu_preset"]  # the cpu preset's world model
    assert cpu_preset["train_updates_per_s"] > 0 and cpu_preset["imagined_steps_per_s_b32"] > 0
    assert cpu_preset["params"] < data["jedi"]["params"]
    assert "cpu preset JEDI" in result.stdout
    assert "JEDI/DIAMOND" in result.stdout and "device:" in result.stdout and "train_updates_per_s_fp32" in result.stdout


def test_ctrl_c_during_the_compile_is_one_line_three_times_in_a_row() -> None:
    """jedi-bench compiles on its main thread: Ctrl-C there ends it with one line and exit code 130, no crash."""
    command = [script("jedi-bench"), "--updates", "1", "--dream-steps", "2", "--batch-size", "2", "--no-cpu-preset", "--threads", "1"]
    for attempt in range(3):
        bench = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert bench.stderr is not None
            for line in bench.stderr:
                if "compiling" in line:
                    break
            time.sleep(2.0 + attempt)  # into the compile, at another point each time
            bench.send_signal(signal.SIGINT)
            _, err = bench.communicate(timeout=120)
        finally:
            if bench.poll() is None:
                bench.kill()
        assert bench.returncode == 130, (attempt, bench.returncode, err[-2000:])
        assert err.strip().splitlines() == ["jedi-bench: interrupted"], err[-2000:]


def test_bench_app_times_the_window_in_a_fresh_process(tmp_path: Path) -> None:
    model = write_model(tmp_path / "asterix", "Asterix", ASTERIX_ACTIONS)
    out = tmp_path / "app.json"
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy", "OMP_NUM_THREADS": "1"}
    args = ["app", "--model", str(model), "--frames", "40", "--fps", "0", "--compile", "off", "--json", str(out)]
    result = subprocess.run([script("jedi-bench"), *args], capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr
    (run,) = json.loads(out.read_text())["runs"]
    assert run["compile"] == "off" and run["frames"] == 41 and run["game_steps"] > 0 and run["compile_log"] == []
    assert list(run["steps_per_second"]) == ["1-40"] and run["steps_per_second"]["1-40"] > 0
    assert "frames 1-40" in result.stdout
    bad = subprocess.run([script("jedi-bench"), "app", "--model", str(tmp_path)], capture_output=True, text=True, timeout=60, env=env)
    assert_one_line_error(bad, "is not a model folder")
