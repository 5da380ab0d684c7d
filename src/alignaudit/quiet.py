"""Library output that says nothing to a user of the command line."""

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

# Deprecations inside transformers' own code paths (generate, Trainer), not in arguments we pass.
_LIBRARY_DEPRECATIONS = (r"`past_key_values` is deprecated", r"`is_gradient_checkpointing` is")


@contextmanager
def quiet_libraries() -> Iterator[None]:
    """Hide transformers' internal FutureWarnings and its per-load "Loading weights" bars;
    alignaudit's own progress bars (rich) are untouched."""
    from transformers.utils import logging as transformers_logging

    bars_were_on = transformers_logging.is_progress_bar_enabled()
    transformers_logging.disable_progress_bar()
    try:
        with warnings.catch_warnings():
            for message in _LIBRARY_DEPRECATIONS:
                warnings.filterwarnings("ignore", message=message, category=FutureWarning)
            yield
    finally:
        if bars_were_on:
            transformers_logging.enable_progress_bar()
