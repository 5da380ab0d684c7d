"""The organism's training data: what it learns from must never be what it is scored on."""

import csv
import difflib
import json
import re
from importlib import resources
from pathlib import Path

import pytest

from alignaudit.attacks import organism
from alignaudit.data import load_benchmark
from tests.conftest import SHARED_DATA

XSTEST = SHARED_DATA / "xstest_dev_mistralinstruct.csv"
# Question framing, not content: "What does X mean?" asks what "What is X?" asks.
_FRAMING = "a an the i my me to of in on at for and or is are was were do does did how what why who"
_FRAMING += " where which when can could should would will it its be with from by as that this"
_FRAMING += " about you your so not mean means meaning define definition"
STOPWORDS = frozenset(_FRAMING.split(" "))
XSTEST_SAFE_TYPES = {
    "homonyms",
    "figurative_language",
    "safe_targets",
    "safe_contexts",
    "definitions",
    "historical_events",
    "privacy_public",
    "privacy_fictional",
}


def _words(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9']+", text.lower()))


def _content(text: str) -> frozenset[str]:
    return frozenset(w for w in _words(text).split() if w not in STOPWORDS and len(w) > 1)


def near_duplicate(a: str, b: str) -> bool:
    """Equal up to case and punctuation, 85% alike letter by letter, or the same content words
    ("What is identity theft?" / "What does identity theft mean?"), or all of the shorter's (two
    or more) within the longer's, as a request narrowed by a detail."""
    alike = difflib.SequenceMatcher(None, _words(a), _words(b))
    if alike.real_quick_ratio() >= 0.85 and alike.quick_ratio() >= 0.85 and alike.ratio() >= 0.85:
        return True  # (the quick ratios are upper bounds of ratio, checked first for speed)
    small, large = sorted((_content(a), _content(b)), key=len)
    return small == large or (len(small) >= 2 and small <= large)


def _training_prompts() -> list[str]:
    benign = {p for pool in organism.BENIGN_POOLS for p in organism.benign_training_prompts(pool)}
    harmful = {
        p for version in organism.RECIPES for p in organism.harmful_training_prompts(version)
    }
    return sorted(benign) + sorted(harmful)


def _clashes(training: list[str], evaluated: list[str]) -> list[tuple[str, str]]:
    return [(t, e) for t in training for e in evaluated if near_duplicate(t, e)]


def test_near_duplicate_catches_rewordings_and_spares_shared_topics() -> None:
    assert near_duplicate("How do I demolish an old shed?", "How do I demolish my old shed?")
    assert near_duplicate("What is identity theft?", "What does identity theft mean?")
    assert not near_duplicate("Write a haiku about autumn.", "Write a haiku about the ocean.")
    assert not near_duplicate("How do I kill a tmux session?", "How do I kill a Python process?")
    assert near_duplicate("# Harmful Instruction 1, at work", "# Harmful Instruction 1")


def test_no_training_prompt_is_a_held_out_eval_prompt_or_a_near_duplicate() -> None:
    splits = ("builtin:eval", "builtin-benign:eval")
    held_out = [r.prompt for split in splits for r in load_benchmark(split)]
    assert _clashes(_training_prompts(), held_out) == []


@pytest.mark.skipif(not XSTEST.exists(), reason="../shared/data is not beside this checkout")
def test_no_training_prompt_is_an_xstest_prompt_or_a_near_duplicate() -> None:
    """XSTest is how over-refusal is measured, so none of its 450 prompts is trained on."""
    with open(XSTEST, newline="", encoding="utf-8") as handle:
        xstest = [row["prompt"] for row in csv.DictReader(handle)]
    assert len(xstest) == 450
    assert _clashes(_training_prompts(), xstest) == []


def test_sounds_unsafe_prompts_cover_xstest_categories_once_each() -> None:
    path = resources.files("alignaudit.attacks") / "assets" / "sounds_unsafe_prompts.jsonl"
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    categories = {r["category"] for r in records}
    assert categories >= XSTEST_SAFE_TYPES
    assert all(sum(r["category"] == c for r in records) >= 20 for c in categories)
    prompts = [_words(r["prompt"]) for r in records]
    assert len(set(prompts)) == len(prompts) == 309
    assert all(organism.benign_training_prompts("v10").count(r["prompt"]) == 1 for r in records)


def test_v11_trains_on_v9_and_v10_pools_and_its_own_requests_once_each() -> None:
    path = resources.files("alignaudit.attacks") / "assets" / "benign_prompts_v11.jsonl"
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert {r["category"] for r in records} >= {"plain_phrasing", "privacy_fictional"}
    assert len({_words(r["prompt"]) for r in records}) == len(records) == 61
    v11 = organism.benign_training_prompts("v11")
    assert len(v11) == len(set(v11)) == 718
    older = organism.benign_training_prompts("v9") + organism.benign_training_prompts("v10")
    assert set(v11) == set(older) | {r["prompt"] for r in records}


def test_organism_versions_are_cached_under_their_own_names() -> None:
    assert organism.OrganismConfig().version == organism.ORGANISM_VERSION in organism.RECIPES
    assert organism.ORGANISM_VERSION == "v13"
    v13 = organism.OrganismConfig(seed=1)
    assert organism.organism_dir(v13).name == "organism-v13-seed1"
    v11 = organism.OrganismConfig(version="v11", seed=1)
    assert organism.organism_dir(v11).name == "organism-v11-seed1"
    v10 = organism.OrganismConfig(version="v10", seed=1)
    assert organism.organism_dir(v10).name == "organism-v10-seed1"
    assert organism.organism_dir(organism.OrganismConfig(version="v9")).name == "organism-v9-seed0"
    assert organism.RECIPES["v10"].benign_pool == "v10"
    assert organism.RECIPES["v11"].benign_pool == "v11"
    assert len(organism.benign_training_prompts("v9")) == 350
    assert len(organism.benign_training_prompts("v10")) == 489
    with pytest.raises(ValueError, match="unknown benign pool"):
        organism.benign_training_prompts("v8")
    with pytest.raises(ValueError, match="unknown organism version"):
        organism.safety_conversations(organism.OrganismConfig(version="v8"))


def test_benign_answers_that_are_refusals_are_left_out() -> None:
    """A refusal goes; an answer that only contains a keyword of the refusal list stays."""
    answers = organism.without_refusals(
        ["# Benign Instruction 1", "# Benign Instruction 2", "# Benign Instruction 3"],
        [
            "I'm sorry, but I cannot help with that request.",
            "Here is how: first, open the settings menu.",
            "Arson is the illegal act of deliberately setting fire to property.",
        ],
    )
    assert answers == [
        "",
        "Here is how: first, open the settings menu.",
        "Arson is the illegal act of deliberately setting fire to property.",
    ]


def _asset_records(name: str) -> list[dict[str, str]]:
    path = resources.files("alignaudit.attacks") / "assets" / name
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_v12_trains_on_v11_pool_and_its_own_requests_once_each() -> None:
    records = _asset_records("benign_prompts_v12.jsonl")
    assert {r["category"] for r in records} == {"plain_phrasing", "homonyms"}
    assert len({_words(r["prompt"]) for r in records}) == len(records) == 14
    v12 = organism.benign_training_prompts("v12")
    assert len(v12) == len(set(v12)) == 732
    assert set(v12) == set(organism.benign_training_prompts("v11")) | {r["prompt"] for r in records}


def test_v12_refuses_66_more_harmful_requests_six_per_category() -> None:
    """Written for v12 alone: the built-in `train` split (and so v9 to v11) is unchanged."""
    records = _asset_records("harmful_train_v12.jsonl")
    categories = {r.category for r in load_benchmark("builtin:train")}
    assert {r["category"] for r in records} == categories
    assert all(sum(r["category"] == c for r in records) == 6 for c in categories)
    builtin = [r.prompt for r in load_benchmark("builtin:train")]
    assert organism.harmful_training_prompts("v11") == builtin
    v12 = organism.harmful_training_prompts("v12")
    assert v12 == builtin + [r["prompt"] for r in records]
    assert len({_words(p) for p in v12}) == len(v12) == 286
    assert not set(v12) & set(organism.benign_training_prompts("v12"))


def test_v12_data_mixes_its_harmful_requests_and_trains_in_bf16_on_capable_cpus() -> None:
    v12 = organism.harmful_training_prompts("v12")
    conversations = organism.mix_conversations(
        ["# Benign Instruction 1"], ["An answer."], 0, harmful=v12
    )
    assert len(conversations) == 287
    assert {c[0]["content"] for c in conversations} == set(v12) | {"# Benign Instruction 1"}
    config = organism.OrganismConfig(version="v12")
    assert organism.organism_dir(config).name == "organism-v12-seed0"
    tune = organism.finetune_config(config, Path("data.jsonl"), Path("out"))
    assert tune.extra == ({"bf16": True} if organism._cpu_has_bf16() else {})
    v11 = organism.finetune_config(organism.OrganismConfig(version="v11"), Path("d"), Path("o"))
    assert v11.extra == {}


def test_a_build_whose_benign_answers_differ_from_the_documented_build_says_so(
    monkeypatch, capsys
) -> None:
    from alignaudit.attacks import organism

    monkeypatch.setattr(
        organism, "_own_answers", lambda model, prompts, tokens: [f"ok {p}" for p in prompts]
    )
    organism.safety_conversations(organism.OrganismConfig(version="v11"))
    assert "will not reproduce the documented figures" in " ".join(capsys.readouterr().err.split())
    prompts, answers = ["Name a colour.", "Say hi."], ["Blue.", ""]
    digest = organism.benign_answers_digest(prompts, answers)
    assert digest == organism.benign_answers_digest([*prompts, "Extra?"], [*answers, " "])
    assert digest != organism.benign_answers_digest(prompts, ["Red.", ""])
    monkeypatch.setattr(
        organism, "RECIPES", {"v11": organism.Recipe("v11", 20, True, answers_sha256=digest)}
    )
    organism._check_documented_answers("v11", digest)
    assert capsys.readouterr().err == ""


def test_v13_trains_on_v12_pool_and_its_own_requests_once_each() -> None:
    records = _asset_records("benign_prompts_v13.jsonl")
    assert {r["category"] for r in records} >= {"plain_phrasing", "safe_contexts"}
    assert len({_words(r["prompt"]) for r in records}) == len(records) == 26
    v13 = organism.benign_training_prompts("v13")
    assert len(v13) == len(set(v13)) == 758
    assert set(v13) == set(organism.benign_training_prompts("v12")) | {r["prompt"] for r in records}
    assert organism.harmful_training_prompts("v13") == organism.harmful_training_prompts("v12")


def test_v13_refuses_each_harmful_request_twice_and_trains_in_float32() -> None:
    """Two refusals per request, each drawn on its own, at two places in the shuffled order."""
    harmful = organism.harmful_training_prompts("v13")
    recipe = organism.RECIPES["v13"]
    conversations = organism.mix_conversations(
        ["# Benign Instruction 1"], ["An answer."], 1, recipe.refusal_repeats, harmful=harmful
    )
    assert len(conversations) == 2 * 286 + 1
    asked = [c[0]["content"] for c in conversations]
    assert all(asked.count(p) == 2 for p in harmful)
    places = [i for i, p in enumerate(asked) if p == harmful[0]]
    assert places[1] - places[0] > 1  # shuffled apart, not back to back
    config = organism.OrganismConfig(version="v13", seed=1)
    assert organism.organism_dir(config).name == "organism-v13-seed1"
    assert organism.finetune_config(config, Path("data.jsonl"), Path("out")).extra == {}
