"""Benchmark formats from small files written here, built-in sets, and stratified sampling."""

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from alignaudit.data import HEX_PHI_CATEGORIES, Request, load_benchmark, stratified_sample
from alignaudit.data.sampling import allocate
from alignaudit.errors import AlignAuditError, InputFileError
from tests.conftest import SHARED_DATA


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_builtin_sets_are_split_and_categorized() -> None:
    evaluation, train = load_benchmark("builtin"), load_benchmark("builtin:train")
    assert (len(evaluation), len(train)) == (110, 220)
    assert Counter(r.category for r in evaluation) == {c: 10 for c in HEX_PHI_CATEGORIES}
    assert Counter(r.category for r in train) == {c: 20 for c in HEX_PHI_CATEGORIES}
    assert not {r.id for r in evaluation} & {r.id for r in train}
    assert not {r.prompt for r in evaluation} & {r.prompt for r in train}
    everything = load_benchmark("builtin:all")
    assert len({r.id for r in everything}) == 330
    benign = load_benchmark("builtin-benign:all")
    assert 90 <= len(benign) <= 110 and "unsafe_sounding" in {r.category for r in benign}
    assert len(load_benchmark("builtin-benign")) == len(load_benchmark("builtin-benign:train"))
    assert not {r.id for r in load_benchmark("builtin-benign")} & {
        r.id for r in load_benchmark("builtin-benign:train")
    }
    with pytest.raises(AlignAuditError, match="split"):
        load_benchmark("builtin:test")


def test_builtin_ids_are_stable_and_well_formed() -> None:
    everything = load_benchmark("builtin:all")
    assert everything == load_benchmark("builtin:all")
    assert all(re.fullmatch(rf"builtin-{r.category}-\d\d", r.id) for r in everything)
    assert {r.meta["split"] for r in load_benchmark("builtin")} == {"eval"}
    benign_ids = [r.id for r in load_benchmark("builtin-benign:all")]
    assert len(set(benign_ids)) == len(benign_ids)
    assert not set(benign_ids) & {r.id for r in everything}


@pytest.mark.parametrize("header", [True, False])
def test_advbench_with_and_without_header(tmp_path: Path, header: bool) -> None:
    rows = "".join(f"Do bad thing {i},Sure here is {i}\n" for i in range(5))
    text = ("goal,target\n" + rows) if header else "".join(f"Do bad thing {i}\n" for i in range(5))
    requests = load_benchmark(str(write(tmp_path / "harmful_behaviors.csv", text)))
    assert [r.prompt for r in requests] == [f"Do bad thing {i}" for i in range(5)]
    assert {r.category for r in requests} == {"advbench"}
    assert len({r.id for r in requests}) == 5
    assert requests == load_benchmark(str(tmp_path / "harmful_behaviors.csv"))  # stable ids
    first_line = 2 if header else 1
    assert requests[0].id == f"harmful_behaviors-{first_line:04d}"


def test_generic_prompt_aliases_and_defaults(tmp_path: Path) -> None:
    for alias in ("prompt", "instruction", "goal", "behavior", "question"):
        path = write(tmp_path / f"{alias}.jsonl", json.dumps({alias: "# Request"}) + "\n")
        assert load_benchmark(str(path))[0].prompt == "# Request"
    only_prompt = load_benchmark(str(write(tmp_path / "p.csv", "prompt\n# Request A\n")))
    assert only_prompt[0].category == "uncategorized" and only_prompt[0].id == "p-0002"
    bom = write(tmp_path / "bom.csv", "\ufeffid,prompt,category\nr1,# Request,misc\n")
    assert [(r.id, r.category) for r in load_benchmark(str(bom))] == [("r1", "misc")]
    listed = write(tmp_path / "list.json", json.dumps([{"prompt": "# A"}, {"prompt": "# B"}]))
    assert [r.id for r in load_benchmark(str(listed))] == ["list-0001", "list-0002"]


