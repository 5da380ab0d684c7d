"""The run store's reading and recovery rules, line by line: what a rerun trusts and what it
refuses, and the messages that name file and line."""

import json
from pathlib import Path

import pytest

from alignaudit.errors import AlignAuditError, InputFileError
from alignaudit.runs.store import (
    JsonlLog,
    RunDir,
    changed_keys,
    read_json,
    write_json_atomic,
    write_text_atomic,
)


def test_blank_lines_are_skipped_not_the_end(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_text('{"id": "a"}\n\n   \n{"id": "b"}\n')
    assert [r["id"] for r in JsonlLog(path).read()] == ["a", "b"]


def test_non_ascii_text_round_trips(tmp_path: Path) -> None:
    log = JsonlLog(tmp_path / "log.jsonl")
    log.append([{"id": "a", "response": "Ça va — très bien ✓"}])
    assert "Ça va — très bien ✓" in log.path.read_text(encoding="utf-8")  # not escaped
    assert log.read() == [{"id": "a", "response": "Ça va — très bien ✓"}]


def test_a_line_that_is_not_an_object_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_text('{"id": "a"}\n["a", "list"]\n')
    with pytest.raises(InputFileError) as info:
        JsonlLog(path).read()
    assert str(info.value) == f"{path}:2: each line must be a JSON object"
    assert (info.value.path, info.value.line) == (path, 2)


def test_torn_tail_only_is_cut_and_whole_lines_are_never_touched(tmp_path: Path) -> None:
    log = JsonlLog(tmp_path / "log.jsonl")
    log.append([])  # nothing to write: no file either
    assert not log.path.exists() and log.read() == []
    log.append([{"id": "a"}])
    log.append([{"id": "b"}])  # a clean tail is kept as it is
    assert log.path.read_text() == '{"id": "a"}\n{"id": "b"}\n'
    with open(log.path, "a") as handle:
        handle.write('{"id": "c"')
    log.append([{"id": "d"}])
    assert log.path.read_text() == '{"id": "a"}\n{"id": "b"}\n{"id": "d"}\n'
    log.path.write_text('{"id": "torn')  # a torn first line: nothing complete to keep
    assert log.read() == []
    log.append([{"id": "e"}])
    assert log.path.read_text() == '{"id": "e"}\n'
    log.clear()
    log.clear()  # clearing twice is fine
    assert not log.path.exists()


def test_read_json_errors_say_what_and_where(tmp_path: Path) -> None:
    missing = tmp_path / "results.json"
    with pytest.raises(AlignAuditError) as info:
        read_json(missing)
    assert str(info.value) == f"{missing} does not exist; is this a run directory?"
    broken = tmp_path / "config.json"
    broken.write_text('{\n  "run": {\n    "model": ,\n  }\n}\n')
    with pytest.raises(InputFileError) as info:
        read_json(broken)
    assert str(info.value) == f"{broken}:3: not valid JSON (Expecting value)"
    broken.write_text('{"text": "Ça va"}', encoding="utf-8")
    assert read_json(broken) == {"text": "Ça va"}


def test_changed_keys_lists_every_dotted_path_that_differs() -> None:
    old = {"model": {"path": "a", "dtype": "auto"}, "seed": 0, "gone": 1}
    new = {"model": {"path": "b", "dtype": "auto"}, "seed": 0, "added": {"x": 1}}
    assert changed_keys(old, new) == ["added", "gone", "model.path"]
    assert changed_keys(old, old) == []
    assert changed_keys(1, 2) == ["(all)"]
    assert changed_keys({"a": 1}, None) == ["(all)"]
    assert changed_keys(None, {"a": 1}) == ["(all)"]
    assert changed_keys({"a": {"b": 1}}, {"a": 5}) == ["a"]
    assert changed_keys({"a": {"b": {"c": 1}}}, {"a": {"b": {"c": 2}}}) == ["a.b.c"]


def test_resume_keeps_logs_and_merges_judges_overwrite_discards_all(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "run")
    run.prepare({"run": {"seed": 0}, "judges": ["keyword", "refusal"]})
    run.generations.append([{"id": "1"}])
    run.judgments.append([{"id": "1", "judge": "keyword"}])
    run.write_results({"n": 1})
    run.prepare({"run": {"seed": 0}, "judges": ["rubric", "keyword"]})
    assert run.read_config()["judges"] == ["keyword", "refusal", "rubric"]
    assert run.generations.read() == [{"id": "1"}] and run.read_results() == {"n": 1}
    with pytest.raises(AlignAuditError) as info:
        run.prepare({"run": {"seed": 1, "model": "m"}, "judges": []})
    message = str(info.value)
    assert message == (
        f"{run.path} holds a run with another configuration (changed: model, seed); "
        "use another --out, or --overwrite to discard it"
    )
    assert run.generations.read() == [{"id": "1"}]  # refusing loses nothing
    run.prepare({"run": {"seed": 1}, "judges": ["rubric"]}, overwrite=True)
    assert run.generations.read() == [] and run.judgments.read() == []
    assert not run.results_path.exists()
    assert json.loads(run.config_path.read_text()) == {"run": {"seed": 1}, "judges": ["rubric"]}
    assert run.config_path.read_text().startswith('{\n  "run"')  # indented, one key a line


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "results.json"
    write_text_atomic(target, "old\n")

    class Unwritable:
        def __str__(self) -> str:
            raise RuntimeError("boom")

    with pytest.raises(TypeError):
        write_text_atomic(target, Unwritable())  # type: ignore[arg-type]
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in target.parent.iterdir()) == ["results.json"]


