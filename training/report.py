"""The training report, written beside the model: ``training_report.json`` for tools and
``training_report.md`` for people. Both compare WER, CER and command accuracy on the
held-back takes before and after training (and of the stock model, when training started
from another), and say how the run went."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from djtui.core import fileio

if TYPE_CHECKING:  # finetune writes the report at the end of a run
    from djtui.training.finetune import TrainConfig, TrainResult

REPORT_JSON = "training_report.json"
REPORT_MD = "training_report.md"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f} %"


def write_report(result: TrainResult, config: TrainConfig, base_name: str, n_train: int, n_val: int) -> tuple[Path, Path]:
    """``training_report.json`` and ``training_report.md`` in the output folder: WER,
    CER and command accuracy on the held-back takes before and after (and of the stock
    model, when training started from another), and the run."""
    settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(config).items()}
    report = {
        "base": base_name, "device": result.device, "train_takes": n_train, "validation_takes": n_val,
        "before": asdict(result.before), "after": asdict(result.after),
        "stock": asdict(result.stock) if result.stock else None, "best_epoch": result.best_epoch,
        "steps": result.steps, "stopped": result.stopped, "duration_s": round(result.duration_s, 1),
        "history": result.history, "config": settings, "calibration": result.calibration,
    }
    json_path = fileio.write_text_atomic(result.output / REPORT_JSON, json.dumps(report, indent=2) + "\n")
    b, a, s = result.before, result.after, result.stock
    lines = [
        "# Training report", "",
        f"Base: {base_name} · device: {result.device} · {n_train} training / {n_val} held-back takes "
        f"(one of each command, or more for a context of few) · {result.steps} steps in {result.duration_s / 60:.1f} min, "
        f"stopped by {result.stopped} · best epoch {result.best_epoch}", "",
        "| Model | WER | CER | Command accuracy |", "|---|---|---|---|",
        *([f"| Stock (Whisper tiny.en) | {_pct(s.wer)} | {_pct(s.cer)} | {_pct(s.accuracy)} |"] if s else []),
        f"| Before ({base_name}) | {_pct(b.wer)} | {_pct(b.cer)} | {_pct(b.accuracy)} |",
        f"| After (this model) | {_pct(a.wer)} | {_pct(a.cer)} | {_pct(a.accuracy)} |", "",
        *calibration_lines(result.calibration),
        f"Use it: `djtui listen --model {result.output}`", "",
    ]
    md_path = fileio.write_text_atomic(result.output / REPORT_MD, "\n".join(lines))
    return json_path, md_path


def calibration_lines(calibration: dict | None) -> list[str]:
    """The held-back takes judged before and after, per condition (Markdown)."""
    if not calibration:
        return []
    lines = ["## Your held-back takes, clean and in music", "",
             f"Before: {calibration['base']} with its {'own calibration' if calibration['base_calibrated'] else 'conservative default (it has no calibration)'}. "
             f"After: this model, {calibration['summary']} (each take judged by a calibration fitted without it).", "",
             "| condition | accepted before → after | top-1 before → after | misunderstood before → after |",
             "|---|---:|---:|---:|"]
    for condition, after in calibration["after"].items():
        before = calibration["before"].get(condition, {})
        name = condition if condition in ("clean", "music alone") else f"music {condition} dB"
        if after.get("n"):
            lines.append(f"| {name} | {_pct(before.get('accepted'))} → {_pct(after.get('accepted'))} | "
                         f"{_pct(before.get('top1'))} → {_pct(after.get('top1'))} | "
                         f"{before.get('misunderstood', '—')} → {after.get('misunderstood')} |")
        if after.get("negatives"):
            lines.append(f"| {name}: chatter and music, false accepts | {before.get('false_accepts', '—')} → "
                         f"{after.get('false_accepts')} of {after['negatives']} | | |")
    return [*lines, ""]
