"""Recall: remember the door the instruction meant, after the light and the tone are gone."""

from envs.recall.env import RecallEnv

__all__ = ["RecallEnv"]
