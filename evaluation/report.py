"""Scoring a run of ``djtui eval``: accuracy per condition, what went wrong, how well the
confidence is calibrated, how long it took, and the report as JSON and Markdown.

The yardstick is Picovoice's speech-to-intent benchmark's *command acceptance rate*: a
command counts only when its intent and every slot are right and it was accepted. djtui
also reports what a DJ cares about: whether a miss was rejected (say it again) or
misunderstood (the wrong thing happens), false accepts per hour of audio with no command,
and whether a confidence of 0.8 is right 80 % of the time.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from djtui.core.stats import summary as time_summary
from djtui.core.text import normalize_text
from djtui.evaluation.labels import command_label, normalize_slots
from djtui.evaluation.trials import BENCHMARK_SNRS, CLEAN, Negatives, Skipped, Trial

RHINO_BY_SNR = {6: 0.935, 9: 0.965, 12: 0.98, 15: 0.985, 18: 0.985, 21: 0.99, 24: 0.99}
"""Picovoice Rhino's published command acceptance rate per SNR (dB), read off its plot."""
PUBLISHED_NOISY_ACCURACY = {
    "Picovoice Rhino": 0.976,
    "Microsoft LUIS": 0.899,
    "IBM Watson": 0.868,
    "Amazon Lex": 0.845,
    "Google Dialogflow": 0.776,
}
"""Published command acceptance on the full benchmark, averaged over cafe and kitchen
noise at 6-24 dB."""


def error_rates(references: Sequence[str], hypotheses: Sequence[str]) -> tuple[float, float] | None:
    """Corpus WER and CER (jiwer) over the pairs with a non-empty reference."""
    pairs = [(normalize_text(r), normalize_text(h)) for r, h in zip(references, hypotheses) if normalize_text(r)]
    if not pairs:
        return None
    import jiwer

    refs, hyps = [r for r, _ in pairs], [h for _, h in pairs]
    return float(jiwer.wer(refs, hyps)), float(jiwer.cer(refs, hyps))


def confusions(trials: Iterable[Trial], top: int = 10) -> list[dict[str, Any]]:
    """The most frequent mistakes in accepted commands, per field: the intent, or each slot
    that came out wrong (``got`` is '—' for a slot missing, ``expected`` '—' for one added)."""
    counts: Counter[tuple[str, str, str]] = Counter()
    for t in trials:
        if t.outcome == "false accept":
            counts[("intent", "—", t.intent or "—")] += 1
        elif t.outcome == "misunderstood":
            if t.intent != t.expected_intent:
                counts[("intent", t.expected_intent or "—", t.intent or "—")] += 1
                continue
            got = normalize_slots(t.slots)
            for slot in sorted(set(got) | set(t.expected_slots)):
                if got.get(slot) != t.expected_slots.get(slot):
                    counts[(slot, t.expected_slots.get(slot, "—"), got.get(slot, "—"))] += 1
    return [{"field": f, "expected": e, "got": g, "count": n} for (f, e, g), n in counts.most_common(top)]


CALIBRATION_BINS = 10


def calibration(trials: Iterable[Trial], bins: int = CALIBRATION_BINS) -> dict[str, Any]:
    """How well the confidence means "probability this command is right": the top
    reading's confidence against whether it was the labelled command, over every trial
    of a command that something was heard for. ``ece`` is the expected calibration error
    (the gap between confidence and accuracy, averaged over equal-width bins weighted by
    their size); ``table`` has one row per non-empty bin."""
    pairs = [(t.score, t.best_correct) for t in trials if t.expected_intent is not None and t.score is not None]
    if not pairs:
        return {}
    rows, error = [], 0.0
    for b in range(bins):
        low, high = b / bins, (b + 1) / bins
        inside = [(s, ok) for s, ok in pairs if low <= s < high or (b == bins - 1 and s == 1.0)]
        if not inside:
            continue
        confidence = sum(s for s, _ in inside) / len(inside)
        accuracy = sum(ok for _, ok in inside) / len(inside)
        error += len(inside) / len(pairs) * abs(confidence - accuracy)
        rows.append({"bin": f"{low:.1f}-{high:.1f}", "n": len(inside), "confidence": round(confidence, 3),
                     "accuracy": round(accuracy, 3)})
    return {"ece": round(error, 4), "n": len(pairs), "table": rows}


def _summary(trials: Sequence[Trial]) -> dict[str, Any]:
    outcomes = Counter(t.outcome for t in trials)
    n = len(trials)
    summary: dict[str, Any] = {
        "accuracy": round(sum(t.correct for t in trials) / n, 4) if n else None,
        "n": n,
        "rejected": outcomes["rejected"],
        "misunderstood": outcomes["misunderstood"],
    }
    commands = [t for t in trials if t.expected_intent is not None]
    if commands:
        summary["top1_accuracy"] = round(sum(t.best_correct for t in commands) / len(commands), 4)
    if reasons := Counter(t.reason for t in trials if t.outcome == "rejected"):
        summary["rejected_because"] = dict(reasons.most_common())
    if outcomes["false accept"] or outcomes["correct reject"]:
        summary["false_accepts"] = outcomes["false accept"]
    rates = error_rates([t.reference or "" for t in trials], [t.transcript for t in trials])
    if rates:
        summary["wer"], summary["cer"] = round(rates[0], 4), round(rates[1], 4)
    return summary


