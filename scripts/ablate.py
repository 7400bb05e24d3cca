"""Reproduce docs/results.md: the fused agent against agents with one modality masked, and the
five fusions side by side, each evaluated on 100 held-out seeds.

Each variant is a normal ``mmagent train`` run (the game's shipped config plus ``--set``
overrides) in ``runs/ablate/<game>/<variant>/seed<k>``; finished runs are reused and
interrupted ones (Ctrl-C, SIGTERM) resumed, unless ``--force`` starts them afresh. A run dir
trained with another config than the variant's now (say the game's config changed since) is
refused, naming the keys that differ, rather than reused as if it were this one. Results go
to ``docs/results/<game>.json``, a learning-curve PNG per game and the tables of
``docs/results.md`` (rebuilt from every JSON there; a ``docs/results/<game>.notes.md`` written
by hand, such as why a game was changed, is copied under its game's table).

Usage::

    python scripts/ablate.py mmagent/CueMatch-v0                  # fused + 3 masked variants
    python scripts/ablate.py mmagent/Beacon-v0 --fusions          # + the five fusions
    python scripts/ablate.py mmagent/CueMatch-v0 --only fused --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
from datetime import date
from pathlib import Path

import torch

from mmagent.checkpoints import (
    CONFIG_FILE,
    MODEL_FILE,
    latest_checkpoint,
    load_model,
    read_run_config,
)
from mmagent.config import TrainConfig, config_to_dict, resolve_config
from mmagent.evaluation import format_endings
from mmagent.extractors import FUSION_NAMES
from mmagent.recurrent import is_recurrent_config
from mmagent.train import final_evaluation, resume_config, train, with_extractor_sample_rate

MODALITIES = ("image", "text", "audio")
FUSED_TARGET = 0.95
"""The success the fused agent must reach on the held-out seeds."""
MASK_GAP = 0.30
"""How far below the fused agent's mean success each masked agent must fall."""
EXTRACTOR_KWARGS = "policy_kwargs.features_extractor_kwargs"
# Keys that change how a run is watched or evaluated, not what it learns.
NOT_TRAINING_KEYS = frozenset(
    {
        "device",
        "eval_freq",
        "eval_episodes",
        "final_eval_episodes",
        "eval_deterministic",
        "checkpoint_freq",
        "video_freq",
        "progress_bar",
    }
)
RESULTS_DIR = Path("docs/results")
RESULTS_PAGE = Path("docs/results.md")


def variants(
    game_config: TrainConfig, with_masks: bool, with_fusions: bool
) -> dict[str, list[str]]:
    """Variant name → ``--set`` overrides of ``game_config`` (the game's config with the
    command's ``--set``). A recurrent config's masked variants come with ``memoryless``, the
    same settings with ``algo: ppo``.

    The fusion variant of the config's own fusion has no overrides: it is the fused agent, whose
    run it reuses. The other fusions drop the config's ``fusion_kwargs``, options of its fusion.
    """
    chosen: dict[str, list[str]] = {"fused": []}
    if with_masks:
        for modality in MODALITIES:
            chosen[f"no-{modality}"] = [f"{EXTRACTOR_KWARGS}.masked_modalities=[{modality}]"]
        if is_recurrent_config(game_config):
            # the same settings without the LSTM: what memory is worth on this game
            chosen["memoryless"] = ["algo=ppo"]
    if with_fusions:
        extractor_kwargs = game_config.policy_kwargs.get("features_extractor_kwargs") or {}
        own = extractor_kwargs.get("fusion", "concat")
        for fusion in FUSION_NAMES:
            overrides = [] if fusion == own else [f"{EXTRACTOR_KWARGS}.fusion={fusion}"]
            if overrides and extractor_kwargs.get("fusion_kwargs"):
                overrides.append(f"{EXTRACTOR_KWARGS}.fusion_kwargs=null")
            chosen[f"fusion-{fusion}"] = overrides
    return chosen


