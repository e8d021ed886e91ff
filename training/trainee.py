"""A model being trained, as the training loop sees it, and choosing which one.

:class:`Trainee` is what :func:`djtui.training.finetune.train` asks of a model: its
learning parameters, a batch's loss, transcripts, the labels of music alone, a save.
:func:`open_trainee` picks one for a :class:`~djtui.training.finetune.TrainConfig`:
Whisper (:mod:`djtui.training.whisper`) unless a wav2vec2 base or a from-scratch size is
asked for (:mod:`djtui.training.wav2vec2`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from djtui.core.errors import DjtuiError
from djtui.training.manifest import Take

if TYPE_CHECKING:  # finetune imports this module to run the trainee it opens
    from djtui.training.finetune import TrainConfig


class Trainee(Protocol):
    """A model being trained, as the loop sees it."""

    description: str
    """What training started from, for the report."""
    default_epochs: int
    default_batch_size: int
    default_lr: float

    def parameters(self) -> list[Any]:
        """The parameters that learn."""

    def loss(self, clips: Sequence[np.ndarray], texts: Sequence[str]) -> Any:
        """The training loss of one batch (a torch scalar with gradients)."""

    def transcribe(self, clips: Sequence[np.ndarray]) -> list[str]:
        """Transcripts with the weights as they are now."""

    def transcribe_stock(self, clips: Sequence[np.ndarray]) -> list[str] | None:
        """The stock model's transcripts, when training did not start from it."""

    def music_labels(self, clips: Sequence[np.ndarray]) -> list[str]:
        """What the model should write for clips of music with no command in them."""

    def save(self, output: Path) -> None:
        """The weights as they are now, as a model folder in ``output``."""

    def close(self) -> None:
        """Remove whatever the trainee kept in the work folder."""


def pick_device(requested: str = "auto") -> str:
    """``cuda`` if present, else Apple ``mps``, else ``cpu`` (or ``requested``)."""
    import torch

    if requested != "auto":
        return requested
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def open_trainee(config: TrainConfig, takes: Sequence[Take]) -> tuple[Trainee, str]:
    """``(trainee, device)`` for the config: Whisper unless a wav2vec2 base or a
    from-scratch size is asked for."""
    from djtui.core.asr import is_whisper_folder

    output = Path(config.output)
    if config.base and not config.from_scratch and config.base.startswith((".", "~", "/")) \
            and not Path(config.base).expanduser().exists():
        raise DjtuiError(f"model folder {config.base} does not exist",
                         "check --base, or leave it out to fine-tune the bundled Whisper tiny.en")
    if config.from_scratch or (config.base and not is_whisper_folder(config.base)):
        from djtui.core.models import DEFAULT_WAV2VEC2
        from djtui.training.wav2vec2 import Wav2Vec2Trainee

        device = pick_device(config.device)
        trainee = Wav2Vec2Trainee(config.base or DEFAULT_WAV2VEC2, config.from_scratch, [t.text for t in takes], output, device)
        return trainee, device
    from djtui.training.whisper import WhisperTrainee

    return WhisperTrainee(config.base, output, decoder_only=config.decoder_only, threads=config.threads), "cpu"
