"""A :class:`~mmagent.config.TrainConfig` as RLlib's ``PPOConfig``, and the keys it refuses.

The shared keys mean on RLlib what they mean on stable-baselines3:

========================  ===================================================================
mmagent key               RLlib
========================  ===================================================================
``n_envs``                ``num_env_runners`` × ``num_envs_per_env_runner`` (with
                          ``num_env_runners: 0`` the driver steps all ``n_envs``)
``n_steps``               ``rollout_fragment_length``; ``train_batch_size_per_learner`` is
                          the rollout ``n_steps × n_envs``
``batch_size``            ``minibatch_size`` (the whole rollout when larger, as SB3)
``n_epochs``              ``num_epochs``
``learning_rate``         ``lr`` (``lin_<start>``: ``[[0, start], [n_timesteps, 0]]``)
``gamma``, ``gae_lambda``  ``gamma``, ``lambda_``
``clip_range``            ``clip_param`` (a number; RLlib has no clip schedule)
``ent_coef``, ``vf_coef``  ``entropy_coeff``, ``vf_loss_coeff``
``max_grad_norm``         ``grad_clip`` by global norm
``seed``                  ``debugging(seed=...)``
``num_gpus_per_learner``  ``learners(num_gpus_per_learner=...)``
========================  ===================================================================

and PPO is made SB3's PPO: no KL penalty (``use_kl_loss=False``), no value-loss clipping
(``vf_clip_param=inf``), actions clipped to a ``Box``'s bounds rather than rescaled. One
difference remains: RLlib standardises the advantages over the whole rollout, SB3 over each
minibatch.
A key that has no meaning on RLlib is a :class:`~mmagent.config.ConfigError` when its value
differs from the default (:func:`check_rllib_config`), never quietly ignored.

This module imports Ray only inside :func:`build_ppo_config`.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mmagent.config import ConfigError, TrainConfig, parse_schedule

if TYPE_CHECKING:
    from ray.rllib.algorithms.ppo import PPOConfig

INSTALL_HINT = 'pip install "mmagent[ray]"'
RAY_ONLY_KEYS = ("address", "num_env_runners", "num_gpus_per_learner")
"""Config keys that only ``backend: rllib`` reads."""
UNSUPPORTED_KEYS: dict[str, str] = {
    "vec_env": "RLlib's env runners step the envs (set num_env_runners)",
    "step_timeout": "it belongs to vec_env shared",
    "start_method": "RLlib's env runners are Ray actors",
    "trainer": "RLlib's PPO learner trains",
    "bf16_update": "it is an option of the fast trainer",
    "compile_acting": "it is an option of the fast trainer",
    "device": "RLlib places the learner: set num_gpus_per_learner",
    "video_freq": "the RLlib backend records no videos while training yet",
    "policy": "the RLlib backend's module always reads Dict observations (MultiInputPolicy)",
}
"""Keys with no RLlib meaning, and why (the fix is in the message)."""
ENV_NAME = "mmagent_game"
"""The name the mmagent env creator is registered under with ``ray.tune.register_env``."""


def require_ray() -> None:
    """Raise :class:`ConfigError` with the install hint when Ray RLlib cannot be imported."""
    try:
        import ray.rllib  # noqa: F401
    except ImportError as error:
        raise ConfigError(
            f"backend rllib needs Ray RLlib, which is not installed ({error}); install it "
            f"with: {INSTALL_HINT} (it pins gymnasium 1.2.2, so a separate environment is "
            "best), or use backend: sb3"
        ) from None


def is_rllib_run(run_dir: str | Path) -> bool:
    """Whether ``run_dir`` is a run directory whose ``config.yaml`` says ``backend: rllib``."""
    import yaml

    from mmagent.checkpoints import CONFIG_FILE

    path = Path(run_dir) / CONFIG_FILE
    if not Path(run_dir).is_dir() or not path.is_file():
        return False
    try:
        values = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return False
    return isinstance(values, dict) and values.get("backend") == "rllib"


def check_rllib_config(config: TrainConfig) -> None:
    """Raise :class:`ConfigError` naming a key ``config`` sets to a non-default value that RLlib
    has no meaning for (:data:`UNSUPPORTED_KEYS`, a ``policy_kwargs`` entry the module does not
    take, a ``clip_range`` schedule), for ``algo: ppo_lstm``, or for ``n_envs`` that the env
    runners cannot share evenly."""
    from mmagent.rllib.module import MODEL_CONFIG_KEYS

    if config.algo != "ppo":
        raise ConfigError(
            f"algo {config.algo!r} is not available with backend rllib yet (only ppo); use "
            "backend: sb3 for it, or algo: ppo"
        )
    defaults = TrainConfig()
    for key, reason in UNSUPPORTED_KEYS.items():
        value = getattr(config, key)
        if value != getattr(defaults, key):
            raise ConfigError(
                f"config key {key!r} (set to {value!r}) has no meaning with backend rllib: "
                f"{reason}; drop it or use backend: sb3"
            )
    for key in config.policy_kwargs:
        if key not in MODEL_CONFIG_KEYS:
            raise ConfigError(
                f"policy_kwargs.{key} has no meaning with backend rllib (its module takes "
                f"{', '.join(MODEL_CONFIG_KEYS)}); drop it or use backend: sb3"
            )
    if isinstance(config.clip_range, str):
        raise ConfigError(
            f"clip_range {config.clip_range!r} is a schedule, which RLlib's PPO does not take; "
            "give a number with backend rllib"
        )
    env_runners_and_envs(config)


def check_sb3_config(config: TrainConfig) -> None:
    """Raise :class:`ConfigError` naming a Ray-only key (:data:`RAY_ONLY_KEYS`) that a config
    with ``backend: sb3`` sets to a non-default value."""
    defaults = TrainConfig()
    for key in RAY_ONLY_KEYS:
        value = getattr(config, key)
        if value != getattr(defaults, key):
            raise ConfigError(
                f"config key {key!r} (set to {value!r}) applies to backend rllib, but backend is "
                f"{config.backend!r}; drop it or use backend: rllib (--backend rllib)"
            )


def env_runners_and_envs(config: TrainConfig) -> tuple[int, int]:
    """``(num_env_runners, num_envs_per_env_runner)`` for ``config.n_envs`` envs; a
    :class:`ConfigError` when ``n_envs`` is not a multiple of ``num_env_runners``."""
    runners = config.num_env_runners
    if runners == 0:
        return 0, config.n_envs
    if config.n_envs % runners:
        raise ConfigError(
            f"n_envs {config.n_envs} cannot be shared evenly by num_env_runners {runners}; "
            f"make n_envs a multiple of num_env_runners (e.g. n_envs "
            f"{runners * max(1, round(config.n_envs / runners))})"
        )
    return runners, config.n_envs // runners


def learning_rate(config: TrainConfig) -> float | list[list[float]]:
    """RLlib's ``lr``: a number, or for ``lin_<start>`` the piecewise-linear schedule from
    ``start`` at step 0 to 0 at ``n_timesteps`` (SB3's linear schedule)."""
    schedule = parse_schedule(config.learning_rate, "learning_rate")
    if not callable(schedule):
        return schedule
    return [[0, schedule(1.0)], [config.n_timesteps, 0.0]]  # SB3: progress left 1 → 0


def model_config(config: TrainConfig) -> dict[str, Any]:
    """The :class:`~mmagent.rllib.module.MultimodalPPOModule`'s ``model_config``: a copy of
    ``policy_kwargs`` (which :func:`check_rllib_config` has checked)."""
    return copy.deepcopy(dict(config.policy_kwargs))


def build_ppo_config(config: TrainConfig) -> PPOConfig:
    """RLlib's ``PPOConfig`` for ``config`` (checked with :func:`check_rllib_config` first)."""
    require_ray()
    check_rllib_config(config)
    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.rllib.core.rl_module.rl_module import RLModuleSpec

    from mmagent.rllib.callbacks import SuccessRateCallback
    from mmagent.rllib.module import MultimodalPPOModule

    runners, envs_per_runner = env_runners_and_envs(config)
    rollout = config.n_steps * config.n_envs
    return (
        PPOConfig()
        .environment(
            env=ENV_NAME,
            env_config={"env_id": config.env_id, "env_kwargs": dict(config.env_kwargs)},
            clip_actions=True,
            normalize_actions=False,
        )
        .env_runners(
            num_env_runners=runners,
            num_envs_per_env_runner=envs_per_runner,
            rollout_fragment_length=config.n_steps,
            batch_mode="truncate_episodes",
        )
        .learners(num_learners=0, num_gpus_per_learner=config.num_gpus_per_learner)
        .training(
            lr=learning_rate(config),
            gamma=config.gamma,
            lambda_=config.gae_lambda,
            clip_param=float(config.clip_range),
            entropy_coeff=config.ent_coef,
            vf_loss_coeff=config.vf_coef,
            vf_clip_param=float("inf"),
            use_kl_loss=False,
            grad_clip=config.max_grad_norm,
            grad_clip_by="global_norm",
            train_batch_size_per_learner=rollout,
            minibatch_size=min(config.batch_size, rollout),
            num_epochs=config.n_epochs,
        )
        .rl_module(
            rl_module_spec=RLModuleSpec(
                module_class=MultimodalPPOModule, model_config=model_config(config)
            )
        )
        .callbacks(SuccessRateCallback)
        .debugging(seed=config.seed)
    )
