"""Continuous batching for the token loop: a finished row's slot goes to the next request.

Requests wait in a queue (shortest prompts first). The batch starts with the first
`batch_size`; a row that ends leaves at once (with its KV-cache rows), and once enough slots
are free the next requests are prefilled and join the running batch. Short refusals and long
answers then share the work, instead of a batch shrinking to its few longest rows.

Rows in one batch hold KV caches of different lengths. Each model keeps, per row, the cache
left-padded to the batch's longest, a mask that hides the padding and the row's own position
ids; columns no row attends to any more are cut off. A row thus sees exactly its own tokens at
its own positions, whichever requests share the batch, and draws from its own generator.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from alignaudit.generation.base import DrawKey
from alignaudit.generation.ed import FINISH_CHECK_EVERY, PrefixStore, _Stream
from alignaudit.generation.kvcache import cache_argument, drop_leading_columns

if TYPE_CHECKING:
    import torch

    from alignaudit.generation.ed import _TokenLoopGenerator


def supports_refill(model: Any) -> bool:
    """Rows can join a running batch when every cache layer is a plain growing one."""
    from transformers import DynamicCache

    cache = DynamicCache(config=model.config)
    return all(type(layer).__name__ == "DynamicLayer" for layer in cache.layers)


class _Lane:
    """One model's state for the rows in the batch: KV cache, mask and next positions."""

    def __init__(self, stream: _Stream) -> None:
        self.model = stream.model
        self.cache = stream.cache
        self.mask = stream.mask[:, : stream.prompt_len]
        self.position = stream.next_position.clone()

    @property
    def rows(self) -> int:
        return int(self.mask.shape[0])

    def step(self, tokens: torch.Tensor) -> torch.Tensor:
        """Feed each row its next token; return the logits after it."""
        import torch

        self.mask = torch.cat([self.mask, self.mask.new_ones((self.rows, 1))], dim=1)
        out = self.model(
            input_ids=tokens[:, None],
            attention_mask=self.mask,
            position_ids=self.position,
            **cache_argument(self.model, self.cache),
            use_cache=True,
        )
        self.position = self.position + 1
        return out.logits[:, -1]

    def keep(self, rows: torch.Tensor) -> None:
        """Only `rows` stay; columns none of them attends to are cut off."""
        self.mask = self.mask.index_select(0, rows)
        self.position = self.position.index_select(0, rows)
        self.cache.batch_select_indices(rows)
        used = self.mask.any(dim=0).nonzero()
        start = int(used[0]) if len(used) else 0
        if start:
            self.mask = self.mask[:, start:]
            for layer in self.cache.layers:
                drop_leading_columns(layer, start)

    def join(self, other: _Lane) -> None:
        """Append `other`'s rows; the shorter side's caches and mask get left padding."""
        import torch

        if self.rows == 0:
            self.cache, self.mask, self.position = other.cache, other.mask, other.position
            return
        length = max(self.mask.shape[1], other.mask.shape[1])
        self.mask = torch.cat([_left_pad(self.mask, length, 1), _left_pad(other.mask, length, 1)])
        self.position = torch.cat([self.position, other.position])
        for mine, theirs in zip(self.cache.layers, other.cache.layers, strict=True):
            mine.keys = torch.cat(
                [_left_pad(mine.keys, length, 2), _left_pad(theirs.keys, length, 2)]
            )
            mine.values = torch.cat(
                [_left_pad(mine.values, length, 2), _left_pad(theirs.values, length, 2)]
            )


def _left_pad(tensor: torch.Tensor, length: int, dim: int) -> torch.Tensor:
    import torch

    missing = length - tensor.shape[dim]
    if missing == 0:
        return tensor
    shape = list(tensor.shape)
    shape[dim] = missing
    return torch.cat([tensor.new_zeros(shape), tensor], dim=dim)


