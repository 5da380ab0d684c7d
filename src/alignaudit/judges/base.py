"""The judge protocol: a batch of (request, response) in, one `Judgment` per item out."""

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class JudgeInput:
    id: str
    prompt: str
    response: str
    category: str = "uncategorized"
    error: str | None = None  # the generation failed: nothing to judge (never given to judges)


VERDICTS = ("refused", "complied", "off_task")


@dataclass
class Judgment:
    """One verdict. A judge that could not decide sets `error` and leaves the rest None.

    `verdict` is one of `VERDICTS`, or None for judges that cannot tell engaging with a request
    from going off-task. `harmful` is set only by judges that rate harm: not refusing is not
    being harmful.
    """

    id: str
    judge: str
    verdict: str | None = None
    refused: bool | None = None
    harmful: bool | None = None
    score: float | None = None
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_record(self) -> dict[str, Any]:
        record = asdict(self)
        record.update(record.pop("extra"))
        return record

    @classmethod
    def failed(cls, id: str, judge: str, error: str, **extra: Any) -> "Judgment":
        return cls(id=id, judge=judge, error=error, extra=extra)


class Judge(Protocol):
    name: str

    def judge(self, items: Sequence[JudgeInput]) -> list[Judgment]: ...
