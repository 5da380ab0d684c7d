"""KV caches that grow in place (generation/kvcache.py) hold what transformers' DynamicLayer holds.

The room past the filled columns is filled with NaN here: if anything read it (attention, a
join, a crop), answers would change or turn to garbage, so equal answers show nothing does.
"""

import random

import pytest
import torch
from transformers.cache_utils import DynamicLayer

from alignaudit.generation import kvcache
from alignaudit.generation.base import SamplingConfig
from alignaudit.generation.ed import ContrastiveGenerator, SingleModelGenerator
from alignaudit.generation.kvcache import GrowingLayer, drop_leading_columns
from alignaudit.generation.refill import _Lane
from tests.helpers import NEW_TOKENS, PROMPTS


@pytest.fixture(autouse=True)
def nan_room(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kvcache, "_allocate", lambda like, shape: like.new_full(shape, torch.nan))


def _states(batch: int, columns: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    shape = (batch, 2, columns, 4)
    return torch.randn(shape, generator=generator), torch.randn(shape, generator=generator)


def _same(growing: GrowingLayer, dynamic: DynamicLayer) -> bool:
    return torch.equal(growing.keys, dynamic.keys) and torch.equal(growing.values, dynamic.values)


def test_growing_layer_holds_what_dynamic_layer_holds_through_every_operation() -> None:
    growing, dynamic = GrowingLayer(reserve=3, columns=6), DynamicLayer()
    for layer in (growing, dynamic):  # a shared prefix for one row, repeated, then the rest
        layer.update(*_states(1, 4, seed=0))
        layer.batch_repeat_interleave(3)
        layer.update(*_states(3, 2, seed=1))
    assert _same(growing, dynamic) and growing.get_seq_length() == 6
    for step in range(5):  # one column a step, past the first allocation and the reserve
        returned = growing.update(*_states(3, 1, seed=10 + step))
        dynamic.update(*_states(3, 1, seed=10 + step))
        assert torch.equal(returned[0], dynamic.keys) and _same(growing, dynamic)
    rows = torch.tensor([2, 0])
    growing.batch_select_indices(rows)
    dynamic.batch_select_indices(rows)
    drop_leading_columns(growing, 3)
    drop_leading_columns(dynamic, 3)
    assert _same(growing, dynamic) and growing.get_seq_length() == 8
    # Assigned from outside (the refill loop's join): keys first, then values are read.
    for layer in (growing, dynamic):
        layer.keys = torch.cat([layer.keys, layer.keys])
        layer.values = torch.cat([layer.values, layer.values])
        layer.update(*_states(4, 1, seed=99))
    assert _same(growing, dynamic) and not torch.isnan(growing.values).any()


def test_steps_write_in_place_instead_of_copying_the_cache() -> None:
    layer = GrowingLayer(reserve=8, columns=16)
    keys, _ = layer.update(*_states(2, 5, seed=0))
    later, _ = layer.update(*_states(2, 1, seed=1))
    assert later.data_ptr() == keys.data_ptr() and later.shape[-2] == 6


@pytest.mark.parametrize("batch_size", [1, 2, 3, 7])
def test_single_model_answers_equal_with_and_without_growing_caches(tiny, batch_size: int) -> None:
    model, tokenizer = tiny
    shuffled = PROMPTS[:]
    random.Random(batch_size).shuffle(shuffled)

    def loop(grow: bool, refill: bool) -> list[str]:
        config = SamplingConfig(max_new_tokens=NEW_TOKENS)
        generator = SingleModelGenerator(model, tokenizer, config, batch_size=batch_size)
        generator.grow_cache_in_place, generator.refill = grow, refill
        return generator.generate(shuffled)

    reference = loop(grow=False, refill=False)
    assert loop(grow=True, refill=False) == reference == loop(grow=True, refill=True)


def test_ed_answers_equal_with_and_without_growing_caches(ed_pair) -> None:
    aligned, base = ed_pair

    def ed(grow: bool, batch_size: int, **sampling) -> list[str]:
        config = SamplingConfig(max_new_tokens=NEW_TOKENS, **sampling)
        generator = ContrastiveGenerator(
            *aligned, *base, 1.0, sampling=config, batch_size=batch_size
        )
        generator.grow_cache_in_place = grow
        return generator.generate(PROMPTS)

    assert ed(True, 2) == ed(False, 2) == ed(True, 3)
    sampled = {"temperature": 1.0, "top_k": 20, "seed": 3}
    assert ed(True, 2, **sampled) == ed(False, 2, **sampled)


def test_refill_lanes_use_growing_layers(tiny) -> None:
    model, tokenizer = tiny
    generator = SingleModelGenerator(model, tokenizer, SamplingConfig(max_new_tokens=4))
    seen: list[str] = []
    original = _Lane.step

    def recording(self, tokens):
        seen.extend(type(layer).__name__ for layer in self.cache.layers)
        return original(self, tokens)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_Lane, "step", recording)
        generator.generate(PROMPTS[:3])
    assert seen and set(seen) == {"GrowingLayer"}
