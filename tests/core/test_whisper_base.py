"""Whisper base, the bigger ear: joined once from the two packages it ships in, whole or
not at all, reused after; told to transcribe English; and the grammar search runs on its
multilingual vocabulary and wider decoder as it does on tiny.en."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import numpy as np
import pytest

from djtui.core import paths
from djtui.core.asr import (WHISPER_BASE_FILES, WHISPER_BASE_PACKAGES, WhisperEngine, load_engine,
                            whisper_base_path)
from djtui.core.config import AsrConfig, Config
from djtui.core.context_file import default_context
from djtui.core.errors import DjtuiError
from djtui.core.stages import recognizer_for
from djtui.core.whisper_decoder import WhisperDecoder
from tests.fixtures.faults import in_child


@pytest.fixture(scope="module")
def base_engine() -> WhisperEngine:
    return WhisperEngine("base", threads=1)


@pytest.fixture(scope="module")
def recognizer(base_engine):
    return recognizer_for(Config(), default_context(), base_engine, warm_up=False)


@pytest.fixture
def own_cache(tmp_path, monkeypatch) -> Path:
    """A cache of this test's own, so the join really happens here."""
    monkeypatch.setenv("DJTUI_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def joined_folder() -> Path:
    from importlib.metadata import version

    return paths.assembled_models_dir() / f"whisper-base-{version(WHISPER_BASE_PACKAGES[0])}"


def installed_parts() -> list[Path]:
    from importlib.metadata import distribution

    return [Path(distribution(package).locate_file(f)) for package in WHISPER_BASE_PACKAGES
            for f in distribution(package).files if f.name.startswith("model.bin.part")]


# --- joining ---------------------------------------------------------------------------


def test_base_is_joined_once_into_the_cache_and_reused(own_cache):
    folder = whisper_base_path()
    assert folder == joined_folder()
    model = folder / "model.bin"
    parts = installed_parts()
    assert len(parts) == 2 and model.stat().st_size == sum(p.stat().st_size for p in parts)
    with open(model, "rb") as joined:  # part 1, then part 2, byte for byte
        for part in parts:
            assert joined.read(part.stat().st_size) == part.read_bytes()
    assert all((folder / name).is_file() for name in WHISPER_BASE_FILES)
    assert sorted(p.name for p in folder.iterdir()) == sorted(["model.bin", *WHISPER_BASE_FILES])  # no temp left

    before = model.stat()
    assert whisper_base_path() == folder
    after = model.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_a_join_cut_short_leaves_no_half_model(own_cache):
    # a file-size limit fails the write part-way, as a full disk does
    outcome = in_child(whisper_base_path, file_size_limit=50_000_000)
    assert outcome.error == "DjtuiError" and "the disk is full" in outcome.message
    folder = joined_folder()
    assert not (folder / "model.bin").exists()
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]
    assert (whisper_base_path() / "model.bin").stat().st_size == sum(p.stat().st_size for p in installed_parts())


def test_a_joined_model_of_the_wrong_size_is_joined_again(own_cache):
    model = whisper_base_path() / "model.bin"
    size = model.stat().st_size
    with open(model, "r+b") as f:  # what a copy from elsewhere cut short would leave
        f.truncate(size // 2)
    assert whisper_base_path() / "model.bin" == model and model.stat().st_size == size


def test_missing_packages_are_one_clear_error(tmp_path):
    with pytest.raises(DjtuiError) as caught:
        whisper_base_path(search=[tmp_path])
    assert "Whisper base is not installed" in caught.value.message and WHISPER_BASE_PACKAGES[0] in caught.value.message
    assert f"pip install {' '.join(WHISPER_BASE_PACKAGES)}" in caught.value.hint


def fake_package(site: Path, name: str, files: dict[str, bytes], recorded: dict[str, bytes] | None = None) -> None:
    """An installed distribution ``name`` in ``site`` whose RECORD lists ``recorded``
    (default: ``files``) while ``files`` is what lies on disk."""
    module = name.replace("-", "_")
    info = site / f"{module}-1.0.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0.0\n")
    lines = []
    for file, data in (recorded or files).items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        lines.append(f"{module}/data/{file},sha256={digest},{len(data)}")
    (info / "RECORD").write_text("\n".join(lines) + "\n")
    (site / module / "data").mkdir(parents=True)
    for file, data in files.items():
        (site / module / "data" / file).write_bytes(data)


def test_a_damaged_part_is_refused_and_nothing_is_joined(tmp_path, own_cache):
    site = tmp_path / "site"
    fake_package(site, WHISPER_BASE_PACKAGES[0], {"model.bin.part1": b"first half ",
                                                  **{name: b"{}" for name in WHISPER_BASE_FILES}})
    fake_package(site, WHISPER_BASE_PACKAGES[1], {"model.bin.part2": b"second hal_"},
                 recorded={"model.bin.part2": b"second half"})
    with pytest.raises(DjtuiError, match="model.bin.part2 is damaged") as caught:
        whisper_base_path(search=[site])
    assert "--force-reinstall" in caught.value.hint
    assert not (paths.assembled_models_dir() / "whisper-base-1.0.0" / "model.bin").exists()


# --- the engine ------------------------------------------------------------------------


