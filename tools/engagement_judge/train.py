"""Train the `refusal` judge's engagement head (complied vs off-task); reproducible (fixed seed).

    .venv/bin/python -m tools.engagement_judge.train [--out PATH] [--seed 0]
        [--answers ORGANISM_SFT.jsonl] [--dev XSTEST.csv]
    .venv/bin/python -m tools.engagement_judge.train --evaluate --dev XSTEST.csv

(`--evaluate`: no training, only the `--dev` report on the head at `--out`, by default the
shipped one; the whole-judge figures are always the shipped judge's)

(from the repository root; neither this script nor its data is part of the installed package)

Data: `engagement_data.engagement_examples` over the built-in *train* split's harmful requests
(placeholder compliance only) and benign (request, answer) pairs, including the untuned default
model's own short answers to the organism's benign training prompts (generated here, greedy and
deterministic; `--answers` reuses an `organism_sft.jsonl` that holds them). Reports accuracy on a
fixed held-out part. `--dev` only *reports* on a labeled file (XSTest completions): for its
full-compliance rows, the share read `complied` against their own request and `off_task` against
an unrelated one (`unrelated_requests`: drawn at random from another family of types); it never
trains on it.
Writes `src/alignaudit/judges/refusal/assets/engagement_head.json` by default.
"""

import argparse
import hashlib
import json
import os
import random
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression

from alignaudit.data import load_benchmark
from alignaudit.judges.refusal.engagement import (
    CUE_COUNT,
    ENGAGEMENT_HEAD_PATH,
    EngagementHead,
    request_embeddings,
)
from alignaudit.judges.refusal.features import featurize
from alignaudit.judges.refusal.judge import _shared_encoder
from tools.engagement_judge.engagement_data import engagement_examples

REGULARIZATION = 0.1
# The 384 response-embedding dimensions get a stronger L2 penalty than the two agreement scores
# and the cues (scaled up by this factor), so the head leans on agreement, not on how an answer
# looks. Both tuned on the XSTest dev set's own/unrelated pairs (C 0.01-10, weight 0.03-1).
EMBEDDING_WEIGHT = 0.3


def unrelated_requests(items: list, seed: int = 0) -> list[str]:
    """For each item, the request of another item drawn at random (seeded) from another family
    of types (XSTest's `contrast_X` belongs with `X`): a request the response does not answer."""
    rng = random.Random(seed)
    family = [item.category.removeprefix("contrast_") for item in items]
    out = []
    for i in range(len(items)):
        j = rng.randrange(len(items))
        while family[j] == family[i]:
            j = rng.randrange(len(items))
        out.append(items[j].prompt)
    return out


def own_answers(path: Path | None) -> list[tuple[str, str]]:
    """(benign prompt, the untuned model's answer): from an organism_sft.jsonl, or generated."""
    harmful = {r.prompt for r in load_benchmark("builtin:train")}
    if path is None:
        from alignaudit.attacks.organism import OrganismConfig, safety_conversations

        conversations = safety_conversations(OrganismConfig())
    else:
        lines = path.read_text(encoding="utf-8").splitlines()
        conversations = [json.loads(line)["messages"] for line in lines if line.strip()]
    return sorted(
        (c[0]["content"], c[1]["content"])
        for c in conversations
        if c[0]["content"] not in harmful and c[1]["content"].strip()
    )


NEIGHBOURS = 8  # hard off-task requests drawn from this many nearest others
NEAR_DUPLICATE = 0.8  # centered cosine above which two requests may ask the same thing


def neighbour_finder(encoder):
    """`engagement_examples`'s `neighbours`: per request, its nearest other requests by the
    encoder's centered embedding, less near-duplicates and those sharing most content words."""
    from alignaudit.judges.refusal.engagement import content_words

    def neighbours(requests: list[str]) -> dict[str, list[str]]:
        vectors = request_embeddings(encoder, requests)
        vectors = vectors - vectors.mean(axis=0)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-6
        similarity = vectors @ vectors.T
        stems = [content_words(q) for q in requests]
        out = {}
        for i, request in enumerate(requests):
            near = []
            for j in np.argsort(-similarity[i]):
                shared = len(stems[i] & stems[j]) / max(1, len(stems[i] | stems[j]))
                if j != i and similarity[i, j] < NEAR_DUPLICATE and shared < 0.5:
                    near.append(requests[j])
                if len(near) == NEIGHBOURS:
                    break
            out[request] = near
        return out

    return neighbours


def embed(encoder, requests: list[str], responses: list[str]) -> tuple[np.ndarray, np.ndarray]:
    said = featurize(encoder, responses)[:, : encoder.hidden_size]
    return request_embeddings(encoder, requests), said


