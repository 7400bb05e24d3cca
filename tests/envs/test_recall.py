"""Recall: the cues come only at the start; an agent must remember them to open the right door."""

from __future__ import annotations

import warnings
from collections import Counter, defaultdict

import gymnasium as gym
import numpy as np
import pygame
import pytest
from gymnasium.utils.env_checker import check_env as gymnasium_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

from envs.recall import RecallEnv, drawing, rules
from envs.recall.env import INSTRUCTIONS, RECALL_PROMPT

GAME_ID = "mmagent/Recall-v0"
HELD_OUT_SEEDS = range(1_000_000, 1_000_100)
LIT = np.array(drawing.DOOR_LIT, np.uint8)


def _state(kind: str = rules.LIGHT, lit: int = 1, tone: int = 3, length: int = 5):
    return rules.RecallState(
        n_doors=4,
        cue_kind=kind,
        lit_door=lit,
        tone_door=tone,
        cue_steps=2,
        corridor_length=length,
        phrasing=0,
    )


def _walk_to_doors(state: rules.RecallState) -> None:
    while not state.at_doors:
        assert rules.act(state, rules.WALK_ACTION) == (0.0, False, False)


def _episode_until_choice(env: RecallEnv, seed: int) -> list[dict]:
    """Every observation (and the display frame) from ``reset`` to the doors, walking."""
    observation, _ = env.reset(seed=seed)
    records = [{**observation, "display": env.render()}]
    while not env.state.at_doors:
        observation, *_ = env.step(rules.WALK_ACTION)
        records.append({**observation, "display": env.render()})
    return records


def _lit_door_pixels(image: np.ndarray, n_doors: int = 4) -> list[int]:
    """How many pixels of each door's rectangle are the lit colour."""
    height, width = image.shape[:2]
    layout = drawing.HallLayout(width, height, n_doors, max_corridor_length=8)
    counts = []
    for rect in layout.door_rects():
        patch = image[rect.top : rect.bottom, rect.left : rect.right]
        counts.append(int((patch == LIT).all(axis=2).sum()))
    return counts


# ---------------------------------------------------------------------------------- rules
def test_walking_reaches_the_doors_then_bumps() -> None:
    state = _state(length=5)
    for position in range(1, 6):
        assert rules.act(state, rules.WALK_ACTION) == (0.0, False, False)
        assert state.position == position and not state.bumped
    assert state.at_doors
    assert rules.act(state, rules.WALK_ACTION) == (0.0, False, False)
    assert state.position == 5 and state.bumped and state.elapsed == 6


@pytest.mark.parametrize(("kind", "right_door"), [(rules.LIGHT, 1), (rules.SOUND, 3)])
def test_the_instruction_kind_decides_the_right_door(kind: str, right_door: int) -> None:
    state = _state(kind)
    _walk_to_doors(state)
    assert rules.act(state, right_door + 1) == (1.0, True, True)
    state = _state(kind)
    _walk_to_doors(state)
    other = 3 if right_door == 1 else 1
    assert rules.act(state, other + 1) == (0.0, True, False)


def test_opening_the_right_door_before_reaching_it_fails() -> None:
    state = _state(rules.LIGHT)
    rules.act(state, rules.WALK_ACTION)
    assert rules.act(state, 1 + 1) == (0.0, True, False)


@pytest.mark.parametrize("kind", rules.CUE_KINDS)
def test_an_ending_names_which_door_was_opened(kind: str) -> None:
    right, other = (1, 3) if kind == rules.LIGHT else (3, 1)  # lit door 1, tone door 3
    assert rules.ending(_state(kind), right + 1) == "too early"
    state = _state(kind)
    _walk_to_doors(state)
    assert rules.ending(state, right + 1) == "remembered door"
    assert rules.ending(state, other + 1) == "other cue's door"
    assert rules.ending(state, 0 + 1) == "uncued door"
    with pytest.raises(ValueError, match="walking"):
        rules.ending(state, rules.WALK_ACTION)


