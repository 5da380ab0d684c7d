"""Runs: one evaluation (`evaluate`), the audit (`audit`), scoring and the gate over finished run
directories, and the resumable run directory itself (`store`, `fill`).

This layer composes the others; importing it registers the `organism` model name (attacks/).
"""

import alignaudit.attacks  # noqa: F401  (registers `--model organism`)
