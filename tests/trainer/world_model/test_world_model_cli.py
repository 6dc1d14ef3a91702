"""``jedi-train world-model``, ``--resume``, ``jedi-train export`` and ``jedi-eval fidelity`` end to end."""

import json
import lzma

import pytest
import torch
from safetensors.torch import load, load_file, save_file

from cli_helpers import assert_one_line_error, run_script
from jedi_play.hub import load_model_folder


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("wm") / "data"
    result = run_script("jedi-train", "collect", "--game", "Breakout", "--steps", "120", "--out", str(out))
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture(scope="module")
def jedi_run(data_dir):
    run = data_dir.parent / "run_jedi"
    args = ["world-model", "--game", "Breakout", "--data", str(data_dir), "--out", str(run), "--batch-size", "2", "--val-every", "2"]
    result = run_script("jedi-train", *args, "--updates", "2", "--precision", "fp32")
    assert result.returncode == 0, result.stderr
    result = run_script("jedi-train", *args, "--updates", "3", "--resume", "--precision", "bf16")  # a run may change precision
    assert result.returncode == 0, result.stderr
    return run


def test_training_resumes_and_logs_metrics(jedi_run):
    rows = [json.loads(line) for line in (jedi_run / "metrics.jsonl").read_text().splitlines()]
    steps = [r["step"] for r in rows if "loss" in r]
    assert steps == [1, 2, 3]  # the resumed run continued at update 3
    assert any("val_denoise_loss" in r for r in rows)
    info = json.loads((jedi_run / "run.json").read_text())
    assert info["game"] == "Breakout" and info["precision"] == "bf16"
    weights = load_file(jedi_run / "checkpoint.safetensors")
    assert {t.dtype for t in weights.values() if t.is_floating_point()} == {torch.float32}  # bf16 autocast keeps float32 weights


