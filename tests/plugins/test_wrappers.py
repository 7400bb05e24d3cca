"""Each plug-in wrapper on an inline dummy env: what it adds, its documented rules, its errors."""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces

from envs.core.audio import AudioMixer, Listener, SoundEvent, tone
from envs.core.text import UNKNOWN_ID, Vocabulary
from mmagent.plugins import (
    AddAudio,
    AddInstruction,
    CommandActions,
    MapToConvention,
    PixelsFromRender,
    PluginOutputError,
    StepContext,
    TextObservation,
    make_multimodal,
    resize_frame,
)


class DummyEnv(gym.Env):
    """Samples its observation space; reward = action; ``info["score"]`` counts steps."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(
        self,
        observation_space: spaces.Space | None,
        *,
        render_mode: str | None = None,
        frame: np.ndarray | Any = None,
        observations: list[Any] | None = None,
    ) -> None:
        if observation_space is not None:
            self.observation_space = observation_space
        self.action_space = spaces.Discrete(3)
        self.render_mode = render_mode
        self.frame = frame
        self.observations = observations
        self.steps = 0

    def _observation(self) -> Any:
        if self.observations is not None:
            return self.observations[self.steps % len(self.observations)]
        return self.observation_space.sample()

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[Any, dict]:
        super().reset(seed=seed)
        if seed is not None and self.observations is None:
            self.observation_space.seed(seed)
        self.steps = 0
        return self._observation(), {"score": 0}

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict]:
        self.steps += 1
        return self._observation(), float(action), self.steps >= 5, False, {"score": self.steps}

    def render(self) -> Any:
        return self.frame


VECTOR_SPACE = spaces.Box(-1.0, 1.0, (4,), np.float32)


def _ids(vocabulary: Vocabulary, sentence: str, length: int) -> np.ndarray:
    return vocabulary.encode(sentence, length)


# ---------------------------------------------------------------- instruction channel
def test_fixed_instruction_adds_token_ids_and_the_raw_sentence() -> None:
    env = AddInstruction(DummyEnv(VECTOR_SPACE), fixed="reach the red flag", length=6)
    observation, info = env.reset(seed=0)
    assert set(observation) == {"vector", "text"}
    assert env.observation_space.contains(observation)
    assert info["instruction"] == "reach the red flag"
    np.testing.assert_array_equal(observation["text"], [2, 3, 4, 5, 0, 0])
    observation, *_, info = env.step(1)
    np.testing.assert_array_equal(observation["text"], [2, 3, 4, 5, 0, 0])
    assert info == {"score": 1, "instruction": "reach the red flag"}


def test_per_episode_instruction_is_seeded_and_independent_of_the_env_stream() -> None:
    sentences = [f"go to the {colour} door" for colour in ("red", "green", "blue", "grey")]

    def sample(rng: np.random.Generator) -> str:
        return sentences[int(rng.integers(len(sentences)))]

    def episode_instructions(seed: int) -> list[str]:
        env = AddInstruction(DummyEnv(VECTOR_SPACE), per_episode=sample, instructions=sentences)
        first = [env.reset(seed=seed)[1]["instruction"]]
        return first + [env.reset()[1]["instruction"] for _ in range(7)]

    assert episode_instructions(3) == episode_instructions(3)
    assert len(set(episode_instructions(3) + episode_instructions(4))) > 1
    # The wrapper draws from its own generator: the env's observations are unchanged.
    plain, _ = DummyEnv(VECTOR_SPACE).reset(seed=5)
    wrapped = AddInstruction(DummyEnv(VECTOR_SPACE), per_episode=sample, instructions=sentences)
    np.testing.assert_array_equal(wrapped.reset(seed=5)[0]["vector"], plain)


def test_per_step_instruction_reads_the_step_and_unknown_words_get_id_one() -> None:
    def describe(context: StepContext) -> str:
        return f"score {context.info['score']} reward {context.reward:g}"

    vocabulary = Vocabulary(["score", "reward", "0", "1"])
    env = AddInstruction(DummyEnv(VECTOR_SPACE), per_step=describe, vocabulary=vocabulary)
    observation, info = env.reset(seed=0)
    assert info["instruction"] == "score 0 reward 0"
    np.testing.assert_array_equal(observation["text"][:4], [2, 4, 3, 4])
    observation, _, _, _, info = env.step(2)
    assert info["instruction"] == "score 1 reward 2"
    np.testing.assert_array_equal(observation["text"][:4], [2, 5, 3, UNKNOWN_ID])


def test_too_long_instruction_names_the_function_or_is_truncated() -> None:
    def chatty(context: StepContext) -> str:
        return "go " * 5

    env = AddInstruction(DummyEnv(VECTOR_SPACE), per_step=chatty, vocabulary=["go"], length=3)
    with pytest.raises(PluginOutputError, match=r"chatty\(\).*5 words.*limit is 3.*truncate"):
        env.reset(seed=0)
    env = AddInstruction(
        DummyEnv(VECTOR_SPACE), per_step=chatty, vocabulary=["go"], length=3, truncate=True
    )
    np.testing.assert_array_equal(env.reset(seed=0)[0]["text"], [2, 2, 2])
    with pytest.raises(PluginOutputError, match=r"instructions=.*4 words"):
        AddInstruction(DummyEnv(VECTOR_SPACE), fixed="one two three four", length=3)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({}, ValueError, "exactly one of"),
        ({"fixed": "a", "per_step": lambda c: "a"}, ValueError, "exactly one of"),
        ({"per_episode": lambda rng: "a"}, ValueError, "needs a vocabulary"),
        ({"per_step": "not callable", "vocabulary": ["a"]}, TypeError, "must be a function"),
    ],
)
def test_instruction_arguments_are_checked(kwargs, error, message) -> None:
    with pytest.raises(error, match=message):
        AddInstruction(DummyEnv(VECTOR_SPACE), **kwargs)


def test_a_channel_key_that_exists_is_rejected() -> None:
    space = spaces.Dict({"text": spaces.Box(0, 3, (4,), np.int64)})
    with pytest.raises(ValueError, match="already has a 'text' key"):
        AddInstruction(DummyEnv(space), fixed="hello")


# ---------------------------------------------------------------- audio channel
SAMPLE_RATE = 8_000
STEP_SAMPLES = 800  # 0.1 s


def _audio_env(sound, **kwargs) -> AddAudio:
    return AddAudio(DummyEnv(VECTOR_SPACE), sound, sample_rate=SAMPLE_RATE, **kwargs)


def test_sound_events_are_mixed_like_the_games_with_the_listener() -> None:
    beep = tone(440.0, 0.05, SAMPLE_RATE, amplitude=0.5)

    def beep_on_the_right(context: StepContext) -> list[SoundEvent]:
        return [SoundEvent(beep, position=(3.0, 0.0))] if context.reward > 0 else []

    env = _audio_env(beep_on_the_right, listener=Listener(position=(0.0, 0.0)))
    observation, _ = env.reset(seed=0)
    assert env.observation_space["audio"] == spaces.Box(-1, 1, (2, STEP_SAMPLES), np.float32)
    assert not observation["audio"].any()
    observation, *_ = env.step(1)
    expected = AudioMixer(SAMPLE_RATE, STEP_SAMPLES).mix(
        [SoundEvent(beep, position=(3.0, 0.0))], Listener()
    )
    np.testing.assert_allclose(observation["audio"], expected)
    left, right = np.abs(observation["audio"]).max(axis=1)
    assert right > 2 * left  # panned to the right
    assert env.observation_space.contains(observation)


def test_waveform_blocks_mono_stereo_and_pcm() -> None:
    mono = np.linspace(-0.5, 0.5, STEP_SAMPLES, dtype=np.float32)
    observation, _ = _audio_env(lambda context: mono).reset(seed=0)
    np.testing.assert_allclose(observation["audio"], np.stack([mono, mono]))
    pcm = np.full((2, STEP_SAMPLES), -16384, dtype=np.int16)
    observation, _ = _audio_env(lambda context: pcm).reset(seed=0)
    np.testing.assert_allclose(observation["audio"], -0.5)
    unsigned = np.full(STEP_SAMPLES, 192, dtype=np.uint8)
    observation, _ = _audio_env(lambda context: unsigned, channels=1).reset(seed=0)
    np.testing.assert_allclose(observation["audio"], 0.5)
    observation, _ = _audio_env(lambda context: None).reset(seed=0)
    assert observation["audio"].shape == (2, STEP_SAMPLES) and not observation["audio"].any()


def short_block(context: StepContext) -> np.ndarray:
    return np.zeros(STEP_SAMPLES - 1, dtype=np.float32)


def samples_first(context: StepContext) -> np.ndarray:
    return np.zeros((STEP_SAMPLES, 2), dtype=np.float32)


def with_nan(context: StepContext) -> np.ndarray:
    block = np.zeros(STEP_SAMPLES, dtype=np.float32)
    block[3] = np.nan
    return block


def too_loud(context: StepContext) -> np.ndarray:
    return np.full(STEP_SAMPLES, 1.5, dtype=np.float32)


def two_d_event(context: StepContext) -> list[SoundEvent]:
    return [SoundEvent(np.zeros((2, 100), dtype=np.float32))]


def int_event(context: StepContext) -> list[SoundEvent]:
    return [SoundEvent(np.zeros(100, dtype=np.int16))]


def nan_event(context: StepContext) -> list[SoundEvent]:
    return [SoundEvent(np.full(100, np.nan, dtype=np.float32))]


def bare_waveforms(context: StepContext) -> list[np.ndarray]:
    return [np.zeros(100, dtype=np.float32)]


def text_sound(context: StepContext) -> str:
    return "beep"


@pytest.mark.parametrize(
    ("sound", "message"),
    [
        (short_block, r"short_block\(\).*exactly 800 samples"),
        (samples_first, r"samples_first\(\).*\(samples, channels\).*\.T"),
        (with_nan, r"with_nan\(\).*NaN"),
        (too_loud, r"too_loud\(\).*peaking at 1.5"),
        (two_d_event, r"two_d_event\(\) item 0.*1-D float array"),
        (int_event, r"int_event\(\) item 0.*int16 waveform"),
        (nan_event, r"nan_event\(\) item 0.*NaN"),
        (bare_waveforms, r"bare_waveforms\(\) item 0.*SoundEvent\(waveform"),
        (text_sound, r"text_sound\(\) returned str"),
    ],
)
def test_bad_sound_is_rejected_naming_the_function(sound, message) -> None:
    with pytest.raises(PluginOutputError, match=message):
        _audio_env(sound).reset(seed=0)


def test_listener_function_must_return_a_listener() -> None:
    def nowhere(context: StepContext) -> tuple[float, float]:
        return (0.0, 0.0)

    env = _audio_env(lambda context: [SoundEvent(np.zeros(10, np.float32))], listener=nowhere)
    with pytest.raises(PluginOutputError, match=r"nowhere\(\).*Listener"):
        env.reset(seed=0)


# ---------------------------------------------------------------- pixels from render
def _frame(height: int = 40, width: int = 60) -> np.ndarray:
    rows, columns = np.mgrid[0:height, 0:width]
    return np.stack([rows * 4, columns * 4, (rows + columns) % 256], axis=-1).astype(np.uint8)


def test_pixels_from_render_keeps_the_observation_and_resizes_by_area() -> None:
    frame = _frame()
    env = PixelsFromRender(DummyEnv(VECTOR_SPACE, render_mode="rgb_array", frame=frame), (20, 30))
    observation, _ = env.reset(seed=0)
    assert set(observation) == {"vector", "image"}
    assert env.observation_space.contains(observation)
    block_means = frame.reshape(20, 2, 30, 2, 3).astype(np.float64).mean(axis=(1, 3))
    np.testing.assert_allclose(observation["image"], block_means, atol=0.5)
    assert env.render().shape == frame.shape  # watching still gets the full frame


def test_resize_methods_follow_their_documented_rules() -> None:
    frame = _frame(9, 12)
    nearest = resize_frame(frame, (3, 4), "nearest")
    np.testing.assert_array_equal(nearest, frame[1::3, 1::3])  # the pixel under each centre
    area = resize_frame(frame, (3, 4), "area")
    np.testing.assert_allclose(area, frame.reshape(3, 3, 4, 3, 3).mean(axis=(1, 3)), atol=0.5)
    # A non-integer factor weighs partly covered pixels by their overlap.
    row = np.array([[[0], [90], [180]]], dtype=np.uint8).repeat(3, axis=2)
    np.testing.assert_allclose(resize_frame(row, (1, 2), "area")[0, :, 0], [30, 150], atol=0.5)
    with pytest.raises(ValueError, match="unknown"):
        resize_frame(frame, (3, 4), "bicubic")


def test_rgba_frames_lose_alpha() -> None:
    rgba = np.concatenate([_frame(), np.full((40, 60, 1), 7, np.uint8)], axis=-1)
    env = PixelsFromRender(DummyEnv(VECTOR_SPACE, render_mode="rgb_array", frame=rgba), (40, 60))
    np.testing.assert_array_equal(env.reset(seed=0)[0]["image"], _frame())


def test_pixels_need_rgb_array_rendering() -> None:
    with pytest.raises(ValueError, match=r"render_mode=None.*render_mode='rgb_array'"):
        PixelsFromRender(DummyEnv(VECTOR_SPACE), 32)


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (None, "returned NoneType, not a frame"),
        (np.zeros((10, 10), np.uint8), r"shape \(10, 10\)"),
        (np.zeros((10, 10, 2), np.uint8), r"shape \(10, 10, 2\)"),
        (np.zeros((10, 10, 3), np.float32), "float32 frame.*uint8"),
    ],
)
def test_a_bad_render_frame_names_render(frame, message) -> None:
    env = PixelsFromRender(DummyEnv(VECTOR_SPACE, render_mode="rgb_array", frame=frame), 8)
    with pytest.raises(PluginOutputError, match=rf"DummyEnv\.render\(\).*{message}"):
        env.reset(seed=0)


# ---------------------------------------------------------------- text observations
def test_a_string_observation_without_a_space_becomes_token_ids() -> None:
    texts = ["you see a door", "the door is locked"]
    env = TextObservation(
        DummyEnv(None, observations=[*texts, "a dragon appears"]), sample_texts=texts, length=5
    )
    observation, info = env.reset(seed=0)
    assert env.observation_space == spaces.Dict({"text": spaces.Box(0, 8, (5,), np.int64)})
    np.testing.assert_array_equal(observation["text"], [2, 3, 4, 5, 0])
    assert info["instruction"] == "you see a door"
    env.step(0)
    observation, *_ = env.step(0)
    np.testing.assert_array_equal(observation["text"], [4, UNKNOWN_ID, UNKNOWN_ID, 0, 0])


def test_a_text_entry_of_a_dict_is_found_and_other_keys_kept() -> None:
    space = spaces.Dict({"mission": spaces.Text(40), "position": VECTOR_SPACE})
    observations = [{"mission": "open the red box", "position": np.zeros(4, np.float32)}]
    env = TextObservation(
        DummyEnv(space, observations=observations), vocabulary=["open", "the", "red", "box"]
    )
    observation, _ = env.reset(seed=0)
    assert set(observation) == {"text", "position"}
    assert env.observation_space.contains(observation)
    np.testing.assert_array_equal(observation["text"][:5], [2, 3, 4, 5, 0])


def test_c_string_bytes_are_decoded_up_to_the_first_nul() -> None:
    message = np.zeros(16, dtype=np.uint8)
    message[:9] = np.frombuffer(b"It hits!\0", dtype=np.uint8)
    message[10:12] = 65  # junk after the terminator
    space = spaces.Dict({"message": spaces.Box(0, 255, (16,), np.uint8)})
    env = TextObservation(
        DummyEnv(space, observations=[{"message": message}]),
        key="message",
        vocabulary=["it", "hits"],
    )
    observation, info = env.reset(seed=0)
    assert info["instruction"] == "It hits!"
    np.testing.assert_array_equal(observation["text"][:3], [2, 3, 0])


def test_too_long_text_is_an_error_unless_truncated() -> None:
    env = TextObservation(DummyEnv(None, observations=["a b c d"]), vocabulary=["a"], length=3)
    with pytest.raises(PluginOutputError, match=r"DummyEnv observation.*4 words.*truncate=True"):
        env.reset(seed=0)
    env = TextObservation(
        DummyEnv(None, observations=["a b c d"]), vocabulary=["a"], length=3, truncate=True
    )
    np.testing.assert_array_equal(env.reset(seed=0)[0]["text"], [2, 1, 1])


def test_custom_objects_need_to_text() -> None:
    class Scroll:
        words = "read me"

    env = TextObservation(DummyEnv(None, observations=[Scroll()]), vocabulary=["read", "me"])
    with pytest.raises(PluginOutputError, match="not text; pass to_text="):
        env.reset(seed=0)

    def unroll(scroll: Scroll) -> str:
        return scroll.words

    env = TextObservation(
        DummyEnv(None, observations=[Scroll()]), vocabulary=["read", "me"], to_text=unroll
    )
    np.testing.assert_array_equal(env.reset(seed=0)[0]["text"][:3], [2, 3, 0])


def test_text_needs_a_vocabulary() -> None:
    with pytest.raises(ValueError, match="needs a vocabulary"):
        TextObservation(DummyEnv(None, observations=["hi"]))
    with pytest.raises(ValueError, match="not both"):
        TextObservation(DummyEnv(None), vocabulary=["a"], sample_texts=["a"])


# ---------------------------------------------------------------- keys and formats
def test_third_party_names_and_formats_map_onto_the_convention() -> None:
    space = spaces.Dict(
        {
            "screen": spaces.Box(0, 255, (3, 40, 50), np.uint8),
            "sound": spaces.Box(-32768, 32767, (400, 2), np.int16),
            "mission": spaces.Box(0, 9, (6,), np.int32),
            "lives": spaces.Discrete(4),
            "inventory": spaces.MultiDiscrete([2, 3]),
            "mask": spaces.MultiBinary(5),
            "position": VECTOR_SPACE,
        }
    )
    env = MapToConvention(DummyEnv(space))
    converted = env.observation_space
    assert converted["image"].shape == (40, 50, 3)
    assert converted["audio"] == spaces.Box(-1, 1, (2, 400), np.float32)
    assert converted["text"].dtype == np.int64 and converted["text"].shape == (6,)
    assert converted["lives"] == spaces.Box(0, 1, (4,), np.float32)
    assert converted["inventory"].shape == (5,)
    assert converted["mask"].dtype == np.int8
    assert converted["position"] == VECTOR_SPACE  # extra vectors are kept as they are
    raw, _ = env.env.reset(seed=1)
    observation = env.observation(raw)
    assert converted.contains(observation)
    np.testing.assert_array_equal(observation["image"], raw["screen"].transpose(1, 2, 0))
    np.testing.assert_allclose(observation["audio"], raw["sound"].T / 32768.0)
    assert observation["lives"][raw["lives"]] == 1.0 and observation["lives"].sum() == 1.0
    np.testing.assert_array_equal(
        np.flatnonzero(observation["inventory"]), raw["inventory"] + [0, 2]
    )


def test_uint8_audio_and_non_dict_observations() -> None:
    env = MapToConvention(
        DummyEnv(spaces.Box(0, 255, (200,), np.uint8)), keys={"observation": "audio"}
    )
    assert env.observation_space["audio"].shape == (1, 200)
    np.testing.assert_allclose(env.observation(np.full(200, 64, np.uint8))["audio"], -0.5)
    image_env = MapToConvention(DummyEnv(spaces.Box(0, 255, (36, 36, 3), np.uint8)))
    assert list(image_env.observation_space) == ["image"]
    assert list(MapToConvention(DummyEnv(VECTOR_SPACE)).observation_space) == ["vector"]


@pytest.mark.parametrize(
    ("space", "kwargs", "error", "message"),
    [
        (spaces.Dict({"sound": spaces.Box(-1, 1, (4, 4))}), {}, ValueError, "audio_channels_first"),
        (spaces.Dict({"mission": spaces.Text(10)}), {}, ValueError, "TextObservation"),
        (
            spaces.Dict({"pair": spaces.Tuple([spaces.Discrete(2)] * 2)}),
            {},
            ValueError,
            "drop=",
        ),
        (spaces.Dict({"screen": VECTOR_SPACE}), {}, ValueError, "an image is"),
        (
            spaces.Dict({"a": VECTOR_SPACE}),
            {"keys": {"b": "image"}},
            KeyError,
            "no observation key",
        ),
        (
            spaces.Dict({"a": VECTOR_SPACE, "b": VECTOR_SPACE}),
            {"keys": {"a": "x", "b": "x"}},
            ValueError,
            "both 'a' and 'b' would be named 'x'",
        ),
        (
            spaces.Dict({"text": spaces.Box(0.0, 1.0, (4,))}),
            {},
            ValueError,
            "token ids in a 1-D integer Box",
        ),
    ],
)
def test_unmappable_observations_name_the_key_and_the_fix(space, kwargs, error, message) -> None:
    with pytest.raises(error, match=message):
        MapToConvention(DummyEnv(space), **kwargs)


def test_drop_removes_keys_and_aliases_yield_to_existing_names() -> None:
    space = spaces.Dict(
        {
            "image": spaces.Box(0, 255, (36, 36, 3), np.uint8),
            "screen": spaces.Box(0, 255, (36, 36, 3), np.uint8),
            "mask": spaces.MultiBinary(3),
        }
    )
    env = MapToConvention(DummyEnv(space), drop=["mask"])
    assert set(env.observation_space) == {"image", "screen"}  # "screen" keeps its name


# ---------------------------------------------------------------- actions and composition
def test_command_actions_send_the_chosen_command() -> None:
    sent: list[str] = []

    class Recorder(gym.Wrapper):
        def step(self, action: Any):
            sent.append(action)
            return self.env.step(0)

    env = CommandActions(Recorder(DummyEnv(VECTOR_SPACE)), ["look", "go north"])
    env.reset(seed=0)
    env.step(np.int64(1))
    assert sent == ["go north"] and env.action_space == spaces.Discrete(2)
    with pytest.raises(ValueError, match=r"outside 0\.\.1"):
        env.step(2)
    with pytest.raises(ValueError, match="non-empty list"):
        CommandActions(DummyEnv(VECTOR_SPACE), [])


def test_make_multimodal_refuses_two_texts_and_unused_vocabularies() -> None:
    with pytest.raises(ValueError, match="key='instruction'"):
        make_multimodal(
            DummyEnv(None, observations=["hello"]), vocabulary=["hello"], instruction="go"
        )
    with pytest.raises(ValueError, match="no text observation or instruction"):
        make_multimodal(DummyEnv(VECTOR_SPACE), vocabulary=["hello"])


def test_make_multimodal_stacks_every_channel() -> None:
    def click(context: StepContext) -> list[SoundEvent]:
        return [SoundEvent(np.ones(10, np.float32) * 0.1)] if context.action == 2 else []

    env = make_multimodal(
        DummyEnv(VECTOR_SPACE, render_mode="rgb_array", frame=_frame()),
        image_size=36,
        instruction="press the third button",
        sound=click,
        sample_rate=SAMPLE_RATE,
    )
    observation, info = env.reset(seed=0)
    assert set(observation) == {"vector", "image", "text", "audio"}
    assert info["instruction"] == "press the third button"
    observation, *_ = env.step(2)
    assert env.observation_space.contains(observation)
    assert observation["audio"].any()


class StringSpace(spaces.Space):
    """A custom space whose samples are strings (not ``gymnasium.spaces.Text``), as MiniGrid's
    ``MissionSpace``; ``as_bytes`` makes them ``bytes``."""

    def __init__(self, as_bytes: bool = False) -> None:
        super().__init__(dtype=None)
        self.as_bytes = as_bytes

    def sample(self, mask: Any = None, probability: Any = None) -> str | bytes:
        text = "get the red key"
        return text.encode() if self.as_bytes else text

    def contains(self, x: Any) -> bool:
        return isinstance(x, bytes if self.as_bytes else str)


@pytest.mark.parametrize("as_bytes", [False, True], ids=["str", "bytes"])
def test_a_custom_text_space_is_found_or_named_with_text_key(as_bytes: bool) -> None:
    space = spaces.Dict(
        {"mission": StringSpace(as_bytes), "image": spaces.Box(0, 255, (8, 8, 3), np.uint8)}
    )
    words = ["get", "the", "red", "key"]
    for env in (
        make_multimodal(DummyEnv(space), vocabulary=words),  # found by itself
        make_multimodal(DummyEnv(space), text_key="mission", vocabulary=words),
    ):
        observation, info = env.reset(seed=0)
        assert info["instruction"] == "get the red key"
        assert observation["text"][:4].tolist() == [2, 3, 4, 5]
        assert set(observation) == {"text", "image"}


def test_a_custom_text_space_is_refused_naming_text_key() -> None:
    space = spaces.Dict(
        {"mission": StringSpace(), "image": spaces.Box(0, 255, (8, 8, 3), np.uint8)}
    )
    with pytest.raises(ValueError, match=r"text_key='mission'"):
        MapToConvention(DummyEnv(space))
    with pytest.raises(ValueError, match=r"text_key='mission'"):
        MapToConvention(DummyEnv(spaces.Dict({"mission": spaces.Text(20)})))


def test_unknown_words_are_counted_and_warned_once_each() -> None:
    texts = ["open the door", "open the gate", "open the gate now"]
    env = TextObservation(DummyEnv(None, observations=texts), vocabulary=["open", "the", "door"])
    with pytest.warns(Warning) as caught:
        env.reset(seed=0)
        for _ in range(5):
            env.step(0)
    messages = [str(warning.message) for warning in caught]
    assert [warning.category.__name__ for warning in caught] == ["UnknownWordWarning"] * 2
    assert "'gate'" in messages[0] and "vocabulary=[..., 'gate']" in messages[0]
    assert "'now'" in messages[1]
    assert env.unknown_words == {"gate": 4, "now": 2}


def test_instruction_unknown_words_warn_too() -> None:
    env = AddInstruction(
        DummyEnv(spaces.Box(0, 1, (2,), np.float32)),
        per_step=lambda context: f"go {context.step}",
        vocabulary=["go"],
    )
    with pytest.warns(Warning, match=r"the word '0'.*AddInstruction's vocabulary"):
        env.reset(seed=0)
    assert env.tokenizer.unknown_words == {"0": 1}
