"""The mmagent command line."""

from __future__ import annotations

import pytest

from mmagent.cli import main


def test_games_lists_every_builtin_id(capsys) -> None:
    assert main(["games"]) == 0
    printed = capsys.readouterr().out.split()
    assert "mmagent/CueMatch-v0" in printed and "mmagent/Beacon-v0" in printed


def test_play_unknown_id_lists_the_registered_ones() -> None:
    with pytest.raises(SystemExit, match=r"registered mmagent games: .*Beacon-v0"):
        main(["play", "mmagent/Nope-v0"])
