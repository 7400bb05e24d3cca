"""Property test: random valid third-party observation layouts — key names, image sizes and
layouts, audio layouts and sample formats, text vocabularies and lengths, extra vector spaces —
go through make_multimodal into MultimodalExtractor; random invalid ones raise the documented
errors."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from envs.core.audio import SoundEvent
from mmagent.extractors import MultimodalExtractor
from mmagent.plugins import PluginOutputError, StepContext, make_multimodal

SETTINGS = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SAMPLE_RATE = 4_000  # 0.05 s steps → 200 samples, enough for the conv1d audio encoder
STEP_SECONDS = 0.05
STEP_SAMPLES = 200
AUDIO_BOUNDS = {np.float32: (-1.0, 1.0), np.int16: (-32768, 32767), np.uint8: (0, 255)}


@dataclass
class Layout:
    """A third-party observation layout and how make_multimodal is told about it."""

    space: dict[str, spaces.Space] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)
    expected: dict[str, str] = field(default_factory=dict)  # wrapped key → modality kind
    text_key: str | None = None
    words: list[str] = field(default_factory=list)
    text_length: int = 8
    sentence_words: int = 0
    instruction: str | None = None
    sound: Callable[[StepContext], Any] | None = None


class LayoutEnv(gym.Env):
    """Emits samples of the layout's space; its text entry is a sentence of known words."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": [], "render_fps": 10}

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.observation_space = spaces.Dict(layout.space)
        self.action_space = spaces.Discrete(2)

    def _observation(self) -> dict[str, Any]:
        observation = {key: space.sample() for key, space in self.observation_space.spaces.items()}
        if self.layout.text_key is not None:
            # Known words and an unknown one ("zzz" → id 1).
            observation[self.layout.text_key] = " ".join(
                str(self.np_random.choice([*self.layout.words, "zzz"]))
                for _ in range(self.layout.sentence_words)
            )
        return observation

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.observation_space.seed(seed)
        return self._observation(), {}

    def step(self, action: Any):
        return self._observation(), 0.0, False, False, {}


def chirp_sound(context: StepContext) -> list[SoundEvent]:
    return [SoundEvent(np.linspace(-0.5, 0.5, 50, dtype=np.float32))] if context.step else []


@st.composite
def valid_layouts(draw: st.DrawFn) -> Layout:
    layout = Layout()
    if draw(st.booleans()):
        name = draw(st.sampled_from(["image", "screen", "pixels", "camera"]))
        height, width = draw(st.integers(36, 44)), draw(st.integers(36, 44))
        shape = (3, height, width) if draw(st.booleans()) else (height, width, 3)
        layout.space[name] = spaces.Box(0, 255, shape, np.uint8)
        if name == "camera":
            layout.keys[name] = "image"
        layout.expected["image"] = "image"
    if draw(st.booleans()):
        name = draw(st.sampled_from(["audio", "sound", "waveform", "microphone"]))
        dtype = draw(st.sampled_from(list(AUDIO_BOUNDS)))
        channels = draw(st.integers(1, 2))
        samples = draw(st.integers(128, 320))
        shape = draw(
            st.sampled_from(
                [(channels, samples), (samples, channels)] + ([(samples,)] if channels == 1 else [])
            )
        )
        low, high = AUDIO_BOUNDS[dtype]
        layout.space[name] = spaces.Box(low, high, shape, dtype)
        if name == "microphone":
            layout.keys[name] = "audio"
        layout.expected["audio"] = "audio"
    elif draw(st.booleans()):
        layout.sound = chirp_sound
        layout.expected["audio"] = "audio"
    for index in range(draw(st.integers(0 if layout.expected else 1, 2))):
        kind = draw(st.sampled_from(["box", "discrete", "binary"]))
        size = draw(st.integers(1, 6))
        layout.space[f"extra{index}"] = {
            "box": spaces.Box(-5.0, 5.0, (size,), np.float32),
            "discrete": spaces.Discrete(size + 1),
            "binary": spaces.MultiBinary(size),
        }[kind]
        layout.expected[f"extra{index}"] = "vector"
    text_kind = draw(st.sampled_from(["none", "observation", "instruction"]))
    layout.words = [f"word{index}" for index in range(draw(st.integers(1, 30)))]
    layout.text_length = draw(st.integers(1, 16))
    if text_kind == "observation":
        layout.text_key = draw(st.sampled_from(["mission", "text", "message"]))
        layout.space[layout.text_key] = spaces.Text(200)
        layout.sentence_words = draw(st.integers(0, layout.text_length))
        layout.expected["text"] = "text"
    elif text_kind == "instruction":
        count = draw(st.integers(1, layout.text_length))
        layout.instruction = " ".join(layout.words[:count])
        layout.expected["text"] = "text"
    return layout