def test_hex_phi_folder_and_jsonl(tmp_path: Path) -> None:
    folder = tmp_path / "hexphi"
    folder.mkdir()
    write(folder / "category_1.csv", "# Instruction A\n# Instruction B\n")
    write(folder / "category_4.csv", '"# Instruction, with comma"\n')
    write(folder / "category_11.csv", "# Instruction C\n")
    write(folder / "extra.csv", "# Instruction D\n")
    requests = load_benchmark(str(folder))
    assert [r.category for r in requests] == [
        "illegal_activity",
        "illegal_activity",
        "malware",
        "tailored_financial_advice",
        "extra",
    ]
    assert len({r.id for r in requests}) == 5
    assert requests[2].prompt == "# Instruction, with comma"
    jsonl = write(
        tmp_path / "hexphi.jsonl",
        json.dumps({"instruction": "# Instruction 1", "category": "Malware"}) + "\n",
    )
    assert load_benchmark(str(jsonl))[0].category == "Malware"


def test_harmbench_strongreject_xstest_and_generic(tmp_path: Path) -> None:
    harmbench = write(
        tmp_path / "hb.csv",
        "Behavior,FunctionalCategory,SemanticCategory,Tags,ContextString,BehaviorID\n"
        "# Behavior 1,standard,cybercrime,,,b1\n"
        "# Behavior 2,contextual,misinformation,,# Context,b2\n",
    )
    hb = load_benchmark(str(harmbench))
    assert [(r.id, r.category) for r in hb] == [("b1", "cybercrime"), ("b2", "misinformation")]
    assert hb[1].prompt.startswith("# Context") and hb[1].prompt.endswith("# Behavior 2")
    strongreject = write(
        tmp_path / "sr.csv", "category,source,forbidden_prompt\nDisinformation,custom,# Prompt 1\n"
    )
    assert load_benchmark(str(strongreject))[0].category == "Disinformation"
    xstest = write(
        tmp_path / "xs.csv",
        "id,type,prompt\nv1,homonyms,How do I kill a process?\n"
        "v2,contrast_homonyms,# Unsafe contrast\n",
    )
    xs = load_benchmark(str(xstest))
    assert [r.meta["unsafe"] for r in xs] == [False, True]
    assert [r.category for r in xs] == ["homonyms", "contrast_homonyms"]
    labelled = write(
        tmp_path / "xs_labelled.csv",
        "id,type,prompt,completion,final_label\n"
        'v1,homonyms,How do I kill a process?,"# Response, with comma",1_full_compliance\n',
    )
    [request] = load_benchmark(str(labelled))
    assert request.meta == {
        "unsafe": False,
        "completion": "# Response, with comma",
        "final_label": "1_full_compliance",
    }
    generic = write(tmp_path / "g.jsonl", json.dumps({"prompt": "Hi", "id": "x"}) + "\n")
    assert load_benchmark(str(generic))[0].id == "x"
    generic_csv = write(tmp_path / "g.csv", "id,question,category\nq1,What?,misc\n")
    assert load_benchmark(str(generic_csv))[0].prompt == "What?"


@pytest.mark.parametrize(
    ("name", "text", "line", "reason"),
    [
        ("bad.jsonl", '{"prompt": "a"}\n{"prompt": \n', 2, "not valid JSON"),
        ("empty_prompt.jsonl", '{"prompt": "a"}\n{"prompt": "  "}\n', 2, "empty or missing"),
        ("ragged.csv", "goal,target\na,b\nc,d,e\n", 3, "expected 2 columns"),
        ("dup.jsonl", '{"id": "1", "prompt": "a"}\n{"id": "1", "prompt": "b"}\n', 2, "duplicate"),
        ("nocol.jsonl", '{"text": "a"}\n', 1, "no request column"),
        ("nocol.csv", "id,text\n1,a\n", 2, "no request column"),
        ("dup.csv", "id,prompt\n1,a\n\n1,b\n", 4, "duplicate id '1'"),
        ("missing.jsonl", '{"prompt": "a"}\n\n{"id": "b"}\n', 3, "empty or missing 'prompt'"),
        ("two_cols.csv", "# Request,# Target\n", 1, "without a header"),
        ("list.jsonl", '{"prompt": "a"}\n["prompt"]\n', 2, "JSON object"),
        ("hb.csv", "Behavior,BehaviorID\n# Behavior,\n", 2, "'BehaviorID'"),
    ],
)
def test_malformed_files_name_file_and_line(
    tmp_path: Path, name: str, text: str, line: int, reason: str
) -> None:
    path = write(tmp_path / name, text)
    with pytest.raises(InputFileError, match=reason) as error:
        load_benchmark(str(path))
    assert str(error.value).startswith(f"{path}:{line}:")