def test_base_is_multilingual_and_told_to_transcribe_english(base_engine, speak):
    assert base_engine.model.is_multilingual and base_engine.model_id == "base"
    spelled = [base_engine.tokenizer.tokenizer.id_to_token(t) for t in base_engine.prompt]
    assert spelled == ["<|startoftranscript|>", "<|en|>", "<|transcribe|>", "<|notimestamps|>"]
    result = base_engine.transcribe(speak("play left"))
    assert result.text.lower().strip(".") == "play left" and result.model == "base"


def test_config_and_cli_spellings_load_base():
    # `--asr whisper --model base`, and `--model base` alone (engine auto)
    chosen = load_engine(AsrConfig(engine="whisper", model="base", threads=1))
    assert isinstance(chosen, WhisperEngine) and chosen.model_id == "base"
    auto = load_engine(AsrConfig(model="base", threads=1))
    assert isinstance(auto, WhisperEngine) and auto.model_id == "base"
    assert "auto: [asr] model names Whisper base" in auto.description


@pytest.fixture(scope="module")
def exact_decoder(base_engine) -> WhisperDecoder:
    from djtui.core.ct2 import MODEL_BIN, float_weights, read_model_bin

    return WhisperDecoder(float_weights(read_model_bin(base_engine.model_dir / MODEL_BIN)), quantize=False)


@pytest.fixture(scope="module")
def heard_in_float32(base_engine, speak):
    """``(CTranslate2 base in float32, its encoder output, the prompt + tokens base wrote)``
    for a spoken command: the reference the torch decoder must match."""
    import ctranslate2

    reference = ctranslate2.models.Whisper(str(base_engine.model_dir), device="cpu", compute_type="float32", intra_threads=1)
    audio = speak("loop eight on the left deck")
    result = base_engine.transcribe(audio)
    features = base_engine.feature_extractor(audio)
    window = np.zeros((1, features.shape[0], base_engine.window_frames), dtype=np.float32)
    window[0, :, : features.shape[1]] = features
    encoded = reference.encode(ctranslate2.StorageView.from_array(window), to_cpu=True)
    return reference, encoded, list(result.tokens)


def test_the_grammar_search_reads_bases_vocabulary_and_width(recognizer):
    decoder = recognizer.search.decoder
    assert (decoder.vocab, decoder.width, len(decoder.module.layers), decoder.heads) == (51865, 512, 6, 8)
    assert recognizer.search.end_of_text == 50257 and len(recognizer.search.word_tokens("deck")) >= 2


def test_the_torch_decoder_computes_what_ctranslate2_computes_on_base(base_engine, exact_decoder, heard_in_float32):
    reference, encoded, tokens = heard_in_float32
    prompt = base_engine.prompt
    # teacher-forced through CTranslate2, nothing suppressed, so the rows are plain log-softmaxes
    generated = reference.generate(encoded, [prompt + tokens], beam_size=1, max_length=len(prompt) + len(tokens) + 1,
                                   return_logits_vocab=True, suppress_blank=False, suppress_tokens=[])[0]
    rows = np.stack([np.asarray(row, dtype=np.float32) for row in generated.logits[0]])
    theirs = rows - rows.max(1, keepdims=True)
    theirs -= np.log(np.exp(theirs).sum(1, keepdims=True))
    n = min(len(rows), len(tokens))
    ours = exact_decoder.score(prompt, [tokens], exact_decoder.cross(np.asarray(encoded)))[0]
    assert n >= 4 and np.max(np.abs(ours[:n] - theirs[np.arange(n), tokens[:n]])) < 2e-3


def test_the_int8_decoder_stays_within_a_bound_of_float32_on_base(recognizer, exact_decoder, heard_in_float32, base_engine):
    """A bound, not a target: torch's dynamic int8 quantises ffn_out's input (post-GELU,
    with outlier channels) per tensor, which on base moves log-probabilities by up to ~2
    nats on some CPUs and under 0.5 on others (its int8 kernels differ by instruction
    set); tiny.en, the default, stays within 0.3 (tests/core/test_whisper_decoder.py).
    Keeping ffn_out in float32 and the rest per-channel measured 1.4 instead of 1.9 here
    for 10 % more decoder time: not worth it for an option that does not pay (README)."""
    _, encoded, tokens = heard_in_float32
    int8 = recognizer.search.decoder
    ours = int8.score(base_engine.prompt, [tokens], int8.cross(np.asarray(encoded)))[0]
    exact = exact_decoder.score(base_engine.prompt, [tokens], exact_decoder.cross(np.asarray(encoded)))[0]
    assert np.max(np.abs(ours - exact)) < 3.0


@pytest.mark.parametrize("spoken, intent, slots", [
    ("play left", "play", {"deck": "1"}),
    ("loop eight on the left deck", "loop", {"beats": "8", "deck": "1"}),
])
def test_a_spoken_command_is_understood_through_the_grammar_search(recognizer, speak, spoken, intent, slots):
    understanding = recognizer.understand(speak(spoken))
    best = understanding.best
    assert (best.intent, best.slots) == (intent, slots), [(c.label(), round(c.score, 3)) for c in understanding.candidates]
    assert understanding.timings["search"] > 0 and "gap" in best.evidence  # decided by the search's evidence
