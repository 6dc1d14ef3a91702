"""Weight storage in model folders: int8 and float16 round trips, sizes, and damaged files."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from jedi_play.cli.errors import UserError
from jedi_play.hub import load_model_folder, save_model_folder
from jedi_play.hub.weight_codec import SCALE_SUFFIX, decode_weights, encode_weights, quantise_int8
from tests.app_helpers import ASTERIX_ACTIONS, agent_for, tiny_world_model


def test_int8_rounding_error_is_at_most_half_a_step_per_output_channel() -> None:
    torch.manual_seed(0)
    w = torch.randn(8, 16, 3, 3) * torch.logspace(-3, 1, 8).view(8, 1, 1, 1)  # channels of very different scales
    q, scale = quantise_int8(w)
    assert q.dtype == torch.int8 and scale.shape == (8,)
    error = (decode_weights({"w": q, "w" + SCALE_SUFFIX: scale})["w"] - w).abs().flatten(1).amax(1)
    assert torch.all(error <= scale / 2 + 1e-7)  # each channel keeps its own precision, small channels too
    assert torch.all(q.abs().flatten(1).amax(1) == 127)


def test_small_and_integer_tensors_are_not_quantised() -> None:
    state = {"big": torch.randn(64, 32), "bias": torch.randn(64), "steps": torch.tensor(3)}
    encoded = encode_weights(state, "int8")
    assert encoded["big"].dtype == torch.int8 and encoded["bias"].dtype == torch.float16
    assert encoded["steps"].dtype == torch.int64 and "bias" + SCALE_SUFFIX not in encoded
    with pytest.raises(ValueError, match="unknown weights dtype"):
        encode_weights(state, "int4")  # type: ignore[arg-type]


@pytest.mark.parametrize("dtype", ["float16", "int8"])
def test_model_folder_in_smaller_storage_loads_to_nearly_the_same_model(tmp_path: Path, dtype: str) -> None:
    wm = tiny_world_model(len(ASTERIX_ACTIONS))
    agent = agent_for(wm, len(ASTERIX_ACTIONS))
    save_model_folder(tmp_path / "f32", wm, "jedi", "Asterix", ASTERIX_ACTIONS, "# f32\n", agent=agent)
    save_model_folder(tmp_path / dtype, wm, "jedi", "Asterix", ASTERIX_ACTIONS, f"# {dtype}\n", agent=agent, weights_dtype=dtype)
    full = (tmp_path / "f32" / "world_model.safetensors").stat().st_size
    small = (tmp_path / dtype / "world_model.safetensors").stat().st_size
    assert small < full * (0.55 if dtype == "float16" else 0.4)

    a, b = load_model_folder(tmp_path / "f32", "Asterix"), load_model_folder(tmp_path / dtype, "Asterix")
    assert b.config["weights_dtype"] == dtype
    frames = torch.randint(0, 256, (2, 3, 64, 64, 3), dtype=torch.uint8)
    with torch.no_grad():
        za, zb = a.world_model.to_states(frames), b.world_model.to_states(frames)
        assert not torch.equal(za, zb)  # the rounding is real...
        assert (za - zb).abs().max() < 0.05 * za.abs().max()  # ...and small
        for name, p in b.world_model.state_dict().items():
            assert p.dtype == a.world_model.state_dict()[name].dtype  # decoded to the model's own dtypes
        assert b.agent is not None and a.agent is not None
        pa, pb = (m.agent.state_dict()["policy_head.weight"] for m in (a, b))
        assert (pa - pb).abs().max() <= pa.abs().max() / 127


def test_int8_weights_without_their_scales_are_a_damaged_file(tmp_path: Path) -> None:
    wm = tiny_world_model(len(ASTERIX_ACTIONS))
    save_model_folder(tmp_path, wm, "jedi", "Asterix", ASTERIX_ACTIONS, "# int8\n", weights_dtype="int8")
    path = tmp_path / "world_model.safetensors"
    tensors = load_file(path)
    dropped = next(k for k in tensors if k.endswith(SCALE_SUFFIX))
    del tensors[dropped]
    save_file(tensors, path)
    with pytest.raises(UserError, match="damaged.*has no scales"):
        load_model_folder(tmp_path, "Asterix")
