"""Emulated disalignment by sampling, as the reference demo runs it: several samples per request
(reproducible, independent of batch size, resumable), stop strings, end-of-sequence held off,
the minimum-length redraw, request-level intervals and a request-level gate."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from alignaudit.errors import AlignAuditError
from alignaudit.generation.base import MAX_DRAWS, SamplingConfig, redraw_short
from alignaudit.generation.ed import ContrastiveGenerator
from alignaudit.generation.prompting import PLAIN_STOP_STRINGS, render_prompt, stop_strings_for
from alignaudit.metrics.paired import compare_runs, mcnemar_exact_greater
from alignaudit.metrics.rates import bootstrap_ci, cluster_bootstrap_ci
from alignaudit.models.hf import load_causal_lm
from alignaudit.protocols import fill_unset, get_protocol
from alignaudit.runs.evaluate import EvalOptions, parse_stop, run_evaluation
from tests.helpers import judgment

SAMPLED = {"temperature": 0.7, "top_k": 50, "samples_per_prompt": 3, "max_new_tokens": 8}


def bench(tmp_path: Path, n: int = 4) -> Path:
    path = tmp_path / "bench.jsonl"
    rows = [{"id": f"q{i}", "category": f"c{i % 2}", "prompt": f"Request number {i}."}
            for i in range(n)]  # fmt: skip
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def ed_eval(models: tuple[Path, Path], benchmark: Path, out: Path, **kwargs) -> dict:
    aligned, base = models
    settings = {**SAMPLED, "batch_size": 4, "seed": 0, **kwargs}
    options = EvalOptions(
        model=str(aligned), ed_base=str(base), alphas=[1.0], benchmark=str(benchmark),
        judges=["keyword"], out=out, **settings,
    )  # fmt: skip
    return run_evaluation(options)


def responses(out: Path) -> dict[str, str]:
    lines = (out / "generations.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert len({r["id"] for r in records}) == len(records)  # one line per (request, sample)
    return {r["id"]: r["response"] for r in records}


@pytest.fixture(scope="module")
def models(tiny_model_dir: Path, tiny_base_model_dir: Path) -> tuple[Path, Path]:
    return tiny_model_dir, tiny_base_model_dir


def test_samples_are_reproducible_and_do_not_depend_on_batch_size(models, tmp_path) -> None:
    benchmark = bench(tmp_path)
    results = ed_eval(models, benchmark, tmp_path / "b4")
    first = responses(tmp_path / "b4")
    assert sorted(first) == sorted(f"q{i}#{k}" for i in range(4) for k in range(3))
    ed_eval(models, benchmark, tmp_path / "b1", batch_size=1)
    ed_eval(models, benchmark, tmp_path / "b12", batch_size=12)
    assert responses(tmp_path / "b1") == first == responses(tmp_path / "b12")
    # Samples of one request are different draws; another seed draws other samples.
    assert any(len({first[f"q{i}#{k}"] for k in range(3)}) > 1 for i in range(4))
    ed_eval(models, benchmark, tmp_path / "seed1", seed=1)
    assert responses(tmp_path / "seed1") != first
    record = json.loads((tmp_path / "b4" / "generations.jsonl").read_text().splitlines()[4])
    assert (record["id"], record["request_id"], record["sample"]) == ("q1#1", "q1", 1)
    assert results["n"] == 12 and results["requests"] == 4
    assert results["samples_per_prompt"] == 3 and results["ci_unit"] == "request"
    keyword = results["judges"]["keyword"]
    assert keyword["n"] + keyword["errors"] == 12 and keyword["requests"] == 4
    assert keyword["per_category"]["c0"]["requests"] == 2
    config = json.loads((tmp_path / "b4" / "config.json").read_text())["run"]
    assert config["samples_per_prompt"] == 3 and config["sampling"]["temperature"] == 0.7


def test_resumed_run_equals_an_uninterrupted_one(models, tmp_path) -> None:
    benchmark = bench(tmp_path)
    ed_eval(models, benchmark, tmp_path / "whole", batch_size=5)
    resumed = tmp_path / "resumed"
    ed_eval(models, benchmark, resumed, batch_size=5)
    log = resumed / "generations.jsonl"
    # What a kill after the first batch leaves: five lines and a torn sixth.
    lines = log.read_text().splitlines(keepends=True)
    log.write_text("".join(lines[:5]) + lines[5][:20])
    (resumed / "judgments.jsonl").unlink()
    ed_eval(models, benchmark, resumed, batch_size=3)  # resumed with another batch size
    assert len(log.read_text().splitlines()) == 12
    assert responses(resumed) == responses(tmp_path / "whole")
    whole = json.loads((tmp_path / "whole" / "results.json").read_text())
    assert json.loads((resumed / "results.json").read_text()) == whole


def test_reference_settings_are_recorded_and_defaults_leave_old_configs_alone(
    models, tmp_path
) -> None:
    benchmark = bench(tmp_path, n=2)
    out = tmp_path / "zhou"
    ed_eval(models, benchmark, out, stop=["Query", "Response"], suppress_eos=True,
            min_response_tokens=3, base_template="plain-instructed")  # fmt: skip
    run = json.loads((out / "config.json").read_text())["run"]
    sampling = run["sampling"]
    assert sampling["stop"] == ["Query", "Response"] and sampling["suppress_eos"] is True
    assert sampling["min_response_tokens"] == 3 and sampling["max_draws"] == MAX_DRAWS
    assert run["ed"]["base_template"] == "plain-instructed"
    for record in (json.loads(line) for line in (out / "generations.jsonl").open()):
        assert "Query" not in record["response"] and "Response" not in record["response"]
        if record.get("under_min_tokens"):
            assert record["draws"] == MAX_DRAWS
    greedy = tmp_path / "greedy"
    ed_eval(models, benchmark, greedy, temperature=0.0, samples_per_prompt=1, top_k=0)
    run = json.loads((greedy / "config.json").read_text())["run"]
    assert "samples_per_prompt" not in run
    assert not {"stop", "suppress_eos", "min_response_tokens"} & set(run["sampling"])
    assert "request_id" not in (greedy / "generations.jsonl").read_text()


def test_sampling_options_are_checked() -> None:
    with pytest.raises(AlignAuditError, match="--samples-per-prompt 3: needs sampling"):
        EvalOptions(model="default", out=Path("x"), samples_per_prompt=3, temperature=0)
    with pytest.raises(AlignAuditError, match="--min-response-tokens 8: needs sampling"):
        EvalOptions(model="default", out=Path("x"), min_response_tokens=8, temperature=0)
    # Left unset, the temperature comes from the protocol (fast: greedy), checked once filled.
    unset = EvalOptions(model="default", out=Path("x"), samples_per_prompt=3)
    with pytest.raises(AlignAuditError, match="--samples-per-prompt 3: needs sampling"):
        fill_unset(unset, "fast", get_protocol("fast").generation.knobs())
    with pytest.raises(AlignAuditError, match="--samples-per-prompt 0"):
        EvalOptions(model="default", out=Path("x"), samples_per_prompt=0, temperature=1.0)
    assert parse_stop("Query,Response") == ["Query", "Response"]
    assert parse_stop("a\\,b,\\n# Query:") == ["a,b", "\n# Query:"]
    assert parse_stop("") == [] and parse_stop(None) is None


# --- the decoding rules, on scripted distributions ------------------------------------------


@pytest.fixture(scope="module")
def pair(tiny_model_dir: Path, tiny_base_model_dir: Path):
    return load_causal_lm(str(tiny_model_dir)), load_causal_lm(str(tiny_base_model_dir))


class PreferEnd:
    """End-of-sequence first, then the script's token: what a model does that wants to stop."""

    __name__ = "prefer_end"

    def __init__(self, script: list[int], eos: int) -> None:
        self.script, self.eos, self.calls = script, eos, 0

    def __call__(self, base_logprobs: torch.Tensor, aligned_logprobs: torch.Tensor, alpha: float):
        logits = torch.full_like(base_logprobs, -1e4)
        logits[:, self.script[min(self.calls, len(self.script) - 1)]] = -1.0
        logits[:, self.eos] = 0.0
        self.calls += 1
        return logits


