"""Emulated disalignment (Zhou et al., ACL 2024) and other two-model decoding rules.

Each token is drawn from a combination of two models' next-token log-probabilities. For ED,
pi_ED ∝ pi_base^(1+alpha) / pi_aligned^alpha, so alpha = 0 is exactly the base model.

The two models share a vocabulary but not their prompts: each gets its own rendering (the
aligned model its chat template, the base model a plain `# Query:`/`# Response:` template by
default), its own left padding, position ids and KV cache. Only the generated tokens are shared.
The decoding loop is hand-written (no `generate`) so one step is two cached forward passes plus
a few small on-device ops; the KV caches grow in place (generation/kvcache.py) rather than
being copied whole every step. Finished rows leave the batch (their KV-cache rows too), so a short
refusal stops costing anything once it has ended, and `generate` gives its slot to the next
request (continuous batching, generation/refill.py); requests go by prompt length and answers
come back in request order, each also handed to `on_response` as soon as it has ended.
Sampling draws each request's tokens from its own generator, seeded from the run's seed, the
request, and which sample (and redraw) of it this is, so samples do not depend on which other
requests share the batch.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from alignaudit.errors import AlignAuditError
from alignaudit.generation.base import (
    DrawKey,
    OnResponse,
    SamplingConfig,
    draw_seed,
    redraw_short,
)
from alignaudit.generation.prompting import (
    PLAIN_STOP_STRINGS,
    PLAIN_TEMPLATES,
    STOP_TRIM,
    cut_at_stop,
    has_chat_template,
    load_template,
    render_prompt,
    resolve_template,
)

if TYPE_CHECKING:
    import torch

    from alignaudit.models.hf import LoadOptions
    from alignaudit.models.spec import ModelSpec

# (base_logprobs [B, V], aligned_logprobs [B, V], alpha) -> combined logits [B, V]
Combine = Callable[["torch.Tensor", "torch.Tensor", float], "torch.Tensor"]

# How many steps run between two host syncs that ask "which rows have finished?" on an
# accelerator. A sync drains the device queue; doing it every step costs more than a few wasted
# steps. On the CPU a sync is free, so finished rows leave the batch at once.
FINISH_CHECK_EVERY = 8


def ed_combine(
    base_logprobs: torch.Tensor, aligned_logprobs: torch.Tensor, alpha: float
) -> torch.Tensor:
    """Emulated disalignment: (1 + alpha) * log p_base - alpha * log p_aligned."""
    import torch

    if alpha == 0:  # exactly the base model, even where the aligned model says -inf
        return base_logprobs
    # One fused kernel: aligned + (1 + alpha) * (base - aligned).
    return torch.lerp(aligned_logprobs, base_logprobs, 1.0 + alpha)


@dataclass
class DecodeOutput:
    """Generated tokens of one batch, cut at each row's stop; `scores` when asked for."""

    tokens: list[list[int]]  # per row, up to and including the token that stopped it
    scores: list[torch.Tensor] | None  # per step [B, V]: log-probs of the combined distribution


@dataclass
class _Member:
    """One model in the loop, with the prompt template it sees."""

    model: Any
    tokenizer: Any
    template_name: str  # chat | plain | the template file's path (for describe)
    template: str  # chat | plain | the template text

    @property
    def uses_chat(self) -> bool:
        return self.template == "chat"

    def render(self, prompt: str, system_prompt: str | None) -> str:
        return render_prompt(self.tokenizer, prompt, system_prompt, self.template)


# The KV cache of a prompt beginning (its token ids), per layer, for one row. Only for caches
# whose layers keep every column as given (the refilling loop's: `refill.supports_refill`).
PrefixStore = dict[tuple[int, ...], list[tuple["torch.Tensor", "torch.Tensor"]]]


