"""scripts/soak.py run as a user runs it, with a tiny budget: the figures come out, and nothing
(file descriptors, /dev/shm segments, env workers) is left behind."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

SOAK = Path(__file__).resolve().parent.parent / "scripts" / "soak.py"
TINY = [
    "--steps", "256",
    "--n-envs", "2",
    "--n-steps", "64",
    "--n-epochs", "1",
    "--eval-freq", "128",
    "--eval-episodes", "1",
    "--checkpoint-freq", "128",
    "--sample-seconds", "0.2",
]  # fmt: skip


def _load_script():
    spec = importlib.util.spec_from_file_location("soak_script", SOAK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(not Path("/dev/shm").is_dir(), reason="the soak reads /proc and /dev/shm")
@pytest.mark.timeout(180)
def test_soak_reports_the_figures_and_leaks_nothing(tmp_path) -> None:
    out = tmp_path / "soak.json"
    command = [sys.executable, str(SOAK), *TINY, "--vec-envs", "dummy", "shared"]
    command += ["--runs", str(tmp_path / "runs"), "--json", str(out)]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=170)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "nothing left behind" in completed.stdout
    assert "it measures leaks, not learning" in completed.stdout
    report = json.loads(out.read_text())
    rows = {row["vec_env"]: row for row in report["results"]}
    assert set(rows) == {"dummy", "shared"}
    for row in rows.values():
        assert row["steps"] == 256 and not row["interrupted"]
        assert row["env_steps_per_second"] > 0 and row["wall_seconds"] > 0
        assert row["checkpoints"] >= 2 and row["evaluations"] == 2  # the product's own path
        rss = row["rss_mib"]
        assert 0 < rss["start"] <= rss["peak"] and rss["end"] > 0
        assert row["fds"]["start"] > 0 and row["fds"]["end"] > 0
        assert row["samples"] and {"steps", "rss_mib", "fds", "shm_segments"} <= set(
            row["samples"][0]
        )
        # nothing left behind, in the process and after it exited
        assert row["leaked_fds"] == {}
        assert row["shm_segments_at_end"] == [] and row["shm_segments_after_exit"] == []
        assert row["workers_at_end"] == 0 and row["processes_alive_after_exit"] == []
        assert row["stack_files_left"] == []
    # the sampler did see what it checks for: the shared vec env's workers and segments
    assert rows["shared"]["workers_seen"] == 2 and rows["shared"]["shm_segments_seen"] > 0
    assert rows["shared"]["workers_rss_mib"]["peak"] > 0
    assert rows["dummy"]["workers_seen"] == 0 and rows["dummy"]["shm_segments_seen"] == 0


def test_rss_slope_is_least_squares_per_100k_steps() -> None:
    soak = _load_script()
    assert soak.slope_per_100k([(0, 100.0), (50_000, 101.0), (100_000, 102.0)]) == 2.0
    assert soak.slope_per_100k([(200_000, 5.0), (400_000, 3.0)]) == pytest.approx(-1.0)
    assert soak.slope_per_100k([(10, 1.0)]) is None  # one point has no slope


def test_leaks_names_what_was_left_behind() -> None:
    soak = _load_script()
    clean = {
        "vec_env": "shared",
        "leaked_fds": {},
        "shm_segments_at_end": [],
        "stack_files_left": [],
        "processes_alive_after_exit": [],
        "shm_segments_after_exit": [],
        "workers_at_end": 0,
    }
    assert soak.leaks(clean) == []
    dirty = clean | {"shm_segments_at_end": ["psm_1234"], "workers_at_end": 2}
    found = soak.leaks(dirty)
    assert any("psm_1234" in item for item in found)
    assert any("2 env workers alive" in item for item in found)


@pytest.mark.skipif(not Path("/dev/shm").is_dir(), reason="needs /dev/shm (Linux)")
def test_the_sampler_sees_a_segment_this_process_maps_and_leaves(tmp_path) -> None:
    from multiprocessing import shared_memory

    soak = _load_script()
    sampler = soak.Sampler(1.0, tmp_path / "progress.csv", soak.shm_entries())
    block = shared_memory.SharedMemory(create=True, size=4096)
    try:
        row = sampler.sample()
        assert block.name in sampler.run_segments and row["shm_segments"] == 1
        block.close()  # unmapped but not unlinked: left behind
        assert sampler.run_segments & soak.shm_entries() == {block.name}
    finally:
        block.unlink()
    assert not sampler.run_segments & soak.shm_entries()