def test_a_run_resumes_on_another_machine_from_its_weights_alone(jedi_run, data_dir, tmp_path):
    moved = tmp_path / "moved"  # what a commit keeps of the run: run.json and the bf16 weights
    moved.mkdir()
    for name in ("run.json", "weights.safetensors.xz"):
        (moved / name).write_bytes((jedi_run / name).read_bytes())
    assert (jedi_run / "weights.safetensors.xz").stat().st_size < (jedi_run / "checkpoint.safetensors").stat().st_size / 3
    args = ["world-model", "--game", "Breakout", "--data", str(data_dir), "--out", str(moved), "--batch-size", "2", "--val-every", "2"]
    assert_one_line_error(run_script("jedi-train", *args, "--updates", "4"), "already holds a run")
    result = run_script("jedi-train", *args, "--updates", "4", "--resume")
    assert result.returncode == 0, result.stderr
    assert "resumes at update 3 from weights.safetensors.xz" in result.stdout
    rows = [json.loads(line) for line in (moved / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "loss" in r] == [4]
    weights, before = (load(lzma.decompress((run / "weights.safetensors.xz").read_bytes())) for run in (moved, jedi_run))
    assert set(weights) == set(before) and all(w.dtype == before[k].dtype for k, w in weights.items())
    (moved / "checkpoint.safetensors").unlink()  # the weights alone also export
    result = run_script("jedi-train", "export", str(moved), "--to", str(tmp_path / "model"))
    assert result.returncode == 0, result.stderr
    assert load_model_folder(tmp_path / "model").game == "Breakout"


def test_existing_run_needs_resume(jedi_run, data_dir):
    result = run_script("jedi-train", "world-model", "--game", "Breakout", "--data", str(data_dir), "--out", str(jedi_run), "--updates", "1")
    assert_one_line_error(result, "already holds a run", "--resume")


def test_wrong_game_for_the_data(data_dir, tmp_path):
    result = run_script("jedi-train", "world-model", "--game", "Pong", "--data", str(data_dir), "--out", str(tmp_path / "r"), "--updates", "1")
    assert_one_line_error(result, "Breakout episodes, not Pong")


@pytest.fixture(scope="module")
def exported(jedi_run):
    folder = jedi_run.parent / "model"
    result = run_script("jedi-train", "export", str(jedi_run), "--to", str(folder))
    assert result.returncode == 0, result.stderr
    return folder


def test_export_writes_the_model_folder(exported):
    assert sorted(p.name for p in exported.iterdir()) == ["README.md", "config.json", "world_model.safetensors"]
    config = json.loads((exported / "config.json").read_text())
    assert config["game"] == "Breakout" and config["action_meanings"] == ["NOOP", "FIRE", "RIGHT", "LEFT"]
    assert config["world_model"]["kind"] == "jedi" and config["num_cond_steps"] == 4
    assert config["world_model"]["config"]["sampler"]["steps"] == 3
    assert "val_denoise_loss" in (exported / "README.md").read_text()
    loaded = load_model_folder(exported, "breakout")
    assert loaded.kind == "jedi" and not loaded.world_model.training


def test_fidelity_cli(exported, tmp_path):
    out = tmp_path / "fidelity.json"
    result = run_script("jedi-eval", "fidelity", "--model", str(exported), "--episodes", "2", "--stride", "16", "--states", "0", "--json", str(out))
    assert result.returncode == 0, result.stderr
    data = json.loads(out.read_text())
    assert set(data["psnr"]) >= {"0", "1", "5"} and set(data["psnr_copy_last"]) >= {"1", "5"}
    assert all(0 < v < 100 for v in data["psnr"].values())
    assert data["episodes"] == 2
    assert data["rewards"]["steps"] > 0 and 0 <= data["rewards"]["rate_dream"] <= 1 and "rewards:" in result.stdout


def copy_folder(src, dst):
    dst.mkdir()
    for p in src.iterdir():
        (dst / p.name).write_bytes(p.read_bytes())
    return dst


def test_loading_refuses_bad_folders(exported, tmp_path):
    fidelity = lambda folder: run_script("jedi-eval", "fidelity", "--model", str(folder), "--episodes", "1")  # noqa: E731
    assert_one_line_error(fidelity(tmp_path / "missing"), "does not exist")

    no_config = copy_folder(exported, tmp_path / "no_config")
    (no_config / "config.json").unlink()
    assert_one_line_error(fidelity(no_config), "config.json is missing")

    corrupt = copy_folder(exported, tmp_path / "corrupt")
    (corrupt / "world_model.safetensors").write_bytes(b"\x00" * 64)
    assert_one_line_error(fidelity(corrupt), "damaged")

    missing_tensor = copy_folder(exported, tmp_path / "missing_tensor")
    tensors = load_file(missing_tensor / "world_model.safetensors")
    tensors.pop(next(k for k in tensors if k.startswith("decoder.")))
    save_file(tensors, missing_tensor / "world_model.safetensors")
    assert_one_line_error(fidelity(missing_tensor), "do not fit the model", "Missing key")

    from jedi_play.cli.errors import UserError

    with pytest.raises(UserError, match="is for Breakout, not Pong"):
        load_model_folder(exported, "Pong")


def test_mean_predictor_run_exports_and_dreams(data_dir, tmp_path):
    import torch

    run, folder = tmp_path / "run", tmp_path / "model"
    args = ["--game", "Breakout", "--data", str(data_dir), "--out", str(run), "--batch-size", "2", "--updates", "1"]
    options = ["--experimental", "latent_norm=true", "--experimental", "predict_delta=true", "--experimental", "mean_predictor_channels=16", "--experimental", "denoiser_channels=32", "--experimental", "reward_reads_mean=true"]
    result = run_script("jedi-train", "world-model", *args, *options)
    assert result.returncode == 0, result.stderr
    assert run_script("jedi-train", "export", str(run), "--to", str(folder)).returncode == 0
    assert "reward_reads_mean True" in (folder / "README.md").read_text()  # the model card names the setting
    model = load_model_folder(folder, "Breakout").world_model
    assert model.cfg.mean_predictor_channels == (16,) and model.cfg.denoiser_channels == (32,) and model.cfg.reward_reads_mean
    states = model.to_states(torch.zeros(1, 4, 64, 64, 3, dtype=torch.uint8))
    assert model.predict_next(states, torch.zeros(1, 4, dtype=torch.long)).shape == (1, 16, 8, 8)


@pytest.mark.parametrize(
    "options, message",
    [
        (["--experimental", "reward_reads_mean=true"], "add --experimental mean_predictor_channels=C"),
        (["--experimental", "reward_reads_mean=true", "--experimental", "mean_predictor_channels=8", "--experimental", "reward_foresight=true"], "does not combine with reward_foresight"),
        (["--experimental", "reward_reads_mean=true", "--world-model", "diamond"], "JEDI world model only"),
    ],
)
def test_reward_reads_mean_refuses_contradicting_options(data_dir, tmp_path, options, message):
    result = run_script("jedi-train", "world-model", "--game", "Breakout", "--data", str(data_dir), "--out", str(tmp_path / "r"), "--updates", "1", *options)
    assert_one_line_error(result, message)
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("option", [["--experimental", "mean_predictor_channels=-1"], ["--experimental", "denoiser_channels=0"]])
def test_channel_counts_out_of_range(data_dir, tmp_path, option):
    result = run_script("jedi-train", "world-model", "--game", "Breakout", "--data", str(data_dir), "--out", str(tmp_path / "r"), "--updates", "1", *option)
    assert_one_line_error(result, "--experimental mean_predictor_channels must be at least 0")
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("key", ["decoder_grad_weight", "decoder_motion_weight"])
def test_negative_decoder_weights_are_refused(data_dir, tmp_path, key):
    args = ["--game", "Breakout", "--data", str(data_dir), "--out", str(tmp_path / "r"), "--updates", "1", "--experimental", f"{key}=-1"]
    result = run_script("jedi-train", "world-model", *args)
    assert_one_line_error(result, f"--experimental {key} must be at least 0")
    assert not (tmp_path / "r").exists()


def test_decoder_motion_weight_refuses_diamond(data_dir, tmp_path):
    result = run_script(
        "jedi-train", "world-model", "--game", "Breakout", "--world-model", "diamond", "--data", str(data_dir), "--out", str(tmp_path / "r"), "--updates", "1",
        "--experimental", "decoder_motion_weight=1",
    )
    assert_one_line_error(result, "--experimental decoder_motion_weight applies to the JEDI world model only")
    assert not (tmp_path / "r").exists()
