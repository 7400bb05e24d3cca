"""Map a third-party env's observation keys and formats onto mmagent's convention.

The convention (``mmagent/convention.py``, which the extractor imports too): ``image``
``(H, W, 3)`` uint8, ``text`` ``(L,)`` int64 token ids, ``audio`` ``(channels, samples)`` float32
in [-1, 1]; any other ``Box`` key is a vector for the MLP encoder. :class:`MapToConvention`
applies these rules, in order:

1. **Dict or not.** A non-``Dict`` observation is treated as a ``Dict`` with the one key
   ``"observation"``, which is then named ``image`` when it looks like a frame (a 3-D uint8
   ``Box`` whose channel axis can be told: the smaller of the first and last axes) or a
   symbolic grid (integer cell codes), and ``vector`` otherwise.
2. **Names.** ``keys={"old": "new"}`` renames; without an entry, the names in
   :data:`DEFAULT_KEY_ALIASES` (``screen``→``image``, ``sound``→``audio``, ``mission``→``text``,
   ...) apply when their target is not already a key. ``drop=[...]`` removes keys.
3. **Formats, by the new name.**

   * ``image``: a channels-first frame ``(C, H, W)`` (first axis smaller than the last) becomes
     ``(H, W, C)``; otherwise kept.
   * ``audio``: ``(samples, channels)`` becomes ``(channels, samples)`` (the channel axis is the
     shorter one, at most 8 long; ``audio_channels_first`` decides when that is ambiguous), mono
     ``(samples,)`` becomes ``(1, samples)``; int16 / int32 / uint8 PCM becomes float32 in
     [-1, 1] (``int16 / 32768``, ``int32 / 2**31``, ``(uint8 - 128) / 128``); float samples
     outside [-1, 1] are clipped to it (the space's bounds). An all-zero uint8 block is "no
     audio yet" (a fresh buffer; 8-bit PCM silence is 128) and becomes silence. The sample
     rate (``sample_rate=``, or the env's ``metadata["audio_sample_rate"]``) is kept in
     ``metadata["audio_sample_rate"]`` for ``mmagent watch`` and ``--record``.
   * ``text``: must already be integer token ids (a 1-D integer ``Box``), cast to int64; a
     string or ``gymnasium.spaces.Text`` needs
     :class:`~mmagent.plugins.text_observation.TextObservation` (``make_multimodal`` applies it).
   * any other key: a ``Box`` is kept exactly as it is; ``Discrete`` becomes a one-hot float32
     vector, ``MultiDiscrete`` (1-D) the concatenation of one-hot vectors, ``MultiBinary`` an
     int8 0/1 ``Box``. ``Dict``, ``Tuple``, ``Text`` and other spaces are an error (drop them
     or flatten them first).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from mmagent.convention import (
    AUDIO,
    IMAGE,
    MAX_AUDIO_CHANNELS,
    TEXT,
    VECTOR,
    image_channels_first,
    is_audio_dtype,
    looks_like_image,
    looks_like_symbolic_grid,
    pcm_to_float,
)
from mmagent.convention import audio_channels_first as audio_layout
from mmagent.plugins.constructor_args import record_constructor_args
from mmagent.plugins.text_observation import is_text_space

NON_DICT_KEY = "observation"
"""The name a non-``Dict`` observation has before it is mapped (``keys={"observation": ...}``)."""

DEFAULT_KEY_ALIASES: dict[str, str] = {
    "screen": IMAGE,
    "pixels": IMAGE,
    "rgb": IMAGE,
    "frame": IMAGE,
    "sound": AUDIO,
    "waveform": AUDIO,
    "mission": TEXT,
    "instruction": TEXT,
}
"""Third-party key names renamed by default, when no key already has the target name."""

AUDIO_SAMPLE_RATE_KEY = "audio_sample_rate"
"""The ``env.metadata`` entry that declares the samples per second of an env's ``audio``
observation; ``mmagent watch`` and ``--record`` read it through the wrappers."""

Converter = Callable[[Any], Any]


def convention_key(space: spaces.Space) -> str:
    """The key a non-``Dict`` observation of ``space`` gets: ``image`` for a frame or a symbolic
    grid (:mod:`mmagent.convention`'s rules; the extractor tells the two apart), else ``vector``."""
    return IMAGE if looks_like_image(space) or looks_like_symbolic_grid(space) else VECTOR


class MapToConvention(gym.ObservationWrapper, gym.utils.RecordConstructorArgs):
    """Renames keys and converts formats so that ``MultimodalExtractor``'s default detection
    reads the env (rules in the module docstring).

    :param env: the env to wrap.
    :param keys: ``{"old name": "new name"}``; wins over :data:`DEFAULT_KEY_ALIASES`.
    :param drop: keys to remove (e.g. an action mask the policy should not read).
    :param audio_channels_first: layout of 2-D audio when the shapes cannot tell (equal axes,
        or no axis of at most 8): True for ``(channels, samples)``, False for
        ``(samples, channels)``.
    :param default_aliases: apply :data:`DEFAULT_KEY_ALIASES`.
    :param sample_rate: samples per second of the env's own ``audio``, for ``mmagent watch`` and
        ``--record``; stored in ``metadata["audio_sample_rate"]`` (:data:`AUDIO_SAMPLE_RATE_KEY`).
        ``None`` keeps the rate the env's metadata declares, if any.
    """

    def __init__(
        self,
        env: gym.Env,
        *,
        keys: Mapping[str, str] | None = None,
        drop: Iterable[str] = (),
        audio_channels_first: bool | None = None,
        default_aliases: bool = True,
        sample_rate: int | None = None,
    ) -> None:
        record_constructor_args(
            self,
            keys=None if keys is None else dict(keys),
            drop=tuple(drop),
            audio_channels_first=audio_channels_first,
            default_aliases=default_aliases,
            sample_rate=sample_rate,
        )
        drop = self._saved_kwargs["drop"]
        super().__init__(env)
        try:
            inner = env.observation_space
        except AttributeError:
            raise ValueError(
                f"MapToConvention: {type(env.unwrapped).__name__} declares no "
                "observation_space; wrap text observations in TextObservation first"
            ) from None
        self._is_dict = isinstance(inner, spaces.Dict)
        named = dict(inner.spaces) if self._is_dict else {NON_DICT_KEY: inner}
        renames = dict(keys or {})
        dropped = set(drop)
        for name in [*renames, *dropped]:
            if name not in named:
                raise KeyError(
                    f"MapToConvention: no observation key {name!r} to rename or drop; "
                    f"the keys are {list(named)}"
                )
        targets = _target_names(named, renames, dropped, default_aliases, self._is_dict)
        self._plan: list[tuple[str, str, Converter]] = []
        converted: dict[str, spaces.Space] = {}
        for source, target in targets.items():
            space, convert = _convert(source, target, named[source], audio_channels_first)
            converted[target] = space
            self._plan.append((source, target, convert))
        self.observation_space = spaces.Dict(converted)
        self.renamed = dict(targets)
        """``{original key: new key}`` of every kept key."""
        self.audio_sample_rate = _audio_sample_rate(env, sample_rate, AUDIO in converted)
        """Samples per second of the env's ``audio`` (``None``: no audio, or not declared)."""
        if self.audio_sample_rate is not None:
            self.metadata = {**env.metadata, AUDIO_SAMPLE_RATE_KEY: self.audio_sample_rate}

    def observation(self, observation: Any) -> dict[str, Any]:
        """The observation with renamed keys and converted formats."""
        named = observation if self._is_dict else {NON_DICT_KEY: observation}
        return {target: convert(named[source]) for source, target, convert in self._plan}


def _audio_sample_rate(env: gym.Env, sample_rate: int | None, has_audio: bool) -> int | None:
    declared = env.metadata.get(AUDIO_SAMPLE_RATE_KEY)
    if sample_rate is None:
        return declared if has_audio else None
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, int) or sample_rate <= 0:
        raise ValueError(
            f"MapToConvention: sample_rate must be a positive int (samples per second), got "
            f"{sample_rate!r}"
        )
    if not has_audio:
        raise ValueError(
            f"MapToConvention: sample_rate={sample_rate} was given, but no observation is "
            "mapped to 'audio' (rename the env's sound key with keys={...: 'audio'}), or give "
            "the env a sound track with make_multimodal(..., sound=...)"
        )
    if declared is not None and declared != sample_rate:
        raise ValueError(
            f"MapToConvention: sample_rate={sample_rate} contradicts the env's "
            f"metadata[{AUDIO_SAMPLE_RATE_KEY!r}]={declared!r}; drop sample_rate= (the env "
            "declares its rate) or fix the env's metadata"
        )
    return sample_rate


