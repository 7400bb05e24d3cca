"""Soak test: train for many env steps on each vec env and look for leaks.

For each vec env (``dummy``, ``subproc``, ``shared``), in a fresh interpreter of its own, trains
through mmagent's own path (:func:`mmagent.train.train` with a :class:`~mmagent.config.TrainConfig`:
periodic evaluation, periodic checkpoints, the final evaluation) for ``--steps`` env steps, while a
background thread samples every ``--sample-seconds``:

* resident memory (RSS) of the main process and, summed, of its descendants (env workers);
* open file descriptors of the main process (``/proc/self/fd``);
* ``/dev/shm`` entries the run created (new since the start and mapped by the run's processes:
  the shared-memory blocks of ``SharedMemoryVecEnv``);
* live descendant processes (env workers apart from multiprocessing's own helpers, the
  ``forkserver`` and the ``resource_tracker``, which live as long as the interpreter).

After ``train()`` returns (its envs closed) it counts what is left: file descriptors above the
count before training (with what they point to), the run's ``/dev/shm`` segments still present,
env-worker processes still alive and worker stack files (``mmagent-worker-*.stack``) left in the
temp dir; and once the interpreter has exited, the orchestrator checks again that none of the
processes and segments it saw outlives it.

Figures per vec env: RSS before/start/peak/end and its slope over the second half of the run
(MB per 100k env steps, least squares), the workers' RSS likewise, fds before/start/end,
``/dev/shm`` segments and worker processes at the end, env-steps/s and wall time.

The configuration is cheap on purpose so that a million steps fit on a 2-core machine: the
game's shipped hyperparameters with small frames (``--image-size``, default 16), audio at
``--sample-rate`` (default 4 kHz) and a small extractor (``grid`` image encoder, ``bag`` text
encoder, ``conv1d`` audio encoder, concat fusion to 32 features, heads of 32). It measures
leaks, not learning. Reads ``/proc``; Linux only.

Usage::

    python scripts/soak.py [--steps 1000000] [--vec-envs dummy subproc shared] [--n-envs 8]
        [--eval-freq 100000] [--checkpoint-freq 100000] [--sample-seconds 5]
        [--runs DIR] [--json soak.json]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

VEC_ENV_KINDS = ("dummy", "subproc", "shared")
SHM_DIR = Path("/dev/shm")
MIB = 2**20
#: multiprocessing's own long-lived helper processes (not env workers, not leaks)
HELPER_MARKERS = ("multiprocessing.forkserver", "multiprocessing.resource_tracker")
STACK_FILE_PREFIX = "mmagent-worker-"


# ---------------------------------------------------------------------------- /proc readers
def rss_mib(pid: int) -> float:
    """Resident memory of ``pid`` in MiB (``VmRSS``); 0 when it is gone."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return 0.0


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of ``/proc/<pid>/stat`` after the command name (state is [0], ppid [1])."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            text = handle.read()
    except OSError:
        return None
    return text[text.rfind(")") + 2 :].split()


def process_identity(pid: int) -> tuple[int, int] | None:
    """``(pid, start time in clock ticks)``: tells a process apart from a later one with its pid."""
    fields = _stat_fields(pid)
    return None if fields is None else (pid, int(fields[19]))


def is_alive(identity: tuple[int, int]) -> bool:
    """Whether the process ``identity`` names still runs (a zombie does not count)."""
    fields = _stat_fields(identity[0])
    return fields is not None and int(fields[19]) == identity[1] and fields[0] not in "ZX"


def descendants(root: int) -> list[int]:
    """Live (non-zombie) descendant pids of ``root``, from the ``/proc`` parent links."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fields = _stat_fields(int(entry))
        if fields is None or fields[0] in "ZX":
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
    found: list[int] = []
    stack = [root]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def is_helper(pid: int, parent: int) -> bool:
    """Whether ``pid`` is multiprocessing's forkserver or resource tracker: a direct child of
    ``parent`` running one of them (processes the forkserver forks keep its command line, but
    their parent is the forkserver)."""
    fields = _stat_fields(pid)
    if fields is None or int(fields[1]) != parent:
        return False
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            command = handle.read().decode("utf-8", "replace")
    except OSError:
        return False
    return any(marker in command for marker in HELPER_MARKERS)


def helper_fds() -> set[str]:
    """Descriptors this process holds to talk to multiprocessing's helpers (they live as long as
    the interpreter, like the helpers themselves)."""
    import multiprocessing.forkserver as forkserver
    import multiprocessing.resource_tracker as resource_tracker

    held = {
        getattr(getattr(resource_tracker, "_resource_tracker", None), "_fd", None),
        getattr(getattr(forkserver, "_forkserver", None), "_forkserver_alive_fd", None),
    }
    return {str(fd) for fd in held if fd is not None}


def open_fds() -> dict[str, str]:
    """This process's open file descriptors and what each points to."""
    found = {}
    for fd in os.listdir("/proc/self/fd"):
        try:
            found[fd] = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # the descriptor listdir itself used, closed since
            continue
    return found