CLASSES = ("safe", "guarded", "destructive", "control")
"""The safety classes per-class figures are given for (djtui's own commands: control)."""


def safety_classes(context: Any) -> dict[str, str]:
    """Intent → safety class (``control`` for djtui's own commands)."""
    return {name: "control" if intent.control else intent.safety for name, intent in context.intents.items()}


def by_class(trials: Sequence[Trial], classes: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Per safety class of the command said: how many, accepted (understood), top-1 and
    misunderstood; and how many wrong commands *of* the class were accepted (what its
    threshold let through, whatever was said: ``fired_wrong``)."""
    out: dict[str, dict[str, Any]] = {}
    for name in CLASSES:
        said = [t for t in trials if t.expected_intent is not None and classes.get(t.expected_intent) == name]
        fired_wrong = sum(t.outcome in ("misunderstood", "false accept") and classes.get(t.intent or "") == name
                          for t in trials)
        if not said and not fired_wrong:
            continue
        n = len(said)
        out[name] = {"n": n, "accepted": round(sum(t.outcome == "understood" for t in said) / n, 4) if n else None,
                     "top1": round(sum(t.best_correct for t in said) / n, 4) if n else None,
                     "misunderstood": sum(t.outcome == "misunderstood" for t in said), "fired_wrong": fired_wrong}
    return out


@dataclass
class Report:
    """Everything ``djtui eval`` measured; :meth:`to_dict` is the JSON it writes."""

    engine: str
    summary: dict[str, Any]
    by_snr: dict[str, dict[str, Any]]
    confusions: list[dict[str, Any]]
    latency: dict[str, Any]
    negatives: Negatives | None = None
    thresholds: dict[str, float] = field(default_factory=dict)
    trials: list[Trial] = field(default_factory=list)
    calibration: dict[str, Any] = field(default_factory=dict)
    skipped: list[Skipped] = field(default_factory=list)
    """Files that could not be read: in no figure above, each named with why."""
    classes: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per safety class (:func:`by_class`)."""
    confidence_model: dict[str, Any] = field(default_factory=dict)
    """Which calibration the confidences came from: ``summary``, ``path``, ``model``, ``calibrated``."""
    context: str = ""
    """The context file the commands belong to (empty: the bundled DJ context)."""

    @property
    def accuracy(self) -> float | None:
        return self.summary["accuracy"]

    def _noisy_mean(self, key: str) -> float | None:
        values = [v[key] for k, v in self.by_snr.items() if k != CLEAN and v["n"] and v.get(key) is not None]
        return round(sum(values) / len(values), 4) if values else None

    @property
    def noisy_accuracy(self) -> float | None:
        """Mean accuracy over the SNR conditions: the figure the benchmark publishes."""
        return self._noisy_mean("accuracy")

    def rows(self) -> list[dict[str, Any]]:
        """The table as shown: one row per condition, then the mean of the SNR rows.
        ``rhino`` is Picovoice Rhino's published figure where the condition is one of the
        benchmark's SNRs (and, for the mean, only when all of them were run)."""
        rows = []
        for name, row in self.by_snr.items():
            rhino = RHINO_BY_SNR.get(float(name)) if name != CLEAN else None  # type: ignore[call-overload]
            rows.append({"condition": name if name == CLEAN else f"{name} dB", **row, "rhino": rhino})
        snrs = {float(k) for k in self.by_snr if k != CLEAN}
        if snrs:
            rhino = PUBLISHED_NOISY_ACCURACY["Picovoice Rhino"] if snrs == set(map(float, BENCHMARK_SNRS)) else None
            rows.append({"condition": "mean of SNRs", "accuracy": self.noisy_accuracy,
                         "top1_accuracy": self._noisy_mean("top1_accuracy"), "wer": self._noisy_mean("wer"),
                         "rhino": rhino, "mean": True})
        return rows

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "engine": self.engine,
            "accuracy": self.accuracy,
            "n": self.summary["n"],
            "accuracy_noisy": self.noisy_accuracy,
            "rejected": self.summary["rejected"],
            "misunderstood": self.summary["misunderstood"],
            "rejected_because": self.summary.get("rejected_because", {}),
            "top1_accuracy": self.summary.get("top1_accuracy"),
            "wer": self.summary.get("wer"),
            "cer": self.summary.get("cer"),
            "by_snr": self.by_snr,
            "false_accepts_per_hour": round(self.negatives.per_hour, 2) if self.negatives else None,
            "confusions": self.confusions,
            "latency": self.latency,
            "calibration": self.calibration,
            "thresholds": self.thresholds,
            "skipped": [{"file": s.file, "reason": s.reason} for s in self.skipped],
            "confidence_model": self.confidence_model,
            "context": self.context,
            "by_class": self.classes,
        }
        if "false_accepts" in self.summary:
            out["false_accepts"] = self.summary["false_accepts"]
        if self.negatives:
            out["negatives"] = {
                "hours": round(self.negatives.seconds / 3600.0, 4),
                "utterances": self.negatives.utterances,
                "false_accepts": len(self.negatives.false_accepts),
                "segmentation": self.negatives.segmentation,
                "examples": [vars(fa) for fa in self.negatives.false_accepts[:20]],
                "readings": [{"file": f, "start_s": round(at, 2), "readings": _readings(r)}
                             for f, at, r in self.negatives.readings],
            }
        out["trials"] = [
            {"file": t.file, "condition": t.condition, "expected": command_label(t.expected_intent, t.expected_slots),
             "transcript": t.transcript, "got": command_label(t.intent, t.slots),
             "best": command_label(*t.best) if t.best else "—", "outcome": t.outcome,
             "reason": t.reason, "score": None if t.score is None else round(t.score, 4),
             "latency_ms": round(t.latency_ms, 1), "utterances": t.utterances, "early": t.early,
             "readings": [_readings(r) for r in t.readings]}
            for t in self.trials
        ]
        return out

    def to_markdown(self) -> str:
        """The accuracy table, one row per condition, ready for a README."""
        rows = self.rows()
        rhino = any(r["rhino"] is not None for r in rows)
        head = ["condition", "accuracy", "n", "rejected", "misunderstood", "top-1"] + (["Rhino"] if rhino else [])
        lines = ["| " + " | ".join(head) + " |", "|---" + "|---:" * (len(head) - 1) + "|"]
        for r in rows:
            bold = "**" if r.get("mean") else ""
            cells = [f"{bold}{r['condition']}{bold}", f"{bold}{percent(r['accuracy'])}{bold}", str(r.get("n", "")),
                     str(r.get("rejected", "")), str(r.get("misunderstood", "")), percent(r.get("top1_accuracy"))]
            if rhino:
                cells.append(percent(r["rhino"]) if r["rhino"] is not None else "")
            lines.append("| " + " | ".join(cells) + " |")
        if self.classes:
            lines += ["", "| safety class | n | accepted | top-1 | misunderstood | wrong ones it fired |",
                      "|---|---:|---:|---:|---:|---:|"]
            for name, c in self.classes.items():
                lines.append(f"| {name} | {c['n']} | {percent(c['accepted'])} | {percent(c['top1'])} | "
                             f"{c['misunderstood']} | {c['fired_wrong']} |")
        return "\n".join(lines)