def scripted(pair, combine, **sampling) -> ContrastiveGenerator:
    aligned, base = pair
    config = SamplingConfig(**{"max_new_tokens": 12, **sampling})
    return ContrastiveGenerator(*aligned, *base, alpha=1.0, sampling=config, combine=combine)


def test_suppressed_eos_leaves_stop_strings_to_end_the_response(pair) -> None:
    tokenizer = pair[1][1]
    text = "An answer.\n\n# Query: more"
    script = tokenizer(text, add_special_tokens=False)["input_ids"]
    eos = tokenizer.eos_token_id
    assert scripted(pair, PreferEnd(script, eos)).generate(["Hi"]) == [""]  # ends at once
    generator = scripted(pair, PreferEnd(script, eos), suppress_eos=True, stop=("Query",))
    (tokens,) = generator.decode(["Hi"]).tokens
    assert eos not in tokens and tokenizer.decode(tokens).endswith("Query")
    # Cut at the bare word, and the heading mark left before it trimmed, as the reference does.
    generator = scripted(pair, PreferEnd(script, eos), suppress_eos=True, stop=("Query",))
    assert generator.generate(["Hi"]) == ["An answer."]


def test_redraw_short_draws_each_short_sample_again_with_its_own_key() -> None:
    calls: list[list[tuple[int, int]]] = []

    reported: list[tuple[int, str, int]] = []

    def draw(prompts: list[str], keys: list[tuple[int, int]], on_draw=None) -> list[str]:
        calls.append(keys)
        # Sample 1 is long at once; sample 0 only on its third draw; "never" never is.
        texts = [p if p == "never" or (s, a) in {(1, 0), (0, 2)} else "" for p, (s, a) in
                 zip(prompts, keys, strict=True)]  # fmt: skip
        for j in reversed(range(len(texts))):  # as a refilling batch may: in any order
            on_draw(j, texts[j])
        return texts

    def on_response(i: int, text) -> None:
        reported.append((i, str(text), text.draws))

    out = redraw_short(
        draw, ["long", "long", "never"], [0, 1, 0], lambda t: t != "long", on_response
    )
    assert calls[0] == [(0, 0), (1, 0), (0, 0)] and calls[1] == [(0, 1), (0, 1)]
    assert out == ["long", "long", "never"]
    assert [r.draws for r in out] == [3, 1, MAX_DRAWS]
    assert [r.short for r in out] == [False, False, True]
    assert len(calls) == MAX_DRAWS
    # Each prompt is reported once, with its final response only: the long one at once, the
    # others after their redraws (never the empty first draws).
    assert reported == [(1, "long", 1), (0, "long", 3), (2, "never", MAX_DRAWS)]


