"""Beacon's rules, layouts and egocentric view."""

from __future__ import annotations

import numpy as np
import pygame
import pytest

from envs.beacon import BeaconEnv, drawing, rules


def _state(agent=(2, 2), heading=0, obstacles=(), landmarks=None, target=0) -> rules.BeaconState:
    landmarks = landmarks or (
        rules.Landmark((2, 0), colour="red", shape="ball"),
        rules.Landmark((4, 4), colour="blue", shape="box", sound="chirping"),
    )
    obstacles = frozenset(obstacles)
    return rules.BeaconState(
        arena_size=5,
        agent=agent,
        heading=heading,
        obstacles=obstacles,
        landmarks=tuple(landmarks),
        target_index=target,
        phrasing=0,
        grid=rules.build_grid(5, obstacles, tuple(landmarks)),
    )


def test_turns_and_moves() -> None:
    state = _state()
    assert rules.advance(state, rules.TURN_RIGHT) == (False, False, False) and state.heading == 1
    assert rules.advance(state, rules.FORWARD) == (False, False, False) and state.agent == (3, 2)
    rules.advance(state, rules.TURN_LEFT)
    rules.advance(state, rules.TURN_LEFT)
    assert state.heading == 3


def test_walls_and_obstacles_block() -> None:
    state = _state(agent=(0, 2), heading=3, obstacles=[(1, 1)])
    assert rules.advance(state, rules.FORWARD) == (False, False, True) and state.agent == (0, 2)
    state = _state(agent=(1, 2), heading=0, obstacles=[(1, 1)])
    assert rules.advance(state, rules.FORWARD)[2] and state.agent == (1, 2)


def test_reaching_target_succeeds_and_other_landmark_fails() -> None:
    state = _state(agent=(2, 1), heading=0, target=0)
    assert rules.advance(state, rules.FORWARD) == (True, True, False)
    state = _state(agent=(2, 1), heading=0, target=1)
    assert rules.advance(state, rules.FORWARD) == (True, False, False)


def test_an_ending_tells_the_landmark_reached_against_the_target() -> None:
    looks = [("red", "ball"), ("red", "box"), ("blue", "ball"), ("green", "cone")]
    cells = [(2, 0), (0, 2), (4, 2), (2, 4)]  # north, west, east, south of the centre
    landmarks = [rules.Landmark(cell, c, s) for cell, (c, s) in zip(cells, looks, strict=True)]
    endings = {}
    for heading, cell in zip((0, 3, 1, 2), ((2, 1), (1, 2), (3, 2), (2, 3)), strict=True):
        state = _state(agent=cell, heading=heading, landmarks=landmarks, target=0)
        assert rules.advance(state, rules.FORWARD)[0]
        endings[heading] = rules.ending(state)
    assert endings == {
        0: "target",
        3: "wrong shape",
        1: "wrong colour",
        2: "other landmark",
    }
    with pytest.raises(ValueError, match="not facing a landmark"):
        rules.ending(_state(agent=(2, 2), heading=1, landmarks=landmarks))


def test_the_env_reports_how_each_episode_ended() -> None:
    env = BeaconEnv(arena_size=5, n_landmarks=4, n_obstacles=0, view_radius=4, max_steps=3)
    env.reset(seed=0)
    for _ in range(3):
        *_, terminated, truncated, info = env.step(rules.TURN_LEFT)
    assert truncated and not terminated and info["ending"] == "time-out"
    env = BeaconEnv(arena_size=5, n_landmarks=4, n_obstacles=0, view_radius=4)
    for seed in range(5):
        env.reset(seed=seed)
        terminated = truncated = False
        while not (terminated or truncated):
            *_, terminated, truncated, info = env.step(rules.oracle_action(env.state))
        assert terminated and info["is_success"] and info["ending"] == "target"


def test_layouts_keep_every_landmark_reachable() -> None:
    rng = np.random.default_rng(0)
    for _ in range(100):
        state = rules.new_state(rng, 9, n_landmarks=6, n_obstacles=20, phrasings=2)
        distances = rules.path_lengths(state.grid, state.agent)
        for landmark in state.landmarks:
            assert rules.approach_distance(distances, landmark.cell) is not None
        assert len(state.landmarks) == 6


