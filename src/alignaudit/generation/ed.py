"""Emulated disalignment (Zhou et al., ACL 2024) and other two-model decoding rules.

Each token is drawn from a combination of two models' next-token log-probabilities. For ED,
pi_ED ∝ pi_base^(1+alpha) / pi_aligned^alpha, so alpha = 0 is exactly the base model.

The two models share a vocabulary but not their prompts: each gets its own rendering (the
aligned model its chat template, the base model a plain `# Query:`/`# Response:` template by
default), its own left padding, position ids and KV cache. Only the generated tokens are shared.
The decoding loop is hand-written (no `generate`) so one step is two cached forward passes plus
a few small on-device ops, with a host sync only every few steps.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from alignaudit.errors import AlignAuditError
from alignaudit.generation.base import SamplingConfig
from alignaudit.generation.prompting import (
    PLAIN_STOP_STRINGS,
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

# How many steps run between two host syncs that ask "has every row finished?". A sync drains
# the device queue; doing it every step costs more than the few wasted steps at the end.
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


class _Stream:
    """One model's decoding state for a batch: mask, positions and KV cache."""

    def __init__(self, member: _Member, texts: list[str], max_new_tokens: int, device: Any):
        import torch
        from transformers import DynamicCache

        self.model = member.model
        member.tokenizer.padding_side = "left"
        # Chat templates already hold BOS where the model wants it; plain text gets the default.
        batch = member.tokenizer(
            texts, return_tensors="pt", padding=True, add_special_tokens=not member.uses_chat
        )
        self.input_ids = batch["input_ids"].to(device)
        prompt_mask = batch["attention_mask"].to(device)
        rows, self.prompt_len = self.input_ids.shape
        # Generated tokens are always attended (finished rows only feed padding nobody reads),
        # so the mask is allocated once at full length and sliced each step.
        self.mask = torch.ones(
            (rows, self.prompt_len + max_new_tokens), dtype=prompt_mask.dtype, device=device
        )
        self.mask[:, : self.prompt_len] = prompt_mask
        self.prompt_positions = (prompt_mask.cumsum(-1) - 1).clamp_(min=0)
        self.next_position = self.prompt_positions[:, -1:] + 1  # left padding: last is real
        try:
            self.cache = DynamicCache(config=self.model.config)
        except TypeError:  # older transformers
            self.cache = DynamicCache()

    def prefill(self) -> torch.Tensor:
        out = self.model(
            input_ids=self.input_ids,
            attention_mask=self.mask[:, : self.prompt_len],
            position_ids=self.prompt_positions,
            past_key_values=self.cache,
            use_cache=True,
            logits_to_keep=1,
        )
        return out.logits[:, -1]

    def step(self, tokens: torch.Tensor, step: int) -> torch.Tensor:
        """Feed the token generated at `step` (0-based) and return the next logits."""
        out = self.model(
            input_ids=tokens[:, None],
            attention_mask=self.mask[:, : self.prompt_len + step + 1],
            position_ids=self.next_position + step,
            past_key_values=self.cache,
            use_cache=True,
        )
        return out.logits[:, -1]


