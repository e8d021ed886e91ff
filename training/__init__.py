"""Training djtui's ASR on the DJ's voice: recording, synthetic speech, augmentation,
fine-tuning. UI-agnostic: the TUI screens and ``djtui train`` both call in here."""