def test_the_target_is_one_of_two_colours_paired_with_two_shapes() -> None:
    """Without the audio the two landmarks of the target's shape, without the text the two of its
    colour, are then mirror images: the rest of the layout cannot tell which one is the target."""
    rng = np.random.default_rng(3)
    for _ in range(200):
        state = rules.new_state(rng, 7, n_landmarks=6, n_obstacles=4, phrasings=2)
        target = state.target
        looks = {(mark.colour, mark.shape) for mark in state.landmarks}
        assert len(looks) == len(state.landmarks)  # colour + shape is unique
        pairs = [
            (colour, shape)
            for colour in rules.COLOURS
            for shape in rules.SHAPES
            if colour != target.colour and shape != target.shape
            and {(colour, shape), (colour, target.shape), (target.colour, shape)} <= looks
        ]  # fmt: skip
        assert pairs, f"no second colour and shape pair up with the target {target}"
        # Exactly the target's colour sounds, with that colour's sound.
        sounding = {mark.sound for mark in state.landmarks if mark.colour == target.colour}
        assert sounding == {rules.COLOUR_SOUNDS[target.colour]}
        assert all(mark.sound is None for mark in state.landmarks if mark.colour != target.colour)


def test_the_target_is_any_of_the_four_paired_looks_equally_often() -> None:
    """Which of the four is the target does not depend on their looks: the other landmarks give
    nothing away (each of the four is the target a quarter of the time, whatever its place)."""
    rng = np.random.default_rng(2)
    places = []
    for _ in range(2000):
        state = rules.new_state(rng, 5, n_landmarks=4, n_obstacles=0, phrasings=2)
        colours = sorted({mark.colour for mark in state.landmarks}, key=rules.COLOURS.index)
        shapes = sorted({mark.shape for mark in state.landmarks}, key=rules.SHAPES.index)
        target = state.target
        places.append(2 * colours.index(target.colour) + shapes.index(target.shape))
    counts = np.bincount(places, minlength=4)
    # 500 each in expectation (sd ~19).
    assert counts.min() > 420 and counts.max() < 580


def test_target_position_in_the_landmark_order_is_uniform() -> None:
    rng = np.random.default_rng(1)
    targets = [
        rules.new_state(rng, 5, n_landmarks=4, n_obstacles=0, phrasings=2).target_index
        for _ in range(2000)
    ]
    counts = np.bincount(targets, minlength=4)
    # 500 each in expectation (sd ~19).
    assert counts.min() > 420 and counts.max() < 580


def test_instruction_names_the_target_shape_and_only_its_colour_sounds() -> None:
    env = BeaconEnv(arena_size=5, n_landmarks=4, n_obstacles=0)
    for seed in range(5):
        _, info = env.reset(seed=seed)
        target = env.state.target
        assert target.shape in info["instruction"] and target.colour not in info["instruction"]
        assert len(env.sounds()) == 2  # the target and the other landmark of its colour
        assert info["instruction_kind"] in {"in view", "out of view"}
    env.close()


def test_sounding_landmarks_look_like_silent_ones() -> None:
    surface = pygame.Surface((20, 20))
    pictures = []
    for sound in ("beeping", None):
        surface.fill((0, 0, 0))
        landmark = rules.Landmark((0, 0), colour="red", shape="ball", sound=sound)
        drawing.draw_landmark(surface, landmark, pygame.Rect(0, 0, 20, 20))
        pictures.append(pygame.surfarray.array3d(surface))
    np.testing.assert_array_equal(pictures[0], pictures[1])


def test_too_few_landmarks_is_rejected() -> None:
    with pytest.raises(ValueError, match="n_landmarks must be an int of at least 4"):
        BeaconEnv(n_landmarks=3)


@pytest.mark.parametrize("heading", range(4))
def test_view_codes_face_the_heading(heading: int) -> None:
    state = _state(
        agent=(2, 2),
        heading=heading,
        landmarks=(rules.Landmark((2, 1), colour="red", shape="cone"),),
    )
    codes = drawing.view_codes(state, view_radius=1)
    ahead = rules.step_cell(state.agent, heading)
    expected = rules.FIRST_LANDMARK_CODE if ahead == (2, 1) else rules.FLOOR
    assert codes[0, 1] == expected  # the cell in front is drawn above the agent


