"""The `refusal` judge's BERT encoder as a compact int8 forward pass.

transformers' BertLayer runs query, key and value as three products over the same input; here
they are one fused int8 product (one quantization of the input, one kernel call). The
weights and the embeddings module come from a transformers `BertModel`; only the layers' forward
is ours, and a test holds it to transformers' own output.

The feed-forward blocks may be pruned first: `rank_feed_forward_neurons` keeps the neurons that
carry the most signal on calibration texts (mean |activation| times the norm of their output
weights), and `prune_feed_forward` cuts the others from a transformers model in place.
"""

from collections.abc import Iterable

import torch
from torch import nn
from torch.nn import functional as F

from alignaudit.judges.refusal.int8 import Int8Linear, observe_inputs


def _select(linear: nn.Linear, rows: torch.Tensor | None = None,
            columns: torch.Tensor | None = None) -> nn.Linear:
    weight, bias = linear.weight.detach(), linear.bias.detach()
    if rows is not None:
        weight, bias = weight[rows], bias[rows]
    if columns is not None:
        weight = weight[:, columns]
    selected = nn.Linear(weight.shape[1], weight.shape[0])
    with torch.no_grad():
        selected.weight.copy_(weight)
        selected.bias.copy_(bias)
    return selected


def _fused(linears: list[nn.Linear]) -> nn.Linear:
    fused = nn.Linear(linears[0].in_features, sum(linear.out_features for linear in linears))
    with torch.no_grad():
        fused.weight.copy_(torch.cat([linear.weight for linear in linears]))
        fused.bias.copy_(torch.cat([linear.bias for linear in linears]))
    return fused


class Int8BertLayer(nn.Module):
    def __init__(
        self, layer: nn.Module, calibration: dict[str, list], prefix: str, heads: int
    ) -> None:
        super().__init__()

        def absmax(name: str) -> torch.Tensor:
            return torch.tensor(calibration[prefix + name])

        attention = layer.attention.self
        linears = [attention.query, attention.key, attention.value]
        self.qkv = Int8Linear(_fused(linears), absmax("attention.self.query"))
        self.attention_out = Int8Linear(layer.attention.output.dense,
                                        absmax("attention.output.dense"))
        self.attention_norm = layer.attention.output.LayerNorm
        self.ffn_in = Int8Linear(layer.intermediate.dense, absmax("intermediate.dense"))
        self.ffn_out = Int8Linear(layer.output.dense, absmax("output.dense"))
        self.output_norm = layer.output.LayerNorm
        self.heads = heads

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        batch, tokens, width = x.shape
        q, k, v = self.qkv(x).view(batch, tokens, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        context = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        context = context.transpose(1, 2).reshape(batch, tokens, -1)
        x = self.attention_norm(self.attention_out(context).add_(x))
        return self.output_norm(self.ffn_out(F.gelu(self.ffn_in(x))).add_(x))


class Int8BertEncoder(nn.Module):
    """Last hidden states of a transformers `BertModel` (its embeddings, int8 layers)."""

    def __init__(self, model: nn.Module, calibration: dict[str, list]) -> None:
        super().__init__()
        heads = model.config.num_attention_heads
        self.embeddings = model.embeddings
        self.layers = nn.ModuleList(
            Int8BertLayer(layer, calibration, f"layer.{i}.", heads)
            for i, layer in enumerate(model.encoder.layer)
        )

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
    ) -> torch.Tensor:
        x = self.embeddings(input_ids=input_ids, token_type_ids=token_type_ids)
        # Padded keys get the most negative float: their attention weight is exactly 0.
        mask = (1.0 - attention_mask[:, None, None, :].to(x.dtype)) * torch.finfo(x.dtype).min
        for layer in self.layers:
            x = layer(x, mask)
        return x


def rank_feed_forward_neurons(
    model: nn.Module, batches: Iterable[dict[str, torch.Tensor]], keep: float
) -> list[list[int]]:
    """Per layer of a transformers `BertModel`, the ascending indices of the `keep` share of
    feed-forward neurons with the largest mean |activation| × output-weight norm on `batches`."""
    layers = list(model.encoder.layer)
    outputs = {str(i): layer.output.dense for i, layer in enumerate(layers)}
    totals = {name: torch.zeros(linear.in_features) for name, linear in outputs.items()}

    def record(name: str, x: torch.Tensor) -> None:
        totals[name] += x.abs().reshape(-1, x.shape[-1]).sum(0)

    observe_inputs(model, batches, outputs, record)
    ranked = []
    for total, layer in zip(totals.values(), layers, strict=True):
        importance = total * layer.output.dense.weight.detach().norm(dim=0)
        kept = importance.argsort(descending=True)[: round(keep * importance.numel())]
        ranked.append(sorted(kept.tolist()))
    return ranked


def prune_feed_forward(model: nn.Module, neurons: list[list[int]]) -> None:
    """Keep only the given feed-forward neurons in each layer of a transformers `BertModel`."""
    layers = list(model.encoder.layer)
    if len(neurons) != len(layers):
        raise ValueError(f"{len(neurons)} lists of neurons for {len(layers)} layers")
    for layer, kept in zip(layers, neurons, strict=True):
        index = torch.tensor(kept, dtype=torch.long)
        layer.intermediate.dense = _select(layer.intermediate.dense, rows=index)
        layer.output.dense = _select(layer.output.dense, columns=index)
