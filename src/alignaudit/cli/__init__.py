"""The command line: composes the lower layers; nothing below imports it."""
