"""RLlib callbacks: the success rate of the training episodes, from ``info["is_success"]``."""

from __future__ import annotations

from typing import Any

from ray.rllib.callbacks.callbacks import RLlibCallback

SUCCESS_METRIC = "success_rate"
"""The env runners' metric (under ``env_runners`` in a result) of the training episodes'
success, a mean over the last :data:`SUCCESS_WINDOW` episodes that reported it."""
SUCCESS_WINDOW = 100


class SuccessRateCallback(RLlibCallback):
    """Log each finished training episode's ``info["is_success"]`` (episodes whose env reports
    no success are not counted)."""

    def on_episode_end(self, *, episode: Any, metrics_logger: Any = None, **kwargs: Any) -> None:
        """Record the success of ``episode`` when its last ``info`` reports it."""
        if metrics_logger is None:
            return
        info = episode.get_infos(-1)
        if isinstance(info, dict) and "is_success" in info:
            metrics_logger.log_value(
                SUCCESS_METRIC,
                float(bool(info["is_success"])),
                reduce="mean",
                window=SUCCESS_WINDOW,
            )
