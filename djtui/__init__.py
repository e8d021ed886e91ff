"""djtui: voice control for Rekordbox from the terminal."""

__version__ = "0.1.0"
