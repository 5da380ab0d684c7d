"""The audit on tiny models: every condition becomes a run directory, and a rerun reuses them."""

import json
from pathlib import Path

from alignaudit.runs.audit import AuditOptions, condition_names
from tests.test_cli_eval import alignaudit, read_jsonl


def test_condition_names_follow_the_contract(tmp_path: Path) -> None:
    options = AuditOptions(out=tmp_path, alphas=[0.5, 2.0], mix_safety=10)
    assert condition_names(options) == [
        "aligned",
        "base",
        "aoa",
        "aoa+mix-safety-10",
        "benign",
        "benign+mix-safety-10",
        "ed-alpha-0.5",
        "ed-alpha-2",
    ]
    options = AuditOptions(out=tmp_path, harmful_data=tmp_path / "h.jsonl", conditions=["harmful"])
    assert condition_names(options) == ["harmful"]


def test_audit_end_to_end_on_tiny_models(
    tiny_model_dir: Path, tiny_base_model_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "audit"
    args = [
        "audit",
        "--model",
        str(tiny_model_dir),
        "--base",
        str(tiny_model_dir),
        "--conditions",
        "aligned,base,aoa,ed",
        "--alpha",
        "0,1",
        "--limit",
        "11",
        "--max-new-tokens",
        "6",
        "--judge",
        "keyword",
        "--aoa-epochs",
        "1",
        "--out",
        str(out),
    ]
    first = alignaudit(*args)
    assert "audit: refusal and harmful rates" in first.stdout
    results = json.loads((out / "results.json").read_text())
    assert list(results["conditions"]) == ["aligned", "base", "aoa", "ed-alpha-0", "ed-alpha-1"]
    assert results["conditions"]["aligned"]["keyword"]["per_category"]
    for name in ("report.html", "summary.md", "models/aoa/alignaudit_model.json"):
        assert (out / name).exists(), name
    # Same weights as aligned and base: ED gives the base model's responses at any alpha.
    aligned = {g["id"]: g["response"] for g in read_jsonl(out / "aligned" / "generations.jsonl")}
    for alpha in ("0", "1"):
        ed = {
            g["id"]: g["response"]
            for g in read_jsonl(out / f"ed-alpha-{alpha}" / "generations.jsonl")
        }
        assert ed == aligned
    aoa_config = json.loads((out / "aoa" / "config.json").read_text())
    assert "AOA" in aoa_config["run"]["sampling"]["system_prompt"]

    before = {p: p.read_text() for p in out.glob("*/generations.jsonl")}
    alignaudit(*args)
    assert {p: p.read_text() for p in out.glob("*/generations.jsonl")} == before


def test_organism_answers_are_cut_back_to_whole_sentences() -> None:
    from alignaudit.attacks.organism import _whole_sentences

    text = "Boil the water first. Add the pasta and sti"
    assert _whole_sentences(text) == "Boil the water first."
    assert _whole_sentences("Sure! Here are tips:\nSleep well") == "Sure! Here are tips:"
    assert _whole_sentences("No sentence end at all here") == "No sentence end at all here"


def test_organism_training_data_leaves_the_eval_splits_alone(monkeypatch) -> None:
    """The organism is scored on the held-out splits, so none of their prompts may be trained on;
    every benign training prompt gets the untuned model's answer, every harmful one a refusal."""
    from alignaudit.attacks import organism
    from alignaudit.attacks.refusals import REFUSALS
    from alignaudit.data import load_benchmark

    monkeypatch.setattr(
        organism, "_own_answers", lambda model, prompts: [f"ok {p}" for p in prompts]
    )
    conversations = organism.safety_conversations(organism.OrganismConfig())
    trained = {c[0]["content"] for c in conversations}
    held_out = {
        r.prompt for spec in ("builtin:eval", "builtin-benign:eval") for r in load_benchmark(spec)
    }
    assert not trained & held_out
    harmful = {r.prompt for r in load_benchmark("builtin:train")}
    refusals = [c for c in conversations if c[0]["content"] in harmful]
    benign = [c for c in conversations if c[0]["content"] not in harmful]
    assert len(refusals) == len(harmful) and all(c[1]["content"] in REFUSALS for c in refusals)
    assert len(benign) == 350 and all(c[1]["content"] == f"ok {c[0]['content']}" for c in benign)
    normalized = [" ".join(p.lower().split()) for p in trained]
    assert len(set(normalized)) == len(normalized)  # no prompt twice
