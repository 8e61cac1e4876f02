"""probe: measure whether, and how fast, people answer email."""

__version__ = "0.1.0"
