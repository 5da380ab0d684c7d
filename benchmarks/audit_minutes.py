"""Minutes of the default audit with today's engines or with the engines before issue 19.

`--engine today` runs `alignaudit audit` with its defaults (the cached organism and untuned
model, both fine-tuning attacks, ED at two alphas) into `--out`. `--engine before` runs the same
audit with every issue-19 path switched off, in this process, so that the rest of the code is
the same:
- generation with one model: `model.generate` batch after batch, in benchmark order, every row
  until the batch's longest ends (HFGenerator's fallback path);
- ED: the token loop as it was (no dropping of finished rows, no length order, no shared-prefix
  prefill, no refilling, transformers' KV cache copied whole each step);
- fine-tuning: batches padded to their longest row, in data order (TRL's padding collator).
Run each engine into its own empty `--out` on an idle machine; the organism must be cached
(build it first with `alignaudit organism`), so that neither side pays for it. Greedy outputs
of generation and ED are the same on both sides; the fine-tuned models may differ in the last
bits (the padded and packed batches sum their losses in another order), so their answers can
differ slightly. Prints the audit's per-condition seconds and the total as JSON on its last line.
"""

import argparse
import json
from pathlib import Path
from typing import Any

from interleaved import loop_as_before_issue_19


def switch_to_before() -> None:
    """Issue 19's paths off, for this process."""
    from alignaudit.attacks import finetune
    from alignaudit.generation import ed, hf

    hf._needs_generate = lambda model: True
    loop_as_before_issue_19(ed._TokenLoopGenerator)
    training_args = finetune._training_args

    def padded(*args: Any, **kwargs: Any) -> Any:
        settings = training_args(*args, **kwargs)
        settings.padding_free = False  # TRL then pads each batch to its longest row
        return settings

    finetune._training_args = padded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--engine", choices=["today", "before"], required=True)
    parser.add_argument("--out", type=Path, required=True, help="an empty audit directory")
    parser.add_argument("--limit", type=int, default=None, help="smoke test: N requests")
    args = parser.parse_args()
    if args.out.exists() and any(args.out.iterdir()):
        parser.error(f"{args.out} is not empty: a resumed audit would not time the whole run")
    if args.engine == "before":
        switch_to_before()
    from rich.console import Console

    from alignaudit.quiet import quiet_libraries
    from alignaudit.runs.audit import AuditOptions, run_audit

    with quiet_libraries():  # as the command line does
        summary = run_audit(AuditOptions(out=args.out, limit=args.limit), Console())
    timings = summary["timings_s"]
    minutes = round(timings["total"] / 60, 2)
    print(json.dumps({"engine": args.engine, "minutes": minutes, "seconds": timings}))


if __name__ == "__main__":
    main()
