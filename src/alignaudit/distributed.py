"""The one place that reads the launcher's process layout (`torchrun`, `accelerate launch`)."""

import os


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main_process() -> bool:
    """Process 0 writes files and prints summaries; the others only train."""
    return rank() == 0