def shm_entries() -> set[str]:
    """Names in ``/dev/shm``."""
    try:
        return set(os.listdir(SHM_DIR))
    except OSError:
        return set()


def mapped_shm(pids: list[int]) -> set[str]:
    """``/dev/shm`` names mapped by any of ``pids``."""
    names = set()
    for pid in pids:
        try:
            with open(f"/proc/{pid}/maps", encoding="utf-8", errors="replace") as maps:
                for line in maps:
                    at = line.find(f"{SHM_DIR}/")
                    if at >= 0:
                        names.add(line[at + len(str(SHM_DIR)) + 1 :].split()[0])
        except OSError:
            continue
    return names


def stack_files() -> set[str]:
    """Worker stack files in the temp dir (each worker removes its own when it ends)."""
    directory = tempfile.gettempdir()
    return {
        name
        for name in os.listdir(directory)
        if name.startswith(STACK_FILE_PREFIX) and name.endswith(".stack")
    }


def progress_steps(progress_csv: Path) -> int | None:
    """The last ``time/total_timesteps`` SB3's CSV logger wrote (once per rollout)."""
    try:
        lines = progress_csv.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    if len(lines) < 2:
        return None
    header = lines[0].split(",")
    if "time/total_timesteps" not in header:
        return None
    column = header.index("time/total_timesteps")
    for line in reversed(lines[1:]):
        cells = line.split(",")
        if len(cells) == len(header) and cells[column]:
            try:
                return int(float(cells[column]))
            except ValueError:
                continue
    return None


# ---------------------------------------------------------------------------- the sampler
class Sampler(threading.Thread):
    """Samples memory, fds, shm segments and child processes every ``interval`` seconds."""

    def __init__(self, interval: float, progress_csv: Path, shm_before: set[str]) -> None:
        super().__init__(name="soak-sampler", daemon=True)
        self.interval = interval
        self.progress_csv = progress_csv
        self.shm_before = shm_before
        self.started = time.perf_counter()
        self.samples: list[dict[str, Any]] = []
        #: every /dev/shm name the run's processes mapped, and every process seen
        self.run_segments: set[str] = set()
        self.seen_processes: dict[tuple[int, int], bool] = {}  # identity → is a helper
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.sample()
            self._stop_event.wait(self.interval)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()

    def sample(self) -> dict[str, Any]:
        me = os.getpid()
        children = descendants(me)
        workers = []
        for pid in children:
            identity = process_identity(pid)
            if identity is None:
                continue
            helper = self.seen_processes.setdefault(identity, is_helper(pid, me))
            if not helper:
                workers.append(pid)
        self.run_segments |= mapped_shm([me, *children]) - self.shm_before
        present = shm_entries()
        row = {
            "seconds": round(time.perf_counter() - self.started, 2),
            "steps": progress_steps(self.progress_csv),
            "rss_mib": round(rss_mib(me), 2),
            "workers_rss_mib": round(sum(rss_mib(pid) for pid in workers), 2),
            "fds": len(open_fds()),
            "shm_segments": len(self.run_segments & present),
            "workers": len(workers),
            "helpers": len(children) - len(workers),
        }
        self.samples.append(row)
        return row