class _Stream:
    """One model's decoding state for a batch: mask, positions and KV cache.

    The prompts' shared beginning (a chat template's system turn, say) is computed once and its
    KV cache copied to every row: each row is laid out as [shared prefix | left padding | rest],
    with a mask over the padding and positions that count real tokens only.
    """

    def __init__(
        self,
        member: _Member,
        texts: list[str],
        max_new_tokens: int,
        device: Any,
        share_prefix: bool = True,
        reserve: int | None = None,
        prefixes: PrefixStore | None = None,
    ):
        import torch

        self.model = member.model
        self.prefixes = prefixes
        tokenizer = member.tokenizer
        # Chat templates already hold BOS where the model wants it; plain text gets the default.
        ids = tokenizer(texts, add_special_tokens=not member.uses_chat)["input_ids"]
        self.prefix = ids[0][: _shared_prefix_length(ids)] if share_prefix else []
        shared = len(self.prefix)
        rest_len = max(len(row) - shared for row in ids)
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        rest = [[pad] * (rest_len + shared - len(row)) + row[shared:] for row in ids]
        self.input_ids = torch.tensor(rest, dtype=torch.long, device=device)
        rows, self.prompt_len = len(ids), shared + rest_len
        # Generated tokens are always attended (finished rows only feed padding nobody reads),
        # so the mask is allocated once at full length and sliced each step.
        self.mask = torch.ones((rows, self.prompt_len + max_new_tokens), dtype=torch.long)
        for row, tokens in enumerate(ids):
            self.mask[row, shared : self.prompt_len - (len(tokens) - shared)] = 0
        self.mask = self.mask.to(device)
        prompt_mask = self.mask[:, : self.prompt_len]
        self.prompt_positions = (prompt_mask.cumsum(-1) - 1).clamp_(min=0)
        self.next_position = self.prompt_positions[:, -1:] + 1  # the last prompt token is real
        self.cache = _new_cache(self.model, reserve, self.prompt_len)

    def keep(self, rows: torch.Tensor) -> None:
        """Drop every batch row not in `rows` (mask, positions and KV cache)."""
        self.mask = self.mask.index_select(0, rows)
        self.next_position = self.next_position.index_select(0, rows)
        self.cache.batch_select_indices(rows)

    def prefill(self) -> torch.Tensor:
        from alignaudit.generation.kvcache import cache_argument

        shared = len(self.prefix)
        if shared:
            self._prefill_prefix()
            self.cache.batch_repeat_interleave(self.input_ids.shape[0])
        out = self.model(
            input_ids=self.input_ids,
            attention_mask=self.mask[:, : self.prompt_len],
            position_ids=self.prompt_positions[:, shared:],
            **cache_argument(self.model, self.cache),
            use_cache=True,
            logits_to_keep=1,
        )
        return out.logits[:, -1]

    def _prefill_prefix(self) -> None:
        """The shared beginning's KV cache, for one row: from `prefixes` when an earlier batch
        computed it (the same tokens at the same positions: the same values), else computed."""
        import torch

        from alignaudit.generation.kvcache import cache_argument

        key = tuple(self.prefix)
        stored = self.prefixes.get(key) if self.prefixes is not None else None
        if stored is not None:
            for layer, (keys, values) in zip(self.cache.layers, stored, strict=True):
                layer.update(keys, values)
            return
        device = self.input_ids.device
        self.model(
            input_ids=torch.tensor([self.prefix], dtype=torch.long, device=device),
            position_ids=self.prompt_positions[:1, : len(self.prefix)],
            **cache_argument(self.model, self.cache),
            use_cache=True,
            logits_to_keep=1,
        )
        if self.prefixes is not None:
            self.prefixes[key] = [
                (layer.keys.clone(), layer.values.clone()) for layer in self.cache.layers
            ]

    def step(self, tokens: torch.Tensor, step: int) -> torch.Tensor:
        """Feed the token generated at `step` (0-based) and return the next logits."""
        from alignaudit.generation.kvcache import cache_argument

        out = self.model(
            input_ids=tokens[:, None],
            attention_mask=self.mask[:, : self.prompt_len + step + 1],
            position_ids=self.next_position + step,
            **cache_argument(self.model, self.cache),
            use_cache=True,
        )
        return out.logits[:, -1]