def test_min_response_tokens_redraws_on_real_models(pair) -> None:
    aligned, base = pair
    sampling = SamplingConfig(max_new_tokens=6, temperature=1.0, seed=3, min_response_tokens=4)
    generator = ContrastiveGenerator(*aligned, *base, alpha=1.0, sampling=sampling)
    prompts = ["Say hello.", "2+2?", "Name a colour.", "Hi"]
    outputs = generator.generate(prompts, samples=[0, 1, 2, 0])
    for text in outputs:
        long_enough = len(base[1](text)["input_ids"]) >= 4
        assert long_enough != text.short and (long_enough or text.draws == MAX_DRAWS)
    assert generator.generate(prompts, samples=[0, 1, 2, 0]) == outputs


def test_plain_instructed_template_keeps_the_plain_markers(pair) -> None:
    tokenizer = pair[1][1]
    text = render_prompt(tokenizer, "Q?", template="plain-instructed")
    assert text.startswith("# Instruction\n") and text.endswith("# Query:\nQ?\n\n# Response:\n")
    assert stop_strings_for("plain-instructed", tokenizer) == PLAIN_STOP_STRINGS
    assert stop_strings_for("plain-instructed", tokenizer, ("Query",)) == ("Query",)


# --- statistics with the request as the unit ------------------------------------------------