def run_variant(
    game: str, name: str, overrides: list[str], seed: int, args: argparse.Namespace
) -> dict:
    """Train and evaluate one variant with one seed (or reuse a finished run)."""
    # a variant without overrides is the fused agent: one run for both
    run_name = name if overrides else "fused"
    run_dir = Path(args.runs) / game.rsplit("/", 1)[-1] / run_name / f"seed{seed}"
    flags = {"seed": seed, "n_timesteps": args.timesteps, "progress_bar": False}
    # as train() will record it: with the game's audio rate for the extractor
    config = with_extractor_sample_rate(resolve_config(game, None, [*args.set, *overrides], flags))
    if args.force and run_dir.exists():
        shutil.rmtree(run_dir)
    finished = (run_dir / "eval.json").is_file()
    changes = config_changes(run_dir, config)
    if not finished:
        changes.pop("n_timesteps", None)  # an interrupted run may resume to a larger budget
    if changes:
        raise SystemExit(
            f"{run_dir} was trained with another config than {name} has now ("
            + "; ".join(f"{key}: {old!r} there, {new!r} now" for key, (old, new) in changes.items())
            + "); pass --force to train it again, or --runs DIR to keep both"
        )
    if finished:
        print(f"reusing {run_dir}")
    else:
        # an interrupted run continues from its latest checkpoint, with the config it began with
        resume = latest_checkpoint(run_dir) is not None
        trained_with = resume_config(run_dir, flags) if resume else config
        verb = "resuming" if resume else "training"
        print(f"{verb} {game} {name} seed {seed} to {trained_with.n_timesteps} steps", flush=True)
        result = train(trained_with, run_dir, resume=resume)
        if result.evaluation is None:
            raise SystemExit(
                f"{name} seed {seed} interrupted at {result.timesteps} steps; run the same "
                "command again to resume it"
            )
        print(f"  {result.evaluation.summary()}")
    report = run_evaluation(run_dir, config, deterministic=config.eval_deterministic)
    if not config.eval_deterministic:
        greedy = run_evaluation(run_dir, config, deterministic=True)
        report["greedy_success_rate"] = greedy["success_rate"]
    report["curve"] = _curve(run_dir / "evaluations.csv")
    report["seed"] = seed
    report["trainer"] = read_run_config(run_dir).get("trainer", "sb3")  # sb3: before FastPPO
    return report


def _flatten(config: dict, prefix: str = "") -> dict[str, object]:
    flat: dict[str, object] = {}
    for key, value in config.items():
        if isinstance(value, dict) and value:
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def config_changes(run_dir: Path, config: TrainConfig) -> dict[str, tuple[object, object]]:
    """``{dotted key: (the run's value, the value now)}`` for each key that shapes training
    (not :data:`NOT_TRAINING_KEYS`) where ``run_dir``'s saved config and ``config`` differ;
    empty when the run dir holds no config yet. Keys the run did not record (options added
    since it was trained) are not compared."""
    if not (run_dir / CONFIG_FILE).is_file():
        return {}
    recorded = _flatten(read_run_config(run_dir))
    now = _flatten(config_to_dict(config))
    return {
        key: (old, now.get(key))
        for key, old in recorded.items()
        if key.split(".", 1)[0] not in NOT_TRAINING_KEYS and now.get(key) != old
    }


def run_evaluation(run_dir: Path, config: TrainConfig, *, deterministic: bool) -> dict:
    """The final model of ``run_dir`` evaluated with greedy or sampled actions.

    The run's ``eval.json`` when it was evaluated that way, else ``eval-greedy.json`` or
    ``eval-sampled.json``, evaluated now when missing (a run evaluated before its game's config
    changed protocol, or the greedy figure beside a sampled one), older than the model, or
    written before reports counted the episodes' endings; it keeps the run's ``timesteps`` and
    ``wall_seconds``.
    """
    trained = json.loads((run_dir / "eval.json").read_text(encoding="utf-8"))
    if trained["deterministic"] == deterministic and "endings" in trained:
        return trained
    path = run_dir / f"eval-{'greedy' if deterministic else 'sampled'}.json"
    model_path = run_dir / MODEL_FILE
    if path.is_file() and path.stat().st_mtime >= model_path.stat().st_mtime:
        cached = json.loads(path.read_text(encoding="utf-8"))
        if "endings" in cached:
            return cached
    report = final_evaluation(
        load_model(model_path, device="cpu"), config, deterministic=deterministic
    )
    print(f"  {report.summary()}", flush=True)
    data = report.to_dict() | {key: trained[key] for key in ("timesteps", "wall_seconds")}
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return data


def _curve(path: Path) -> list[tuple[int, float]]:
    if not path.is_file():
        return []
    with path.open(encoding="utf-8") as handle:
        return [
            (int(row["timesteps"]), float(row["success_rate"])) for row in csv.DictReader(handle)
        ]


def machine() -> str:
    """A one-line description of where the results were measured."""
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (
        f"{platform.machine()}, {os.cpu_count()} cores, {device}; python "
        f"{platform.python_version()}, torch {torch.__version__}"
    )