class _Batch:
    """Which requests are still decoding: the original row of each batch row, and which ended."""

    def __init__(self, rows: int, device: Any, generators: list[Any] | None, compact: bool) -> None:
        import torch

        self.active = torch.arange(rows, device=device)
        self.finished = torch.zeros(rows, dtype=torch.bool, device=device)
        self.generators = generators
        self.compact = compact
        self.check_every = 1 if torch.device(device).type == "cpu" else FINISH_CHECK_EVERY

    def should_check(self, step: int) -> bool:
        return (step + 1) % self.check_every == 0

    def drop_finished(self, streams: list[_Stream], next_tokens: torch.Tensor) -> torch.Tensor:
        """Remove finished rows from the batch and every stream; return the kept next tokens."""
        if not self.compact or not bool(self.finished.any()):
            return next_tokens
        kept = (~self.finished).nonzero().squeeze(1)
        for stream in streams:
            stream.keep(kept)
        self.active = self.active.index_select(0, kept)
        self.finished = self.finished.index_select(0, kept)
        if self.generators is not None:
            self.generators = [self.generators[i] for i in kept.tolist()]
        return next_tokens.index_select(0, kept)


class _TokenLoopGenerator:
    """The shared decoding loop over one or more models; subclasses say how logits combine."""

    members: list[_Member]
    sampling: SamplingConfig
    batch_size: int
    # All on by default; benchmarks switch them off to measure the engine as it was.
    drop_finished_rows: bool = True
    batch_by_length: bool = True
    share_prompt_prefix: bool = True
    # KV caches that grow in place (generation/kvcache.py) instead of by torch.cat each step.
    grow_cache_in_place: bool = True
    # Continuous batching in `generate`: a finished row's slot goes to the next request.
    refill: bool = True
    # `generate` reports each response as it finishes (`on_response`): the runs layer hands it
    # every missing draw in one call, so refilled slots keep the batch full to the end.
    streams_responses: bool = True

    def _setup_loop(self) -> None:
        tokenizer = self.members[0].tokenizer
        self.pad_token_id = (
            tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        )
        self.eos_token_ids = sorted(_eos_ids(self.members))
        plain = any(m.template_name in PLAIN_TEMPLATES for m in self.members)
        self.stop_strings: tuple[str, ...] = PLAIN_STOP_STRINGS if plain else ()
        if self.sampling.stop is not None:
            self.stop_strings = tuple(self.sampling.stop)
        # Models may pad their embedding matrix past the tokenizer; compare only the shared part.
        sizes = {_output_vocab_size(m.model) for m in self.members}
        self.vocab_limit = min(sizes) if len(sizes) > 1 else None
        self._stop_criteria: Any = None

    def _mix(self, logits: list[torch.Tensor]) -> torch.Tensor:
        raise NotImplementedError

    def _cache_reserve(self) -> int | None:
        """Room the KV caches keep for new columns (None: transformers' growing by copy)."""
        return self.sampling.max_new_tokens if self.grow_cache_in_place else None

    # --- public API ---------------------------------------------------------------------------

    def prompt_overflow(self, prompts: Sequence[str]) -> tuple[dict[int, int], int | None]:
        """({index: tokens} of prompts too long for some member's context, that context)."""
        from alignaudit.generation.context import context_window, overflowing

        for member in self.members:
            window = context_window(member.model, member.tokenizer)
            found = overflowing(
                prompts,
                lambda p, m=member: m.render(p, self.sampling.system_prompt),
                member.tokenizer,
                window,
                self.sampling.max_new_tokens,
                add_special_tokens=not member.uses_chat,
            )
            if found:
                return found, window
        return {}, None

    def generate(
        self,
        prompts: Sequence[str],
        samples: Sequence[int] | None = None,
        on_response: OnResponse | None = None,
    ) -> list[str]:
        """Responses in request order; requests are decoded in batches of similar prompt length.
        `samples[i]`: which sample of its request prompt i is (its own seeded generator).
        `on_response(i, response)`: called as soon as prompt i's final response is known."""
        from alignaudit.allocator import keep_freed_memory

        keep_freed_memory()  # caches and batches change size every step: reuse freed memory
        too_short = self._too_short if self.sampling.min_response_tokens > 0 else None
        return redraw_short(self._draw, prompts, samples, too_short, on_response)

    def _draw(
        self, prompts: list[str], keys: list[DrawKey], on_draw: OnResponse | None = None
    ) -> list[str]:
        responses: list[str] = [""] * len(prompts)
        trim = STOP_TRIM if self.sampling.stop is not None else None
        decode = self.members[0].tokenizer.decode

        def finished(i: int, tokens: list[int]) -> None:
            text = decode(tokens, skip_special_tokens=True)
            responses[i] = cut_at_stop(text, self.stop_strings, trim).strip()
            if on_draw is not None:
                on_draw(i, responses[i])

        self._decode_all(prompts, keys, finished)
        return responses

    def _decode_all(
        self, prompts: list[str], keys: list[DrawKey], finished: Callable[[int, list[int]], None]
    ) -> None:
        """`finished(i, tokens)` for every request as it ends: one refilling batch, or batch
        after batch when refilling is off or the model's cache cannot take new rows."""
        batches = self._length_batches(prompts)
        if self.refill and self.drop_finished_rows and self._can_refill():
            from alignaudit.generation.refill import RefillLoop

            order = [i for rows in batches for i in rows]
            with self._explaining_oom(f"batches of {self.batch_size}"):
                RefillLoop(self, prompts, keys, order, finished).run()
            return
        for rows in batches:
            decoded = self.decode([prompts[i] for i in rows], keys=[keys[i] for i in rows])
            for i, tokens in zip(rows, decoded.tokens, strict=True):
                finished(i, tokens)

    def _can_refill(self) -> bool:
        from alignaudit.generation.refill import supports_refill

        return all(supports_refill(member.model) for member in self.members)

    def _too_short(self, text: str) -> bool:
        """Under the minimum, counted as the reference counts: the aligned (last) model's
        tokenizer, with its default special tokens."""
        tokens = self.members[-1].tokenizer(text)["input_ids"]
        return len(tokens) < self.sampling.min_response_tokens

    def decode(
        self,
        prompts: Sequence[str],
        return_scores: bool = False,
        generator: torch.Generator | None = None,
        keys: Sequence[DrawKey] | None = None,
    ) -> DecodeOutput:
        """Decode one batch; `return_scores` keeps each step's combined log-probs (for tests).

        Sampling uses one generator per request and draw key (see `request_generators`) unless
        `generator` is given, which then serves the whole batch.
        """
        with self._explaining_oom(f"a batch of {len(prompts)}"):
            return self._decode(list(prompts), return_scores, generator, keys)

    @contextmanager
    def _explaining_oom(self, batches: str) -> Iterator[None]:
        """Decode without autograd; running out of memory becomes a one-line error that says
        what to lower."""
        import torch

        try:
            with torch.inference_mode():
                yield
        except RuntimeError as exc:
            if _is_out_of_memory(exc):
                raise AlignAuditError(
                    f"out of memory decoding {batches} with "
                    f"{len(self.members)} model(s); lower --batch-size or --max-new-tokens"
                ) from exc
            raise

    def _length_batches(self, prompts: Sequence[str]) -> list[list[int]]:
        """Request indices grouped `batch_size` at a time by prompt length (less left padding)."""
        order = list(range(len(prompts)))
        if self.batch_by_length:
            lengths = [0] * len(prompts)
            for member in self.members:
                texts = [member.render(p, self.sampling.system_prompt) for p in prompts]
                encoded = member.tokenizer(texts, add_special_tokens=not member.uses_chat)
                for i, ids in enumerate(encoded["input_ids"]):
                    lengths[i] += len(ids)
            order.sort(key=lengths.__getitem__)
        size = self.batch_size
        return [order[start : start + size] for start in range(0, len(order), size)]

    # --- the loop -----------------------------------------------------------------------------

    def _decode(
        self,
        prompts: list[str],
        return_scores: bool,
        generator: torch.Generator | None,
        keys: Sequence[DrawKey] | None = None,
    ) -> DecodeOutput:
        import torch

        sampling = self.sampling
        max_new = sampling.max_new_tokens
        device = self.members[0].model.device
        rows = len(prompts)
        if rows == 0 or max_new <= 0:
            return DecodeOutput([[] for _ in prompts], [] if return_scores else None)
        generators = self._row_generators(prompts, generator, keys)
        streams = [
            _Stream(
                m,
                [m.render(p, sampling.system_prompt) for p in prompts],
                max_new,
                device,
                self.share_prompt_prefix,
                self._cache_reserve(),
            )
            for m in self.members
        ]
        tokens = torch.full((rows, max_new), self.pad_token_id, dtype=torch.long, device=device)
        stop_at = torch.full((rows,), max_new, dtype=torch.long, device=device)
        scores_out: list[torch.Tensor] | None = [] if return_scores else None
        # Scores are per step for every row, so rows stay in the batch when they are asked for.
        compact = self.drop_finished_rows and not return_scores
        batch = _Batch(rows, device, generators, compact=compact)
        logits = [s.prefill() for s in streams]
        for step in range(max_new):
            scores = self._mix(logits)
            if scores_out is not None:
                scores_out.append(torch.log_softmax(scores, dim=-1).cpu())
            next_tokens = self._next_tokens(scores, tokens, batch, step)
            if step + 1 == max_new:
                break
            self._mark_finished(next_tokens, tokens, batch, stop_at, step)
            if batch.should_check(step):
                if bool(batch.finished.all()):
                    break
                next_tokens = batch.drop_finished(streams, next_tokens)
            logits = [s.step(next_tokens, step) for s in streams]
        steps_run = int(stop_at.max()) if rows else 0
        tokens_cpu = tokens[:, :steps_run].cpu().tolist()
        lengths = stop_at.cpu().tolist()
        return DecodeOutput(
            [row[:n] for row, n in zip(tokens_cpu, lengths, strict=True)], scores_out
        )

    def _next_tokens(
        self, scores: torch.Tensor, tokens: torch.Tensor, batch: _Batch, step: int
    ) -> torch.Tensor:
        """Choose the batch's next tokens and write them into `tokens` (finished rows: pad)."""
        held_off = self.sampling.suppress_eos or step < self.sampling.min_new_tokens
        if held_off and len(self.eos_token_ids):
            scores = scores.index_fill(-1, self._eos_tensor(scores.device), float("-inf"))
        generated = tokens.index_select(0, batch.active)[:, :step]
        next_tokens = self._choose(scores, generated, batch.generators)
        next_tokens.masked_fill_(batch.finished, self.pad_token_id)
        tokens[batch.active, step] = next_tokens
        return next_tokens

    def _mark_finished(
        self,
        next_tokens: torch.Tensor,
        tokens: torch.Tensor,
        batch: _Batch,
        stop_at: torch.Tensor,
        step: int,
    ) -> None:
        import torch

        if step + 1 < self.sampling.min_new_tokens:
            return
        done = torch.isin(next_tokens, self._eos_tensor(next_tokens.device))
        if self.stop_strings:
            generated = tokens.index_select(0, batch.active)[:, : step + 1]
            done |= self._stops()(generated, None)
        newly = done & ~batch.finished
        stop_at[batch.active[newly]] = step + 1
        batch.finished |= done

    def _row_generators(
        self,
        prompts: list[str],
        shared: torch.Generator | None,
        keys: Sequence[DrawKey] | None = None,
    ) -> list[torch.Generator] | None:
        if self.sampling.greedy:
            return None
        if shared is not None:
            return [shared] * len(prompts)
        device = self.members[0].model.device
        return request_generators(prompts, self.sampling.seed, device, keys)

    def _eos_tensor(self, device: Any) -> torch.Tensor:
        import torch

        return torch.tensor(self.eos_token_ids, dtype=torch.long, device=device)

    def _choose(
        self,
        scores: torch.Tensor,
        generated: torch.Tensor,
        generators: list[torch.Generator] | None,
    ) -> torch.Tensor:
        import torch

        if self.sampling.greedy or generators is None:
            return scores.argmax(dim=-1)
        scores = _warpers(self.sampling)(generated, scores)
        probs = torch.softmax(scores, dim=-1)
        if len(set(map(id, generators))) == 1:  # one shared generator: one call, as before
            return torch.multinomial(probs, 1, generator=generators[0]).squeeze(1)
        picks = [
            torch.multinomial(row, 1, generator=gen)
            for row, gen in zip(probs, generators, strict=True)
        ]
        return torch.cat(picks)

    def _stops(self) -> Any:
        if self._stop_criteria is None:
            self._stop_criteria = _stop_string_criteria(
                self.members[0].tokenizer, self.stop_strings
            )
        return self._stop_criteria

    def _logprobs(self, logits: torch.Tensor) -> torch.Tensor:
        if self.vocab_limit is not None:
            logits = logits[:, : self.vocab_limit]
        import torch

        return torch.log_softmax(logits, dim=-1, dtype=torch.float32)