class _TokenLoopGenerator:
    """The shared decoding loop over one or more models; subclasses say how logits combine."""

    members: list[_Member]
    sampling: SamplingConfig
    batch_size: int

    def _setup_loop(self) -> None:
        tokenizer = self.members[0].tokenizer
        self.pad_token_id = (
            tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        )
        self.eos_token_ids = sorted(_eos_ids(self.members))
        plain = any(m.template == "plain" for m in self.members)
        self.stop_strings: tuple[str, ...] = PLAIN_STOP_STRINGS if plain else ()
        # Models may pad their embedding matrix past the tokenizer; compare only the shared part.
        sizes = {_output_vocab_size(m.model) for m in self.members}
        self.vocab_limit = min(sizes) if len(sizes) > 1 else None
        self._stop_criteria: Any = None

    def _mix(self, logits: list[torch.Tensor]) -> torch.Tensor:
        raise NotImplementedError

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

    def generate(self, prompts: Sequence[str]) -> list[str]:
        import torch

        generator = self._torch_generator()
        responses: list[str] = []
        for start in range(0, len(prompts), self.batch_size):
            batch = list(prompts[start : start + self.batch_size])
            output = self.decode(batch, generator=generator)
            texts = self.members[0].tokenizer.batch_decode(
                [torch.tensor(row, dtype=torch.long) for row in output.tokens],
                skip_special_tokens=True,
            )
            responses.extend(cut_at_stop(text, self.stop_strings).strip() for text in texts)
        return responses

    def decode(
        self,
        prompts: Sequence[str],
        return_scores: bool = False,
        generator: torch.Generator | None = None,
    ) -> DecodeOutput:
        """Decode one batch; `return_scores` keeps each step's combined log-probs (for tests)."""
        import torch

        try:
            with torch.inference_mode():
                return self._decode(list(prompts), return_scores, generator)
        except RuntimeError as exc:
            if _is_out_of_memory(exc):
                raise AlignAuditError(
                    f"out of memory decoding a batch of {len(prompts)} with "
                    f"{len(self.members)} model(s); lower --batch-size or --max-new-tokens"
                ) from exc
            raise

    # --- the loop -----------------------------------------------------------------------------

    def _decode(
        self, prompts: list[str], return_scores: bool, generator: torch.Generator | None
    ) -> DecodeOutput:
        import torch

        sampling = self.sampling
        max_new = sampling.max_new_tokens
        device = self.members[0].model.device
        rows = len(prompts)
        if rows == 0 or max_new <= 0:
            return DecodeOutput([[] for _ in prompts], [] if return_scores else None)
        if generator is None and not sampling.greedy:
            generator = self._torch_generator()
        streams = [
            _Stream(m, [m.render(p, sampling.system_prompt) for p in prompts], max_new, device)
            for m in self.members
        ]
        eos = torch.tensor(self.eos_token_ids, dtype=torch.long, device=device)
        warpers = _warpers(sampling)
        tokens = torch.full((rows, max_new), self.pad_token_id, dtype=torch.long, device=device)
        finished = torch.zeros(rows, dtype=torch.bool, device=device)
        stop_at = torch.full((rows,), max_new, dtype=torch.long, device=device)
        scores_out: list[torch.Tensor] | None = [] if return_scores else None

        logits = [s.prefill() for s in streams]
        steps_run = max_new
        for step in range(max_new):
            scores = self._mix(logits)
            if scores_out is not None:
                scores_out.append(torch.log_softmax(scores, dim=-1).cpu())
            if step < sampling.min_new_tokens and len(eos):
                scores = scores.index_fill(-1, eos, float("-inf"))
            next_tokens = self._choose(scores, tokens[:, :step], warpers, generator)
            next_tokens.masked_fill_(finished, self.pad_token_id)
            tokens[:, step] = next_tokens
            if step + 1 >= sampling.min_new_tokens:
                done = torch.isin(next_tokens, eos)
                if self.stop_strings:
                    done |= self._stops()(tokens[:, : step + 1], None)
                stop_at.masked_fill_(done & ~finished, step + 1)
                finished |= done
            if step + 1 == max_new:
                break
            if (step + 1) % FINISH_CHECK_EVERY == 0 and bool(finished.all()):
                steps_run = step + 1
                break
            logits = [s.step(next_tokens, step) for s in streams]

        tokens_cpu = tokens[:, :steps_run].cpu().tolist()
        lengths = stop_at.clamp(max=steps_run).cpu().tolist()
        return DecodeOutput(
            [row[:n] for row, n in zip(tokens_cpu, lengths, strict=True)], scores_out
        )

    def _choose(
        self,
        scores: torch.Tensor,
        generated: torch.Tensor,
        warpers: Any,
        generator: torch.Generator | None,
    ) -> torch.Tensor:
        import torch

        if self.sampling.greedy:
            return scores.argmax(dim=-1)
        scores = warpers(generated, scores)
        probs = torch.softmax(scores, dim=-1)
        return torch.multinomial(probs, 1, generator=generator).squeeze(1)

    def _stops(self) -> Any:
        if self._stop_criteria is None:
            self._stop_criteria = _stop_string_criteria(
                self.members[0].tokenizer, self.stop_strings
            )
        return self._stop_criteria

    def _torch_generator(self) -> torch.Generator:
        import torch

        device = self.members[0].model.device
        return torch.Generator(device=device).manual_seed(self.sampling.seed)

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
