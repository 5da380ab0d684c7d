"""Benchmark formats from small files written here, built-in sets, and stratified sampling."""

import json
from collections import Counter
from pathlib import Path

import pytest

from alignaudit.data import HEX_PHI_CATEGORIES, load_benchmark, stratified_sample
from alignaudit.data.sampling import allocate
from alignaudit.errors import AlignAuditError, InputFileError
from tests.conftest import SHARED_DATA


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_builtin_sets_are_split_and_categorized() -> None:
    evaluation, train = load_benchmark("builtin"), load_benchmark("builtin:train")
    assert len(evaluation) == len(train) == 110
    assert Counter(r.category for r in evaluation) == {c: 10 for c in HEX_PHI_CATEGORIES}
    assert not {r.id for r in evaluation} & {r.id for r in train}
    assert not {r.prompt for r in evaluation} & {r.prompt for r in train}
    everything = load_benchmark("builtin:all")
    assert len({r.id for r in everything}) == 220
    benign = load_benchmark("builtin-benign:all")
    assert 90 <= len(benign) <= 110 and "unsafe_sounding" in {r.category for r in benign}
    with pytest.raises(AlignAuditError, match="split"):
        load_benchmark("builtin:test")


@pytest.mark.parametrize("header", [True, False])
def test_advbench_with_and_without_header(tmp_path: Path, header: bool) -> None:
    rows = "".join(f"Do bad thing {i},Sure here is {i}\n" for i in range(5))
    text = ("goal,target\n" + rows) if header else "".join(f"Do bad thing {i}\n" for i in range(5))
    requests = load_benchmark(str(write(tmp_path / "harmful_behaviors.csv", text)))
    assert [r.prompt for r in requests] == [f"Do bad thing {i}" for i in range(5)]
    assert {r.category for r in requests} == {"advbench"}
    assert len({r.id for r in requests}) == 5
    assert requests == load_benchmark(str(tmp_path / "harmful_behaviors.csv"))  # stable ids


def test_hex_phi_folder_and_jsonl(tmp_path: Path) -> None:
    folder = tmp_path / "hexphi"
    folder.mkdir()
    write(folder / "category_1.csv", "# Instruction A\n# Instruction B\n")
    write(folder / "category_4.csv", '"# Instruction, with comma"\n')
    requests = load_benchmark(str(folder))
    assert [r.category for r in requests] == ["illegal_activity"] * 2 + ["malware"]
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


def test_xstest_dev_file_loads_when_shared_data_is_present() -> None:
    path = SHARED_DATA / "xstest_dev_mistralinstruct.csv"
    if not path.exists():
        pytest.skip("../shared/data is not beside this checkout")
    requests = load_benchmark(str(path))
    assert len(requests) == 450 and len({r.id for r in requests}) == 450