def plot_curves(game: str, results: dict[str, list[dict]], path: Path) -> None:
    """Periodic-evaluation success rate against env steps, one line per run and seed.

    Variants that are one run (the fused agent and the fusion it uses) share one line, labelled
    with both names.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print('matplotlib is missing, no plot: pip install "mmagent[plots]"')
        return
    names_of_run: dict[str, list[str]] = {}
    for name, reports in sorted(results.items()):
        run = json.dumps([(report["seed"], report["curve"]) for report in reports])
        names_of_run.setdefault(run, []).append(name)
    figure, axes = plt.subplots(figsize=(8.5, 4))
    for index, names in enumerate(names_of_run.values()):
        for number, report in enumerate(results[names[0]]):
            if report["curve"]:
                steps, rates = zip(*report["curve"], strict=True)
                axes.plot(
                    steps,
                    rates,
                    color=f"C{index}",
                    alpha=0.8,
                    label=" = ".join(names) if number == 0 else None,
                )
    axes.set_xlabel("env steps")
    axes.set_ylabel("success rate (periodic evaluation)")
    axes.set_ylim(0, 1.02)
    axes.set_title(game)
    axes.grid(alpha=0.3)
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _mean_success(reports: list[dict]) -> float:
    return sum(report["success_rate"] for report in reports) / len(reports)


def summary_row(data: dict) -> str:
    """One game's line of the summary table: the fused agent's success per seed, each masked
    agent's distance below it, the fusions measured, and whether the targets are met."""
    variants = data["variants"]
    fused = variants.get("fused", [])
    rates = ", ".join(f"{report['success_rate']:.0%}" for report in fused) or "—"
    reached = sum(report["success_rate"] >= FUSED_TARGET for report in fused)
    if not fused:
        meets_target = "not measured"
    elif reached == len(fused):
        meets_target = "yes"
    else:
        meets_target = f"{reached} of {len(fused)} seeds" if reached else "no"
    masked = [f"no-{modality}" for modality in MODALITIES if f"no-{modality}" in variants]
    means = {name: _mean_success(variants[name]) for name in masked}
    gaps = {name: _mean_success(fused) - means[name] for name in masked} if fused else {}
    masks = (
        ", ".join(
            f"{name} {means[name]:.0%}" + (f" ({-gaps[name] * 100:+.0f})" if name in gaps else "")
            for name in masked
        )
        or "—"
    )
    if len(gaps) < len(MODALITIES):
        meets_gap = f"{len(gaps)} of {len(MODALITIES)} measured"
    else:
        # rounded as the table shows them, so that "-30 points" counts as 30 below
        meets_gap = "yes" if all(round(gap, 2) >= MASK_GAP for gap in gaps.values()) else "no"
    fusions = (
        ", ".join(
            f"{name.removeprefix('fusion-')} {_mean_success(reports):.0%}"
            for name, reports in variants.items()
            if name.startswith("fusion-")
        )
        or "—"
    )
    return f"| {data['game']} | {rates} | {meets_target} | {masks} | {meets_gap} | {fusions} |"


