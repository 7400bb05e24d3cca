"""Writing frames and their audio to a video file with PyAV, one video frame per env step.

Formats, chosen by the file's suffix:

* ``.mp4`` — H.264 video (yuv420p) with an AAC sound track at the game's sample rate;
* ``.webm`` — VP9 video with an Opus sound track (resampled to 48 kHz, Opus's native rate);
* ``.gif`` — video only (a fixed 252-colour palette); there is no sound in a GIF.

The file is written to a temporary name beside the destination and renamed over it when the
recorder is closed, so a crash never leaves a truncated video under the real name.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

PIP_HINT = 'pip install "mmagent[video]"'


@dataclass(frozen=True)
class VideoFormat:
    """How one file suffix is encoded.

    :param container: the FFmpeg muxer name.
    :param video_codecs: encoders to try, best first.
    :param pixel_format: the encoder's pixel format.
    :param audio_codecs: encoders to try for the sound track; empty means no sound track.
    :param audio_rates: sample rates the audio codec takes; ``None`` means any. The game's
        rate is kept when allowed, else the first listed rate is used (the audio is resampled).
    :param video_options: encoder options (speed presets).
    """

    container: str
    video_codecs: tuple[str, ...]
    pixel_format: str
    audio_codecs: tuple[str, ...] = ()
    audio_rates: tuple[int, ...] | None = None
    video_options: tuple[tuple[str, str], ...] = ()


VIDEO_FORMATS: dict[str, VideoFormat] = {
    ".mp4": VideoFormat(
        container="mp4",
        video_codecs=("libx264", "h264", "mpeg4"),
        pixel_format="yuv420p",
        audio_codecs=("aac",),
        audio_rates=(48_000, 44_100, 32_000, 24_000, 22_050, 16_000, 12_000, 11_025, 8_000),
        video_options=(("preset", "veryfast"), ("crf", "23")),
    ),
    ".webm": VideoFormat(
        container="webm",
        video_codecs=("libvpx-vp9", "libvpx"),
        pixel_format="yuv420p",
        audio_codecs=("libopus", "opus", "libvorbis", "vorbis"),
        # Opus in WebM always decodes at 48 kHz; encoding at 48 kHz keeps timestamps exact.
        audio_rates=(48_000,),
        video_options=(("deadline", "realtime"), ("cpu-used", "8"), ("b", "1M")),
    ),
    ".gif": VideoFormat(container="gif", video_codecs=("gif",), pixel_format="pal8"),
}

# A fixed palette for GIFs: 6 levels of red × 7 of green × 6 of blue (252 colours), ARGB rows.
_PALETTE_LEVELS = (6, 7, 6)


def _import_av() -> Any:
    try:
        import av
    except ImportError as error:
        raise ImportError(f"recording videos needs PyAV: {PIP_HINT}") from error
    return av


def real_time_fps(sample_rate: int, samples_per_step: int) -> Fraction:
    """The frame rate at which one step's audio block lasts exactly one video frame."""
    return Fraction(sample_rate, samples_per_step)


def supported_suffixes() -> tuple[str, ...]:
    """The file suffixes :class:`VideoRecorder` writes."""
    return tuple(VIDEO_FORMATS)


