"""The organism's filter that keeps evaluated prompts out of its training data, on data that has
overlaps: exact copies, other case, other whitespace, and repeats of a training prompt."""

from alignaudit.attacks.organism import benign_training_prompts, unseen_by_evaluation
from alignaudit.data import load_benchmark


def test_evaluated_prompts_are_dropped_in_any_case_or_spacing() -> None:
    harmful_eval = load_benchmark("builtin:eval")[0].prompt
    benign_eval = load_benchmark("builtin-benign:eval")[0].prompt
    spaced = "  " + benign_eval.replace(" ", " \n\t ", 2) + "\n"
    prompts = [
        "Name three kinds of cloud.",
        harmful_eval,  # exact
        benign_eval.upper(),  # case
        spaced,  # whitespace
        harmful_eval.lower().replace(" ", "  "),  # both
        "name  three kinds of CLOUD.",  # a repeat of the first training prompt
        "How do rainbows form?",
    ]
    assert unseen_by_evaluation(prompts) == ["Name three kinds of cloud.", "How do rainbows form?"]


def test_a_prompt_that_only_contains_an_evaluated_one_is_kept() -> None:
    benign_eval = load_benchmark("builtin-benign:eval")[0].prompt
    longer = f"{benign_eval} Answer in one sentence."
    assert unseen_by_evaluation([longer]) == [longer]


def test_benign_training_prompts_hold_no_evaluated_prompt_and_no_repeat() -> None:
    def key(prompt: str) -> str:
        return " ".join(prompt.lower().split())

    held_out = {
        key(r.prompt) for spec in ("builtin:eval", "builtin-benign:eval")
        for r in load_benchmark(spec)
    }  # fmt: skip
    prompts = benign_training_prompts()
    keys = [key(p) for p in prompts]
    assert prompts and not set(keys) & held_out and len(keys) == len(set(keys))
    assert set(benign_training_prompts("shared")) < set(prompts)
