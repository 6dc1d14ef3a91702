"""``jedi-bench``: JEDI and DIAMOND side by side on this device (DESIGN.md, "Benchmarks").

Paper-size models on synthetic batches: world-model training updates per second at batch 32, peak
training memory, dream frames per second at batch 1 with 3 denoising steps (decoding included) and
imagined steps per second at batch 32, with the JEDI / DIAMOND ratios. Then the ``cpu`` preset's JEDI world
model (the bundled models' architecture): its training and imagination speed. A benchmark, not a test.

``jedi-bench app`` times the play window itself over its first frames (``trainer.bench.app_speed``).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch

from jedi_play.cli.errors import UserError, run_main
from jedi_play.cli.parser import CliParser, add_dataclass_args, dataclass_from_args
from jedi_play.data.atomic import atomic_write_bytes
from jedi_play.device import resolve_device
from jedi_play.models.factory import WORLD_MODELS
from trainer.bench.measure import bench_model, measure_dream

PROG = "jedi-bench"
CPU_PRESET_MODEL = "jedi_cpu"  # trainer.bench.measure.BENCH_MODELS


@dataclass
class BenchConfig:
    """What to measure, and how long."""

    device: Literal["auto", "cpu", "cuda"] = field(default="auto", metadata={"help": "where to measure"})
    batch_size: int = field(default=32, metadata={"help": "training and imagination batch size", "metavar": "B"})
    updates: int = field(default=3, metadata={"help": "timed training updates per model", "metavar": "N"})
    dream_steps: int = field(default=30, metadata={"help": "timed dream steps per measurement", "metavar": "N"})
    threads: int | None = field(default=None, metadata={"help": "torch CPU threads (default: torch's choice)"})
    json: Path | None = field(default=None, metadata={"help": "write the figures to FILE", "metavar": "FILE"})
    compile: bool = field(default=True, metadata={"help": "also time the batch-1 dream with torch.compile'd networks"})
    cpu_preset: bool = field(default=True, metadata={"help": "also time the cpu preset's JEDI world model"})
    fp32_baseline: bool = field(
        default=True, metadata={"help": "also time training as it ran before bf16 autocast and fused AdamW (float32), side by side"}
    )


def build_parser() -> CliParser:
    parser = CliParser(
        prog=PROG,
        description="Benchmark the JEDI and DIAMOND world models on this device.",
        epilog="sub-command: 'jedi-bench app' times the play window over its first frames (answers --help).",
    )
    add_dataclass_args(parser, BenchConfig)
    return parser


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def run_bench(config: BenchConfig) -> dict:
    device = resolve_device(config.device)
    if config.threads:
        torch.set_num_threads(config.threads)
    result: dict = {"device": device_name(device), "torch": torch.__version__, "threads": torch.get_num_threads()}
    for kind in WORLD_MODELS:
        figures = training_figures(kind, device, config)
        print(f"{kind}: dreaming...", file=sys.stderr)
        figures["dream_fps_b1"] = measure_dream(kind, device, 1, config.dream_steps)
        figures["imagined_steps_per_s_b32"] = imagined_steps_per_s(kind, device, config)
        if config.compile:
            print(f"{kind}: compiling, then dreaming...", file=sys.stderr)
            try:
                figures["dream_fps_b1_compiled"] = measure_dream(kind, device, 1, config.dream_steps, compiled=True)
            except Exception as e:  # torch.compile fails in many ways (no compiler, platform): report, go on
                print(f"{kind}: torch.compile is not usable here ({type(e).__name__}: {str(e).splitlines()[0][:200]})", file=sys.stderr)
                figures["dream_fps_b1_compiled"] = None
        result[kind] = figures
    j, d = result["jedi"], result["diamond"]
    result["ratios"] = {
        "train_updates_per_s": j["train_updates_per_s"] / d["train_updates_per_s"],
        "train_peak_mem_mb": j["train_peak_mem_mb"] / d["train_peak_mem_mb"],
        "dream_fps_b1": j["dream_fps_b1"] / d["dream_fps_b1"],
        "imagined_steps_per_s_b32": j["imagined_steps_per_s_b32"] / d["imagined_steps_per_s_b32"],
    }
    if j.get("dream_fps_b1_compiled") and d.get("dream_fps_b1_compiled"):
        result["ratios"]["dream_fps_b1_compiled"] = j["dream_fps_b1_compiled"] / d["dream_fps_b1_compiled"]
    if config.cpu_preset:
        figures = training_figures(CPU_PRESET_MODEL, device, config)
        print(f"{CPU_PRESET_MODEL}: dreaming...", file=sys.stderr)
        figures["imagined_steps_per_s_b32"] = imagined_steps_per_s(CPU_PRESET_MODEL, device, config)
        result["cpu_preset"] = figures
    return result


def training_figures(name: str, device: torch.device, config: BenchConfig) -> dict:
    """Training updates per second and peak memory of ``name`` (a fresh process per path), and its parameters.

    With ``fp32_baseline`` the float32 path's figures come as ``train_updates_per_s_fp32`` and
    ``train_peak_mem_mb_fp32`` beside the default path's, and ``train_speedup`` is their ratio.
    """
    figures: dict = {}
    for path in ("default", "fp32") if config.fp32_baseline else ("default",):
        print(f"{name}: training, {path} path ({config.updates} updates at batch {config.batch_size})...", file=sys.stderr)
        env = {"OMP_NUM_THREADS": str(torch.get_num_threads())}
        proc = subprocess.run(
            [sys.executable, "-m", "trainer.bench.measure", name, str(device), str(config.batch_size), str(config.updates), path],
            capture_output=True, text=True, env={**os.environ, **env},
        )
        if proc.returncode != 0:
            raise UserError(f"the {name} training benchmark failed: {proc.stderr.strip().splitlines()[-1:]}")
        measured = json.loads(proc.stdout)
        if path == "default":
            figures.update(measured)
        else:
            figures.update(train_updates_per_s_fp32=measured["train_updates_per_s"], train_peak_mem_mb_fp32=measured["train_peak_mem_mb"])
            figures["train_speedup"] = figures["train_updates_per_s"] / measured["train_updates_per_s"]
    figures["params"] = sum(bench_model(name, torch.device("cpu")).num_parameters().values())
    return figures


def imagined_steps_per_s(name: str, device: torch.device, config: BenchConfig) -> float:
    """Imagined steps per second over a batch of ``config.batch_size`` dreams."""
    return config.batch_size * measure_dream(name, device, config.batch_size, max(3, config.dream_steps // 10))


def format_table(result: dict) -> str:
    rows = [("params", "{:,.0f}"), ("train_updates_per_s", "{:.3f}"), ("train_peak_mem_mb", "{:.0f}"), ("dream_fps_b1", "{:.1f}"), ("imagined_steps_per_s_b32", "{:.1f}")]
    if "dream_fps_b1_compiled" in result["jedi"]:
        rows.insert(3, ("dream_fps_b1_compiled", "{:.1f}"))
    if "train_speedup" in result["jedi"]:
        rows[2:2] = [("train_updates_per_s_fp32", "{:.3f}"), ("train_speedup", "{:.2f}"), ("train_peak_mem_mb_fp32", "{:.0f}")]
    precision = result["jedi"].get("train_precision", "fp32")
    lines = [
        f"device: {result['device']} | torch {result['torch']} | threads {result['threads']} | training in {precision}, fused AdamW"
        + (" (the _fp32 rows: float32, AdamW unfused, as before)" if "train_speedup" in result["jedi"] else ""),
        f"{'':<26}{'JEDI':>12}{'DIAMOND':>12}{'JEDI/DIAMOND':>14}",
    ]
    for key, fmt in rows:
        ratio = result["ratios"].get(key)
        cells = ["n/a" if result[m][key] is None else fmt.format(result[m][key]) for m in ("jedi", "diamond")]
        lines.append(f"{key:<26}{cells[0]:>12}{cells[1]:>12}{'' if ratio is None else f'{ratio:.2f}':>14}")
    if "cpu_preset" in result:
        lines.append(f"{'cpu preset JEDI':<26}")
        for key, fmt in [row for row in rows if row[0] in result["cpu_preset"]]:
            lines.append(f"{key:<26}{fmt.format(result['cpu_preset'][key]):>12}")
    return "\n".join(lines)


def app(argv: Sequence[str]) -> int:
    """``jedi-bench app``."""
    from trainer.bench.app_speed import AppSpeedConfig, format_app_speed, run_app_speed

    parser = CliParser(prog=f"{PROG} app", description="Time jedi-play's window over its first frames, each --compile setting in a fresh process.")
    add_dataclass_args(parser, AppSpeedConfig)
    config = dataclass_from_args(AppSpeedConfig, parser.parse_args(argv))
    result = run_app_speed(config)
    result.update(device=device_name(torch.device("cpu")), torch=torch.__version__)
    print(format_app_speed(result))
    if config.json:
        atomic_write_bytes(config.json, (json.dumps(result, indent=2) + "\n").encode())
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "app":
        return run_main(PROG, lambda: app(args[1:]))

    def body() -> int:
        config = dataclass_from_args(BenchConfig, build_parser().parse_args(args))
        result = run_bench(config)
        print(format_table(result))
        if config.json:
            atomic_write_bytes(config.json, (json.dumps(result, indent=2) + "\n").encode())
        return 0

    return run_main(PROG, body)


if __name__ == "__main__":
    sys.exit(main())