class VideoRecorder:
    """Writes one video frame and one audio block per env step to ``path``.

    Use it as a context manager, or call :meth:`close` (which renames the finished file into
    place) — :meth:`abort` discards it. Frames may have any size; odd heights and widths get one
    black row or column added, since the video codecs need even sizes. Every frame must have
    the size of the first.

    :param path: the output file; its suffix picks the format (``.mp4``, ``.webm``, ``.gif``).
    :param fps: frames per second; for real time, :func:`real_time_fps` of the game (which is
        ``1 / step_seconds`` when a step holds a whole number of samples).
    :param sample_rate: the rate of the audio blocks; ``None`` writes no sound track.
    :param channels: audio channels of the blocks (1 or 2); ``None`` writes no sound track.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        fps: float | Fraction,
        sample_rate: int | None = None,
        channels: int | None = None,
    ) -> None:
        self.path = Path(path)
        suffix = self.path.suffix.lower()
        if suffix not in VIDEO_FORMATS:
            raise ValueError(
                f"cannot record to {self.path}: unknown suffix {self.path.suffix!r}; "
                f"use one of {', '.join(VIDEO_FORMATS)}"
            )
        if isinstance(fps, bool) or not isinstance(fps, (int, float, Fraction)) or fps <= 0:
            raise ValueError(f"fps must be a positive number, got {fps!r}")
        self.format = VIDEO_FORMATS[suffix]
        self.fps = fps if isinstance(fps, Fraction) else Fraction(fps).limit_denominator(1001)
        self.has_audio = bool(self.format.audio_codecs) and sample_rate is not None
        if self.has_audio:
            if channels not in (1, 2):
                raise ValueError(
                    f"channels must be 1 or 2 to record sound, got {channels!r} "
                    "(pass sample_rate=None for a silent video)"
                )
            if not _is_positive_int(sample_rate):
                raise ValueError(f"sample_rate must be a positive int, got {sample_rate!r}")
        self.sample_rate = sample_rate if self.has_audio else None
        self.channels = channels if self.has_audio else None
        self.samples_per_frame = (
            round(self.sample_rate / self.fps) if self.sample_rate is not None else 0
        )
        if self.has_audio and self.samples_per_frame * self.fps != self.sample_rate:
            raise ValueError(
                f"{sample_rate} Hz audio does not split into whole blocks at {float(fps):g} fps; "
                "record at real_time_fps(sample_rate, samples_per_step) of the game"
            )
        self._av = _import_av()
        self.frames_written = 0
        self.samples_written = 0
        self._container: Any = None
        self._video_stream: Any = None
        self._audio_stream: Any = None
        self._resampler: Any = None
        self._frame_size: tuple[int, int] | None = None
        self._temporary: Path | None = None
        self._closed = False

    # ------------------------------------------------------------------ public API
    def add_step(self, frame: np.ndarray, audio: np.ndarray | None = None) -> None:
        """Append one step: an ``(H, W, 3)`` uint8 frame and its ``(channels, samples)`` audio.

        ``audio`` must hold exactly ``sample_rate / fps`` samples per channel (one step's
        block); ``None`` writes silence for the step. Audio is ignored by sound-less formats.
        """
        if self._closed:
            raise RuntimeError(f"the recorder of {self.path} is closed; open a new one")
        pixels = self._check_frame(frame)
        block = self._check_audio(audio) if self.has_audio else None
        if self._container is None:
            self._open(pixels.shape[1], pixels.shape[0])
        self._write_video(pixels)
        if block is not None:
            self._write_audio(block)

    def close(self) -> Path:
        """Flush the encoders and move the finished file to :attr:`path`; returns the path.

        :raises RuntimeError: when no frame was added (nothing would be playable).
        """
        if self._closed:
            return self.path
        if self._container is None:
            self._closed = True
            raise RuntimeError(f"no frames were added, so {self.path} was not written")
        try:
            self._flush()
            self._container.close()
            assert self._temporary is not None
            os.replace(self._temporary, self.path)
        except BaseException:
            self.abort()
            raise
        self._closed = True
        return self.path

    def abort(self) -> None:
        """Stop and delete the partial file; :attr:`path` is left untouched."""
        self._closed = True
        if self._container is not None:
            # The file is being discarded: a failure to finish it cleanly does not matter.
            with contextlib.suppress(Exception):
                self._container.close()
        if self._temporary is not None:
            self._temporary.unlink(missing_ok=True)

    @property
    def duration(self) -> float:
        """Seconds of video written so far."""
        return float(self.frames_written / self.fps)

    def __enter__(self) -> VideoRecorder:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    # ------------------------------------------------------------------ checks
    def _check_frame(self, frame: np.ndarray) -> np.ndarray:
        pixels = np.asarray(frame)
        if pixels.ndim != 3 or pixels.shape[-1] != 3 or pixels.dtype != np.uint8:
            raise ValueError(
                f"frames must be (H, W, 3) uint8 RGB, got shape {pixels.shape} {pixels.dtype}"
            )
        if self._frame_size is not None and pixels.shape[:2] != self._frame_size:
            raise ValueError(
                f"frame {self.frames_written} is {pixels.shape[1]}x{pixels.shape[0]} but the "
                f"video is {self._frame_size[1]}x{self._frame_size[0]}; every frame of a "
                "recording must have the same size"
            )
        self._frame_size = pixels.shape[:2]
        height, width = pixels.shape[:2]
        if height % 2 or width % 2:
            pixels = np.pad(pixels, ((0, height % 2), (0, width % 2), (0, 0)))
        return np.ascontiguousarray(pixels)

    def _check_audio(self, audio: np.ndarray | None) -> np.ndarray:
        assert self.channels is not None
        if audio is None:
            return np.zeros((self.channels, self.samples_per_frame), dtype=np.float32)
        block = np.asarray(audio, dtype=np.float32)
        if block.ndim == 1 and self.channels == 1:
            block = block[None]
        if block.shape != (self.channels, self.samples_per_frame):
            raise ValueError(
                f"audio blocks must be (channels, samples) = "
                f"({self.channels}, {self.samples_per_frame}) — one step at {self.sample_rate} "
                f"Hz and {float(self.fps):g} fps — got {block.shape}; record at "
                "fps = 1 / step_seconds with the game's sample_rate and audio_channels"
            )
        return np.ascontiguousarray(np.clip(block, -1.0, 1.0))

    # ------------------------------------------------------------------ encoding
    def _open(self, width: int, height: int) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # A unique name beside the destination (same file system, so os.replace is atomic);
        # PyAV creates it, so it gets the usual permissions.
        self._temporary = self.path.with_name(
            f".{self.path.stem}.{uuid.uuid4().hex[:12]}.tmp{self.path.suffix}"
        )
        av = self._av
        try:
            self._container = av.open(str(self._temporary), "w", format=self.format.container)
            codec = _first_available(av, self.format.video_codecs, "video", self.path)
            stream = self._container.add_stream(codec, rate=self.fps)
            stream.width, stream.height = width, height
            stream.pix_fmt = self.format.pixel_format
            stream.time_base = Fraction(1) / self.fps
            if self.format.video_options and codec != "mpeg4":
                stream.options = dict(self.format.video_options)
            self._video_stream = stream
            if self.has_audio:
                self._open_audio(av)
        except BaseException:
            self.abort()
            raise

    def _open_audio(self, av: Any) -> None:
        assert self.sample_rate is not None
        codec = _first_available(av, self.format.audio_codecs, "audio", self.path)
        rates = self.format.audio_rates
        rate = self.sample_rate if rates is None or self.sample_rate in rates else rates[0]
        layout = "stereo" if self.channels == 2 else "mono"
        stream = self._container.add_stream(codec, rate=rate, layout=layout)
        stream.time_base = Fraction(1, rate)
        self._audio_stream = stream
        # Converts the float planar blocks to the encoder's sample format and rate.
        self._resampler = av.AudioResampler(format=stream.format.name, layout=layout, rate=rate)

    def _write_video(self, pixels: np.ndarray) -> None:
        if self.format.pixel_format == "pal8":
            frame = self._av.VideoFrame.from_ndarray(_palette_indices(pixels), format="pal8")
        else:
            frame = self._av.VideoFrame.from_ndarray(pixels, format="rgb24")
        frame.pts = self.frames_written
        frame.time_base = Fraction(1) / self.fps
        self._container.mux(self._video_stream.encode(frame))
        self.frames_written += 1

    def _write_audio(self, block: np.ndarray) -> None:
        layout = "stereo" if self.channels == 2 else "mono"
        frame = self._av.AudioFrame.from_ndarray(block, format="fltp", layout=layout)
        frame.sample_rate = self.sample_rate
        frame.pts = self.samples_written
        frame.time_base = Fraction(1, self.sample_rate)
        self.samples_written += block.shape[1]
        for resampled in self._resampler.resample(frame):
            self._container.mux(self._audio_stream.encode(resampled))

    def _flush(self) -> None:
        self._container.mux(self._video_stream.encode(None))
        if self._audio_stream is not None:
            for resampled in self._resampler.resample(None):
                self._container.mux(self._audio_stream.encode(resampled))
            self._container.mux(self._audio_stream.encode(None))


def _is_positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _first_available(av: Any, names: tuple[str, ...], kind: str, path: Path) -> str:
    for name in names:
        try:
            av.codec.Codec(name, "w")
        except Exception:  # PyAV raises different errors per version for unknown codecs
            continue
        return name
    raise RuntimeError(
        f"this PyAV/FFmpeg build has no {kind} encoder for {path.suffix} (tried "
        f"{', '.join(names)}); record to another format ({', '.join(VIDEO_FORMATS)}) or "
        f'reinstall PyAV: pip install --force-reinstall "av>=12"'
    )


def _build_palette() -> np.ndarray:
    red, green, blue = np.meshgrid(
        *(np.arange(levels) for levels in _PALETTE_LEVELS), indexing="ij"
    )
    palette = np.zeros((256, 4), dtype=np.uint8)
    palette[:, 0] = 255  # alpha; PyAV takes pal8 palettes as ARGB rows
    for column, (level, count) in enumerate(
        zip((red, green, blue), _PALETTE_LEVELS, strict=True), start=1
    ):
        palette[: level.size, column] = np.round(level.ravel() * 255 / (count - 1))
    return palette


_PALETTE = _build_palette()


def _palette_indices(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``pixels`` mapped to the nearest colour of the fixed GIF palette: (indices, palette)."""
    _, green_levels, blue_levels = _PALETTE_LEVELS
    quantised = [
        np.round(pixels[..., channel].astype(np.float32) * (levels - 1) / 255).astype(np.uint16)
        for channel, levels in enumerate(_PALETTE_LEVELS)
    ]
    indices = (quantised[0] * green_levels + quantised[1]) * blue_levels + quantised[2]
    return indices.astype(np.uint8), _PALETTE