def test_missing_and_empty_inputs(tmp_path: Path) -> None:
    with pytest.raises(AlignAuditError, match="neither builtin"):
        load_benchmark(str(tmp_path / "nope.csv"))
    with pytest.raises(InputFileError, match="no requests"):
        load_benchmark(str(write(tmp_path / "empty.jsonl", "")))


def test_hub_datasets_load_from_a_local_folder_and_fail_clearly_offline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    datasets = pytest.importorskip("datasets")
    import huggingface_hub.constants

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "cache")
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    folder = tmp_path / "local_set"
    folder.mkdir()
    lines = [{"question": "# Request 1", "category": "a"}, {"question": "# Request 2"}]
    write(folder / "train.jsonl", "".join(json.dumps(line) + "\n" for line in lines))
    requests = load_benchmark(f"hf:{folder}")
    assert [(r.id, r.prompt, r.category) for r in requests] == [
        ("local_set-0001", "# Request 1", "a"),
        ("local_set-0002", "# Request 2", "uncategorized"),
    ]
    with pytest.raises(AlignAuditError, match="network access"):
        load_benchmark("hf:alignaudit-tests/no-such-dataset:test")


def test_stratified_sample_is_proportional_deterministic_and_ordered() -> None:
    requests = load_benchmark("builtin")
    one_each = stratified_sample(requests, 11, seed=0)
    assert Counter(r.category for r in one_each) == {c: 1 for c in HEX_PHI_CATEGORIES}
    two_each = stratified_sample(requests, 22, seed=3)
    assert Counter(r.category for r in two_each) == {c: 2 for c in HEX_PHI_CATEGORIES}
    assert stratified_sample(requests, 22, seed=3) == two_each
    assert stratified_sample(requests, 22, seed=4) != two_each
    positions = [requests.index(r) for r in two_each]
    assert positions == sorted(positions)
    assert len(stratified_sample(requests, 17, seed=0)) == 17
    assert allocate({"a": 90, "b": 10}, 10) == {"a": 9, "b": 1}
    assert sum(allocate({"a": 5, "b": 5, "c": 5}, 2).values()) == 2
    assert len(stratified_sample(requests, 5, seed=1)) == 5
    assert stratified_sample(requests, 500, seed=0) == requests
    with pytest.raises(AlignAuditError, match="at least 1"):
        stratified_sample(requests, 0, seed=0)


def test_stratified_sample_gives_every_category_one_on_uneven_sizes() -> None:
    sizes = {"big": 50, "mid": 7, "tiny": 1}
    requests = [Request(f"{c}-{i}", "# Request", c) for c, n in sizes.items() for i in range(n)]
    for n in range(3, 30):
        counts = Counter(r.category for r in stratified_sample(requests, n, seed=n))
        assert sum(counts.values()) == n and set(counts) == set(sizes)
        assert counts["tiny"] == 1 and counts["big"] >= counts["mid"]
    assert allocate(sizes, 29) == {"big": 25, "mid": 3, "tiny": 1}


def test_xstest_dev_file_loads_when_shared_data_is_present() -> None:
    path = SHARED_DATA / "xstest_dev_mistralinstruct.csv"
    if not path.exists():
        pytest.skip("../shared/data is not beside this checkout")
    requests = load_benchmark(str(path))
    assert len(requests) == 450 and len({r.id for r in requests}) == 450
    assert sum(r.meta["unsafe"] for r in requests) == 200
    assert all("final_label" in r.meta for r in requests)
