"""The plug-in API: bring your own game, or any Gymnasium env, to mmagent.

Two doors (walk-through in ``docs/custom_games.md``):

1. **Write a game on the base.** Subclass :class:`envs.core.MultimodalGame`, write its state,
   update, drawing, instruction and sounds, and register it::

       from mmagent.plugins import register_game
       register_game("custom/MyGame-v0", MyGame)

   ``mmagent train my_module:custom/MyGame-v0`` imports the module (which registers the id) and
   trains; ``mmagent watch RUN_DIR --record out.mp4`` records it with its sound.
2. **Wrap an existing env.** :func:`make_multimodal` adds an instruction channel, an audio
   channel, pixels from ``render()``, turns text observations into token ids and maps key names
   and formats onto the convention; the wrappers it stacks are public for finer control:
   :class:`AddInstruction`, :class:`AddAudio`, :class:`PixelsFromRender`,
   :class:`TextObservation`, :class:`MapToConvention`, :class:`CommandActions`,
   :class:`ReportSuccess`, :class:`DeclareGridCodes`. Each records its constructor arguments,
   so an env made with ``gym.make`` is made again from ``env.spec`` and passes Gymnasium's and
   SB3's checkers.

:func:`resolve_env_spec` turns a registered id, ``module.path:EnvId`` or
``module.path:GameClass`` into an id for ``gym.make``.
"""

from __future__ import annotations

from mmagent.plugins.actions import CommandActions
from mmagent.plugins.audio import AddAudio, check_sound_events
from mmagent.plugins.channel import ObservationChannel
from mmagent.plugins.compose import make_multimodal
from mmagent.plugins.context import StepContext
from mmagent.plugins.errors import GameRegistrationError, PluginOutputError, UnknownWordWarning
from mmagent.plugins.grid_codes import DeclareGridCodes, minigrid_view_codes
from mmagent.plugins.instruction import AddInstruction
from mmagent.plugins.keys import (
    AUDIO_SAMPLE_RATE_KEY,
    DEFAULT_KEY_ALIASES,
    MapToConvention,
    convention_key,
)
from mmagent.plugins.registration import (
    CUSTOM_NAMESPACE,
    GAME_ID_PATTERN,
    make_env,
    register_game,
    resolve_env_spec,
)
from mmagent.plugins.render_pixels import PixelsFromRender, ResizeImage, resize_frame
from mmagent.plugins.success import SUCCESS_RULES, ReportSuccess
from mmagent.plugins.text_observation import TextObservation, is_text_space
from mmagent.plugins.tokens import TextTokenizer, build_vocabulary

__all__ = [
    "AUDIO_SAMPLE_RATE_KEY",
    "CUSTOM_NAMESPACE",
    "DEFAULT_KEY_ALIASES",
    "GAME_ID_PATTERN",
    "SUCCESS_RULES",
    "AddAudio",
    "AddInstruction",
    "CommandActions",
    "DeclareGridCodes",
    "GameRegistrationError",
    "MapToConvention",
    "ObservationChannel",
    "PixelsFromRender",
    "PluginOutputError",
    "ReportSuccess",
    "ResizeImage",
    "StepContext",
    "TextObservation",
    "TextTokenizer",
    "UnknownWordWarning",
    "build_vocabulary",
    "check_sound_events",
    "convention_key",
    "is_text_space",
    "make_env",
    "make_multimodal",
    "minigrid_view_codes",
    "register_game",
    "resize_frame",
    "resolve_env_spec",
]