def test_episodes_draw_every_door_kind_and_corridor_independently() -> None:
    rng = np.random.default_rng(0)
    states = [rules.new_state(rng, 4, 2, 3, 6, 3) for _ in range(4000)]
    assert {state.cue_kind for state in states} == set(rules.CUE_KINDS)
    assert {state.corridor_length for state in states} == {5, 6, 7, 8}
    assert {state.target_door for state in states} == {0, 1, 2, 3}
    # independent draws: the lit and the sounding door coincide one time in four
    same = np.mean([state.lit_door == state.tone_door for state in states])
    assert 0.22 < same < 0.28
    for door, count in Counter(state.target_door for state in states).items():
        assert 0.22 < count / len(states) < 0.28, door


# ------------------------------------------------------------- the caps the docstring states
def _best_success(states: list[rules.RecallState], seen) -> float:
    """The success of the best policy that knows only ``seen(state)``: in each group of
    episodes that look alike it opens the group's most frequent target."""
    groups: dict[object, Counter] = defaultdict(Counter)
    for state in states:
        groups[seen(state)][state.target_door] += 1
    return sum(max(counts.values()) for counts in groups.values()) / len(states)


def test_memoryless_and_masked_agents_are_capped() -> None:
    """The caps of the docstring, as the best any policy can do from what it can know."""
    rng = np.random.default_rng(1)
    states = [rules.new_state(rng, 4, 2, 3, 6, 3) for _ in range(20_000)]
    everything = _best_success(
        states, lambda s: (s.cue_kind, s.lit_door, s.tone_door, s.corridor_length)
    )
    # at the doors a memoryless agent knows the corridor only: 1 in 4
    memoryless = _best_success(states, lambda s: s.corridor_length)
    no_text = _best_success(states, lambda s: (s.lit_door, s.tone_door))
    no_image = _best_success(states, lambda s: (s.cue_kind, s.tone_door))
    no_audio = _best_success(states, lambda s: (s.cue_kind, s.lit_door))
    assert everything == 1.0
    assert memoryless == pytest.approx(0.25, abs=0.02)
    for masked in (no_text, no_image, no_audio):
        assert masked == pytest.approx(0.5 + 0.5 / 4, abs=0.02)
        assert masked <= 0.65  # 30 or more points below 95%


# ------------------------------------------------------------------------------ the cues
def test_cues_are_present_and_consistent_during_the_cue_phase() -> None:
    env = RecallEnv(render_mode="rgb_array")
    for seed in range(20):
        records = _episode_until_choice(env, seed)
        state = env.state
        cue = records[: state.cue_steps]
        assert len(cue) == 2
        sentence = INSTRUCTIONS[state.cue_kind][state.phrasing]
        for observation in cue:
            assert env.vocabulary.decode(observation["text"]) == sentence
            lit = _lit_door_pixels(observation["image"])
            assert lit[state.lit_door] > 20 and sum(lit) == lit[state.lit_door]
        # the tone: every cue step, from the sounding door's side
        left, right = (np.abs(cue[0]["audio"]).max(axis=1)).tolist()
        assert max(left, right) > 0.3
        if state.tone_door == 0:
            assert left > right * 1.5
        elif state.tone_door == 3:
            assert right > left * 1.5
        # the same tone in both cue steps (the second also has a footstep in it)
        tone = env._tones[state.tone_door]
        for observation in cue:
            correlation = np.corrcoef(observation["audio"][:, 480 : tone.size].sum(0), tone[480:])
            assert correlation[0, 1] > 0.99


def test_each_door_has_its_own_pitch() -> None:
    env = RecallEnv()
    peaks = []
    for tone in env._tones:
        spectrum = np.abs(np.fft.rfft(tone))
        peaks.append(int(np.argmax(spectrum)))
    assert len(set(peaks)) == env.n_doors and peaks == sorted(peaks)


