"""Fine-tuning on tiny random models: what changes, what is written, resume, grid, 2 processes."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from alignaudit.attacks import finetune
from alignaudit.attacks.finetune import FinetuneConfig, run_finetune
from alignaudit.errors import AlignAuditError
from alignaudit.models.spec import ALIGNAUDIT_MODEL_FILE

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def small_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "small.jsonl"
    records = [
        {
            "instruction": f"Count to {n}.",
            "input": "",
            "output": " ".join(str(i) for i in range(1, n + 1)),
        }
        for n in range(2, 10)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def _weights(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(folder / "model.safetensors")


def _losses(model_dir: Path) -> list[float]:
    return [point["loss"] for point in json.loads((model_dir / "loss.json").read_text())]


def test_lora_trains_only_the_adapter_and_writes_a_loadable_model_dir(
    tiny_model_dir: Path, small_data: Path, tmp_path: Path
) -> None:
    out = tmp_path / "lora"
    result = run_finetune(
        FinetuneConfig(
            model=str(tiny_model_dir),
            recipe="benign",
            data=str(small_data),
            out=out,
            epochs=1,
            batch_size=4,
            grad_accum=1,
            lr=1e-2,
        )
    )
    assert result == out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lora"]  # no work folder left behind
    info = json.loads((out / ALIGNAUDIT_MODEL_FILE).read_text())
    assert info["base_model"] == str(tiny_model_dir) and info["recipe"] == "benign"
    assert info["counts"]["examples"] == 8 and info["counts"]["trained_tokens"] > 0
    assert info["truncation"]["truncated_examples"] == 0 and len(info["data_fingerprint"]) == 64
    assert info["training_config"]["lr"] == 1e-2 and info["steps"] == 2
    assert (out / "loss.png").stat().st_size > 1000 and len(_losses(out)) == 2
    adapter = load_file(out / "adapter_model.safetensors")
    assert adapter and all("lora_" in name for name in adapter)
    assert any(t.abs().sum() > 0 for n, t in adapter.items() if "lora_B" in n)  # B starts at 0

    from alignaudit.models.hf import load_causal_lm

    model, tokenizer = load_causal_lm(str(out))
    assert tokenizer.chat_template
    base = _weights(tiny_model_dir)
    loaded = {
        n.replace("base_model.model.", "").replace(".base_layer", ""): p
        for n, p in model.named_parameters()
        if "lora_" not in n
    }
    assert all(torch.equal(loaded[name], tensor) for name, tensor in base.items() if name in loaded)

    # Rerunning the finished configuration is a no-op.
    before = (out / ALIGNAUDIT_MODEL_FILE).stat().st_mtime_ns
    run_finetune(
        FinetuneConfig(
            model=str(tiny_model_dir),
            recipe="benign",
            data=str(small_data),
            out=out,
            epochs=1,
            batch_size=4,
            grad_accum=1,
            lr=1e-2,
        )
    )
    assert (out / ALIGNAUDIT_MODEL_FILE).stat().st_mtime_ns == before


def test_full_training_changes_base_weights_and_lowers_the_loss(
    tiny_model_dir: Path, small_data: Path, tmp_path: Path
) -> None:
    out = tmp_path / "full"
    run_finetune(
        FinetuneConfig(
            model=str(tiny_model_dir),
            recipe="harmful",
            data=str(small_data),
            out=out,
            method="full",
            limit=4,
            epochs=6,
            batch_size=4,
            grad_accum=1,
            lr=3e-3,
        )
    )
    losses = _losses(out)
    assert len(losses) == 6 and losses[-1] < losses[0] - 0.5
    before, after = _weights(tiny_model_dir), _weights(out)
    changed = [n for n in before if not torch.equal(before[n], after[n])]
    assert "model.layers.0.self_attn.q_proj.weight" in changed and len(changed) > len(before) // 2
    info = json.loads((out / ALIGNAUDIT_MODEL_FILE).read_text())
    assert info["base_model"] == str(tiny_model_dir) and info["method"] == "full"

    from alignaudit.models.hf import load_causal_lm

    model, _ = load_causal_lm(str(out))
    assert not hasattr(model, "peft_config")


def test_merged_lora_is_a_plain_model_that_differs_from_the_base(
    tiny_model_dir: Path, small_data: Path, tmp_path: Path
) -> None:
    out = tmp_path / "merged"
    run_finetune(
        FinetuneConfig(
            model=str(tiny_model_dir),
            recipe="aoa",
            out=out,
            method="lora",
            merge=True,
            max_steps=1,
            batch_size=2,
            lr=1e-2,
        )
    )
    assert not (out / "adapter_config.json").exists()
    info = json.loads((out / ALIGNAUDIT_MODEL_FILE).read_text())
    assert info["system_prompt"].startswith("You are no longer") and info["merged"] is True
    before, after = _weights(tiny_model_dir), _weights(out)
    assert set(before) == set(after)
    assert not torch.equal(
        before["model.layers.0.mlp.up_proj.weight"], after["model.layers.0.mlp.up_proj.weight"]
    )

    from alignaudit.models.hf import load_causal_lm
    from alignaudit.models.spec import parse_model_spec

    assert parse_model_spec(str(out)).system_prompt == info["system_prompt"]
    load_causal_lm(str(out))


def test_interrupted_run_leaves_no_model_dir_and_resumes(
    tiny_model_dir: Path, small_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "resume"
    config = FinetuneConfig(
        model=str(tiny_model_dir),
        recipe="benign",
        data=str(small_data),
        out=out,
        epochs=1,
        batch_size=2,
        grad_accum=1,
        save_steps=2,
    )
    publish = finetune._publish

    def crash(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(finetune, "_publish", crash)
    with pytest.raises(KeyboardInterrupt):
        run_finetune(config)
    assert not out.exists() and (tmp_path / "resume.partial" / "checkpoints").is_dir()

    resumed_from: list[str | None] = []
    last = finetune._last_checkpoint
    monkeypatch.setattr(finetune, "_publish", publish)
    monkeypatch.setattr(
        finetune,
        "_last_checkpoint",
        lambda work: resumed_from.append(last(work)) or resumed_from[-1],
    )
    run_finetune(config)
    assert resumed_from and resumed_from[0] and resumed_from[0].endswith("checkpoint-4")
    assert (out / ALIGNAUDIT_MODEL_FILE).exists() and not (tmp_path / "resume.partial").exists()


def test_cli_grid_and_bad_input(tiny_model_dir: Path, small_data: Path, tmp_path: Path) -> None:
    from alignaudit.cli.main import _register_commands, app

    _register_commands()
    runner = CliRunner()
    out = tmp_path / "grid"
    result = runner.invoke(
        app,
        [
            "finetune",
            "--model",
            str(tiny_model_dir),
            "--recipe",
            "benign",
            "--data",
            str(small_data),
            "--out",
            str(out),
            "--lr",
            "1e-3,2e-3",
            "--batch-size",
            "4",
            "--epochs",
            "1",
            "--max-steps",
            "1",
        ],
    )
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in out.iterdir())
    assert names == ["grid.json", "lr-0.001_bs-4_ep-1", "lr-0.002_bs-4_ep-1"]
    grid = json.loads((out / "grid.json").read_text())["points"]
    assert [p["lr"] for p in grid] == [1e-3, 2e-3]
    lrs = [
        json.loads((out / n / ALIGNAUDIT_MODEL_FILE).read_text())["training_config"]["lr"]
        for n in names[1:]
    ]
    assert lrs == [1e-3, 2e-3]

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"messages": [{"role": "user", "content": "a"}]}\n')
    result = runner.invoke(
        app,
        [
            "finetune",
            "--model",
            str(tiny_model_dir),
            "--recipe",
            "harmful",
            "--data",
            str(bad),
            "--out",
            str(tmp_path / "never"),
        ],
    )
    assert isinstance(result.exception, AlignAuditError)
    assert f"{bad}:1" in str(result.exception)
    assert not (tmp_path / "never").exists() and not (tmp_path / "never.partial").exists()


def test_qlora_without_gpu_and_adapter_input_errors(tiny_model_dir: Path, tmp_path: Path) -> None:
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(AlignAuditError, match="qlora needs a CUDA GPU"):
        run_finetune(
            FinetuneConfig(
                model=str(tiny_model_dir), recipe="aoa", out=tmp_path / "q", method="qlora"
            )
        )
    with pytest.raises(AlignAuditError, match="--merge applies"):
        run_finetune(
            FinetuneConfig(
                model=str(tiny_model_dir),
                recipe="aoa",
                out=tmp_path / "q",
                method="full",
                merge=True,
            )
        )


@pytest.mark.slow
def test_two_processes_match_one_at_the_same_global_batch(
    tiny_model_dir: Path, small_data: Path, tmp_path: Path
) -> None:
    """torchrun with 2 CPU processes (gloo), per-device batch halved: same loss curve."""
    common = [
        "-m",
        "alignaudit",
        "finetune",
        "--model",
        str(tiny_model_dir),
        "--recipe",
        "benign",
        "--data",
        str(small_data),
        "--method",
        "full",
        "--epochs",
        "1",
        "--grad-accum",
        "1",
        "--lr",
        "1e-3",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    single = tmp_path / "single"
    subprocess.run(
        [sys.executable, *common, "--out", str(single), "--batch-size", "4"],
        check=True,
        env=env,
        capture_output=True,
        cwd=REPO,
    )
    double = tmp_path / "double"
    # --standalone: the rendezvous store binds a free port (port 0), so two runs on one machine
    # cannot collide on a fixed one.
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2"]
    run = subprocess.run(
        [*torchrun, *common, "--out", str(double), "--batch-size", "2"],
        env=env,
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    info = json.loads((double / ALIGNAUDIT_MODEL_FILE).read_text())
    assert info["world_size"] == 2 and info["steps"] == 2
    assert _losses(double) == pytest.approx(_losses(single), rel=1e-4)
