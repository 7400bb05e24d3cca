"""CueMatch: the instruction says whether the lit pad or the sounding pad is the answer."""

from envs.cue_match.env import CueMatchEnv

__all__ = ["CueMatchEnv"]