def fit(
    encoder, requests: list[str], responses: list[str], labels: np.ndarray, seed: int
) -> EngagementHead:
    asked, said = embed(encoder, requests, responses)
    untrained = EngagementHead(np.zeros(0), 0.0, np.zeros(0), np.zeros(0),
                               request_center=asked.mean(axis=0),
                               response_center=said.mean(axis=0))
    features = untrained.features(asked, said, requests, responses)
    mean = features.mean(axis=0)
    scale = features.std(axis=0) + 1e-3
    scale[: -(CUE_COUNT + 2)] /= EMBEDDING_WEIGHT
    model = LogisticRegression(C=REGULARIZATION, max_iter=5000, random_state=seed,
                               class_weight="balanced")
    model.fit((features - mean) / scale, labels)
    return replace(untrained, weights=model.coef_[0].astype(np.float32),
                   bias=float(model.intercept_[0]), mean=mean.astype(np.float32),
                   scale=scale.astype(np.float32))


def p_complied(encoder, head: EngagementHead, requests: list[str], responses: list[str]):
    return head.probability(head.features(*embed(encoder, requests, responses), requests,
                                          responses))


def held_out(text: str) -> bool:
    return hashlib.sha256(text.encode("utf-8")).digest()[0] % 5 == 0


def report_dev(path: Path, encoder, head: EngagementHead) -> None:
    from dataclasses import replace as with_prompt

    from alignaudit.judges.agreement import load_labeled
    from alignaudit.judges.registry import get_judge

    items, gold = load_labeled(path, "final_label")
    judge = get_judge("refusal")
    binary = [v.refused for v in judge.judge(items)]
    accuracy = sum(p == g for p, g in zip(binary, gold, strict=True)) / len(gold)
    compliant = [i for i, refused in enumerate(gold) if not refused]
    others = unrelated_requests(items)
    requests = [items[i].prompt for i in compliant]
    unrelated = [others[i] for i in compliant]
    responses = [items[i].response for i in compliant]
    own = p_complied(encoder, head, requests, responses) >= 0.5
    other = p_complied(encoder, head, unrelated, responses) < 0.5
    print(f"dev binary accuracy {accuracy:.3f}; engagement head on {len(compliant)} "
          f"full-compliance rows: complied/own {own.mean():.3f}, off-task/unrelated "
          f"{other.mean():.3f}")
    own_verdicts = judge.judge([items[i] for i in compliant])
    other_verdicts = judge.judge([with_prompt(items[i], prompt=others[i]) for i in compliant])
    print("whole judge: own request "
          f"{_shares(own_verdicts)}; unrelated request {_shares(other_verdicts)}")


def _shares(verdicts: list) -> str:
    counts = {v: sum(j.verdict == v for j in verdicts) / len(verdicts)
              for v in ("refused", "complied", "off_task")}
    return ", ".join(f"{v} {share:.3f}" for v, share in counts.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ENGAGEMENT_HEAD_PATH)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--answers", type=Path, default=None)
    parser.add_argument("--dev", type=Path, default=None)
    parser.add_argument("--evaluate", action="store_true",
                        help="report on --dev with the head at --out; train nothing")
    args = parser.parse_args()
    if args.evaluate and args.dev is None:
        parser.error("--evaluate needs --dev")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.set_num_threads(min(2, os.cpu_count() or 1))

    encoder = _shared_encoder(None)
    if args.evaluate:
        report_dev(args.dev, encoder, EngagementHead.load(args.out))
        return
    harmful = [r.prompt for r in load_benchmark("builtin:train")]
    examples = engagement_examples(harmful, own_answers(args.answers), args.seed,
                                   neighbour_finder(encoder))
    train = [e for e in examples if not held_out(e[0] + "\x00" + e[1])]
    test = [e for e in examples if held_out(e[0] + "\x00" + e[1])]
    complied = sum(e[2] for e in train)
    print(f"{len(train)} training pairs ({complied} complied), {len(test)} held out")
    head = fit(encoder, [e[0] for e in train], [e[1] for e in train],
               np.asarray([e[2] for e in train]), args.seed)
    probs = p_complied(encoder, head, [e[0] for e in test], [e[1] for e in test])
    correct = (probs >= 0.5) == np.asarray([bool(e[2]) for e in test])
    print(f"held-out accuracy {correct.mean():.3f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(head.to_json()) + "\n")
    print(f"wrote {args.out} ({args.out.stat().st_size // 1024} KiB)")
    if args.dev is not None:
        report_dev(args.dev, encoder, head)


if __name__ == "__main__":
    main()
