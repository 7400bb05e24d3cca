"""Bad spaces and bad options fail at construction, naming the key and the fix."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium import spaces

from mmagent.extractors import MultimodalExtractor

IMAGE = spaces.Box(0, 255, (36, 36, 3), np.uint8)
TEXT = spaces.Box(0, 9, (5,), np.int64)
AUDIO = spaces.Box(-1.0, 1.0, (2, 400), np.float32)


def _space(**subspaces: spaces.Space) -> spaces.Dict:
    return spaces.Dict({"image": IMAGE, "text": TEXT, "audio": AUDIO, **subspaces})


@pytest.mark.parametrize(
    ("space", "kwargs", "error", "message"),
    [
        pytest.param(
            IMAGE, {}, ValueError, r"needs a gymnasium.spaces.Dict.*NatureCNN", id="not-a-dict"
        ),
        pytest.param(
            _space(audio=spaces.Box(-(2**40), 2**40, (2, 400), np.int64)),
            {},
            ValueError,
            r"audio 'audio' has dtype int64; supported: .*Convert it to float32",
            id="audio-int64",
        ),
        pytest.param(
            _space(image=spaces.Box(0, 1000, (36, 36, 3), np.int32)),
            {},
            ValueError,
            r"image 'image' has dtype int32; use uint8 .* or float",
            id="image-int32",
        ),
        pytest.param(
            _space(text=spaces.Box(0.0, 9.0, (5,), np.float32)),
            {},
            ValueError,
            r"text 'text' is .*token ids in a 1-D integer Box",
            id="text-float",
        ),
        pytest.param(
            _space(),
            {"modalities": {"sound": "audio"}},
            KeyError,
            r"no key 'sound'; available keys: \['audio', 'image', 'text'\]",
            id="mapping-missing-key",
        ),
        pytest.param(
            _space(),
            {"modalities": {"audio": "speech"}},
            ValueError,
            r"unknown kind 'speech'; use one of",
            id="mapping-unknown-kind",
        ),
        pytest.param(
            _space(flat=spaces.Box(0, 255, (100,), np.uint8)),
            {"modalities": {"flat": "image"}},
            ValueError,
            r"'flat' is mapped to 'image' but has shape \(100,\).*modalities=\{'flat': 'vector'\}",
            id="1d-image",
        ),
        pytest.param(
            _space(image=spaces.Box(0, 255, (40, 40, 40), np.uint8)),
            {},
            ValueError,
            r"channel axis is ambiguous. Pass channels_first=\{'image': True or False\}",
            id="ambiguous-image-layout",
        ),
        pytest.param(
            _space(),
            {"encoders": {"image": "resnet"}},
            ValueError,
            r"unknown image encoder 'resnet'; choose one of \['nature', 'small', 'impala', 'grid'\]"
            r".*register_encoder",
            id="unknown-encoder",
        ),
        pytest.param(
            _space(),
            {"fusion": "bilinear"},
            ValueError,
            r"unknown fusion 'bilinear'; choose one of .*register_fusion",
            id="unknown-fusion",
        ),
        pytest.param(
            _space(),
            {"encoders": {"image": "natur"}},
            ValueError,
            r"unknown image encoder 'natur' \(did you mean 'nature'\?\); choose one of",
            id="mistyped-encoder",
        ),
        pytest.param(
            _space(),
            {"fusion": "flim"},
            ValueError,
            r"unknown fusion 'flim' \(did you mean 'film'\?\); choose one of",
            id="mistyped-fusion",
        ),
        pytest.param(
            _space(),
            {"encoders": {"video": "nature"}},
            KeyError,
            r"encoders names 'video'.*use one of",
            id="encoders-unknown-key",
        ),
        pytest.param(
            spaces.Dict({"image": IMAGE, "audio": AUDIO}),
            {"fusion": "film"},
            ValueError,
            r"'film' fusion .* needs an image key and a text key; .*text keys \[\]",
            id="film-without-text",
        ),
        pytest.param(
            _space(direction=spaces.Discrete(4)),
            {},
            ValueError,
            r"'direction' is a Discrete space.*modalities=\{'direction': 'ignore'\}",
            id="discrete-subspace",
        ),
        pytest.param(
            _space(image=spaces.Box(0, 255, (24, 24, 3), np.uint8)),
            {"encoders": {"image": "nature"}},
            ValueError,
            r"image 'image' is 24x24; the 'nature' encoder needs at least 36x36.*encoders="
            r"\{'image': 'small'\} \(CLI: --set "
            r"policy_kwargs\.features_extractor_kwargs\.encoders\.image=small\)",
            id="image-too-small-for-nature",
        ),
        pytest.param(
            _space(),
            {"encoders": {"image": "grid"}, "encoder_kwargs": {"image": {"cell_pixels": 7}}},
            ValueError,
            r"image 'image' is 36x36, not a whole number of 7-pixel cells; .*'cell_pixels'",
            id="image-not-whole-cells-for-grid",
        ),
        pytest.param(
            _space(audio=spaces.Box(-1.0, 1.0, (2, 40), np.float32)),
            {},
            ValueError,
            r"audio 'audio' has 40 samples per step, too short .*'conv1d' encoder, "
            r"which needs at least 128",
            id="audio-too-short",
        ),
        pytest.param(
            _space(),
            {"encoder_kwargs": {"text": {"hidden": 3}}},
            TypeError,
            r"text encoder 'bag' for 'text' rejected encoder_kwargs=\{'hidden': 3\}",
            id="bad-encoder-kwarg",
        ),
        pytest.param(
            _space(),
            {"channels_first": True},
            TypeError,
            r"channels_first must be a dict",
            id="channels-first-not-a-dict",
        ),
        pytest.param(
            _space(),
            {"encoders": {"audio": "no_such_module_xyz:Encoder"}},
            ValueError,
            r"cannot import module 'no_such_module_xyz'",
            id="bad-import-path",
        ),
    ],
)
def test_bad_space_or_option_raises_with_the_fix(space, kwargs, error, message) -> None:
    with pytest.raises(error, match=message):
        MultimodalExtractor(space, **kwargs)


def test_missing_observation_key_at_forward() -> None:
    extractor = MultimodalExtractor(_space())
    with pytest.raises(KeyError, match=r"observations lack keys \['text'\]"):
        extractor({"image": np.zeros((1, 36, 36, 3)), "audio": np.zeros((1, 2, 400))})