class RefillLoop:
    """Decode `prompts` (in `order`) with at most `batch_size` rows at a time, refilling.

    `finished(i, tokens)`, when given, hears each request's tokens as the request leaves the
    batch (on an accelerator, at the next check for finished rows).
    """

    def __init__(
        self,
        owner: _TokenLoopGenerator,
        prompts: Sequence[str],
        keys: Sequence[DrawKey],
        order: Sequence[int],
        finished: Callable[[int, list[int]], None] | None = None,
    ) -> None:
        import torch

        self.owner, self.prompts, self.keys = owner, list(prompts), list(keys)
        self.on_finished = finished
        self.queue = deque(order)
        self.max_new = owner.sampling.max_new_tokens
        self.device = owner.members[0].model.device
        self.check_every = 1 if torch.device(self.device).type == "cpu" else FINISH_CHECK_EVERY
        # Room past the limit: on accelerators, rows that hit it leave at the next check.
        width = self.max_new + self.check_every
        self.tokens = torch.full(
            (len(prompts), width), owner.pad_token_id, dtype=torch.long, device=self.device
        )
        self.stop_at = torch.full((len(prompts),), self.max_new, dtype=torch.long)
        self.stop_at = self.stop_at.to(self.device)
        self.eos = owner._eos_tensor(self.device)
        self.active = torch.zeros(0, dtype=torch.long, device=self.device)
        self.counts = torch.zeros(0, dtype=torch.long, device=self.device)
        self.finished = torch.zeros(0, dtype=torch.bool, device=self.device)
        self.generators: list[Any] | None = None if owner.sampling.greedy else []
        self.lanes: list[_Lane] = []
        # Each model's shared prompt beginning is computed at the first admission only.
        self.prefixes: list[PrefixStore] = [{} for _ in owner.members]
        # Prefilling a handful of rows at a time costs more than running a slightly smaller
        # batch for a few steps: refill once a quarter of the slots are free.
        self.refill_at = max(1, owner.batch_size // 4)

    def run(self) -> list[list[int]]:
        """Each request's tokens, up to and including the one that ended it."""
        if not self.prompts or self.max_new <= 0:
            if self.on_finished is not None:
                for i in range(len(self.prompts)):
                    self.on_finished(i, [])
            return [[] for _ in self.prompts]
        logits = self._admit(self.owner.batch_size)
        step = 0
        while self.active.numel():
            next_tokens = self._next_tokens(self.owner._mix(logits))
            self._record(next_tokens)
            step += 1
            check = step % self.check_every == 0
            if check:
                next_tokens = self._leave(next_tokens)
            logits = [lane.step(next_tokens) for lane in self.lanes] if len(next_tokens) else []
            if check and self._should_refill():
                logits = self._join(logits, self._admit(self.owner.batch_size - len(next_tokens)))
        lengths = self.stop_at.cpu().tolist()
        rows = self.tokens.cpu().tolist()
        return [row[:n] for row, n in zip(rows, lengths, strict=True)]

    # --- one step -------------------------------------------------------------------------

    def _next_tokens(self, scores: torch.Tensor) -> torch.Tensor:
        """The batch's next tokens (finished rows: padding), end-of-sequence held off where
        asked (every row with suppress_eos, rows under min_new_tokens)."""
        import torch

        sampling = self.owner.sampling
        if len(self.eos) and (sampling.suppress_eos or sampling.min_new_tokens > 0):
            blocked = scores.index_fill(-1, self.eos, float("-inf"))
            if sampling.suppress_eos:
                scores = blocked
            else:
                hold = (self.counts < sampling.min_new_tokens)[:, None]
                scores = torch.where(hold, blocked, scores)
        # Warpers take the generated tokens as an argument; greedy choice needs none.
        generated = self._tails() if self.generators is not None else scores
        next_tokens = self.owner._choose(scores, generated, self.generators)
        return next_tokens.masked_fill_(self.finished, self.owner.pad_token_id)

    def _record(self, next_tokens: torch.Tensor) -> None:
        """Write the tokens, then mark rows that ended (end of sequence, stop string, limit)."""
        import torch

        self.tokens[self.active, self.counts] = next_tokens
        self.counts = self.counts + 1
        done = torch.isin(next_tokens, self.eos)
        if self.owner.stop_strings:
            done |= self.owner._stops()(self._tails(), None)
        done &= self.counts >= self.owner.sampling.min_new_tokens
        newly = done & ~self.finished
        self.stop_at[self.active[newly]] = self.counts[newly]
        self.finished = self.finished | done | (self.counts >= self.max_new)

    def _tails(self) -> torch.Tensor:
        """Each row's generated tokens, right-aligned (padding on the left) for stop strings."""
        import torch

        width = max(1, int(self.counts.max())) if self.counts.numel() else 1
        index = self.counts[:, None] - width + torch.arange(width, device=self.device)
        tails = self.tokens.index_select(0, self.active).gather(1, index.clamp(min=0))
        return tails.masked_fill_(index < 0, self.owner.pad_token_id)

    # --- leaving and joining --------------------------------------------------------------

    def _leave(self, next_tokens: torch.Tensor) -> torch.Tensor:
        """Drop finished rows from the batch and every model; the staying rows' next tokens."""
        if not bool(self.finished.any()):
            return next_tokens
        self._report(self.active[self.finished])
        kept = (~self.finished).nonzero().squeeze(1)
        for lane in self.lanes:
            lane.keep(kept)
        self.active = self.active.index_select(0, kept)
        self.counts = self.counts.index_select(0, kept)
        self.finished = self.finished.index_select(0, kept)
        if self.generators is not None:
            self.generators = [self.generators[i] for i in kept.tolist()]
        return next_tokens.index_select(0, kept)

    def _report(self, rows: torch.Tensor) -> None:
        """Hand the requests in `rows`, which have ended, to `finished`."""
        if self.on_finished is None:
            return
        lengths = self.stop_at[rows].tolist()
        tokens = self.tokens[rows].tolist()
        for i, row, n in zip(rows.tolist(), tokens, lengths, strict=True):
            self.on_finished(i, row[:n])

    def _should_refill(self) -> bool:
        free = self.owner.batch_size - int(self.active.numel())
        return bool(self.queue) and free >= min(self.refill_at, len(self.queue))

    @staticmethod
    def _join(stepped: list[torch.Tensor], admitted: list[torch.Tensor]) -> list[torch.Tensor]:
        """Per model: the staying rows' logits, then the newcomers' (the batch's row order)."""
        import torch

        if not stepped:
            return admitted
        return [torch.cat([old, new]) for old, new in zip(stepped, admitted, strict=True)]

    def _admit(self, count: int) -> list[torch.Tensor]:
        """Prefill the next `count` queued requests and add them to the batch; their logits."""
        import torch

        ids = [self.queue.popleft() for _ in range(min(count, len(self.queue)))]
        prompts = [self.prompts[i] for i in ids]
        system = self.owner.sampling.system_prompt
        reserve = self.owner._cache_reserve()
        logits: list[torch.Tensor] = []
        lanes = []
        for member, prefixes in zip(self.owner.members, self.prefixes, strict=True):
            texts = [member.render(p, system) for p in prompts]
            share = self.owner.share_prompt_prefix
            stream = _Stream(member, texts, 0, self.device, share, reserve, prefixes)
            logits.append(stream.prefill())
            lanes.append(_Lane(stream))
        if not self.lanes:
            self.lanes = lanes
        else:
            for lane, new in zip(self.lanes, lanes, strict=True):
                lane.join(new)
        added = torch.tensor(ids, dtype=torch.long, device=self.device)
        self.active = torch.cat([self.active, added])
        self.counts = torch.cat([self.counts, torch.zeros_like(added)])
        self.finished = torch.cat([self.finished, torch.zeros_like(added, dtype=torch.bool)])
        if self.generators is not None:
            keys = [self.keys[i] for i in ids]
            self.generators += self.owner._row_generators(prompts, None, keys) or []
        return logits