def write_results_page(results_dir: Path, page: Path) -> None:
    """Rebuild the results page from every ``<results_dir>/*.json`` this script wrote (those
    with ``variants``; other scripts keep their figures there too), then list the games that
    have only a ``*.notes.md`` as not measured yet."""
    lines = [
        "# Results",
        "",
        "Reproduce with `python scripts/ablate.py <GAME> [--fusions]`. Every agent is evaluated",
        "on 100 held-out seeds (1,000,000–1,000,099; training envs use seeds from 0, periodic",
        "evaluations from 2,000,000), with the actions its game's config evaluates with",
        "(`eval_deterministic`): greedy, or sampled with the greedy figure beside it. A masked",
        'modality is hidden from the extractor during training and evaluation; "vs fused" is',
        'the difference to the mean success of the fused agent; "endings" counts how the',
        '100 episodes ended (the game\'s `info["ending"]`).',
        "",
    ]
    loaded = [
        (path, json.loads(path.read_text(encoding="utf-8")))
        for path in sorted(results_dir.glob("*.json"))
    ]
    datasets = [(path, data) for path, data in loaded if "variants" in data]
    lines += [
        "## Summary",
        "",
        f"The targets: the fused agent reaches {FUSED_TARGET:.0%} with every seed; each agent",
        f"with one modality masked falls {MASK_GAP * 100:.0f} or more points below its mean (in",
        "brackets).",
        "",
        f"| game | fused, per seed | fused ≥ {FUSED_TARGET:.0%} | masked (points vs fused) "
        f"| masks ≥ {MASK_GAP * 100:.0f} below | fusions |",
        "|---|---|---|---|---|---|",
        *(summary_row(data) for _, data in datasets),
        "",
    ]
    for path, data in datasets:
        lines += [
            f"## {data['game']}",
            "",
            f"Measured {data['date']} on {data['machine']}.",
            "",
            "| variant | seed | trainer | env steps | actions | success | 95% CI | vs fused "
            "| by instruction | endings | wall time |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        fused = data["variants"].get("fused", [])
        fused_mean = _mean_success(fused) if fused else None
        for name, reports in data["variants"].items():
            for report in reports:
                low, high = report["success_ci95"]
                gap = (
                    f"{(report['success_rate'] - fused_mean) * 100:+.0f} points"
                    if fused_mean is not None and name != "fused"
                    else ""
                )
                kinds = ", ".join(
                    f"{kind} {figures['success_rate']:.0%}"
                    for kind, figures in sorted(report.get("by_instruction_kind", {}).items())
                )
                endings = (
                    format_endings(report["endings"])
                    if "endings" in report
                    else "—"  # evaluated before reports counted them
                )
                actions = (
                    "greedy"
                    if report["deterministic"]
                    else f"sampled (greedy {report['greedy_success_rate']:.0%})"
                )
                lines.append(
                    f"| {name} | {report['seed']} | {report['trainer']} | "
                    f"{report['timesteps']:,} | {actions} | "
                    f"{report['success_rate']:.0%} | {low:.0%}–{high:.0%} | {gap} | {kinds} | "
                    f"{endings} | "
                    f"{report['wall_seconds'] / 60:.0f} min |"
                )
        notes = path.with_suffix(".notes.md")
        if notes.is_file():
            lines += ["", notes.read_text(encoding="utf-8").strip()]
        plot = path.with_suffix(".png")
        if plot.is_file():
            relative = plot.relative_to(page.parent) if plot.is_relative_to(page.parent) else plot
            lines += ["", f"![learning curves of {data['game']}]({relative.as_posix()})"]
        lines.append("")
    for notes in sorted(results_dir.glob("*.notes.md")):
        game = notes.name.removesuffix(".notes.md")
        if not (results_dir / f"{game}.json").is_file():
            text = notes.read_text(encoding="utf-8").strip()
            lines += [f"## mmagent/{game}", "", "Not measured yet.", "", text, ""]
    page.write_text("\n".join(lines), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("game", help="game id, e.g. mmagent/CueMatch-v0")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="training seeds")
    parser.add_argument("--timesteps", type=int, help="env steps per run (default: the config)")
    parser.add_argument("--fusions", action="store_true", help="also the five fusions")
    parser.add_argument("--no-masks", action="store_true", help="skip the masked variants")
    parser.add_argument("--only", nargs="+", help="run only these variant names")
    parser.add_argument("--runs", default="runs/ablate", help="where the runs go")
    parser.add_argument("--force", action="store_true", help="retrain finished runs")
    parser.add_argument(
        "--set", nargs="+", default=[], metavar="KEY=VALUE", help="config overrides for every run"
    )
    parser.add_argument("--results", default=str(RESULTS_DIR), help="where the JSON and PNG go")
    parser.add_argument("--page", default=str(RESULTS_PAGE), help="the Markdown page to rebuild")
    args = parser.parse_args()
    results_dir, page = Path(args.results), Path(args.page)

    chosen = variants(resolve_config(args.game, None, args.set), not args.no_masks, args.fusions)
    if args.only:
        chosen = {name: chosen[name] for name in args.only}
    results_dir.mkdir(parents=True, exist_ok=True)
    json_path = results_dir / f"{args.game.rsplit('/', 1)[-1]}.json"
    stored = json.loads(json_path.read_text(encoding="utf-8")) if json_path.is_file() else {}
    results: dict[str, list[dict]] = stored.get("variants", {})
    for name, overrides in chosen.items():
        reports = [run_variant(args.game, name, overrides, seed, args) for seed in args.seeds]
        kept = [report for report in results.get(name, []) if report["seed"] not in args.seeds]
        results[name] = sorted(kept + reports, key=lambda report: report["seed"])
        data = {
            "game": args.game,
            "date": date.today().isoformat(),
            "machine": machine(),
            "variants": results,
        }
        json_path.write_text(json.dumps(data, indent=1), encoding="utf-8")
    plot_curves(args.game, results, json_path.with_suffix(".png"))
    write_results_page(results_dir, page)
    for name, reports in results.items():
        rates = ", ".join(f"{report['success_rate']:.0%}" for report in reports)
        print(f"{name:18s} {rates}")


if __name__ == "__main__":
    main()
