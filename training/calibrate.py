"""Fitting a model's confidence to that model: the calibration beside its weights.

The confidence (:mod:`djtui.core.confidence`) is a logistic model of the evidence. Its
weights are fitted here, for one model, on audio that model did not train on:

1. :func:`collect` hears labelled takes (clean and mixed with music at several SNRs) and
   audio with no command (music alone, in 2 s windows; booth chatter) through the live
   listener built on that model, and keeps every utterance's readings with their
   evidence (:func:`djtui.evaluation.trials.readings_of`).
2. :func:`fit` fits the weights by logistic regression on the best reading of each
   utterance (right or not: what the gate judges), ranking them again with each new fit,
   since the ranking is by confidence. Each weight keeps the sign its feature's reason
   gives it (:data:`~djtui.core.confidence.DIRECTIONS`) or is 0: features overlap (the
   mass and the slot certainty, the gap and the mass), and a fit that weighs one against
   its reason is trading it off against another on this data, which does not carry over. (Not the runner-up too: it is wrong whenever the
   best is right, on the other side of a gap of 0, and fitting both teaches the gap a
   cliff there that drags down every close call the best reading wins.) With few utterances — a DJ's 41 held-back takes — it is a MAP fit:
   a Gaussian prior centred on a calibration known to work (the stock model's, fitted on
   thousands of utterances). A maximum-likelihood fit on a few hundred readings with a
   handful of mistakes separates them perfectly and sends the weights to infinity (every
   confidence 0 or 1); the prior keeps what the data does not contradict, and moves only
   as far as the data can show.
3. :func:`thresholds` finds, per safety class, the lowest ``min_confidence`` that keeps
   misunderstood commands within a budget, on confidences fitted without the utterance
   they judge (k-fold), so the threshold is not chosen on a fit that has seen the answer.

numpy only: the fit is Newton's method on at most ten parameters.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from djtui.core.confidence import DIRECTIONS, FEATURES, Calibration, Evidence, Reference
from djtui.core.records import Candidate, CommandKey

FIT_CHATTER = (
    "play it again later", "can you cue the lights", "loop me in on the plan", "sync up with me after the set",
    "turn the music up a little", "drop it like it's hot", "cut it out guys", "back to back all night",
    "the next round is on me", "go left at the bar", "pause for a second and listen", "one two three four",
    "the effects on the screen look great", "who has the key to the booth", "that reverb on the mic sounds weird",
    "put your hands together", "load the van after the show", "is that track on vinyl", "where did you get that hat",
    "we start at ten tomorrow", "grab me a coffee please", "this bass is massive", "my phone is dying",
    "the fog machine is on again", "crank it louder", "they want a slower one", "left side is dancing",
    "let's take a photo", "the right speaker keeps popping", "nobody is at the bar", "high five",
    "see you on the other side", "what key is this in", "browse the crowd for a second", "cancel my taxi",
    "can I go ahead and leave", "master of ceremonies is here", "the master tape is lost", "stop listening to him",
    "echo echo echo",
)
"""Booth talk to fit on, spoken by the training voices: none of it is in the DJ test set's
chatter (:data:`djtui.evaluation.dj_set.CHATTER`), so a fit never sees the sentences it
is reported on. Some is near the DJ context on purpose ("play it again later", "cancel my
taxi")."""

SNRS = (20, 10, 0)
"""Music mixed into the takes, in dB (the benchmark's peak-frame SNR), besides clean."""
PRIOR_SD = 0.5
"""The prior's standard deviation per weight (and the bias), in log-odds per unit of
feature: wide enough for a model's own evidence to move a weight by its size, narrow
enough that 40 takes cannot drive one to infinity."""
BUDGET = 0.01
"""Misunderstood commands allowed per safety class: 1 % of the commands of that class."""
MUSIC_SHARE = 0.2
"""Music alone counts, in a fit, at most this share of the utterances of speech (:func:`weights`)."""


@dataclass(frozen=True)
class Heard:
    """One utterance as a fit sees it: its readings (``(key, evidence)``, best first), the
    command it should have been (``None``: audio with no command in it), the ``condition``
    it was heard in ('clean', an SNR, 'music alone'), its ``source`` file and ``trial``
    (the utterances of one file in one condition share it)."""

    readings: tuple[tuple[CommandKey, dict[str, float]], ...]
    expected: CommandKey | None
    condition: str = ""
    source: str = ""
    trial: int = 0


def key_of(intent: str | None, slots: dict[str, str]) -> CommandKey | None:
    """A command's identity as labels and readings are compared (slots trimmed)."""
    from djtui.evaluation.labels import normalize_slots

    return None if intent is None else (intent, tuple(sorted(normalize_slots(slots).items())))


def heard_in_trials(trials: Iterable[Any], first: int = 0) -> list[Heard]:
    """The utterances of ``djtui eval``'s trials (:class:`djtui.evaluation.trials.Trial`),
    numbered from ``first``."""
    out = []
    for number, trial in enumerate(trials, first):
        expected = key_of(trial.expected_intent, trial.expected_slots)
        for readings in trial.readings:
            out.append(Heard(tuple((key_of(i, s), e) for i, s, e in readings), expected, trial.condition,
                             trial.file, number))
    return out


def heard_in_negatives(negatives: Any, first: int = 0, condition: str = "music alone") -> list[Heard]:
    """The utterances of ``djtui eval``'s negatives (:class:`djtui.evaluation.trials.Negatives`):
    each one a trial of its own, with no command expected."""
    return [Heard(tuple((key_of(i, s), e) for i, s, e in readings), None, condition, where, number)
            for number, (where, _, readings) in enumerate(negatives.readings, first) if readings]


def heard_in_report(data: dict[str, Any], first: int = 0) -> list[Heard]:
    """The utterances of a ``djtui eval --json`` report, trials and negatives."""
    from djtui.evaluation.labels import command_label

    out, number = [], first
    for trial in data.get("trials", []):
        # The command said is the trial's, whichever of its utterances (an order cut in two
        # by a pause) read it: each utterance is judged against that one command.
        expected = next((key_of(i, s) for utterance in trial.get("readings", []) for i, s, _ in utterance
                         if command_label(i, s) == trial["expected"]), None)
        if expected is None and trial["expected"] != "—":
            expected = ("#never read", ((trial["expected"], ""),))  # said, but no reading found it
        for utterance in trial.get("readings", []):
            readings = tuple((key_of(i, s), e) for i, s, e in utterance)
            out.append(Heard(readings, expected, trial["condition"], trial["file"], number))
        number += 1
    for utterance in (data.get("negatives") or {}).get("readings", []):
        readings = tuple((key_of(i, s), e) for i, s, e in utterance["readings"])
        if readings:
            out.append(Heard(readings, None, "music alone", utterance["file"], number))
            number += 1
    return out


# --- features, again -----------------------------------------------------------------


def features(heard: Heard, calibration: Calibration = Calibration()) -> np.ndarray:
    """The rows of :data:`FEATURES` of one utterance's readings, computed again from
    their evidence (all but ``agree``, which needs the glimpses and is kept as heard)."""
    evidence, reference = _evidence(heard)
    rows = calibration.features(evidence, reference)
    rows[:, FEATURES.index("agree")] = [e.get("agree", 0.0) for _, e in heard.readings]
    return rows


def _evidence(heard: Heard) -> tuple[list[Evidence], Reference]:
    first = heard.readings[0][1]
    evidence = [Evidence(e["audio"], int(e["tokens"]), e["text"], int(e.get("phonemes", 1)), key)
                for key, e in heard.readings]
    return evidence, Reference(first.get("free", 0.0), int(first.get("free_tokens", 1)), first.get("speech_s", 1.0))


# --- the fit ---------------------------------------------------------------------------


def logistic(x: np.ndarray, y: np.ndarray, prior_mean: np.ndarray | None = None, prior_sd: float = PRIOR_SD,
             weight: np.ndarray | None = None, signs: Sequence[int] | None = None, iterations: int = 50) -> np.ndarray:
    """``[w…, b]`` maximising the log-likelihood of ``y`` (0/1) under ``sigmoid(x·w + b)``
    plus a Gaussian log-prior centred on ``prior_mean`` (default 0) with ``prior_sd``:
    Newton's method, from the prior's centre. ``signs`` (+1, −1 or 0 per column): a
    weight that comes out against its sign is fixed at 0 and the rest fitted again, until
    none does."""
    columns = np.asarray(x, dtype=float).shape[1] if len(x) else len(signs or ())
    mean = np.zeros(columns + 1) if prior_mean is None else np.asarray(prior_mean, dtype=float)
    free = list(range(columns))
    while True:
        theta = np.zeros(columns + 1)
        theta[[*free, columns]] = _newton(np.asarray(x, dtype=float)[:, free], y, mean[[*free, columns]], prior_sd,
                                          weight, iterations)
        wrong = [n for n in free if signs is not None and signs[n] * theta[n] < 0]
        if not wrong:
            return theta
        free = [n for n in free if n not in wrong]


def _newton(x: np.ndarray, y: np.ndarray, mean: np.ndarray, prior_sd: float, weight: np.ndarray | None,
            iterations: int) -> np.ndarray:
    """Newton's method on the penalised negative log-likelihood, each step halved until
    it goes downhill (Armijo). A full step can overshoot where the evidence of wrong and
    right readings looks alike (a model that hears an order in every bar of music): the
    fit then ran away to weights in the hundreds, and accepted nearly all the music."""
    x = np.column_stack([x, np.ones(len(x))])
    y = np.asarray(y, dtype=float)
    weight = np.ones(len(y)) if weight is None else np.asarray(weight, dtype=float)
    precision = np.full(x.shape[1], 1.0 / prior_sd ** 2)

    def objective(t: np.ndarray) -> float:
        z = x @ t
        return float(weight @ (np.logaddexp(0.0, z) - y * z) + 0.5 * precision @ (t - mean) ** 2)

    theta = mean.copy()
    value = objective(theta)
    for _ in range(iterations):
        z = x @ theta
        p = 0.5 * (1.0 + np.tanh(0.5 * z))  # the logistic, without overflow
        gradient = x.T @ (weight * (p - y)) + precision * (theta - mean)
        hessian = (x * (weight * p * (1 - p))[:, None]).T @ x + np.diag(precision)
        step = np.linalg.solve(hessian, gradient)
        size = 1.0
        while (new := objective(theta - size * step)) > value - 1e-4 * size * float(gradient @ step) and size > 1e-10:
            size /= 2
        theta, value = theta - size * step, new
        if np.max(np.abs(size * step)) < 1e-8:
            break
    return theta


def rows(heard: Sequence[Heard], calibration: Calibration) -> tuple[np.ndarray, np.ndarray]:
    """The best reading of every utterance, as ``calibration`` ranks them: its features and
    whether it is the command that was said."""
    x, y = [], []
    for h in heard:
        if not h.readings:
            continue
        f = features(h, calibration)
        best = int(np.argmax(calibration.confidences_of(f)))
        x.append(f[best])
        y.append(float(h.readings[best][0] == h.expected))
    return np.array(x).reshape(-1, len(FEATURES)), np.array(y)


def weights(heard: Sequence[Heard]) -> np.ndarray:
    """How much each utterance counts: 1, but music alone (2 s windows, as if the VAD let
    everything through) together no more than :data:`MUSIC_SHARE` of the utterances of
    speech — on stage the VAD keeps nearly all of it out, and a fit swamped by it would
    learn that almost nothing is ever right."""
    music = [h.condition == "music alone" for h in heard if h.readings]
    n_music = sum(music)
    share = min(1.0, MUSIC_SHARE * (len(music) - n_music) / n_music) if n_music else 1.0
    return np.array([share if m else 1.0 for m in music])


def fit(heard: Sequence[Heard], prior: Calibration | None = None, prior_sd: float = PRIOR_SD,
        rounds: int = 3) -> Calibration:
    """The calibration fitted on ``heard`` (see the module): MAP around ``prior`` when one
    is given, else a weak prior around 0. The best readings are ranked again by each fit."""
    start = prior or Calibration(weights=(0.0,) * len(FEATURES), bias=0.0)
    mean = np.array([*start.weights, start.bias]) if prior is not None else None
    sd = prior_sd if prior is not None else 10.0
    current = prior or Calibration()
    for _ in range(rounds):
        x, y = rows(heard, current)
        theta = logistic(x, y, mean, sd, weights(heard), DIRECTIONS)
        current = Calibration(start.token_bonus, start.pace, tuple(float(v) for v in theta[:-1]), float(theta[-1]))
    return current


# --- judging with a calibration ----------------------------------------------------------------


def rescored(heard: Heard, calibration: Calibration) -> list[tuple[tuple, float]]:
    """``(key, confidence)`` of every reading under ``calibration``, best first."""
    if not heard.readings:
        return []
    confidence = calibration.confidences_of(features(heard, calibration))
    order = np.argsort(-confidence, kind="stable")
    return [(heard.readings[n][0], float(confidence[n])) for n in order]


def folds(heard: Sequence[Heard], prior: Calibration | None, k: int = 5, seed: int = 0,
          prior_sd: float = PRIOR_SD) -> list[list[tuple[tuple, float]]]:
    """Every utterance's readings rescored by a calibration fitted on the other folds
    (utterances of one source file stay in one fold: its conditions are not independent)."""
    sources = sorted({h.source for h in heard})
    random.Random(seed).shuffle(sources)
    fold_of = {s: n % k for n, s in enumerate(sources)}
    out: list[list[tuple[tuple, float]]] = [[] for _ in heard]
    for fold in range(k):
        train = [h for h in heard if fold_of[h.source] != fold]
        calibration = fit(train, prior, prior_sd)
        for n, h in enumerate(heard):
            if fold_of[h.source] == fold:
                out[n] = rescored(h, calibration)
    return out


# --- the data ----------------------------------------------------------------------------


def speak_chatter(out_dir: str | Path, voices: Sequence[Any] | None = None, seed: int = 0) -> Path:
    """:data:`FIT_CHATTER` spoken by ``voices`` (default: the training split of the TTS
    voices) into ``out_dir``; its labels file (``intent: null``). Resumes: clips already
    there are kept."""
    from djtui.core.audio import SAMPLE_RATE
    from djtui.core.fileio import write_atomic, write_text_atomic
    from djtui.evaluation.dj_set import _write_wav
    from djtui.training.synth import default_voices, split_voices

    out = Path(out_dir)
    voices = list(voices) if voices is not None else split_voices(default_voices(), seed=0)[0]
    rng = random.Random(seed)
    lines = []
    for n, text in enumerate(FIT_CHATTER):
        voice = voices[rng.randrange(len(voices))]
        path = out / f"chatter-{n:03d}.wav"
        speaking = random.Random(rng.random())
        if not path.exists():
            audio = voice.speak(text, speaking)
            pad = np.zeros(int(0.2 * SAMPLE_RATE), dtype=np.float32)
            write_atomic(path, lambda f, a=np.concatenate([pad, audio, pad]): _write_wav(f, a, SAMPLE_RATE))
        lines.append({"path": path.name, "text": text, "intent": None, "slots": {}, "speaker": voice.id})
    return write_text_atomic(out / "chatter.jsonl", "".join(json.dumps(line) + "\n" for line in lines))


# --- what a calibration lets through ---------------------------------------------------------


@dataclass(frozen=True)
class Judged:
    """One trial judged by the gate's rules about what was said: ``outcome`` is
    'understood', 'rejected', 'misunderstood' (a command) or 'correct reject', 'false
    accept' (no command); ``top1``: the best reading was right; ``fired``: the intent
    accepted, if any; ``confidence``: the best reading's."""

    condition: str
    expected: CommandKey | None
    outcome: str
    top1: bool
    fired: str | None
    confidence: float


def judge(heard: Sequence[Heard], rescored_readings: Sequence[Sequence[tuple[CommandKey, float]]],
          gate: Any) -> list[Judged]:
    """Each trial of ``heard`` judged by ``gate.accept`` on its readings as rescored (one
    list per utterance, :func:`rescored`), the way ``djtui eval`` judges a trial: a wrong
    command accepted makes it misunderstood whatever else was heard, else a right one
    understood, else it was rejected."""
    trials: dict[int, list[tuple[Heard, Any, list[tuple[CommandKey, float]]]]] = {}
    for h, ranked in zip(heard, rescored_readings):
        candidates = [Candidate(key[0], dict(key[1]), score, "") for key, score in ranked[:5] if key is not None]
        trials.setdefault(h.trial, []).append((h, gate.accept(candidates), list(ranked)))
    out = []
    for utterances in trials.values():
        h0 = utterances[0][0]
        accepted = [(h, v, r) for h, v, r in utterances if v.approved and v.candidate is not None]
        wrong = [u for u in accepted if u[1].candidate.key() != h0.expected]
        by_confidence = sorted(utterances, key=lambda u: -(u[2][0][1] if u[2] else -1.0))
        _, verdict, ranked = (wrong or accepted or by_confidence)[0]
        top = ranked[0] if ranked else (None, 0.0)
        if h0.expected is None:
            outcome = "false accept" if accepted else "correct reject"
        else:
            outcome = "misunderstood" if wrong else "understood" if accepted else "rejected"
        fired = verdict.candidate.intent if verdict.approved and verdict.candidate is not None else None
        out.append(Judged(h0.condition, h0.expected, outcome, top[0] == h0.expected, fired, top[1]))
    return out


def table(judged: Sequence[Judged]) -> dict[str, dict[str, Any]]:
    """Per condition: commands, accepted and top-1 (shares), misunderstood (a count);
    chatter and music: utterances and false accepts."""
    out: dict[str, dict[str, Any]] = {}
    for condition in dict.fromkeys(j.condition for j in judged):
        here = [j for j in judged if j.condition == condition]
        commands = [j for j in here if j.expected is not None]
        n = len(commands)
        row: dict[str, Any] = {"n": n}
        if n:
            row |= {"accepted": round(sum(j.outcome == "understood" for j in commands) / n, 4),
                    "top1": round(sum(j.top1 for j in commands) / n, 4),
                    "misunderstood": sum(j.outcome == "misunderstood" for j in commands)}
        if negatives := [j for j in here if j.expected is None]:
            row |= {"negatives": len(negatives), "false_accepts": sum(j.outcome == "false accept" for j in negatives)}
        out[condition] = row
    return out


def ece(judged: Sequence[Judged], bins: int = 10) -> float | None:
    """Expected calibration error of the best readings of the commands (as ``djtui eval``)."""
    pairs = [(j.confidence, j.top1) for j in judged if j.expected is not None]
    if not pairs:
        return None
    error = 0.0
    for b in range(bins):
        inside = [(c, ok) for c, ok in pairs if b / bins <= c < (b + 1) / bins or (b == bins - 1 and c >= 1.0)]
        if inside:
            error += len(inside) / len(pairs) * abs(sum(c for c, _ in inside) / len(inside)
                                                     - sum(ok for _, ok in inside) / len(inside))
    return round(error, 4)


# --- thresholds per safety class ----------------------------------------------------------------


def thresholds(groups: Sequence[tuple[Sequence[Heard], Sequence[Sequence[tuple[CommandKey, float]]], Any]],
               base: Any, budget: float = BUDGET, floor: float = 0.5,
               grid: Sequence[float] = tuple(round(0.5 + 0.01 * n, 2) for n in range(50))) -> dict[str, float]:
    """Per safety class, the lowest threshold on ``grid`` (not below ``floor``: under 0.5
    a reading is more likely wrong than right) at which the wrong commands of that class
    the gate would accept — misunderstood commands and false accepts alike — stay within
    ``budget`` of the commands of that class said. ``groups``: ``(heard, rescored
    readings, context)`` per context; ``base``: the other safety settings
    (:class:`~djtui.core.config.SafetyConfig`). Classes are fitted apart (a reading is
    judged by its own class's threshold), then ordered: a guarded command never goes
    through at a lower confidence than a safe one, nor a destructive one than either
    (a class with fewer commands has a smaller budget, and its own fit can come out
    below a safer class's). A class with no command said gets the top of ``grid``."""
    from djtui.core.safety import SafetyGate
    from djtui.evaluation.report import safety_classes

    out, said, stricter = {}, {}, 0.0
    for name in ("safe", "guarded", "destructive", "control"):
        key = "min_confidence" if name == "control" else f"min_confidence_{name}"
        n = sum(len({h.trial for h in heard if h.expected is not None and safety_classes(context).get(h.expected[0]) == name})
                for heard, _, context in groups)
        chosen = grid[-1]
        for t in grid:
            wrong = 0
            for heard, ranked, context in groups:
                classes = safety_classes(context)
                judged = judge(heard, ranked, SafetyGate(context, base.model_copy(update={key: t})))
                wrong += sum(j.outcome in ("misunderstood", "false accept") and classes.get(j.fired or "") == name
                             for j in judged)
            if n and wrong <= budget * n:
                chosen = max(t, floor)
                break
        out[key], said[name] = chosen, n
    for name in ("safe", "guarded", "destructive"):  # the order of what is at stake
        if said[name]:
            key = f"min_confidence_{name}"
            out[key] = stricter = max(out[key], stricter)
    return out


# --- calibrating one model ----------------------------------------------------------------------

MUSIC_WINDOWS = 90
"""2 s excerpts of music alone heard as utterances (3 minutes): what music without a
command reads as, to this model."""


def music_alone(stages: Any, music: Any, windows: int = MUSIC_WINDOWS, seed: int = 0, first: int = 0) -> list[Heard]:
    """``windows`` random 2 s excerpts of ``music`` (a :class:`~djtui.core.noise.NoiseBank`)
    understood as utterances (the worst case: as if the VAD let all of it through)."""
    from djtui.core.audio import SAMPLE_RATE
    from djtui.evaluation.trials import readings_of

    rng = np.random.default_rng(seed)
    out = []
    for number in range(windows):
        understanding = stages.recognizer.understand(music.excerpt(2 * SAMPLE_RATE, rng))
        readings = readings_of(understanding.readings)
        if readings:
            out.append(Heard(tuple((key_of(i, s), e) for i, s, e in readings), None, "music alone",
                             f"music-{number}", first + number))
    return out


@dataclass
class Calibrated:
    """What :func:`calibrate_model` found: the ``calibration`` written (or to write), the
    trials as judged ``before`` (the prior's calibration) and ``after`` (the new one, each
    trial judged by a fit that did not see its take: k-fold), per condition."""

    calibration: Any
    before: dict[str, dict[str, Any]]
    after: dict[str, dict[str, Any]]
    heard: list[Heard] = field(default_factory=list)


def model_listener(model: str | Path, context: Any, config: Any) -> Any:
    """The live listener on ``model``, judging by what was said alone (as ``djtui eval``)."""
    from djtui.core.listener import Listener

    chosen = config.updated({"asr": {"engine": "whisper", "model": str(model)}})
    return Listener(chosen, context=context, dry_run=True, session_log=False, act=False)


def hear_takes(listener: Any, labels: Sequence[Any], music: Any | None, snrs: Sequence[float] = SNRS,
               seed: int = 0, on_trial: Callable[[Any], None] | None = None) -> list[Heard]:
    """``labels`` heard clean and mixed with ``music`` at ``snrs``, and music alone."""
    from djtui.evaluation.trials import conditions_for, run_trials

    conditions = conditions_for(snrs if music is not None else ())
    trials = run_trials(listener, labels, conditions, music, seed=seed, on_trial=on_trial)
    heard = heard_in_trials(trials)
    if music is not None:
        heard += music_alone(listener.stages, music, seed=seed, first=len(trials))
    return heard


def summary_of(heard: Sequence[Heard], before: Calibration, after: Sequence[Sequence[tuple[CommandKey, float]]],
               context: Any, safety: Any) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]], dict[str, Any]]:
    """``(before, after, numbers)``: the trials judged under the ``before`` calibration
    and with the ``after`` readings (rescored by fits that did not see them: :func:`folds`),
    per condition, and the figures of the fit."""
    from djtui.core.safety import SafetyGate

    gate = SafetyGate(context, safety)
    judged_before = judge(heard, [rescored(h, before) for h in heard], gate)
    judged_after = judge(heard, after, gate)
    commands = sum(1 for j in judged_after if j.expected is not None)
    numbers = {"utterances": len(heard), "commands": commands, "negatives": len(judged_after) - commands,
               "ece_before": ece(judged_before), "ece_after_held_out": ece(judged_after),
               "by_condition": table(judged_after)}
    return table(judged_before), table(judged_after), numbers


