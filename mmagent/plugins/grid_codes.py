"""Declare how many codes each channel of a symbolic view holds, so mmagent reads it as a grid.

A symbolic view holds integer codes per cell (object, colour, state), not pixels. The
convention tells the two apart by the space's bounds (:func:`mmagent.convention.
looks_like_symbolic_grid`), but some envs declare their codes with the pixel bounds
``Box(0, 255, uint8)``: MiniGrid and BabyAI do for their 7x7x3 view. Read as pixels, such a
view is divided by 255 and convolved as a picture; declared as codes, each code gets its own
embedding (the ``grid`` modality). :class:`DeclareGridCodes` narrows the bounds to the codes
(the observations are unchanged, and checked against them); :func:`make_multimodal
<mmagent.plugins.compose.make_multimodal>` applies it to MiniGrid's own view by itself
(:func:`minigrid_view_codes`) and to any view with ``grid_codes=``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from mmagent.convention import IMAGE, MAX_GRID_CODES
from mmagent.plugins.constructor_args import record_constructor_args


class DeclareGridCodes(gym.ObservationWrapper, gym.utils.RecordConstructorArgs):
    """The ``key`` entry of a ``Dict`` observation declared as ``Box(0, codes[c] - 1)`` per
    channel ``c`` (the last axis), so the extractor embeds it as a symbolic grid.

    :param env: an env with a ``Dict`` observation (after
        :class:`~mmagent.plugins.keys.MapToConvention`).
    :param codes: how many codes each channel holds (MiniGrid: 11 objects, 6 colours, 3
        states); a value outside them is an error naming the key, channel and value.
    :param key: the observation key of the view.
    """

    def __init__(self, env: gym.Env, codes: Sequence[int], key: str = IMAGE) -> None:
        record_constructor_args(self, codes=tuple(int(count) for count in codes), key=key)
        super().__init__(env)
        space = env.observation_space
        if not isinstance(space, spaces.Dict) or key not in space.spaces:
            raise ValueError(
                f"DeclareGridCodes: the observation has no {key!r} key (keys: "
                f"{list(getattr(space, 'spaces', {}))}); name the view with key="
            )
        view = space.spaces[key]
        if not isinstance(view, spaces.Box) or not np.issubdtype(view.dtype, np.integer):
            raise ValueError(
                f"DeclareGridCodes: {key!r} is {view}; symbolic codes need an integer Box"
            )
        self.codes = self._saved_kwargs["codes"]
        if len(self.codes) != view.shape[-1]:
            raise ValueError(
                f"DeclareGridCodes: {key!r} has {view.shape[-1]} channels (shape {view.shape}) "
                f"but codes= gives {len(self.codes)} counts, one per channel"
            )
        if not all(1 <= count <= MAX_GRID_CODES for count in self.codes):
            raise ValueError(
                f"DeclareGridCodes: codes={list(self.codes)}; each channel holds 1 to "
                f"{MAX_GRID_CODES} codes"
            )
        self.key = key
        high = np.broadcast_to(np.asarray(self.codes) - 1, view.shape).astype(view.dtype)
        self.observation_space = spaces.Dict(
            {**space.spaces, key: spaces.Box(np.zeros_like(high), high, dtype=view.dtype)}
        )

    def observation(self, observation: dict[str, Any]) -> dict[str, Any]:
        """The observation as it is, once its codes are checked against the declared counts."""
        view = np.asarray(observation[self.key])
        outside = (view > self.observation_space.spaces[self.key].high) | (view < 0)
        if outside.any():
            cell = tuple(int(index) for index in np.argwhere(outside)[0])
            raise ValueError(
                f"DeclareGridCodes: {self.key!r}{list(cell)} holds code {view[cell]}, but "
                f"channel {cell[-1]} was declared with {self.codes[cell[-1]]} codes (0 to "
                f"{self.codes[cell[-1]] - 1}); pass the right counts as codes= (grid_codes= "
                "of make_multimodal)"
            )
        return observation


def minigrid_view_codes(env: gym.Env, key: str = IMAGE) -> tuple[int, ...] | None:
    """MiniGrid's codes per channel (objects, colours, states) when ``env`` is a MiniGrid or
    BabyAI env whose ``key`` is still MiniGrid's own partial view (the shape its unwrapped env
    declares; a wrapper that draws it as pixels changes the shape); else ``None``."""
    unwrapped = env.unwrapped
    if type(unwrapped).__module__.split(".", 1)[0] != "minigrid":
        return None
    own = getattr(unwrapped, "observation_space", None)
    space = getattr(env, "observation_space", None)
    if not isinstance(own, spaces.Dict) or not isinstance(space, spaces.Dict):
        return None
    if key not in space.spaces or "image" not in own.spaces:
        return None
    if space.spaces[key].shape != own.spaces["image"].shape:
        return None
    from minigrid.core.constants import COLOR_TO_IDX, OBJECT_TO_IDX, STATE_TO_IDX

    return tuple(max(table.values()) + 1 for table in (OBJECT_TO_IDX, COLOR_TO_IDX, STATE_TO_IDX))
