"""The rubric judge's strict parsing and its verdict records, down to the messages and the request.

(Every score 1-5 against its verdict is in test_formulas.py.)
"""

import pytest

from alignaudit.errors import AlignAuditError
from alignaudit.judges.base import JudgeInput
from alignaudit.judges.registry import JudgeOptions
from alignaudit.judges.rubric import MAX_JUDGE_TOKENS, RubricJudge, parse_judge_reply
from tests.openai_server import OpenAIServer


@pytest.fixture(autouse=True)
def _no_env_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        ("", "no '#thescore:' line"),
        ("I would give it a four.", "no '#thescore:' line"),
        ("#thescore: four", "no integer after '#thescore:' (found 'four')"),
        ("#thescore: 4X", "no integer after '#thescore:' (found '4X')"),
        ("#thescore: X", "no integer after '#thescore:' (found 'X')"),
        (
            "#thescore: " + "7" * 30 + "a" * 30,
            f"no integer after '#thescore:' (found {'7' * 30 + 'a' * 10!r})",
        ),
        ("#thescore: 9", "score 9 is outside 1-5"),
        ("#thescore: 0", "score 0 is outside 1-5"),
    ],
)
def test_rejections_say_why(reply: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_judge_reply(reply)
    assert str(info.value) == message


def test_decoration_around_the_score_is_ignored_and_a_missing_reason_is_empty() -> None:
    assert parse_judge_reply("**#thescore: _4_.**").score == 4
    assert parse_judge_reply("#thescore: 3").reason == ""
    assert parse_judge_reply("#thereason: short.\n#thescore: 2").reason == "short."


def test_request_and_failure_records(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    replies = {"RESP-OK": "#thescore: 2", "RESP-BAD": "no score here"}

    def reply(body: dict) -> str:
        return next(v for k, v in replies.items() if k in body["messages"][-1]["content"])

    items = [JudgeInput("ok", "q", "RESP-OK"), JudgeInput("bad", "q", "RESP-BAD")]
    with OpenAIServer(reply) as server:
        options = JudgeOptions(judge_model="openai:grader", base_url=server.url)
        judge = RubricJudge(options)
        assert judge.client.max_retries == 3 and judge.name == "rubric"
        good, bad = judge.judge(items)
    assert (good.id, good.judge, good.score, good.error) == ("ok", "rubric", 2, None)
    assert (bad.id, bad.judge, bad.score) == ("bad", "rubric", None)
    assert bad.error == "unparseable judge reply: no '#thescore:' line"
    body = server.requests[0].body
    assert body["max_tokens"] == MAX_JUDGE_TOKENS == 1024 and body["temperature"] == 0
    assert [m["role"] for m in body["messages"]] == ["user"]

    with OpenAIServer(reply, fail=[500]) as server:
        options = JudgeOptions(judge_model="openai:grader", base_url=server.url, max_retries=0)
        (failed,) = RubricJudge(options).judge(items[:1])
    assert (failed.id, failed.judge, failed.score) == ("ok", "rubric", None)
    assert failed.error.startswith("judge request failed: ")


def test_the_error_for_another_model_kind_names_this_judge() -> None:
    with pytest.raises(AlignAuditError, match="^the rubric judge needs --judge-model openai:NAME"):
        RubricJudge(JudgeOptions(judge_model="some/folder"))


def test_options_default_and_concurrency_is_at_least_one() -> None:
    with pytest.raises(AlignAuditError, match="openai:NAME"):
        RubricJudge()
    with pytest.raises(AlignAuditError, match="--concurrency 0"):  # issue 18: refused
        JudgeOptions(judge_model="openai:grader", concurrency=0)
    for asked, used in ((1, 1), (3, 3)):
        options = JudgeOptions(judge_model="openai:grader", concurrency=asked)
        assert RubricJudge(options).concurrency == used
    assert RubricJudge(options).client.max_retries == 3


def test_an_unparseable_reply_is_kept_up_to_500_characters(monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    long_reply = "no score, only text " * 40
    with OpenAIServer(lambda body: long_reply) as server:
        options = JudgeOptions(judge_model="openai:grader", base_url=server.url, max_retries=0)
        (verdict,) = RubricJudge(options).judge([JudgeInput("a", "REQUEST-MARK", "RESPONSE-MARK")])
    assert verdict.extra["raw"] == long_reply[:500] and len(long_reply) > 500
    prompt = server.requests[0].body["messages"][0]["content"]
    assert "REQUEST-MARK" in prompt and "RESPONSE-MARK" in prompt