@pytest.mark.parametrize("heading", range(4))
def test_pixel_view_matches_the_symbolic_view(heading: int) -> None:
    env = BeaconEnv(n_obstacles=12, view_radius=3)
    env.reset(seed=heading)
    env.state.heading = heading
    observation = env._observe()["image"]
    codes = drawing.view_codes(env.state, 3)
    cell = observation.shape[0] / 7
    for row in range(7):
        for column in range(7):
            if (row, column) == (3, 3):
                continue  # the agent's own arrow
            pixel = observation[int((row + 0.5) * cell), int((column + 0.5) * cell)]
            code = codes[row, column]
            if code == rules.WALL:
                assert tuple(pixel) == drawing.WALL_COLOUR
            elif code == rules.OBSTACLE:
                assert tuple(pixel) == drawing.OBSTACLE_COLOUR
            elif code == rules.FLOOR:
                assert tuple(pixel) == drawing.FLOOR_COLOUR


def test_oracle_path_is_short() -> None:
    env = BeaconEnv()
    for seed in range(20):
        env.reset(seed=seed)
        distances = rules.path_lengths(env.state.grid, env.state.agent)
        shortest = rules.approach_distance(distances, env.state.target.cell)
        steps = 0
        while True:
            _, _, terminated, truncated, info = env.step(env.oracle_action())
            steps += 1
            if terminated or truncated:
                break
        assert info["is_success"]
        assert steps <= shortest + 1 + 2 * (shortest + 2)  # moves, the final step, turns


def _moves_to_target(env: BeaconEnv) -> int:
    return rules.path_lengths(env.state.grid, env.state.target.cell)[env.state.agent]


def test_progress_reward_pays_each_move_closer_and_sums_to_the_distance_gained() -> None:
    sparse, shaped = BeaconEnv(), BeaconEnv(progress_reward=0.05)
    for seed in range(10):
        sparse.reset(seed=seed)
        shaped.reset(seed=seed)
        start = _moves_to_target(shaped)
        sparse_total = shaped_total = 0.0
        terminated = truncated = False
        while not (terminated or truncated):
            before = _moves_to_target(shaped)
            action = shaped.oracle_action()
            _, reward, terminated, truncated, info = shaped.step(action)
            sparse_total += float(sparse.step(action)[1])
            shaped_total += float(reward)
            if action != rules.FORWARD:
                assert reward == 0.0  # turning earns nothing
            elif not terminated:
                assert _moves_to_target(shaped) == before - 1
                assert reward == pytest.approx(0.05)
        assert info["is_success"]
        assert shaped_total == pytest.approx(sparse_total + 0.05 * start)


def test_progress_reward_takes_back_a_move_away_and_pays_nothing_for_a_bump() -> None:
    env = BeaconEnv(arena_size=5, n_landmarks=4, n_obstacles=0, progress_reward=0.1)
    env.reset(seed=0)
    state = env.state
    distances = rules.path_lengths(state.grid, state.target.cell)
    for _ in range(100):  # walk and turn until a move forward would lead away from the target
        ahead = rules.step_cell(state.agent, state.heading)
        code = rules.cell_code(state.grid, ahead)
        if code == rules.FLOOR and distances[ahead] > distances[state.agent]:
            assert float(env.step(rules.FORWARD)[1]) == pytest.approx(-0.1)
            break
        env.step(rules.TURN_LEFT if code != rules.FLOOR else rules.FORWARD)
    else:
        pytest.fail("no move away from the target was found")
    env = BeaconEnv(progress_reward=0.1)
    for seed in range(50):
        env.reset(seed=seed)
        ahead = rules.step_cell(env.state.agent, env.state.heading)
        if rules.cell_code(env.state.grid, ahead) in (rules.WALL, rules.OBSTACLE):
            break
    else:
        pytest.fail("no layout starts facing a wall or an obstacle")
    start = env.state.agent
    assert float(env.step(rules.FORWARD)[1]) == 0.0
    assert env.state.agent == start


@pytest.mark.parametrize("value", [-0.1, float("nan"), "0.1", True])
def test_progress_reward_must_be_a_finite_non_negative_number(value: object) -> None:
    with pytest.raises(ValueError, match="progress_reward"):
        BeaconEnv(progress_reward=value)
