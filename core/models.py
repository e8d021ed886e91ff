"""The speech models djtui knows by name: what ``[asr] model``, ``--model`` and ``--base``
may say instead of a folder. Names only (no model code, nothing heavy to import), so the
command line's help and the TUI's forms can show them at no cost."""

from __future__ import annotations

WHISPER_MODELS = ("tiny.en", "base")
"""The Whisper models ``[asr] model`` (or ``--model``) may name instead of a folder:
``tiny.en`` ships inside a package and is the default; ``base`` comes from an extra."""

DEFAULT_WAV2VEC2 = "facebook/wav2vec2-base-960h"
"""The wav2vec2 hub model ``[asr] engine = "wav2vec2"`` and ``djtui train --base`` start
from when none is named (downloaded once while online)."""

# The conv front end downsamples 320x (20 ms frames) like wav2vec2-base, in fewer and
# narrower layers: on a CPU it, not the transformer, is what costs when training small.
SCRATCH_SIZES: dict[str, dict[str, object]] = {
    # ~0.2 M parameters: trains in seconds on a laptop CPU; for tests and quick bootstraps.
    "tiny": dict(conv_dim=(32, 32, 32), conv_stride=(5, 4, 16), conv_kernel=(10, 8, 16),
                 hidden_size=96, num_hidden_layers=2, num_attention_heads=2, intermediate_size=192,
                 num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4),
    # ~2.5 M parameters: a small command recognizer for machines with no hub access.
    "small": dict(conv_dim=(64, 128, 128, 192), conv_stride=(5, 4, 4, 4), conv_kernel=(10, 8, 4, 4),
                  hidden_size=192, num_hidden_layers=4, num_attention_heads=4, intermediate_size=768,
                  num_conv_pos_embeddings=32, num_conv_pos_embedding_groups=8),
}
"""Small wav2vec2 models ``djtui train --from-scratch SIZE`` builds: their shapes by name."""
