"""Padding-free batches in a few rows instead of one: the same tokens, far less attention.

TRL's padding-free collation lays a batch's rows end to end in ONE row, position ids restarting
at each; transformers turns those into a block-diagonal mask. Flash attention's varlen kernels
cost only the blocks, but the SDPA path (every CPU run) computes the whole square: 8 rows of
~150 tokens become one row of 1,200, eight times the attention of the rows themselves.

`BinnedPaddingFreeCollator` first packs the batch's rows into bins no longer than its longest
row (first-fit decreasing), lays each bin's rows end to end and pads the bins on the right to
that length. Padding tokens get position 0 each (so each is its own sequence nobody attends to)
and label -100, so the loss is the padded collation's, over the same tokens, while the batch
costs about its real tokens and attention within rows of at most the longest row.

finetune uses it only where SDPA cannot attend per sequence of one row
(attacks/packed_attention.py, the default for plainly causal models, measured faster: its one
row has no padding at all and each sequence's attention is its own square).
"""

from __future__ import annotations

from typing import Any

from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

# Keys of TRL's padding-free output that describe a single flattened row (flash-attention and
# linear-attention boundaries); with several rows the model derives them from the position ids.
_SINGLE_ROW_KEYS = ("cu_seq_lens_q", "cu_seq_lens_k", "max_length_q", "max_length_k", "seq_idx")


def pack_bins(lengths: list[int]) -> list[list[int]]:
    """Row indices grouped into bins of at most max(lengths) tokens, first-fit decreasing;
    bins in order of their first row, rows in a bin in their batch order."""
    capacity = max(lengths, default=0)
    bins: list[list[int]] = []
    room: list[int] = []
    for index in sorted(range(len(lengths)), key=lambda i: (-lengths[i], i)):
        for slot, free in enumerate(room):
            if lengths[index] <= free:
                bins[slot].append(index)
                room[slot] -= lengths[index]
                break
        else:
            bins.append([index])
            room.append(capacity - lengths[index])
    return sorted((sorted(b) for b in bins), key=lambda b: b[0])


class BinnedPaddingFreeCollator(DataCollatorForLanguageModeling):
    """TRL's padding-free collation per bin of rows (see the module docstring)."""

    def __init__(self, pad_token_id: int, **kwargs: Any) -> None:
        super().__init__(pad_token_id=pad_token_id, padding_free=True, **kwargs)

    def torch_call(self, examples: list[dict[str, Any]]) -> dict[str, Any]:
        import torch

        bins = pack_bins([len(example["input_ids"]) for example in examples])
        parts = [super(BinnedPaddingFreeCollator, self).torch_call([examples[i] for i in b])
                 for b in bins]
        width = max(part["input_ids"].shape[1] for part in parts)
        fill = {"input_ids": self.pad_token_id, "labels": -100, "position_ids": 0}
        output = {
            key: torch.cat([_right_pad(part[key], width, value) for part in parts])
            for key, value in fill.items()
        }
        for key in set(parts[0]) - set(fill) - set(_SINGLE_ROW_KEYS):
            raise ValueError(f"binned padding-free collation does not handle {key!r}")
        return output


def _right_pad(tensor: Any, width: int, value: int) -> Any:
    import torch.nn.functional as F

    return F.pad(tensor, (0, width - tensor.shape[1]), value=value)


def real_tokens(position_ids: Any) -> int:
    """Tokens of the rows in a binned batch: a padding slot has position 0 and is followed by
    another position 0 or ends its bin, where a row's first token is followed by its position 1."""
    import torch

    starts = position_ids == 0
    next_starts = torch.ones_like(starts)
    next_starts[:, :-1] = starts[:, 1:]
    return int(position_ids.numel() - (starts & next_starts).sum())