@pytest.mark.parametrize("observe_last_action", [False, True])
def test_cues_are_absent_after_the_cue_phase(observe_last_action: bool) -> None:
    """From the end of the cue phase to the doors, episodes of the same corridor look, sound
    and read the same whatever their target: image, audio, text (and last action), and the
    display frame a person watches. Their cue phases differ."""
    env = RecallEnv(render_mode="rgb_array", observe_last_action=observe_last_action)
    by_corridor: dict[int, list[tuple[tuple, list[dict]]]] = defaultdict(list)
    for seed in range(60):
        records = _episode_until_choice(env, seed)
        state = env.state
        key = (state.cue_kind, state.lit_door, state.tone_door, state.phrasing)
        by_corridor[state.corridor_length].append((key, records))
    checked_targets = set()
    for length, episodes in by_corridor.items():
        _, first = episodes[0]
        assert len(first) == length + 1
        for key, records in episodes[1:]:
            for step in range(2, length + 1):  # after the cue phase, up to the doors
                for name, value in records[step].items():
                    assert np.array_equal(value, first[step][name]), (length, step, name)
            if key != episodes[0][0]:
                assert any(
                    not np.array_equal(records[step][name], first[step][name])
                    for step in range(2)
                    for name in ("image", "audio", "text")
                )
        checked_targets |= {key[1] if key[0] == rules.LIGHT else key[2] for key, _ in episodes}
        assert env.vocabulary.decode(first[-1]["text"]) == RECALL_PROMPT
        assert _lit_door_pixels(first[-1]["image"]) == [0, 0, 0, 0]
    assert checked_targets == {0, 1, 2, 3}


# ---------------------------------------------------------------------------- the episode
def test_the_env_reports_how_each_episode_ended() -> None:
    env = RecallEnv()
    env.reset(seed=0)
    truncated = False
    while not truncated:
        _, _, terminated, truncated, info = env.step(rules.WALK_ACTION)
        assert not terminated
    assert info["ending"] == "time-out" and not info["is_success"]
    assert env.elapsed_steps == env.max_steps

    env.reset(seed=0)
    *_, info = env.step(env.state.target_door + 1)
    assert info["ending"] == "too early" and not info["is_success"]

    for seed in range(30):
        env.reset(seed=seed)
        if env.state.lit_door != env.state.tone_door:
            break
    state = env.state
    while not state.at_doors:
        env.step(rules.WALK_ACTION)
    wrong = next(door for door in range(4) if door not in (state.lit_door, state.tone_door))
    for door, ending in (
        (state.target_door, "remembered door"),
        (state.other_cue_door, "other cue's door"),
        (wrong, "uncued door"),
    ):
        env.reset(seed=seed)
        while not env.state.at_doors:
            env.step(rules.WALK_ACTION)
        _, reward, terminated, _, info = env.step(door + 1)
        assert terminated and info["ending"] == ending
        assert info["is_success"] == (ending == "remembered door") == (reward == 1.0)
        assert info["instruction_kind"] == state.cue_kind


def test_the_oracle_solves_held_out_seeds() -> None:
    env = gym.make(GAME_ID).unwrapped
    wins = 0
    for seed in HELD_OUT_SEEDS:
        env.reset(seed=seed)
        while True:
            _, _, terminated, truncated, info = env.step(env.oracle_action())
            if terminated or truncated:
                wins += info["is_success"]
                break
    assert wins / len(HELD_OUT_SEEDS) >= 0.95


def _success_rate(policy, episodes: int = 400) -> float:
    env = gym.make(GAME_ID).unwrapped
    rng = np.random.default_rng(0)
    wins = 0
    for seed in range(episodes):
        env.reset(seed=seed)
        while True:
            _, _, terminated, truncated, info = env.step(policy(env, rng))
            if terminated or truncated:
                wins += info["is_success"]
                break
    return wins / episodes


def test_random_play_is_at_or_below_chance() -> None:
    # walking up and opening a random door: 1 in 4, the memoryless cap
    guessing = _success_rate(lambda env, rng: rules.guessing_action(env.state, rng))
    assert 0.18 < guessing < 0.32
    # uniformly random actions mostly open a door before reaching them
    uniform = _success_rate(lambda env, rng: int(rng.integers(env.action_space.n)))
    assert uniform < 0.05


def test_episodes_are_deterministic_per_seed() -> None:
    def run(seed: int) -> list[bytes]:
        env = gym.make(GAME_ID).unwrapped
        observation, info = env.reset(seed=seed)
        out = [observation[key].tobytes() for key in ("image", "text", "audio")]
        out.append(repr(info).encode())
        terminated = truncated = False
        while not (terminated or truncated):
            observation, reward, terminated, truncated, info = env.step(env.oracle_action())
            out += [observation[key].tobytes() for key in ("image", "text", "audio")]
            out.append(repr((reward, info)).encode())
        return out

    assert run(7) == run(7)
    assert run(7) != run(8) or run(7) != run(9)


