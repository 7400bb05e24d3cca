"""The benchmark script runs as a user would run it (tiny sizes), prints a table, writes JSON."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "scripts" / "bench_extractor.py"


def test_bench_script_prints_table_and_writes_json(tmp_path: Path) -> None:
    output = tmp_path / "bench.json"
    command = [
        sys.executable,
        str(SCRIPT),
        "--device", "cpu", "--quick", "--threads", "1",
        "--fusions", "concat", "film",
        "--forward-batch-sizes", "1", "4",
        "--train-batch-size", "8",
        "--image-size", "36", "--audio-samples", "400",
        "--json", str(output),
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    completed = subprocess.run(
        command, capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert completed.returncode == 0, completed.stderr
    assert "train samples/s" in completed.stdout
    report = json.loads(output.read_text())
    names = [result["name"] for result in report["results"]]
    assert names == ["sb3-combined", "concat", "film"]
    for result in report["results"]:
        assert set(result["forward_ms"]) == {"1", "4"}
        assert all(latency > 0 for latency in result["forward_ms"].values())
        assert result["train_samples_per_s"] > 0
    assert report["environment"]["device"] == "cpu"
    assert report["config"]["train_batch_size"] == 8


def test_bench_script_rejects_unknown_fusion(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = importlib.util.spec_from_file_location("bench_extractor", SCRIPT)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "bench_extractor", bench)  # dataclasses look it up
    spec.loader.exec_module(bench)
    with pytest.raises(SystemExit) as exit_info:
        bench.parse_args(["--fusions", "nope"])
    assert exit_info.value.code == 2
    assert "unknown fusions ['nope']" in capsys.readouterr().err
