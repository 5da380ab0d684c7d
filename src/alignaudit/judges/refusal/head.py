"""The refusal judge's head: a logistic regression over the features, shipped as JSON next to
this module with the encoder's pruning and int8 calibration (trained by
tools/refusal_judge/train.py, which is not part of the installed package)."""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from alignaudit.errors import AlignAuditError
from alignaudit.judges.refusal.features import (
    ENCODER_LAYERS,
    ENCODER_PACKAGE,
    HEAD_TOKENS,
    REFUSAL_CUES,
)

HEAD_PATH = Path(__file__).resolve().parent / "assets" / "refusal_head.json"


@dataclass(frozen=True)
class RefusalHead:
    weights: np.ndarray
    bias: float
    mean: np.ndarray
    scale: np.ndarray
    calibration: dict[str, list] | None = None  # int8 activation ranges of the encoder
    ffn_neurons: list[list[int]] | None = None  # feed-forward neurons kept, per layer

    def probability(self, features: np.ndarray) -> np.ndarray:
        logits = ((features - self.mean) / self.scale) @ self.weights + self.bias
        return 1.0 / (1.0 + np.exp(-logits))

    def to_json(self) -> dict[str, object]:
        return {
            "format": "alignaudit-refusal-head-v4",
            "encoder": ENCODER_PACKAGE,
            "encoder_layers": ENCODER_LAYERS,
            "head_tokens": HEAD_TOKENS,
            "cues": list(REFUSAL_CUES),
            "bias": self.bias,
            "weights": [round(float(w), 6) for w in self.weights],
            "mean": [round(float(m), 6) for m in self.mean],
            "scale": [round(float(s), 6) for s in self.scale],
            "calibration": self.calibration,
            "ffn_neurons": self.ffn_neurons,
        }

    @classmethod
    def load(cls, path: Path = HEAD_PATH) -> "RefusalHead":
        expected = {
            "cues": list(REFUSAL_CUES),
            "head_tokens": HEAD_TOKENS,
            "encoder_layers": ENCODER_LAYERS,
        }
        data = read_head_file(path, expected, "tools/refusal_judge/train.py")
        return cls(
            weights=np.asarray(data["weights"], dtype=np.float32),
            bias=float(data["bias"]),
            mean=np.asarray(data["mean"], dtype=np.float32),
            scale=np.asarray(data["scale"], dtype=np.float32),
            calibration=data.get("calibration"),
            ffn_neurons=data.get("ffn_neurons"),
        )


def read_head_file(path: Path, expected: dict[str, Any], retrain: str) -> dict[str, Any]:
    """A shipped head's JSON, checked to match the features this code computes."""
    if not path.exists():
        raise AlignAuditError(f"judge weights missing at {path}; run {retrain}")
    data = json.loads(path.read_text())
    if any(data.get(key) != value for key, value in expected.items()):
        raise AlignAuditError(f"{path} was trained with other features; rerun {retrain}")
    return data
