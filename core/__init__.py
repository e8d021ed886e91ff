"""djtui's core: audio in, understanding, safety and MIDI out. Never imports the TUI."""