def _wrap(layout: Layout, **overrides: Any) -> gym.Env:
    kwargs: dict[str, Any] = {
        "keys": layout.keys,
        "sound": layout.sound,
        "sample_rate": SAMPLE_RATE,
        "step_seconds": STEP_SECONDS,
    }
    if layout.text_key is not None:
        kwargs |= {
            "text_key": layout.text_key,
            "vocabulary": layout.words,
            "text_length": layout.text_length,
        }
    if layout.instruction is not None:
        kwargs |= {"instruction": layout.instruction, "instruction_length": layout.text_length}
    return make_multimodal(LayoutEnv(layout), **(kwargs | overrides))


@SETTINGS
@given(layout=valid_layouts(), seed=st.integers(0, 2**16))
def test_valid_layouts_reach_the_extractor_in_the_convention(layout: Layout, seed: int) -> None:
    env = _wrap(layout)
    observations = [env.reset(seed=seed)[0], env.step(0)[0], env.step(1)[0]]
    for observation in observations:
        assert env.observation_space.contains(observation), observation
    space = env.observation_space
    assert set(space.spaces) == set(layout.expected)
    if "audio" in space.spaces:
        assert space["audio"].dtype == np.float32 and space["audio"].shape[0] in (1, 2)
    if "image" in space.spaces:
        assert space["image"].shape[-1] == 3

    extractor = MultimodalExtractor(space, sb3_normalize_images=False, sample_rate=SAMPLE_RATE)
    assert extractor.modalities == layout.expected
    batch = {
        key: torch.as_tensor(np.stack([observation[key] for observation in observations]))
        for key in space.spaces
    }
    with torch.no_grad():
        features = extractor(batch)
    assert features.shape == (3, extractor.features_dim)
    assert torch.isfinite(features).all()


def wrong_length(samples: int) -> Callable[[StepContext], np.ndarray]:
    def sound(context: StepContext) -> np.ndarray:
        return np.zeros(samples, dtype=np.float32)

    return sound


@dataclass(frozen=True)
class InvalidCase:
    """A broken layout, and the error make_multimodal or the first reset must raise."""

    build: Callable[[], gym.Env]
    error: type[Exception]
    match: str


@st.composite
def invalid_cases(draw: st.DrawFn) -> InvalidCase:
    kind = draw(st.sampled_from(["square audio", "long text", "sound length", "flat image"]))
    if kind == "square audio":
        size = draw(st.one_of(st.integers(2, 8), st.integers(9, 64)))
        layout = Layout(space={"sound": spaces.Box(-1.0, 1.0, (size, size), np.float32)})
        return InvalidCase(lambda: _wrap(layout), ValueError, "audio_channels_first")
    if kind == "long text":
        length = draw(st.integers(1, 10))
        layout = Layout(
            space={"mission": spaces.Text(300)},
            text_key="mission",
            words=["go"],
            text_length=length,
            sentence_words=length + draw(st.integers(1, 5)),
        )
        return InvalidCase(lambda: _wrap(layout).reset(seed=0), PluginOutputError, "truncate=True")
    if kind == "sound length":
        samples = STEP_SAMPLES + draw(st.integers(-STEP_SAMPLES + 1, 300).filter(bool))
        layout = Layout(space={"x": spaces.Box(0.0, 1.0, (2,), np.float32)})
        layout.sound = wrong_length(samples)
        return InvalidCase(
            lambda: _wrap(layout).reset(seed=0), PluginOutputError, r"sound\(\).*exactly 200"
        )
    size = draw(st.integers(1, 50))
    layout = Layout(space={"screen": spaces.Box(0, 255, (size,), np.uint8)})
    return InvalidCase(lambda: _wrap(layout), ValueError, "an image is")


@SETTINGS
@given(case=invalid_cases())
def test_invalid_layouts_raise_the_documented_errors(case: InvalidCase) -> None:
    with pytest.raises(case.error, match=case.match):
        case.build()