def _target_names(
    named: Mapping[str, spaces.Space],
    renames: Mapping[str, str],
    dropped: set[str],
    default_aliases: bool,
    is_dict: bool,
) -> dict[str, str]:
    kept = [name for name in named if name not in dropped]
    targets: dict[str, str] = {}
    for name in kept:
        if name in renames:
            targets[name] = renames[name]
        elif not is_dict:
            targets[name] = convention_key(named[name])
        else:
            targets[name] = name
    if default_aliases:
        taken = set(targets.values())
        for name in kept:
            alias = DEFAULT_KEY_ALIASES.get(name)
            if name not in renames and alias is not None and alias not in taken:
                targets[name] = alias
                taken.add(alias)
    seen: dict[str, str] = {}
    for source, target in targets.items():
        if not isinstance(target, str) or not target:
            raise ValueError(f"MapToConvention: keys maps {source!r} to {target!r}; use a name")
        if target in seen:
            raise ValueError(
                f"MapToConvention: both {seen[target]!r} and {source!r} would be named "
                f"{target!r}; rename one of them with keys= or drop one with drop="
            )
        seen[target] = source
    return targets


def _convert(
    source: str, target: str, space: spaces.Space, audio_channels_first: bool | None
) -> tuple[spaces.Space, Converter]:
    where = f"observation {source!r}" + (f" (mapped to {target!r})" if source != target else "")
    if is_text_space(space):
        fix = (
            "make_multimodal(env, sample_texts=[...]) or TextObservation(env, ...)"
            if source == NON_DICT_KEY
            else f"make_multimodal(env, text_key={source!r}, sample_texts=[...]) or "
            f"TextObservation(env, key={source!r}, ...)"
        )
        raise ValueError(f"{where} is text ({space}); turn it into token ids with {fix}")
    if target == IMAGE:
        return _image(where, space)
    if target == AUDIO:
        return _audio(where, space, audio_channels_first)
    if target == TEXT:
        return _text(where, space)
    return _vector(where, space)


