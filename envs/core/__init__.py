"""The public base for mmagent games: the env base class, text, audio, frame and window helpers."""

from envs.core.audio import (
    AudioMixer,
    Listener,
    SoundEvent,
    chirp,
    decay,
    envelope,
    harmonic_tone,
    noise_burst,
    stereo_gains,
    tone,
)
from envs.core.frames import blit_frame
from envs.core.game import (
    BlankFrameWarning,
    GameDefinitionError,
    MultimodalGame,
    StepOutcome,
    parse_frame_size,
)
from envs.core.text import (
    PAD_ID,
    UNKNOWN_ID,
    InstructionTooLongError,
    Vocabulary,
    split_words,
)

__all__ = [
    "PAD_ID",
    "UNKNOWN_ID",
    "AudioMixer",
    "BlankFrameWarning",
    "GameDefinitionError",
    "InstructionTooLongError",
    "Listener",
    "MultimodalGame",
    "SoundEvent",
    "StepOutcome",
    "Vocabulary",
    "blit_frame",
    "chirp",
    "decay",
    "envelope",
    "harmonic_tone",
    "noise_burst",
    "parse_frame_size",
    "split_words",
    "stereo_gains",
    "tone",
]