class ContrastiveGenerator(_TokenLoopGenerator):
    """Two models, one shared token stream: emulated disalignment by default.

    `combine(base_logprobs, aligned_logprobs, alpha)` turns both models' normalized next-token
    log-probs into logits; temperature, top-k and top-p apply after it. Implements the
    `Generator` protocol.
    """

    def __init__(
        self,
        aligned_model: Any,
        aligned_tokenizer: Any,
        base_model: Any,
        base_tokenizer: Any,
        alpha: float,
        sampling: SamplingConfig | None = None,
        base_template: str = "plain",
        aligned_template: str = "chat",
        batch_size: int = 8,
        combine: Combine = ed_combine,
    ) -> None:
        if alpha < 0:
            raise AlignAuditError(f"alpha must be >= 0 (got {alpha}); alpha = 0 is the base model")
        check_same_vocabulary(aligned_tokenizer, base_tokenizer)
        if batch_size < 1:
            raise AlignAuditError(f"batch size must be at least 1 (got {batch_size})")
        self.alpha = float(alpha)
        self.sampling = sampling or SamplingConfig()
        self.batch_size = batch_size
        self.combine = combine
        # Order matters: the base member's tokenizer decodes and supplies the pad token.
        self.members = [
            _member(base_model, base_tokenizer, base_template, "base"),
            _member(aligned_model, aligned_tokenizer, aligned_template, "aligned"),
        ]
        self._setup_loop()

    def describe(self) -> dict[str, object]:
        base, aligned = self.members
        return {
            "backend": "ed",
            "combine": getattr(self.combine, "__name__", repr(self.combine)),
            "alpha": self.alpha,
            "aligned_model": _model_name(aligned.model),
            "base_model": _model_name(base.model),
            "aligned_template": aligned.template_name,
            "base_template": base.template_name,
        }

    def _mix(self, logits: list[torch.Tensor]) -> torch.Tensor:
        base, aligned = logits
        return self.combine(self._logprobs(base), self._logprobs(aligned), self.alpha)



