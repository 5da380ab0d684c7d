"""A KV cache that grows in place: one decoding step writes one column instead of copying all.

transformers' `DynamicLayer` appends each step's keys and values with `torch.cat`, which copies
the whole cache every step: for the token loop on a CPU (two models, 30 layers, batch 32) that
was about a sixth of the time at 48 new tokens, and it grows with the answer's length.
`GrowingLayer` keeps the keys and values in buffers with room for `reserve` more columns, writes
new columns in place and hands attention a view of the filled part. Attention sees the same
values over the same length (a strided view, not a copy), so results are bitwise those of
`DynamicLayer`; everything else (batch selection, prefix repetition, the refill loop's column
cropping and joining) keeps working through the `keys`/`values` attributes.
"""

from __future__ import annotations

import functools
import inspect
from typing import TYPE_CHECKING, Any

from transformers.cache_utils import DynamicLayer

if TYPE_CHECKING:
    import torch


def _allocate(like: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    """Room for new columns, uninitialized (tests fill it with NaN: nothing may read it)."""
    return like.new_empty(shape)


class _Grown:
    """One tensor [batch, heads, columns, dim] in a buffer with room after its filled columns."""

    def __init__(self, tensor: torch.Tensor | None = None) -> None:
        # Assigned from outside (joining, cropping): the tensor is the buffer, full.
        self.buffer = tensor if tensor is not None and tensor.dim() == 4 else None
        self.length = 0 if self.buffer is None else int(self.buffer.shape[-2])

    def view(self) -> torch.Tensor | None:
        return None if self.buffer is None else self.buffer[:, :, : self.length]

    def append(self, states: torch.Tensor, columns: int, reserve: int) -> None:
        """Write `states` after the filled columns; a full buffer is replaced by one `columns`
        wide (the first time, when that fits) or with `reserve` columns of room."""
        start, end = self.length, self.length + states.shape[-2]
        if self.buffer is None or end > self.buffer.shape[-2]:
            width = columns if self.buffer is None and end <= columns else end + reserve
            batch, heads, _, dim = states.shape
            grown = _allocate(states, (batch, heads, width, dim))
            if self.buffer is not None:
                grown[:, :, :start] = self.buffer[:, :, :start]
            self.buffer = grown
        self.buffer[:, :, start:end] = states
        self.length = end


class GrowingLayer(DynamicLayer):
    """`DynamicLayer` with preallocated room: `keys`/`values` are views of the filled columns.

    Keys and values are kept apart (`_Grown` each): callers assign `layer.keys` and then read
    `layer.values` (DynamicLayer's own methods do), so one must not change the other's length.
    """

    def __init__(self, reserve: int = 64, columns: int = 0) -> None:
        self._keys, self._values = _Grown(), _Grown()
        self.reserve = max(1, reserve)  # columns allocated past the filled ones when growing
        self.columns = columns  # the first allocation's width, when known (prompt + answer)
        super().__init__()

    @property  # type: ignore[override]
    def keys(self) -> torch.Tensor | None:
        return self._keys.view()

    @keys.setter
    def keys(self, tensor: torch.Tensor | None) -> None:
        self._keys = _Grown(tensor)

    @property  # type: ignore[override]
    def values(self) -> torch.Tensor | None:
        return self._values.view()

    @values.setter
    def values(self, tensor: torch.Tensor | None) -> None:
        self._values = _Grown(tensor)

    def lazy_initialization(self, key_states: torch.Tensor, value_states: torch.Tensor) -> None:
        self.device = key_states.device
        self.is_initialized = True

    def get_seq_length(self) -> int:
        return self._keys.length if self.is_initialized else 0

    def update(
        self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any, **kwargs: Any
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Write the new columns after the filled ones (growing the buffers if they are full)."""
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        self._keys.append(key_states, self.columns, self.reserve)
        self._values.append(value_states, self.columns, self.reserve)
        return self.keys, self.values  # type: ignore[return-value]

    def batch_select_indices(self, indices: torch.Tensor) -> None:
        """Keep the `indices` rows, and the room after the filled columns."""
        for grown in (self._keys, self._values):
            if grown.buffer is not None:
                grown.buffer = grown.buffer.index_select(0, indices)

    def batch_repeat_interleave(self, repeats: int) -> None:
        for grown in (self._keys, self._values):
            if grown.buffer is not None:
                grown.buffer = grown.buffer.repeat_interleave(repeats, dim=0)

    def drop_leading_columns(self, count: int) -> None:
        """Forget the first `count` columns (a view: no copy, the room after stays)."""
        for grown in (self._keys, self._values):
            if count and grown.buffer is not None:
                grown.buffer = grown.buffer[:, :, count:]
                grown.length -= count


def growing_cache(model: Any, reserve: int, columns: int = 0) -> Any:
    """A `DynamicCache` for `model` whose plain layers grow in place (others stay as they are):
    first `columns` wide, then `reserve` columns past the filled ones at each growth."""
    from transformers import DynamicCache

    cache = DynamicCache(config=model.config)
    cache.layers = [
        GrowingLayer(reserve, columns) if type(layer) is DynamicLayer else layer
        for layer in cache.layers
    ]
    return cache


def drop_leading_columns(layer: Any, count: int) -> None:
    """Cut the first `count` cached columns of one layer (in place where it can)."""
    if isinstance(layer, GrowingLayer):
        layer.drop_leading_columns(count)
        return
    layer.keys = layer.keys[:, :, count:]
    layer.values = layer.values[:, :, count:]


def cache_argument(model: Any, cache: Any) -> dict[str, Any]:
    """The cache as the keyword `model.forward` names it: transformers 5.24 renamed
    `past_key_values` to `cache` and warns on the old name at every step; releases from the
    floor (5.4) to 5.23 know only the old name."""
    return {_cache_keyword(type(model)): cache}


@functools.cache
def _cache_keyword(model_type: type) -> str:
    parameters = inspect.signature(model_type.forward).parameters
    return "cache" if "cache" in parameters else "past_key_values"