def slope_per_100k(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of ``(steps, MiB)`` points, in MiB per 100k steps."""
    if len(points) < 2:
        return None
    mean_x = sum(x for x, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    if spread == 0:
        return None
    covariance = sum((x - mean_x) * (y - mean_y) for x, y in points)
    return covariance / spread * 100_000


# ---------------------------------------------------------------------------- one vec env
def soak_config(args: argparse.Namespace, vec_env: str) -> Any:
    """The cheap but real training config of the soak (see the module docstring)."""
    from mmagent.config import resolve_config

    encoder_kwargs = {
        "image": {"cell_pixels": 4, "channels": [8, 8], "features_dim": 32},
        "text": {"embedding_dim": 16, "features_dim": 16},
        "audio": {"channels": [8, 8, 8, 8], "features_dim": 16},
    }
    return resolve_config(
        args.game,
        # the soak's own encoders and their options, not merged into the game's
        assignments=["policy_kwargs.features_extractor_kwargs.encoder_kwargs=null"],
        flags={
            "n_timesteps": args.steps,
            "vec_env": vec_env,
            "n_envs": args.n_envs,
            "n_steps": args.n_steps,
            "batch_size": min(256, args.n_envs * args.n_steps),
            "n_epochs": args.n_epochs,
            "device": args.device,
            "seed": args.seed,
            "env_kwargs": {"image_size": args.image_size, "sample_rate": args.sample_rate},
            "policy_kwargs": {
                "net_arch": [32],
                "features_extractor_kwargs": {
                    "fusion": "concat",
                    "layer_norm": False,
                    "fusion_dim": 32,
                    "sample_rate": args.sample_rate,
                    "encoders": {"image": "grid", "text": "bag", "audio": "conv1d"},
                    "encoder_kwargs": encoder_kwargs,
                },
            },
            "eval_freq": args.eval_freq,
            "eval_episodes": args.eval_episodes,
            "final_eval_episodes": args.eval_episodes,
            "checkpoint_freq": args.checkpoint_freq,
            "progress_bar": False,
        },
    )


def soak_one(args: argparse.Namespace, vec_env: str) -> dict[str, Any]:
    """Train on ``vec_env`` in this process while sampling; return the figures."""
    import torch

    from mmagent.config import config_to_dict
    from mmagent.train import train

    # on a few shared cores, torch's idle threads spin and starve the env workers
    torch.set_num_threads(args.torch_threads)
    config = soak_config(args, vec_env)
    run_dir = Path(args.runs) / vec_env
    if run_dir.exists():
        raise SystemExit(f"{run_dir} exists; pass another --runs directory or remove it")
    gc.collect()
    fds_before = open_fds()
    shm_before = shm_entries()
    stacks_before = stack_files()
    rss_before = rss_mib(os.getpid())
    sampler = Sampler(args.sample_seconds, run_dir / "logs" / "progress.csv", shm_before)
    sampler.start()
    started = time.perf_counter()
    try:
        result = train(config, run_dir)
    finally:
        sampler.stop()
    wall = time.perf_counter() - started
    gc.collect()
    end = sampler.sample()  # after train() returned: its envs are closed
    fds_end = open_fds()
    helpers_fds = helper_fds()
    leaked_fds = {
        fd: target
        for fd, target in fds_end.items()
        if fds_before.get(fd) != target and fd not in helpers_fds
    }
    me = os.getpid()
    workers_left = [pid for pid in descendants(me) if not is_helper(pid, me)]
    segments_left = sorted(sampler.run_segments & shm_entries())
    samples = sampler.samples
    running = [row for row in samples[:-1] if row["steps"]]  # sampled while training
    first = running[0] if running else end
    half = [row for row in running if row["steps"] >= result.timesteps / 2]
    # the workers' figures only while every worker ran (not after the envs were closed)
    most_workers = max(row["workers"] for row in samples)
    with_workers = [row for row in running if row["workers"] == most_workers] or running
    workers_half = [row for row in half if row["workers"] == most_workers]
    return {
        "vec_env": vec_env,
        "steps": result.timesteps,
        "interrupted": result.interrupted,
        "wall_seconds": round(wall, 1),
        "env_steps_per_second": round(result.timesteps / wall, 1),
        "final_success_rate": None if result.evaluation is None else result.evaluation.success_rate,
        "checkpoints": len(list((run_dir / "checkpoints").glob("step_*.zip"))),
        "evaluations": max(0, len((run_dir / "evaluations.csv").read_text().splitlines()) - 1)
        if (run_dir / "evaluations.csv").is_file()
        else 0,
        "rss_mib": {
            "before": round(rss_before, 1),
            "start": first["rss_mib"],
            "peak": max(row["rss_mib"] for row in samples),
            "end": end["rss_mib"],
        },
        "rss_slope_mib_per_100k_steps": _rounded(
            slope_per_100k([(row["steps"], row["rss_mib"]) for row in half])
        ),
        "workers_rss_mib": {
            "start": with_workers[0]["workers_rss_mib"] if with_workers else 0.0,
            "peak": max(row["workers_rss_mib"] for row in samples),
            "end_of_training": with_workers[-1]["workers_rss_mib"] if with_workers else 0.0,
        },
        "workers_rss_slope_mib_per_100k_steps": _rounded(
            slope_per_100k([(row["steps"], row["workers_rss_mib"]) for row in workers_half])
        ),
        "fds": {
            "before": len(fds_before),
            "start": first["fds"],
            "peak": max(row["fds"] for row in samples),
            "end": len(fds_end),
        },
        "leaked_fds": leaked_fds,
        "helper_fds_at_end": sorted(helpers_fds & set(fds_end)),
        "shm_segments_seen": len(sampler.run_segments),
        "shm_segments_at_end": segments_left,
        "workers_seen": sum(1 for helper in sampler.seen_processes.values() if not helper),
        "workers_at_end": len(workers_left),
        "helpers_at_end": len(descendants(me)) - len(workers_left),
        "stack_files_left": sorted(stack_files() - stacks_before),
        "seen_processes": [list(identity) for identity in sampler.seen_processes],
        "run_segments": sorted(sampler.run_segments),
        "samples": samples,
        "config": config_to_dict(config),
    }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def run_vec_env_process(vec_env: str, argv: list[str]) -> dict[str, Any]:
    """:func:`soak_one` in a fresh interpreter (its memory figures are its own), then check
    that none of the processes and shm segments it saw outlived it."""
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "result.json"
        command = [sys.executable, __file__, *argv, "--one-vec-env", vec_env, "--result", str(out)]
        completed = subprocess.run(command, check=False)
        if completed.returncode != 0 or not out.is_file():
            return {"vec_env": vec_env, "error": f"exit code {completed.returncode}"}
        result = json.loads(out.read_text(encoding="utf-8"))
    time.sleep(1.0)  # let the exited interpreter's children notice and end
    seen = [tuple(identity) for identity in result.pop("seen_processes")]
    result["processes_alive_after_exit"] = [pid for pid, start in seen if is_alive((pid, start))]
    result["shm_segments_after_exit"] = sorted(set(result.pop("run_segments")) & shm_entries())
    return result


# ---------------------------------------------------------------------------- report
def machine() -> str:
    import torch

    return (
        f"{platform.machine()}, {os.cpu_count()} cores, "
        f"{'CUDA ' + torch.cuda.get_device_name() if torch.cuda.is_available() else 'no GPU'}; "
        f"python {platform.python_version()}, torch {torch.__version__}"
    )


def describe_config(args: argparse.Namespace) -> str:
    return (
        f"{args.game}, env_kwargs image_size {args.image_size} sample_rate {args.sample_rate}; "
        f"extractor grid/bag/conv1d, concat to 32, net_arch [32]; n_envs {args.n_envs}, "
        f"n_steps {args.n_steps}, n_epochs {args.n_epochs}, {args.torch_threads} torch "
        f"thread(s); eval every {args.eval_freq} steps "
        f"({args.eval_episodes} episodes), checkpoint every {args.checkpoint_freq} steps. "
        "A cheap configuration: it measures leaks, not learning."
    )


def print_table(results: list[dict[str, Any]]) -> None:
    header = (
        f"{'vec_env':8s} {'steps':>9s} {'steps/s':>8s} {'wall s':>7s}"
        f" {'RSS MiB start/peak/end':>23s} {'MiB/100k':>9s}"
        f" {'workers MiB':>12s} {'w MiB/100k':>10s} {'fds start/end':>14s}"
        f" {'leaked fds':>10s} {'shm end':>7s} {'workers end':>11s} {'after exit':>10s}"
    )
    print(header)
    for row in results:
        if "error" in row:
            print(f"{row['vec_env']:8s} FAILED: {row['error']}")
            continue
        rss, fds, workers = row["rss_mib"], row["fds"], row["workers_rss_mib"]
        slope = row["rss_slope_mib_per_100k_steps"]
        worker_slope = row["workers_rss_slope_mib_per_100k_steps"]
        after = len(row["processes_alive_after_exit"]) + len(row["shm_segments_after_exit"])
        print(
            f"{row['vec_env']:8s} {row['steps']:9,d} {row['env_steps_per_second']:8,.0f} "
            f"{row['wall_seconds']:7,.0f} "
            f"{rss['start']:7,.0f}/{rss['peak']:7,.0f}/{rss['end']:7,.0f} "
            f"{'-' if slope is None else f'{slope:+.2f}':>9s} "
            f"{workers['start']:5,.0f}/{workers['peak']:5,.0f} "
            f"{'-' if worker_slope is None else f'{worker_slope:+.2f}':>10s} "
            f"{fds['start']:6d}/{fds['end']:<7d} {len(row['leaked_fds']):10d} "
            f"{len(row['shm_segments_at_end']):7d} {row['workers_at_end']:11d} {after:10d}"
        )


def write_report(report: dict[str, Any], path: str | None) -> None:
    """Write ``report`` atomically to ``path`` (when given); a run cut short keeps the rest."""
    from mmagent.checkpoints import write_atomically

    if path is not None:
        encoded = json.dumps(report, indent=2).encode("utf-8")
        write_atomically(path, lambda handle: handle.write(encoded))


def leaks(row: dict[str, Any]) -> list[str]:
    """What ``row`` says was left behind (empty when nothing)."""
    if "error" in row:
        return [f"{row['vec_env']}: failed ({row['error']})"]
    found = []
    for key in ("leaked_fds", "shm_segments_at_end", "stack_files_left"):
        if row[key]:
            found.append(f"{row['vec_env']}: {key} {row[key]}")
    for key in ("processes_alive_after_exit", "shm_segments_after_exit"):
        if row.get(key):
            found.append(f"{row['vec_env']}: {key} {row[key]}")
    if row["workers_at_end"]:
        found.append(f"{row['vec_env']}: {row['workers_at_end']} env workers alive at the end")
    return found


# ---------------------------------------------------------------------------- main
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=1_000_000, help="env steps per vec env")
    parser.add_argument("--vec-envs", nargs="+", choices=VEC_ENV_KINDS, default=list(VEC_ENV_KINDS))
    parser.add_argument("--game", default="mmagent/CueMatch-v0", help="game id")
    parser.add_argument("--n-envs", type=int, default=8, help="parallel envs")
    parser.add_argument("--n-steps", type=int, default=64, help="steps per env per rollout")
    parser.add_argument("--n-epochs", type=int, default=4, help="passes over each rollout")
    parser.add_argument("--image-size", type=int, default=16, help="the game's image_size")
    parser.add_argument("--sample-rate", type=int, default=4000, help="the game's sample_rate")
    parser.add_argument("--eval-freq", type=int, default=100_000, help="0: no periodic eval")
    parser.add_argument("--eval-episodes", type=int, default=10, help="episodes per evaluation")
    parser.add_argument("--checkpoint-freq", type=int, default=100_000, help="0: none")
    parser.add_argument("--sample-seconds", type=float, default=5.0, help="sampling period")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--torch-threads", type=int, default=1, help="torch threads of the training process"
    )
    parser.add_argument("--runs", help="run directories go here (default: a temp dir, removed)")
    parser.add_argument("--json", help="write all figures to this JSON file")
    parser.add_argument("--one-vec-env", choices=VEC_ENV_KINDS, help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    positive = ("steps", "n_envs", "n_steps", "n_epochs", "image_size", "sample_rate")
    for name in (*positive, "torch_threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be positive, got {getattr(args, name)}")
    if args.sample_seconds <= 0:
        parser.error(f"--sample-seconds must be positive, got {args.sample_seconds}")
    if not Path("/proc/self/fd").is_dir():
        parser.error("the soak reads /proc: run it on Linux")
    return args


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.one_vec_env:
        result = soak_one(args, args.one_vec_env)
        Path(args.result).write_text(json.dumps(result), encoding="utf-8")
        return 0
    with tempfile.TemporaryDirectory(prefix="mmagent-soak-") as scratch:
        runs = args.runs or scratch
        passed = [*argv, "--runs", runs] if args.runs is None else argv
        print(f"{machine()}\n{describe_config(args)}", flush=True)
        report: dict[str, Any] = {
            "machine": machine(),
            "configuration": describe_config(args),
            "settings": vars(args),
            "results": [],
        }
        for vec_env in args.vec_envs:
            print(f"soaking {vec_env}: {args.steps:,} env steps", flush=True)
            report["results"].append(run_vec_env_process(vec_env, passed))
            write_report(report, args.json)
    print_table(report["results"])
    found = [item for row in report["results"] for item in leaks(row)]
    for item in found:
        print(f"LEFT BEHIND: {item}")
    if not found:
        print("nothing left behind: no fds, /dev/shm segments, env workers or stack files")
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