class SingleModelGenerator(_TokenLoopGenerator):
    """One model in the same hand-written loop: the reference side of the ED benchmark."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        sampling: SamplingConfig | None = None,
        template: str = "chat",
        batch_size: int = 8,
    ) -> None:
        self.sampling = sampling or SamplingConfig()
        self.batch_size = batch_size
        self.members = [_member(model, tokenizer, template, "model")]
        self._setup_loop()

    def describe(self) -> dict[str, object]:
        (member,) = self.members
        return {
            "backend": "hf-loop",
            "model": _model_name(member.model),
            "template": member.template_name,
        }

    def _mix(self, logits: list[torch.Tensor]) -> torch.Tensor:
        return self._logprobs(logits[0])


# --- helpers --------------------------------------------------------------------------------


def request_generators(
    prompts: Sequence[str], seed: int, device: Any, keys: Sequence[DrawKey] | None = None
) -> list[Any]:
    """One torch generator per request, seeded from the run's seed, the request's text and
    its draw key (which sample, which redraw; see `draw_seed`).

    A request's samples then depend on the seed and the request only, not on the batch it
    shares or the call it came in (so a prompt asked twice gets the same sample twice).
    """
    import torch

    keys = keys if keys is not None else [(0, 0)] * len(prompts)
    return [
        torch.Generator(device=device).manual_seed(draw_seed(seed, prompt, key))
        for prompt, key in zip(prompts, keys, strict=True)
    ]


def check_same_vocabulary(aligned_tokenizer: Any, base_tokenizer: Any) -> None:
    """Both models must index the same tokens, or combining their distributions is meaningless."""
    if aligned_tokenizer is base_tokenizer:
        return
    if len(aligned_tokenizer) != len(base_tokenizer) or (
        aligned_tokenizer.get_vocab() != base_tokenizer.get_vocab()
    ):
        raise AlignAuditError(
            "the aligned and base models use different tokenizers "
            f"({len(aligned_tokenizer)} vs {len(base_tokenizer)} tokens); emulated disalignment "
            "needs a base model and its aligned version with the same vocabulary"
        )


def _new_cache(model: Any, reserve: int | None, prompt_len: int) -> Any:
    """A KV cache; with `reserve`, one that grows in place with room for `reserve` new tokens."""
    from transformers import DynamicCache

    if reserve is not None:
        from alignaudit.generation.kvcache import growing_cache

        return growing_cache(model, max(1, reserve), prompt_len + reserve)
    return DynamicCache(config=model.config)


# A shared beginning shorter than this is not worth a separate forward pass.
MIN_SHARED_PREFIX = 8


def _shared_prefix_length(ids: list[list[int]]) -> int:
    """Tokens every prompt starts with, leaving each at least one token of its own."""
    if len(ids) < 2:
        return 0
    limit = min(len(row) for row in ids) - 1
    length = 0
    while length < limit and all(row[length] == ids[0][length] for row in ids):
        length += 1
    return length if length >= MIN_SHARED_PREFIX else 0


def _member(model: Any, tokenizer: Any, template: str, role: str) -> _Member:
    template = resolve_template(template, tokenizer)
    if template == "chat" and not has_chat_template(tokenizer):
        flag = "--base-template" if role == "base" else "--template"
        raise AlignAuditError(
            f"the {role} model's tokenizer has no chat template; use {flag} plain "
            "(or a template file with {prompt})"
        )
    return _Member(model, tokenizer, template_name=template, template=load_template(template))


def _eos_ids(members: list[_Member]) -> set[int]:
    """Every end-of-sequence id either tokenizer or generation config knows about."""
    ids: set[int] = set()
    for member in members:
        for source in (
            member.tokenizer.eos_token_id,
            getattr(getattr(member.model, "generation_config", None), "eos_token_id", None),
        ):
            if isinstance(source, int):
                ids.add(source)
            elif isinstance(source, (list, tuple)):
                ids.update(int(i) for i in source)
    return ids


# Building the matcher walks the whole vocabulary (~0.5 s); one per tokenizer is enough.
_STOP_CRITERIA: weakref.WeakKeyDictionary[Any, dict[tuple[str, ...], Any]] = (
    weakref.WeakKeyDictionary()
)


def _stop_string_criteria(tokenizer: Any, stop_strings: tuple[str, ...]) -> Any:
    """Tensorized stop-string matching on token ids: no per-step decoding on the host."""
    from transformers.generation.stopping_criteria import StopStringCriteria

    per_tokenizer = _STOP_CRITERIA.setdefault(tokenizer, {})
    if stop_strings not in per_tokenizer:
        per_tokenizer[stop_strings] = StopStringCriteria(tokenizer, list(stop_strings))
    return per_tokenizer[stop_strings]


def _warpers(sampling: SamplingConfig) -> Any:
    from transformers import (
        LogitsProcessorList,
        TemperatureLogitsWarper,
        TopKLogitsWarper,
        TopPLogitsWarper,
    )

    warpers = LogitsProcessorList()
    if sampling.greedy:
        return warpers
    if sampling.temperature != 1.0:
        warpers.append(TemperatureLogitsWarper(sampling.temperature))
    if sampling.top_k > 0:
        warpers.append(TopKLogitsWarper(sampling.top_k))
    if sampling.top_p < 1.0:
        warpers.append(TopPLogitsWarper(sampling.top_p))
    return warpers


def _output_vocab_size(model: Any) -> int:
    embeddings = model.get_output_embeddings()
    if embeddings is not None:
        return int(embeddings.weight.shape[0])
    return int(model.config.vocab_size)


def _model_name(model: Any) -> str | None:
    name = getattr(model, "name_or_path", None) or getattr(
        getattr(model, "config", None), "_name_or_path", None
    )
    return str(name) if name else None


def _is_out_of_memory(exc: BaseException) -> bool:
    import torch

    return isinstance(exc, torch.cuda.OutOfMemoryError) or "out of memory" in str(exc).lower()


# --- loading --------------------------------------------------------------------------------


class EDPair(NamedTuple):
    aligned_model: Any
    aligned_tokenizer: Any
    base_model: Any
    base_tokenizer: Any


def load_ed_pair(
    aligned_spec: ModelSpec | str,
    base_spec: ModelSpec | str,
    load_options: LoadOptions | None = None,
    separate_copies: bool = False,
) -> EDPair:
    """Load the aligned and base models once each.

    When both specs name the same weights, one copy serves both roles unless `separate_copies`
    (the benchmark wants two real forward passes per token).
    """
    from alignaudit.models.hf import LoadOptions, load_causal_lm
    from alignaudit.models.spec import parse_model_spec

    options = load_options or LoadOptions()
    aligned = parse_model_spec(aligned_spec) if isinstance(aligned_spec, str) else aligned_spec
    base = parse_model_spec(base_spec) if isinstance(base_spec, str) else base_spec
    aligned_model, aligned_tokenizer = _load_or_explain_oom(load_causal_lm, aligned, options)
    same = (aligned.kind, aligned.path, aligned.base) == (base.kind, base.path, base.base)
    if same and not separate_copies:
        return EDPair(aligned_model, aligned_tokenizer, aligned_model, aligned_tokenizer)
    base_model, base_tokenizer = _load_or_explain_oom(load_causal_lm, base, options)
    check_same_vocabulary(aligned_tokenizer, base_tokenizer)
    return EDPair(aligned_model, aligned_tokenizer, base_model, base_tokenizer)


def _load_or_explain_oom(load: Callable[..., Any], spec: ModelSpec, options: LoadOptions) -> Any:
    try:
        return load(spec, options)
    except RuntimeError as exc:  # torch.cuda.OutOfMemoryError is a RuntimeError
        if _is_out_of_memory(exc):
            raise AlignAuditError(
                f"out of memory loading {spec.raw} for emulated disalignment (two models at "
                "once); use --dtype bfloat16, a smaller model pair, or free device memory"
            ) from exc
        raise
