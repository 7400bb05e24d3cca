"""Training configs: layering, schedules, and errors that name the key and the fix."""

from __future__ import annotations

import pytest

from envs import GAME_IDS
from mmagent.config import (
    VALUE_RULES,
    ConfigError,
    TrainConfig,
    apply_overrides,
    config_fields,
    load_config,
    packaged_config,
    parse_assignment,
    parse_schedule,
    resolve_config,
    save_config,
)
from mmagent.train import build_model, make_env


def test_default_is_the_quickest_game_with_its_shipped_config() -> None:
    config = resolve_config()
    assert config.env_id == "mmagent/CueMatch-v0"
    assert config.policy_kwargs["features_extractor_kwargs"]["fusion"] == "film"


def test_layers_override_in_order(tmp_path) -> None:
    user = tmp_path / "mine.yaml"
    user.write_text("n_envs: 3\nn_steps: 16\npolicy_kwargs: {net_arch: [32]}\n")
    config = resolve_config(
        "mmagent/CueMatch-v0",
        user,
        ["n_steps=24", "policy_kwargs.features_extractor_kwargs.fusion=sum"],
        {"seed": 7, "n_envs": None},
    )
    assert (config.n_envs, config.n_steps, config.seed) == (3, 24, 7)
    assert config.policy_kwargs["net_arch"] == [32]
    # nested mappings merge: the shipped audio encoder and layer norm survive the fusion override
    assert config.policy_kwargs["features_extractor_kwargs"] == {
        "fusion": "sum",
        "layer_norm": True,
        "encoders": {"image": "small", "audio": "logmel", "text": "bag"},
        "encoder_kwargs": {"image": {"channels": [16, 32]}, "audio": {"n_mels": 32}},
    }


def test_unknown_key_suggests_close_matches() -> None:
    with pytest.raises(ConfigError, match=r"unknown config key 'n_env' .*did you mean 'n_envs'"):
        apply_overrides(TrainConfig(), {"n_env": 4}, "test")


@pytest.mark.parametrize(
    ("policy_kwargs", "message"),
    [
        (
            {"net_arc": [64]},
            r"unknown key 'net_arc' in policy_kwargs in test; did you mean 'net_arch'",
        ),
        (
            {"features_extractor_kwargs": {"layer_nrm": True}},
            r"'layer_nrm' in policy_kwargs\.features_extractor_kwargs in test; "
            r"did you mean 'layer_norm'",
        ),
        (
            {"features_extractor_kwargs": [1]},
            r"features_extractor_kwargs in test must be a mapping",
        ),
    ],
)
def test_unknown_policy_and_extractor_kwargs_are_named_before_a_model_is_built(
    policy_kwargs, message
) -> None:
    with pytest.raises(ConfigError, match=message):
        apply_overrides(TrainConfig(), {"policy_kwargs": policy_kwargs}, "test")


def test_extractor_kwargs_of_a_user_extractor_are_left_to_it() -> None:
    base = apply_overrides(
        TrainConfig(),
        {"policy_kwargs": {"features_extractor_class": "my_game.nets:Encoder"}},
        "config file",
    )
    # a later layer adds kwargs the user's class takes; mmagent's extractor's names do not apply
    config = apply_overrides(
        base, {"policy_kwargs": {"features_extractor_kwargs": {"depth": 3}}}, "--set"
    )
    assert config.policy_kwargs["features_extractor_kwargs"] == {"depth": 3}


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("n_envs", "four", "must be int"),
        ("n_envs", 2.5, "must be int"),
        ("gamma", "high", "must be float"),
        ("policy_kwargs", [1], "must be a mapping"),
        ("progress_bar", "yes", "must be bool"),
        ("n_steps", 0, "must be >= 1, got 0"),
        ("eval_freq", -1, "must be >= 0, got -1"),
        ("vec_env", "threads", "must be one of dummy, subproc, shared"),
        ("learning_rate", "cos_3e-4", "lin_<start>"),
        ("gamma", "1e-3", r"write it with a dot, 1\.0e-3"),
    ],
)
def test_wrong_value_names_the_field_and_the_expected_type(key, value, expected) -> None:
    with pytest.raises(ConfigError, match=f"'{key}'.*{expected}|{expected}"):
        apply_overrides(TrainConfig(), {key: value}, "test")