@pytest.mark.parametrize(
    "kwargs", [{}, {"n_doors": 2, "observe_last_action": True}, {"n_doors": 9, "cue_steps": 1}]
)
def test_both_env_checkers_pass(kwargs: dict) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gymnasium_check_env(
            gym.make(GAME_ID, render_mode="rgb_array", **kwargs).unwrapped,
            skip_render_check=False,
        )
        # (channels, samples) audio is a 2-D Box by design; the multimodal extractor reads it.
        warnings.filterwarnings("ignore", message="Your observation audio has an unconventional")
        sb3_check_env(gym.make(GAME_ID, **kwargs).unwrapped, warn=True)


def test_keys_play_every_action() -> None:
    env = RecallEnv()
    keys = env.get_keys_to_action()
    assert keys[(pygame.K_UP,)] == keys[(pygame.K_SPACE,)] == rules.WALK_ACTION
    assert [keys[(pygame.K_1 + door,)] for door in range(4)] == [1, 2, 3, 4]
    assert set(keys.values()) == set(range(env.action_space.n))
    assert env.noop_action is None  # one step per key press: a person is not hurried


def test_a_person_plays_an_episode_from_the_keyboard(monkeypatch) -> None:
    import mmagent.play as play_module

    preview = RecallEnv()
    preview.reset(seed=0)
    state = preview.state
    keys = [pygame.K_UP] * state.corridor_length + [pygame.K_1 + state.target_door]
    pending = [[pygame.event.Event(pygame.KEYDOWN, key=key)] for key in keys]
    escape = [pygame.event.Event(pygame.KEYDOWN, key=pygame.K_ESCAPE)]
    monkeypatch.setattr(
        play_module.pygame.event, "get", lambda: pending.pop(0) if pending else escape
    )
    summaries = play_module.play(GAME_ID, seed=0, episodes=1)
    assert len(summaries) == 1 and summaries[0].success
    assert summaries[0].steps == state.corridor_length + 1


def test_the_display_shows_the_target_only_once_the_episode_is_over() -> None:
    env = RecallEnv(render_mode="rgb_array")
    env.reset(seed=2)
    while not env.state.at_doors:
        env.step(rules.WALK_ACTION)
    before = env.render()
    outline = np.array(drawing.TARGET_OUTLINE, np.uint8)
    assert not (before == outline).all(axis=2).any()
    env.step(env.state.target_door + 1)
    assert (env.render() == outline).all(axis=2).sum() > 100


def test_the_progress_reward_pays_each_step_walked_towards_the_doors() -> None:
    env = RecallEnv(progress_reward=0.05)
    env.reset(seed=4)
    rewards = []
    while not env.state.at_doors:
        rewards.append(env.step(rules.WALK_ACTION)[1])
    assert rewards == [0.05] * env.state.corridor_length
    assert env.step(rules.WALK_ACTION)[1] == 0.0  # a bump
    _, reward, _, _, info = env.step(env.state.target_door + 1)
    assert reward == 1.0 and info["is_success"]
    plain = RecallEnv()  # the default pays nothing for walking
    plain.reset(seed=4)
    assert plain.step(rules.WALK_ACTION)[1] == 0.0


def test_the_bump_penalty_costs_each_walk_into_the_doors() -> None:
    env = RecallEnv(progress_reward=0.05, bump_penalty=0.1)
    env.reset(seed=4)
    while not env.state.at_doors:
        assert env.step(rules.WALK_ACTION)[1] == 0.05  # walking towards them costs nothing
    assert [env.step(rules.WALK_ACTION)[1] for _ in range(2)] == [-0.1, -0.1]
    _, reward, _, _, info = env.step(env.state.target_door + 1)
    assert reward == 1.0 and info["is_success"]  # opening the right door is paid as before


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_doors": 1}, "n_doors must be an int from 2 to 9"),
        ({"n_doors": 10}, "n_doors must be an int from 2 to 9"),
        ({"cue_steps": 0}, "cue_steps must be an int of at least 1"),
        ({"min_walk": 4, "max_walk": 3}, "max_walk must be an int of at least 4"),
        ({"max_steps": 8}, r"max_steps must be more than cue_steps \+ max_walk \(8\)"),
        ({"progress_reward": -0.1}, "progress_reward must be finite and at least 0"),
        ({"bump_penalty": -0.1}, "bump_penalty must be finite and at least 0"),
    ],
)
def test_bad_arguments_are_named(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RecallEnv(**kwargs)