def _require_box(where: str, space: spaces.Space, kind: str) -> spaces.Box:
    if not isinstance(space, spaces.Box):
        raise ValueError(
            f"{where} is {space}, but {kind} needs a Box; map it to another key with keys= "
            f"or drop it with drop="
        )
    return space


def _image(where: str, space: spaces.Space) -> tuple[spaces.Space, Converter]:
    box = _require_box(where, space, "an image")
    shape = box.shape
    if len(shape) not in (2, 3):
        raise ValueError(
            f"{where} has shape {shape}; an image is (H, W, C), (C, H, W) or (H, W). Map it "
            "to another key with keys= or reshape it first"
        )
    # the convention's layout rule (the smaller of the first and last axis holds the channels);
    # an ambiguous layout is kept as it is
    if not image_channels_first(shape):
        return box, _identity
    moved = spaces.Box(np.moveaxis(box.low, 0, -1), np.moveaxis(box.high, 0, -1), dtype=box.dtype)
    return moved, lambda value: np.ascontiguousarray(np.moveaxis(np.asarray(value), 0, -1))


def _audio(
    where: str, space: spaces.Space, audio_channels_first: bool | None
) -> tuple[spaces.Space, Converter]:
    box = _require_box(where, space, "audio")
    if not is_audio_dtype(box.dtype):
        raise ValueError(
            f"{where} has dtype {box.dtype}; audio must be float (in [-1, 1]) or int16, int32, "
            "uint8 PCM"
        )
    shape = box.shape
    if len(shape) == 1:
        layout = "mono"
        samples, channels = shape[0], 1
    elif len(shape) == 2:
        first = audio_channels_first
        if first is None:
            first = audio_layout(shape)
            if first is None:
                raise ValueError(
                    f"{where} has shape {shape}; cannot tell channels from samples (the channel "
                    f"axis is the shorter one, at most {MAX_AUDIO_CHANNELS} long). Pass "
                    "audio_channels_first=True for (channels, samples) or False for "
                    "(samples, channels)"
                )
        layout = "first" if first else "last"
        channels, samples = shape if first else (shape[1], shape[0])
    else:
        raise ValueError(
            f"{where} has shape {shape}; audio is (channels, samples), (samples, channels) or "
            "(samples,)"
        )
    converted = spaces.Box(-1.0, 1.0, (channels, samples), np.float32)

    def convert(value: Any) -> np.ndarray:
        raw = np.asarray(value)
        if raw.dtype == np.uint8 and not raw.any():
            # All zeros is full-scale negative DC in unsigned PCM (silence is 128): an env's
            # fresh buffer before it made any sound ("no audio yet"), heard as silence.
            return np.zeros((channels, samples), dtype=np.float32)
        samples_array = pcm_to_float(raw)
        if layout == "mono":
            samples_array = samples_array.reshape(1, -1)
        elif layout == "last":
            samples_array = samples_array.T
        return np.ascontiguousarray(np.clip(samples_array, -1.0, 1.0), dtype=np.float32)

    return converted, convert