def test_every_key_has_one_rule_in_the_table() -> None:
    """The table is the one source of range and choices: a new field must get an entry."""
    assert list(VALUE_RULES) == list(config_fields())


def test_a_schedule_start_out_of_range_names_the_key() -> None:
    with pytest.raises(ConfigError, match=r"'clip_range' in test: the start of schedule 'lin_-1'"):
        apply_overrides(TrainConfig(), {"clip_range": "lin_-1"}, "test")
    config = apply_overrides(TrainConfig(), {"clip_range": "lin_0.3"}, "test")
    assert parse_schedule(config.clip_range, "clip_range")(0.5) == pytest.approx(0.15)


def test_env_kwargs_are_checked_against_the_game_with_close_matches(tmp_path) -> None:
    user = tmp_path / "mine.yaml"
    user.write_text("env_kwargs: {n_pad: 3}\n")
    with pytest.raises(
        ConfigError, match=r"'n_pad' in env_kwargs .* in config file .*mine\.yaml; "
    ):
        resolve_config("mmagent/CueMatch-v0", user)
    # a keyword of the game's base class (MultimodalGame) and one of gym.make are accepted
    config = resolve_config(
        "mmagent/CueMatch-v0", assignments=["env_kwargs.sample_rate=8000", "env_kwargs.n_pads=3"]
    )
    # merged into the shipped config's env_kwargs (16-pixel frames, 4 kHz sound)
    assert config.env_kwargs == {"image_size": 16, "sample_rate": 8000, "n_pads": 3}


def test_linear_schedule_decays_to_zero() -> None:
    schedule = parse_schedule("lin_3e-4")
    assert schedule(1.0) == pytest.approx(3e-4) and schedule(0.5) == pytest.approx(1.5e-4)
    assert parse_schedule(0.1) == 0.1


def test_set_values_are_yaml_and_dotted_keys_nest() -> None:
    assert parse_assignment("a.b=[1, 2]") == {"a": {"b": [1, 2]}}
    with pytest.raises(ConfigError, match="key=value"):
        parse_assignment("n_envs")


def test_malformed_yaml_file_is_named(tmp_path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("n_envs: [1,\n")
    with pytest.raises(ConfigError, match=r"broken\.yaml is not valid YAML: line 2, column 1: "):
        resolve_config(config_file=broken)
    with pytest.raises(ConfigError, match="does not exist"):
        resolve_config(config_file=tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="is a directory"):
        resolve_config(config_file=tmp_path)


def test_saved_config_round_trips(tmp_path) -> None:
    config = resolve_config("mmagent/Beacon-v0", assignments=["seed=3"])
    save_config(config, tmp_path / "config.yaml")
    assert load_config(tmp_path / "config.yaml") == config


@pytest.mark.parametrize("game_id", GAME_IDS)
def test_every_builtin_game_ships_a_config(game_id: str) -> None:
    assert packaged_config(game_id)["env_id"] == game_id
    config = resolve_config(game_id)
    assert config.env_id == game_id and config.batch_size <= config.n_steps * config.n_envs


@pytest.mark.parametrize("game_id", GAME_IDS)
def test_every_shipped_config_builds_a_model_that_acts_on_its_game(game_id: str) -> None:
    """The env kwargs and the extractor kwargs fit together (e.g. frame size and cell size)."""
    config = resolve_config(game_id, assignments=["n_envs=2", "device=cpu", "batch_size=64"])
    env = make_env(config)
    try:
        model = build_model(config, env)
        actions, _ = model.predict(env.reset(), deterministic=True)
        assert actions.shape == (2,) and env.action_space.contains(int(actions[0]))
    finally:
        env.close()
