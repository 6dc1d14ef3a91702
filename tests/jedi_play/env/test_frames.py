"""Area-interpolation resize and max-pooling."""

import numpy as np

from jedi_play.env.frames import area_matrix, area_resize, max_pool


def test_area_matrix_rows_are_averages():
    m = area_matrix(210, 64)
    assert m.shape == (64, 210)
    np.testing.assert_allclose(m.sum(axis=1), 1.0, atol=1e-6)
    assert (m >= 0).all()


def test_area_resize_hand_worked_non_integer_factor():
    # 3 -> 2 pixels: each output covers 1.5 inputs: (0 + 0.5*90)/1.5 = 30, (0.5*90 + 180)/1.5 = 150
    row = np.array([0, 90, 180], dtype=np.uint8)
    frame = np.broadcast_to(row[None, :, None], (3, 3, 3)).copy()
    out = area_resize(frame, 2)
    assert out[0, :, 0].tolist() == [30, 150]
    assert out[:, 0, 0].tolist() == [30, 30]  # the rows are constant, so the vertical resize keeps them


def test_area_resize_integer_factor_is_block_mean():
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (128, 128, 3), dtype=np.uint8)
    expected = frame.reshape(64, 2, 64, 2, 3).astype(np.float64).mean(axis=(1, 3))
    out = area_resize(frame, 64)
    assert out.dtype == np.uint8 and out.shape == (64, 64, 3)
    assert np.abs(out - expected).max() <= 0.5 + 1e-6


def test_area_resize_keeps_constant_frames():
    frame = np.full((210, 160, 3), 77, dtype=np.uint8)
    assert (area_resize(frame, 64) == 77).all()


def test_max_pool():
    a = np.array([[0, 5]], dtype=np.uint8)
    b = np.array([[3, 1]], dtype=np.uint8)
    assert max_pool(a, b).tolist() == [[3, 5]]