def calibrate_model(folder: str | Path, labels: Sequence[Any], *, context: Any, config: Any,
                    music: Any | None = None, snrs: Sequence[float] = SNRS, prior: Any | None = None,
                    described: Sequence[dict[str, Any]] = (), seed: int = 0, write: bool = True,
                    on_trial: Callable[[Any], None] | None = None, current: Calibration | None = None) -> Calibrated:
    """Fit the model in ``folder`` its own calibration on ``labels`` (takes it did not
    train on; chatter among them as ``intent: None``) heard clean and with ``music`` at
    ``snrs``, plus music alone; MAP around ``prior`` (a
    :class:`~djtui.core.calibration_file.ModelCalibration`; default: the stock model's).
    ``described``: what the data is, for the file; ``current``: the calibration the
    model has now, for the *before* (default: the prior). Writes ``calibration.json``
    into ``folder`` unless ``write`` is False."""
    import datetime

    from djtui.core import calibration_file

    prior = prior or calibration_file.for_model(None, "tiny.en")
    listener = model_listener(folder, context, config)
    heard = hear_takes(listener, labels, music, snrs, seed, on_trial)
    fitted = fit(heard, prior.calibration)
    before, after, numbers = summary_of(heard, current or prior.calibration, folds(heard, prior.calibration, seed=seed),
                                        context, config.safety)
    conditions = ["clean", *(str(int(s)) if float(s).is_integer() else str(s) for s in snrs)] if music else ["clean"]
    made = calibration_file.ModelCalibration(
        fitted, Path(folder) / calibration_file.FILE, Path(folder).name,
        {"method": f"logistic regression, MAP with a Gaussian prior (sd {PRIOR_SD}) centred on {prior.model}'s "
                   "calibration, on the best reading of each utterance",
         "prior": prior.model, "data": list(described), "conditions": conditions,
         "music": [str(n) for n in getattr(music, "names", [])][:8],
         "created": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")},
        numbers)
    if write:
        calibration_file.write(folder, made)
    return Calibrated(made, before, after, heard)


# --- after training -----------------------------------------------------------------------------

TRAINING_CHATTER = 12
"""Chatter clips heard after training (of :data:`FIT_CHATTER`): a few is enough to show
whether the model takes talk for commands, and each costs a hearing in every condition."""


def after_training(output: Path, base: str | None, held_back: Sequence[Any], root: Path, *,
                   music_dir: Path | None, context_path: Path | None, seed: int = 0,
                   on_progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Calibrate a model ``djtui train`` just wrote in ``output`` on its ``held_back``
    takes (manifest :class:`~djtui.training.manifest.Take`\\ s under ``root``: the model
    never trained on them) and a few chatter clips, clean and mixed with the training
    music, plus music alone; MAP around the calibration of the model it started from
    (``base``; ``None``: the bundled tiny.en). The takes are heard by that base model too:
    the report's *before*. Returns what the training report shows."""
    from djtui.core import calibration_file, paths
    from djtui.core.config import Config, load_config
    from djtui.core.context_file import default_context, load_context
    from djtui.core.errors import DjtuiError
    from djtui.core.noise import NoiseBank
    from djtui.evaluation.labels import Label

    try:
        config = load_config()
    except DjtuiError:
        config = Config()
    context = load_context(context_path) if context_path else default_context()
    chatter = speak_chatter(paths.cache_dir() / "calibration-chatter")
    labels = [Label(root / t.path, t.intent, dict(t.slots), t.text) for t in held_back]
    labels += [Label(chatter.parent / json.loads(line)["path"], None)
               for line in chatter.read_text(encoding="utf-8").splitlines()[:TRAINING_CHATTER]]
    music = NoiseBank([music_dir]) if music_dir else None
    snrs = SNRS if music is not None else ()
    conditions = 1 + len(snrs)
    total, done = 2 * len(labels) * conditions, [0]

    def heard_one(_: Any) -> None:
        done[0] += 1
        if on_progress:
            on_progress(done[0], total)

    prior = calibration_file.for_model(base, None if base else "tiny.en")
    before_heard = hear_takes(model_listener(base or "tiny.en", context, config), labels, music, snrs, seed, heard_one)
    from djtui.core.safety import SafetyGate

    gate = SafetyGate(context, config.safety)
    before = table(judge(before_heard, [rescored(h, prior.calibration) for h in before_heard], gate))
    described = [{"what": "the held-back takes (one of each command, or more for a context of few; the model never trained on them)",
                  "takes": len(held_back)}, {"what": "booth chatter (synthetic voices)", "clips": len(labels) - len(held_back)}]
    if music is not None:
        described.append({"what": f"music alone, {MUSIC_WINDOWS} windows of 2 s", "music": str(music_dir)})
    made = calibrate_model(output, labels, context=context, config=config, music=music, snrs=snrs,
                           prior=prior if prior.calibrated else calibration_file.for_model(None, "tiny.en"),
                           described=described, seed=seed, on_trial=heard_one)
    return {"summary": made.calibration.summary, "prior": made.calibration.fitted.get("prior"),
            "base": base or "tiny.en (bundled)", "base_calibrated": prior.calibrated,
            "before": before, "after": made.after, "held_back": len(held_back)}