def test_run_directory_files_have_the_contract_names_and_parents_are_made(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "deep" / "er" / "run")
    assert (run.generations.path.name, run.judgments.path.name) == (
        "generations.jsonl", "judgments.jsonl"
    )
    assert (run.config_path.name, run.results_path.name) == ("config.json", "results.json")
    assert {p.parent for p in (run.generations.path, run.judgments.path, run.config_path,
                               run.results_path)} == {run.path}  # fmt: skip
    run.prepare({"run": {"seed": 0}})  # no judges key
    run.prepare({"run": {"seed": 0}})  # ... in the old config either
    assert run.read_config() == {"run": {"seed": 0}, "judges": []}
    log = JsonlLog(tmp_path / "a" / "b" / "log.jsonl")
    log.append([{"id": "x"}])
    assert log.read() == [{"id": "x"}]


def test_atomic_json_is_utf8_text_renamed_from_a_hidden_sibling(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    renamed: list[tuple[Path, Path]] = []
    real_replace = os.replace

    def spy(source, target) -> None:
        renamed.append((Path(source), Path(target)))
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", spy)
    target = tmp_path / "x" / "y" / "results.json"
    write_json_atomic(target, {"text": "Ça va ✓"})
    assert target.read_text(encoding="utf-8") == '{\n  "text": "Ça va ✓"\n}\n'
    ((source, destination),) = renamed
    assert destination == target and source.parent == target.parent  # same directory: atomic
    assert source.name.startswith(".results.json.")


def test_changed_keys_keep_the_whole_key_name() -> None:
    assert changed_keys({"maX": 1, "X": {"Y": 1}}, {"maX": 2, "X": {"Y": 2}}) == ["X.Y", "maX"]


def test_read_json_names_a_path_of_the_wrong_kind(tmp_path: Path) -> None:
    not_a_run = tmp_path / "notes.txt"
    not_a_run.write_text("a file")
    with pytest.raises(AlignAuditError) as info:
        read_json(not_a_run / "config.json")
    assert str(info.value) == (
        f"{not_a_run} is a file, not a run directory; give the directory `eval` wrote"
    )
    with pytest.raises(AlignAuditError) as info:
        read_json(tmp_path)
    assert str(info.value) == f"{tmp_path} is a directory; expected a JSON file"
    latin = tmp_path / "results.json"
    latin.write_bytes('{"text": "Ça va"}'.encode("latin-1"))
    with pytest.raises(InputFileError) as info:
        read_json(latin)
    assert str(info.value) == f"{latin}: not UTF-8 text (invalid continuation byte)"
    assert (info.value.path, info.value.line) == (latin, None)


def test_a_log_that_is_a_directory_or_broken_mid_file_says_what_to_do(tmp_path: Path) -> None:
    folder = tmp_path / "generations.jsonl"
    folder.mkdir()
    with pytest.raises(AlignAuditError) as info:
        JsonlLog(folder).read()
    assert str(info.value) == f"{folder} is a directory; expected a JSONL file"
    path = tmp_path / "judgments.jsonl"
    path.write_text('{"id": "a"}\nnot json\n{"id": "b"}\n')
    with pytest.raises(InputFileError) as info:
        JsonlLog(path).read()
    assert str(info.value) == (
        f"{path}:2: not valid JSON (Expecting value); repair or delete that line and rerun"
    )


def test_out_that_is_a_file_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "run"
    path.write_text("not a directory")
    with pytest.raises(AlignAuditError) as info:
        RunDir(path).prepare({"run": {}})
    assert str(info.value) == f"--out {path} is a file; give a directory"
    assert path.read_text() == "not a directory"


def test_only_a_real_response_is_a_result_worth_keeping(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "run")
    run.prepare({"run": {"seed": 0}, "judges": ["keyword"]})
    assert not run.has_results()
    run.generations.append([{"id": "1", "response": "", "error": "timeout"}])
    assert not run.has_results()  # a generation error is no result
    # ... so a changed configuration starts afresh without --overwrite,
    run.prepare({"run": {"seed": 1}, "judges": ["keyword"]})
    assert run.generations.read() == [] and run.read_config()["run"] == {"seed": 1}
    run.generations.append([{"id": "1", "response": "", "error": "timeout"},
                            {"id": "2", "response": "A reply.", "error": None}])  # fmt: skip
    assert run.has_results()
    # ... and once one request has a response, a changed configuration is refused.
    with pytest.raises(AlignAuditError, match="changed: seed"):
        run.prepare({"run": {"seed": 2}, "judges": ["keyword"]})
    assert len(run.generations.read()) == 2


def test_an_atomic_write_onto_a_directory_is_refused_by_name(tmp_path: Path) -> None:
    folder = tmp_path / "results.json"
    (folder / "inside").mkdir(parents=True)
    with pytest.raises(AlignAuditError) as info:
        write_json_atomic(folder, {"x": 1})
    assert str(info.value) == f"{folder} is a directory; give a file name to write"
    assert [p.name for p in folder.iterdir()] == ["inside"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.json"]  # no temporary left


def test_reorder_puts_lines_in_request_order_keeping_every_line_byte_for_byte(
    tmp_path: Path,
) -> None:
    log = JsonlLog(tmp_path / "generations.jsonl")
    lines = [
        '{"id": "b", "response": "first try", "error": "empty reply"}\n',
        '{"id": "c", "response": "ü"}\n',
        '{"id": "stray"}\n',
        '{"id": "a",   "response": "spacing kept"}\n',
        '{"id": "b", "response": "retried"}\n',
    ]
    log.path.write_text("".join(lines) + '{"id": "torn', encoding="utf-8")
    log.reorder(["a", "b", "c"])
    # Lines of one id keep their order (the retry stays the newest), unknown ids go last, the
    # torn tail is gone, and each line is the very text that was written.
    assert log.path.read_text(encoding="utf-8") == "".join(
        [lines[3], lines[0], lines[4], lines[1], lines[2]]
    )
    assert [r["response"] for r in log.read()[:2]] == ["spacing kept", "retried"]
    inode = log.path.stat().st_ino
    log.reorder(["a", "b", "c"])  # already in order: not written again
    assert log.path.stat().st_ino == inode
    JsonlLog(tmp_path / "absent.jsonl").reorder(["a"])
    assert not (tmp_path / "absent.jsonl").exists()