def _text(where: str, space: spaces.Space) -> tuple[spaces.Space, Converter]:
    box = _require_box(where, space, "text")
    if len(box.shape) != 1 or not np.issubdtype(box.dtype, np.integer):
        raise ValueError(
            f"{where} is {box}; text must be token ids in a 1-D integer Box (0 = padding). "
            "Turn strings into ids with TextObservation, or map this key elsewhere with keys="
        )
    ids = spaces.Box(box.low.astype(np.int64), box.high.astype(np.int64), dtype=np.int64)
    return ids, lambda value: np.asarray(value, dtype=np.int64)


def _vector(where: str, space: spaces.Space) -> tuple[spaces.Space, Converter]:
    if isinstance(space, spaces.Box):
        return space, _identity
    if isinstance(space, spaces.Discrete):
        count, start = int(space.n), int(space.start)
        one_hot = np.eye(count, dtype=np.float32)
        return spaces.Box(0.0, 1.0, (count,), np.float32), lambda value: one_hot[
            int(value) - start
        ].copy()
    if isinstance(space, spaces.MultiDiscrete) and len(space.nvec.shape) == 1:
        sizes = [int(size) for size in space.nvec]
        starts = np.asarray(space.start, dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)

        def multi_one_hot(value: Any) -> np.ndarray:
            encoded = np.zeros(sum(sizes), dtype=np.float32)
            encoded[offsets + np.asarray(value, dtype=np.int64) - starts] = 1.0
            return encoded

        return spaces.Box(0.0, 1.0, (sum(sizes),), np.float32), multi_one_hot
    if isinstance(space, spaces.MultiBinary):
        return spaces.Box(0, 1, space.shape, np.int8), lambda value: np.asarray(
            value, dtype=np.int8
        )
    raise ValueError(
        f"{where} is {space}; the extractor reads Box spaces only. Drop it with "
        f"drop=[...], or flatten it first (gymnasium.wrappers.FlattenObservation)"
    )


def _identity(value: Any) -> Any:
    return value
