"""alignaudit: measure how much of a language model's safety alignment survives attacks."""

__version__ = "0.1.0"
