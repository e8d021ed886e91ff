"""Sentence embeddings without torch: the bundled all-MiniLM-L6-v2 in numpy gives the
vectors sentence-transformers gives, in milliseconds, and imports nothing heavy."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from djtui.core.embedding import BertEmbedder, bundled_model, load_embedder

SENTENCES = ["could you start the left deck please", "turn up the bass on deck two", "hey laughed", "a",
             "loop eight beats on the third deck and then sync it to the master tempo " * 4]


def test_the_bundled_model_runs_in_numpy():
    assert isinstance(load_embedder(bundled_model()), BertEmbedder)


@pytest.mark.slow  # imports sentence-transformers (torch, transformers): seconds
def test_its_vectors_are_sentence_transformers_vectors():
    from sentence_transformers import SentenceTransformer

    ours = load_embedder(bundled_model()).embed(SENTENCES)
    theirs = SentenceTransformer(bundled_model(), device="cpu").encode(SENTENCES, normalize_embeddings=True)
    assert ours.shape == theirs.shape == (len(SENTENCES), 384) and ours.dtype == np.float32
    assert np.abs(ours - theirs).max() < 1e-5
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_embedding_a_sentence_imports_neither_torch_nor_transformers():
    script = ("import sys; from djtui.core.embedding import load_embedder, bundled_model; "
              "load_embedder(bundled_model()).embed(['start the left deck']); "
              "print(sorted(m for m in ('torch', 'transformers', 'sentence_transformers', 'sklearn', 'scipy') "
              "if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.strip() == "[]"


def test_a_folder_of_another_shape_goes_to_sentence_transformers(tmp_path):
    source = bundled_model()
    for name in ("config.json", "modules.json", "tokenizer.json", "model.safetensors"):
        (tmp_path / name).symlink_to(f"{source}/{name}")
    (tmp_path / "1_Pooling").mkdir()
    (tmp_path / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_cls_token": True}))
    assert BertEmbedder.fits(tmp_path.parent / "nothing") is False
    assert BertEmbedder.fits(tmp_path) is False  # CLS pooling: not what this class computes
