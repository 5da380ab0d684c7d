"""`mockllm`: a generator without a model, for pipeline tests and dry runs (after Inspect AI's
`mockllm/model`). `--model mockllm` answers every prompt with a fixed text, `--model mockllm:TEXT`
with TEXT; from Python, `MockGenerator(respond)` answers with `respond(prompt)`."""

from collections.abc import Callable, Sequence

from alignaudit.models.spec import DEFAULT_MOCK_OUTPUT as DEFAULT_OUTPUT


class MockGenerator:
    def __init__(self, respond: str | Callable[[str], str] = DEFAULT_OUTPUT) -> None:
        self.respond = respond if callable(respond) else (lambda _prompt, text=respond: text)
        self.prompts: list[str] = []  # every prompt seen, in order (tests inspect it)

    def generate(self, prompts: Sequence[str], samples: Sequence[int] | None = None) -> list[str]:
        self.prompts += prompts
        return [self.respond(prompt) for prompt in prompts]

    def describe(self) -> dict[str, object]:
        return {"backend": "mock"}
