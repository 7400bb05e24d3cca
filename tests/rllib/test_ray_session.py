"""Joining a Ray cluster that cannot be reached is a ConfigError naming the address and the
fixes, not Ray's ConnectionError traceback."""

from __future__ import annotations

import pytest

pytest.importorskip("ray")

from mmagent.config import ConfigError, TrainConfig
from mmagent.rllib.train import ray_session


def test_an_unreachable_cluster_names_the_address_and_the_token(monkeypatch) -> None:
    import ray

    calls = []

    def refuse(**kwargs: object) -> None:
        calls.append(kwargs)
        raise ConnectionError("Failed to connect to Ray cluster at 10.0.0.9:6379")

    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", refuse)
    config = TrainConfig(backend="rllib", address="10.0.0.9:6379")
    message = r"could not join the Ray cluster at address '10.0.0.9:6379' .* RAY_AUTH_MODE=token"
    with pytest.raises(ConfigError, match=message), ray_session(config):
        pytest.fail("the session must not start")
    assert calls == [{"address": "10.0.0.9:6379", "include_dashboard": False}]
