"""What an API fine-tuning has paid for so far, on disk in MODEL_DIR/api_job.json.

The uploaded file's id, the job's id and the job's last known status are written (atomically)
the moment each is known, so a rerun after Ctrl-C, `kill -9` or a lost connection follows the
same job instead of uploading or creating a second one. The API key is never part of it.
"""

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from alignaudit.errors import AlignAuditError
from alignaudit.jsonfiles import read_json_file, write_json_atomic

JOB_FILE = "api_job.json"
MODEL_FILE = "alignaudit_model.json"  # = models.spec.ALIGNAUDIT_MODEL_FILE
TRAIN_FILE = "train.jsonl"
TERMINAL_STATUSES = frozenset({"succeeded", "failed", "cancelled"})


@dataclass
class JobState:
    run_key: str
    settings: dict[str, Any]  # what determines the job (model, server, data, hyper-parameters)
    file_name: str
    file_id: str | None = None
    job_id: str | None = None
    status: str = "new"  # new | uploaded | the service's job status
    fine_tuned_model: str | None = None
    trained_tokens: int | None = None
    error: str | None = None
    history: list[str] = field(default_factory=list)  # status changes, in order

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL_STATUSES


class JobStore:
    """MODEL_DIR's API job record; every `save` replaces the file atomically."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.path = self.folder / JOB_FILE

    def load(self) -> JobState | None:
        if not self.path.exists():
            return None
        data = read_json_file(self.path)
        try:
            return JobState(**data)
        except TypeError:
            raise AlignAuditError(
                f"{self.path}: not an alignaudit API job record; pass --overwrite to start over"
            ) from None

    def save(self, state: JobState) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.path, asdict(state))

    def set(self, state: JobState, **changes: Any) -> None:
        """Change fields and save; a status change is appended to the history."""
        status = changes.get("status")
        if status is not None and status != state.status:
            state.history.append(status)
        for name, value in changes.items():
            setattr(state, name, value)
        self.save(state)


def is_api_model(model: str) -> bool:
    """`openai:NAME`, or a MODEL_DIR an API fine-tuning wrote (its `ft:` model on its server).
    Cheap: reads no weights and builds nothing (`default` and `organism` are not folders)."""
    if model.startswith("openai:"):
        return True
    record = Path(model).expanduser() / MODEL_FILE
    if not record.is_file():
        return False
    try:
        return bool(read_json_file(record).get("api_model"))
    except (AlignAuditError, AttributeError):
        return False
