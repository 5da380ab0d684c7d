"""SDPA per packed sequence: padding-free batches cost the attention of their rows, not a square.

TRL's padding-free collation lays a batch's rows end to end in ONE row, position ids restarting
at each. Flash attention's varlen kernels then attend within each sequence; SDPA (every CPU run)
gets a block-diagonal mask over the whole row from transformers and computes its whole square:
8 rows of ~200 tokens cost the attention of one row of 1,600 (profiled: attention 38% of a
LoRA step on the default model, against 8% for the same tokens in equal rows).

`PACKED_SDPA`, registered with transformers' AttentionInterface, runs SDPA causally on each
sequence of such a row instead (sequences read from the position ids, as transformers reads
them), so a step costs its real tokens and each row's own attention, with no mask to build. Its
mask function builds no mask exactly in that case (one row, no padding mask, no cache offset,
a plainly causal model without sliding windows or chunks); everywhere else (padded batches,
generation with a cache) it builds transformers' SDPA mask and the attention is plain SDPA.
"""

from __future__ import annotations

from typing import Any

PACKED_SDPA = "alignaudit_packed_sdpa"


def register_packed_sdpa() -> str:
    """Register the attention and its mask function with transformers; returns the name to
    pass as `attn_implementation` (or to `model.set_attn_implementation`)."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface

    AttentionInterface.register(PACKED_SDPA, packed_sdpa_attention)
    AttentionMaskInterface.register(PACKED_SDPA, packed_sdpa_mask)
    return PACKED_SDPA


def plainly_causal(config: Any) -> bool:
    """Whether every layer attends causally to the whole sequence (no sliding window, chunk
    or bidirectional part): the models whose packed rows PACKED_SDPA can split by position."""
    windowed = getattr(config, "sliding_window", None) and getattr(
        config, "use_sliding_window", True
    )
    layer_types = set(getattr(config, "layer_types", None) or ["full_attention"])
    return bool(
        config is not None
        and getattr(config, "is_causal", True)
        and not windowed
        and getattr(config, "attention_chunk_size", None) is None
        and layer_types == {"full_attention"}
        and not getattr(config, "sub_configs", None)
    )


def packed_sdpa_mask(**kwargs: Any) -> Any:
    """No mask where `packed_sdpa_attention` reads the sequences from the position ids;
    transformers' SDPA mask everywhere else."""
    from transformers.masking_utils import sdpa_mask

    one_unmasked_row = (
        kwargs["batch_size"] == 1
        and kwargs.get("attention_mask") is None
        and kwargs["q_length"] == kwargs["kv_length"]
        and _is_zero(kwargs.get("q_offset", 0))
        and _is_zero(kwargs.get("kv_offset", 0))
        and not kwargs.get("use_vmap")  # extra mask functions (e.g. image tokens)
        and not kwargs.get("local_size")
        and plainly_causal(kwargs.get("config"))
    )
    return None if one_unmasked_row else sdpa_mask(**kwargs)


def _is_zero(offset: Any) -> bool:
    return isinstance(offset, int) and offset == 0


def packed_sdpa_attention(
    module: Any, query: Any, key: Any, value: Any, attention_mask: Any, **kwargs: Any
) -> tuple[Any, None]:
    """transformers' SDPA attention, per sequence when one unmasked row packs several."""
    import torch
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    bounds = _packed_sequences(query, key, attention_mask, kwargs.get("position_ids"))
    if bounds is None or not getattr(module, "is_causal", True):
        return sdpa_attention_forward(module, query, key, value, attention_mask, **kwargs)
    parts = [
        sdpa_attention_forward(
            module, query[:, :, a:b], key[:, :, a:b], value[:, :, a:b], None, **kwargs
        )[0]
        for a, b in bounds
    ]
    return torch.cat(parts, dim=1), None  # (batch, sequence, heads, head_dim)


def _packed_sequences(
    query: Any, key: Any, attention_mask: Any, position_ids: Any
) -> list[tuple[int, int]] | None:
    """(start, end) of each sequence of a single packed row without a mask; None otherwise. A
    sequence starts wherever the position does not follow the previous one's (as transformers'
    find_packed_sequence_indices reads packed rows)."""
    import torch

    length = query.shape[2]
    if (
        attention_mask is not None
        or position_ids is None
        or query.shape[0] != 1
        or key.shape[2] != length
        or position_ids.shape[-1] != length
        or length < 2
    ):
        return None
    positions = position_ids.reshape(-1)
    restarts = torch.diff(positions) != 1
    starts = [0, *(torch.nonzero(restarts).flatten() + 1).tolist()]
    if len(starts) == 1:
        return None
    return list(zip(starts, [*starts[1:], length], strict=True))