def _readings(readings: Sequence[Any]) -> list[list[Any]]:
    """One utterance's readings as JSON: ``[intent, slots, {evidence}]``, best first."""
    return [[intent, slots, evidence] for intent, slots, evidence in readings]


def percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f} %"


def score(trials: Sequence[Trial], negatives: Negatives | None = None, engine: str = "",
          thresholds: dict[str, float] | None = None, classes: dict[str, str] | None = None,
          confidence_model: dict[str, Any] | None = None, skipped: Sequence[Skipped] = ()) -> Report:
    """Score the trials: overall, per condition, per safety class (``classes``: intent →
    class, :func:`safety_classes`), confusions, calibration, latency; the ``skipped``
    files are listed, not scored."""
    by_condition: dict[str, list[Trial]] = {}
    for t in trials:
        by_condition.setdefault(t.condition, []).append(t)
    order = sorted(by_condition, key=lambda c: (c != CLEAN, float(c) if c != CLEAN else 0.0))
    stages: dict[str, list[float]] = {}
    for t in trials:
        for stage, ms in t.timings_ms.items():
            stages.setdefault(stage, []).append(ms)
    latency: dict[str, Any] = time_summary(t.latency_ms for t in trials if t.utterances)
    if stages:
        latency["stages"] = {stage: time_summary(values) for stage, values in stages.items()}
    return Report(engine=engine, summary=_summary(trials), by_snr={c: _summary(by_condition[c]) for c in order},
                  confusions=confusions(trials), latency=latency, negatives=negatives,
                  thresholds=dict(thresholds or {}), trials=list(trials), calibration=calibration(trials),
                  skipped=list(skipped),
                  classes=by_class(trials, classes) if classes else {}, confidence_model=dict(confidence_model or {}))


def write_report(report: Report, path: str | Path) -> Path:
    from djtui.core.fileio import write_text_atomic

    return write_text_atomic(path, json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n")
