"""Beacon: navigate to a landmark named by its look or by the sound it makes."""

from envs.beacon.env import BeaconEnv

__all__ = ["BeaconEnv"]