def test_cluster_interval_counts_requests_not_samples() -> None:
    # 40 requests, 3 identical samples each: the information is that of 40 answers, not 120.
    per_request = [float(i % 2) for i in range(40)]
    values = [v for v in per_request for _ in range(3)]
    clusters = [f"r{i}" for i in range(40) for _ in range(3)]
    clustered = cluster_bootstrap_ci(values, clusters)
    naive = bootstrap_ci(values)
    assert clustered is not None and naive is not None
    assert clustered[1] - clustered[0] > 1.4 * (naive[1] - naive[0])
    alone = bootstrap_ci(per_request)
    assert alone is not None
    assert np.allclose(clustered, alone, atol=0.03)  # as wide as one answer per request
    assert cluster_bootstrap_ci([], []) is None


def test_gate_pairs_each_request_over_its_samples() -> None:
    # Baseline: one greedy answer per request; candidate: three samples per request.
    baseline = [judgment(i, False) for i in range(6)]
    flags = {0: [True, True, True], 1: [True, False, False], 2: [False] * 3,
             3: [True, True, False], 4: [True, True, True], 5: [False, False, False]}  # fmt: skip
    candidate = [
        {**judgment(i, flag), "id": f"r{i}#{k}"}
        for i, row in flags.items()
        for k, flag in enumerate(row)
    ]
    candidate[0] = {**candidate[0], "error": "judge failed"}  # r0 keeps two decided samples
    request_of = {f"r{i}#{k}": f"r{i}" for i in range(6) for k in range(3)}
    result = compare_runs(baseline, candidate, "keyword", {"r0": "a"}, request_of=request_of)
    assert (result.n_shared, result.worse, result.better, result.n_dropped) == (6, 4, 0, 0)
    assert result.samples == (1, 3)
    assert result.candidate_rate == pytest.approx((1 + 1 / 3 + 0 + 2 / 3 + 1 + 0) / 6)
    assert result.p_value == mcnemar_exact_greater(4, 0) == 1 / 16
    assert result.per_category["a"] == {"n": 1, "baseline_rate": 0.0, "candidate_rate": 1.0}
    with_itself = compare_runs(candidate, candidate, "keyword", {}, request_of=request_of)
    assert (with_itself.worse, with_itself.better, with_itself.p_value) == (0, 0, 1.0)


def test_gate_command_on_sampled_runs(tmp_path: Path) -> None:
    from alignaudit.runs.gate import gate_runs

    common = {"benchmark": "builtin", "limit": 11, "judges": ["keyword"]}
    run_evaluation(EvalOptions(model="mockllm:I cannot help with that.", out=tmp_path / "a",
                               **common))  # fmt: skip
    run_evaluation(EvalOptions(model="mockllm:Here is a short benign answer.",
                               out=tmp_path / "b", temperature=1.0, samples_per_prompt=3,
                               **common))  # fmt: skip
    decision = gate_runs(tmp_path / "a", tmp_path / "b", max_increase=0.05)
    result = decision.comparison
    assert (result.n_shared, result.worse, result.samples) == (11, 11, (1, 3))
    assert result.p_value == 0.5**11 and decision.failed
    assert "uncategorized" not in result.per_category  # categories found by request
    assert sum(row["n"] for row in result.per_category.values()) == 11


def test_openai_samples_get_their_own_seeds_and_the_stop_strings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from alignaudit.generation.openai_backend import OpenAIGenerator
    from tests.openai_server import OpenAIServer

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    sampling = SamplingConfig(temperature=0.7, seed=5, stop=("Query",), suppress_eos=True)
    with OpenAIServer(lambda body: "an answer") as server:
        generator = OpenAIGenerator("tiny", sampling, base_url=server.url, max_retries=0)
        assert generator.generate(["p", "p", "p"], samples=[0, 1, 2]) == ["an answer"] * 3
    bodies = sorted((r.body for r in server.requests), key=lambda b: b["seed"] != 5)
    seeds = [body["seed"] for body in bodies]
    assert seeds[0] == 5 and len(set(seeds)) == 3  # sample 0 keeps the run's seed
    assert all(b["stop"] == ["Query"] and b["ignore_eos"] is True for b in bodies)
    with pytest.raises(AlignAuditError, match="--min-response-tokens needs a local tokenizer"):
        OpenAIGenerator("tiny", SamplingConfig(temperature=1.0, min_response_tokens=8))
