"""Run directories: append-only JSONL logs that resume after any interruption, and the loop
that fills them (generate what is missing, judge what is missing, recompute results)."""
