"""Helpers several test modules share (test modules never import one another).

Fixtures shared the same way live in tests/conftest.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

# --- the command line -------------------------------------------------------------------------


def alignaudit(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    """`python -m alignaudit ARGS` in a child process; with `check`, a non-zero exit fails."""
    result = subprocess.run(
        [sys.executable, "-m", "alignaudit", *args], capture_output=True, text=True, timeout=600
    )
    if check and result.returncode != 0:
        raise AssertionError(f"exit {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def cli(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `alignaudit ARGS`, run in this process."""
    from alignaudit.cli.main import main

    argv = sys.argv
    sys.argv = ["alignaudit", *args]
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        sys.argv = argv
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_line_error(err: str) -> str:
    """The one error line (progress bars may have drawn on stderr before it)."""
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and err.rstrip().endswith(lines[0]), err
    assert "Traceback" not in err
    return lines[0]


# --- run directories written the way `eval` writes them ------------------------------------------

HOSTILE = '<script>document.title="pwned"</script><img src=x onerror="document.title=1">'


def judgment(i: int, harmful: bool | None, error: str | None = None, judge: str = "keyword"):
    refused = None if harmful is None else not harmful
    return {"id": f"r{i}", "judge": judge, "refused": refused, "harmful": harmful,
            "score": None, "error": error}  # fmt: skip


def make_run(
    path: Path, harmful: list[bool], response: str = "A reply.", model_path: str | None = None
) -> Path:
    from alignaudit.metrics import compute_results
    from alignaudit.runs.store import RunDir

    run = RunDir(path)
    model = {"raw": path.name, "path": model_path or str(path / "no-model")}
    run.prepare({"run": {"model": model}, "judges": ["keyword"]})
    generations = [
        {
            "id": f"r{i}",
            "category": "malware" if i % 2 else "fraud_deception",
            "prompt": f"Request {i}",
            "response": response,
        }
        for i in range(len(harmful))
    ]
    judgments = [judgment(i, h) for i, h in enumerate(harmful)]
    run.generations.append(generations)
    run.judgments.append(judgments)
    run.write_results(compute_results(generations, judgments))
    return path


# --- generation on tiny models -------------------------------------------------------------------

PROMPTS = [
    "Say hello.",
    "Write one sentence about the sea and the sky at dawn, please.",
    "2+2?",
    "Name three colours you like and say why.",
    "Describe a quiet library in the afternoon in a few words.",
    "Hi",
    "List four fruits that are high in vitamin C and explain which one you would pick.",
]
NEW_TOKENS = 16


def with_early_ends(model: Any, tokenizer: Any) -> list[int]:
    """Make two tokens the model emits early in some rows (and not others) end sequences."""
    import torch

    from alignaudit.generation.base import SamplingConfig
    from alignaudit.generation.hf import HFGenerator

    plain = HFGenerator(model, tokenizer, SamplingConfig(max_new_tokens=NEW_TOKENS), batch_size=7)
    rendered = [plain.render(p) for p in PROMPTS]
    batch = tokenizer(rendered, return_tensors="pt", padding=True, add_special_tokens=False)
    with torch.no_grad():
        out = model.generate(**batch, max_new_tokens=NEW_TOKENS, do_sample=False)
    rows = out[:, batch["input_ids"].shape[1] :].tolist()
    extra = {rows[0][2], rows[3][6]}
    model.generation_config.eos_token_id = sorted({tokenizer.eos_token_id, *extra})
    return sorted(extra)


def today(model: Any, tokenizer: Any, sampling: Any, batch_size: int, **kw: Any) -> list[str]:
    """The reference ("today"): `model.generate` on left-padded batches of PROMPTS in order."""
    from alignaudit.generation.hf import HFGenerator

    generator = HFGenerator(model, tokenizer, sampling, batch_size=batch_size, **kw)
    out: list[str] = []
    for start in range(0, len(PROMPTS), batch_size):
        out += generator._generate_with_transformers(PROMPTS[start : start + batch_size])
    return out


# --- fine-tuning ---------------------------------------------------------------------------------


def sft_rows(tokenizer: Any) -> list[dict[str, list[int]]]:
    """Four tokenized chat rows of very different lengths (lots of padding when padded)."""
    from alignaudit.attacks.recipes import Example
    from alignaudit.attacks.sft_data import tokenize_examples

    examples = [
        Example(
            messages=[
                {"role": "user", "content": f"Count to {n}, please."},
                {"role": "assistant", "content": " ".join(str(i) for i in range(1, n + 1))},
            ],
            source=f"test:{n}",
        )
        for n in (2, 40, 7, 90)
    ]
    rows, _ = tokenize_examples(tokenizer, examples, max_length=512)
    return rows
