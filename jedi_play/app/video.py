"""``jedi-play export-video``: recorded episodes as an MP4 (through an ``ffmpeg`` on PATH) or a GIF (Pillow).

Each episode's frames (``T + 1`` of them) follow one another, scaled up ``scale`` times by nearest neighbour
(the pixels stay sharp). The video is written to a temporary file beside the target and renamed when
complete, so a failed or killed export never leaves half a video under the target's name. A GIF stores
delays in hundredths of a second, and Pillow merges identical consecutive frames into one longer frame.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from jedi_play.app.replay import find_recordings
from jedi_play.cli.errors import UserError
from jedi_play.data.atomic import atomic_path
from jedi_play.data.episode import Episode

FORMATS = (".mp4", ".gif")
MAX_FPS = 100  # a GIF's shortest delay is 1/100 s
MAX_SCALE = 32
NO_FFMPEG = (
    "MP4 export needs ffmpeg on PATH: install it (apt-get install ffmpeg, brew install ffmpeg, or ffmpeg.org), "
    "or write a .gif"
)


@dataclass
class VideoInfo:
    """What an export wrote."""

    path: Path
    episodes: int
    frames: int
    size: tuple[int, int]  # width, height


def check_export(to: Path, fps: int, scale: int) -> str:
    """Refuse options that cannot work, before reading any episode; returns the format (``.mp4`` or ``.gif``)."""
    kind = to.suffix.lower()
    if kind not in FORMATS:
        raise UserError(f"--to {to}: the name must end in .mp4 or .gif")
    if not to.parent.is_dir():
        raise UserError(f"--to {to}: the folder {to.parent} does not exist")
    if to.is_dir():
        raise UserError(f"--to {to}: is a folder")
    if not 1 <= fps <= MAX_FPS:
        raise UserError(f"--fps must be between 1 and {MAX_FPS}, not {fps}")
    if not 1 <= scale <= MAX_SCALE:
        raise UserError(f"--scale must be between 1 and {MAX_SCALE}, not {scale}")
    if kind == ".mp4" and shutil.which("ffmpeg") is None:
        raise UserError(NO_FFMPEG)
    return kind


def upscale(frame: np.ndarray, scale: int) -> np.ndarray:
    """``(H, W, 3)`` -> ``(H * scale, W * scale, 3)`` by nearest neighbour."""
    return np.ascontiguousarray(frame.repeat(scale, axis=0).repeat(scale, axis=1)) if scale > 1 else frame


def export_video(source: Path, to: Path, *, fps: int = 15, scale: int = 4, episode: int | None = None) -> VideoInfo:
    """Write the episodes of ``source`` (an episode file or folder; only the ``episode``-th of a folder when
    given) to ``to`` (.mp4 or .gif)."""
    kind = check_export(to, fps, scale)
    paths = find_recordings(source, episode).paths
    first = Episode.load(paths[0])  # one episode in memory at a time
    height, width = first.frames.shape[1:3]
    count = 0

    def frames() -> Iterator[np.ndarray]:
        nonlocal count
        for i, path in enumerate(paths):
            e = first if i == 0 else Episode.load(path)
            if e.frames.shape[1:3] != (height, width):
                raise UserError(
                    f"{path}: its frames are {e.frames.shape[2]}x{e.frames.shape[1]}, the first episode's {width}x{height}"
                )
            for frame in e.frames:
                count += 1
                yield upscale(frame, scale)

    size = (width * scale, height * scale)
    if kind == ".gif":
        _write_gif(to, frames(), fps)
    else:
        _write_mp4(to, frames(), fps, size)
    return VideoInfo(to, len(paths), count, size)


def _write_gif(to: Path, frames: Iterator[np.ndarray], fps: int) -> None:
    try:
        from PIL import Image
    except ImportError:
        raise UserError("GIF export needs Pillow: pip install pillow") from None
    images = (Image.fromarray(frame) for frame in frames)
    first = next(images)
    with atomic_path(to) as tmp:
        first.save(tmp, format="GIF", save_all=True, append_images=images, duration=round(1000 / fps), loop=0)


def _encoder() -> list[str]:
    """H.264 when this ffmpeg has libx264 (what players expect), else its own MPEG-4 part 2 encoder."""
    listing = subprocess.run(
        ["ffmpeg", "-hide_banner", "-encoders"], capture_output=True, text=True, check=False
    ).stdout
    if " libx264 " in listing:
        return ["-c:v", "libx264", "-preset", "medium", "-crf", "18", "-tune", "animation"]
    return ["-c:v", "mpeg4", "-q:v", "2"]


def _write_mp4(to: Path, frames: Iterator[np.ndarray], fps: int, size: tuple[int, int]) -> None:
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise UserError(NO_FFMPEG)
    with atomic_path(to) as tmp:
        command = [
            ffmpeg, "-hide_banner", "-loglevel", "error", "-y",
            "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{size[0]}x{size[1]}", "-framerate", str(fps), "-i", "-",
            "-an", *_encoder(), "-pix_fmt", "yuv420p", "-movflags", "+faststart", "-f", "mp4", str(tmp),
        ]  # fmt: skip
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        assert process.stdin is not None and process.stderr is not None
        try:
            for frame in frames:
                process.stdin.write(frame.tobytes())
            process.stdin.close()
        except BrokenPipeError:
            pass  # ffmpeg stopped early: its own message says why
        finally:
            error = process.stderr.read().decode(errors="replace").strip()
            code = process.wait()
        if code != 0:
            last = error.splitlines()[-1] if error else f"exit code {code}"
            raise UserError(f"ffmpeg could not write {to}: {last}")
