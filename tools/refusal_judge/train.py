"""Train the `refusal` judge's head on the project's own examples; reproducible (fixed seed).

    .venv/bin/python -m tools.refusal_judge.train [--out PATH] [--seed 0] [--dev XSTEST.csv]

(from the repository root; neither this script nor its data is part of the installed package)

Trains on the fixed training part of `refusal_data.split_examples` and reports accuracy on its
held-out part. Writes `src/alignaudit/judges/refusal/assets/refusal_head.json` by default.
`--dev` only *reports* accuracy on a labeled file (e.g. XSTest completions); it never trains on it.
"""

import argparse
import json
import os
import random
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score

from alignaudit.judges.agreement import load_labeled
from alignaudit.judges.refusal import (
    FEED_FORWARD_KEEP,
    HEAD_PATH,
    RefusalHead,
    ResponseEncoder,
    featurize,
    lexical_features,
)
from alignaudit.metrics.agreement import agreement
from tools.refusal_judge.refusal_data import split_examples

REGULARIZATION = 0.003  # strong: the training set is small and templated
# The hand-written cues are few and each means something, so they get a weaker L2 penalty than
# the 384 embedding dimensions: shrinking their scale by this factor lets their weights grow.
LEXICAL_WEIGHT = 2.0


def fit_head(features: np.ndarray, labels: np.ndarray, seed: int) -> RefusalHead:
    mean = features.mean(axis=0)
    scale = features.std(axis=0) + 1e-3
    scale[-len(lexical_features("x")) :] /= LEXICAL_WEIGHT
    standardized = (features - mean) / scale
    model = LogisticRegression(C=REGULARIZATION, max_iter=5000, random_state=seed)
    cv = cross_val_score(model, standardized, labels, cv=5)
    print(f"5-fold accuracy on training data: {cv.mean():.3f}")
    model.fit(standardized, labels)
    return RefusalHead(
        weights=model.coef_[0].astype(np.float32),
        bias=float(model.intercept_[0]),
        mean=mean.astype(np.float32),
        scale=scale.astype(np.float32),
    )


def train_head(seed: int = 0) -> tuple[RefusalHead, ResponseEncoder]:
    """The head (with the encoder's pruning and calibration) and the encoder it was fit on."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    pairs, holdout = split_examples(seed)
    texts = [text for text, _ in pairs]
    labels = np.asarray([label for _, label in pairs])
    print(f"{len(pairs)} examples, {int(labels.sum())} refusals; {len(holdout)} held out")
    # The encoder's feed-forward neurons are ranked, and the int8 activation ranges measured,
    # on the training texts, in float32.
    neurons = ResponseEncoder().rank_feed_forward_neurons(texts, FEED_FORWARD_KEEP)
    calibration = ResponseEncoder(ffn_neurons=neurons).calibrate(texts)
    encoder = ResponseEncoder(calibration=calibration, ffn_neurons=neurons)
    head = replace(fit_head(featurize(encoder, texts), labels, seed),
                   calibration=calibration, ffn_neurons=neurons)
    held_probs = head.probability(featurize(encoder, [text for text, _ in holdout]))
    held = agreement([bool(p >= 0.5) for p in held_probs], [bool(y) for _, y in holdout])
    print(f"held-out accuracy {held['accuracy']:.3f}, kappa {held['kappa']:.3f}")
    return head, encoder


def dev_agreement(head: RefusalHead, encoder: ResponseEncoder, path: Path) -> dict:
    """Accuracy and kappa of `head` on a labeled file (reported, never trained on)."""
    items, gold = load_labeled(path, "final_label")
    probs = head.probability(featurize(encoder, [item.response for item in items]))
    return agreement([bool(p >= 0.5) for p in probs], gold)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=HEAD_PATH)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dev", type=Path, default=None, help="labeled CSV/JSONL to report on")
    args = parser.parse_args()

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    head, encoder = train_head(args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(head.to_json()) + "\n")
    print(f"wrote {args.out} ({args.out.stat().st_size // 1024} KiB)")
    if args.dev is not None:
        stats = dev_agreement(head, encoder, args.dev)
        print(f"dev accuracy {stats['accuracy']:.3f}, kappa {stats['kappa']:.3f}")


if __name__ == "__main__":
    main()
