"""Watching agents play: a live window with sound, videos with the audio track, a training
callback that records as the agent learns, and recording of keyboard play.

::

    from mmagent.watch import watch
    watch("mmagent/Beacon-v0", "runs/beacon")                  # live window, with sound
    watch("mmagent/Beacon-v0", "runs/beacon", record="b.mp4")  # headless video + audio
    watch("mmagent/CueMatch-v0", None, episodes=3)              # random policy

See ``docs/watching.md`` for the command line, the keys and the formats.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Name → module. Imported on first use, so that ``mmagent watch --help`` (and the CLI's parser,
# which imports mmagent.watch.cli) does not pay for torch and stable-baselines3.
_EXPORTS: dict[str, str] = {
    "RecordEpisodeCallback": "callback",
    "add_watch_arguments": "cli",
    "run_watch": "cli",
    "Hud": "hud",
    "render_hud": "hud",
    "find_model_file": "loading",
    "load_policy": "loading",
    "read_run_config": "loading",
    "resolve_env_id": "loading",
    "ModelPolicy": "policies",
    "Policy": "policies",
    "PolicyInfo": "policies",
    "RandomPolicy": "policies",
    "VIDEO_FORMATS": "recorder",
    "VideoRecorder": "recorder",
    "real_time_fps": "recorder",
    "EpisodeRunner": "rollout",
    "EpisodeSummary": "rollout",
    "StepView": "rollout",
    "make_policy": "viewer",
    "record_episodes": "viewer",
    "watch": "viewer",
    "RecordVideoWithAudio": "wrapper",
}

if TYPE_CHECKING:
    from mmagent.watch.callback import RecordEpisodeCallback
    from mmagent.watch.cli import add_watch_arguments, run_watch
    from mmagent.watch.hud import Hud, render_hud
    from mmagent.watch.loading import (
        find_model_file,
        load_policy,
        read_run_config,
        resolve_env_id,
    )
    from mmagent.watch.policies import ModelPolicy, Policy, PolicyInfo, RandomPolicy
    from mmagent.watch.recorder import VIDEO_FORMATS, VideoRecorder, real_time_fps
    from mmagent.watch.rollout import EpisodeRunner, EpisodeSummary, StepView
    from mmagent.watch.viewer import make_policy, record_episodes, watch
    from mmagent.watch.wrapper import RecordVideoWithAudio


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'mmagent.watch' has no attribute {name!r}")
    return getattr(importlib.import_module(f"mmagent.watch.{module}"), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


__all__ = [
    "VIDEO_FORMATS",
    "EpisodeRunner",
    "EpisodeSummary",
    "Hud",
    "ModelPolicy",
    "Policy",
    "PolicyInfo",
    "RandomPolicy",
    "RecordEpisodeCallback",
    "RecordVideoWithAudio",
    "StepView",
    "VideoRecorder",
    "add_watch_arguments",
    "find_model_file",
    "load_policy",
    "make_policy",
    "read_run_config",
    "real_time_fps",
    "record_episodes",
    "render_hud",
    "resolve_env_id",
    "run_watch",
    "watch",
]
