"""Integer linear layers for the `refusal` judge's encoder.

Each `nn.Linear` becomes an int8 matrix product. Activations are smoothed per input channel
(SmoothQuant: `MIGRATION` moves part of their range into the weights; the ranges are calibrated
once and ship with the judge's head), then quantized to 7 bits with one step per token. A token's
codes depend on that token alone, so a response's verdict does not depend on the batch it is
judged in, as it would with per-tensor dynamic quantization. 7 bits keep AVX2's u8×s8 pairwise
sums from saturating, and 7-bit × 8-bit products summed over at most 1536 inputs stay below
2**24: the float fallback (where the oneDNN kernel is missing) adds the same integers exactly.
"""

from collections.abc import Callable, Iterable

import torch
from torch import nn

MIGRATION = 0.5  # SmoothQuant's alpha: how much of the activations' range moves to the weights
ACTIVATION_LEVELS = 63  # 7-bit signed range around the zero point below
ZERO_POINT = 64


def quantize_per_token(x: torch.Tensor, inverse_smooth: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """7-bit codes (uint8 around ZERO_POINT) and steps of `x` flattened to (tokens, channels)."""
    smoothed = x.reshape(-1, x.shape[-1]).float() * inverse_smooth
    # amax and amin separately: ten times faster than torch.aminmax along rows on CPU.
    high, low = smoothed.amax(-1, keepdim=True), smoothed.amin(-1, keepdim=True)
    absmax = torch.maximum(high, -low).clamp_(min=1e-8)
    # |smoothed| <= absmax, so the rounded codes stay within +-ACTIVATION_LEVELS; adding the
    # (even) zero point before rounding gives the same integers as after. In-place steps:
    # a broadcast addcmul is several times slower on CPU.
    codes = smoothed.mul_(ACTIVATION_LEVELS / absmax).add_(ZERO_POINT).round_()
    # The codes lie in 1..127, where int8 and uint8 share their bits; float to int8 is several
    # times faster than float to uint8 on CPU.
    return codes.to(torch.int8).view(torch.uint8), absmax / ACTIVATION_LEVELS


def smoothing(input_absmax: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """SmoothQuant's per-input-channel factors for a linear layer."""
    weight_absmax = weight.detach().float().abs().amax(0)
    activation = input_absmax.float().clamp(min=1e-5).pow(MIGRATION)
    return activation / weight_absmax.clamp(min=1e-5).pow(1 - MIGRATION)


class Int8Linear(nn.Module):
    """y = W x + b computed as int8 weights times 7-bit activations, one scale per token.

    Stateless in use, so worker threads may share one layer."""

    def __init__(self, linear: nn.Linear, input_absmax: torch.Tensor) -> None:
        super().__init__()
        smooth = smoothing(input_absmax, linear.weight)
        self.register_buffer("inverse_smooth", 1.0 / smooth)
        scaled = linear.weight.detach().float() * smooth
        self.register_buffer("weight_scale", scaled.abs().amax(1).clamp(min=1e-12) / 127.0)
        quantized = torch.round(scaled / self.weight_scale[:, None]).clamp(-127, 127)
        self.register_buffer("weight_int8", quantized.to(torch.int8))
        bias = linear.bias.detach().float() if linear.bias is not None else None
        self.register_buffer("bias", bias)
        self.out_features = linear.out_features
        self._kernel = _onednn_kernel(self.weight_int8, self.weight_scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        codes, step = quantize_per_token(x, self.inverse_smooth)
        if self._kernel is not None and codes.device.type == "cpu":
            y = self._kernel(codes)
        else:
            y = self.exact_fallback(codes)
        y = y.mul_(step) if self.bias is None else y.mul_(step).add_(self.bias)
        return y.reshape(*x.shape[:-1], self.out_features)

    def exact_fallback(self, codes: torch.Tensor) -> torch.Tensor:
        """The kernel's integer sums in float32 (exact below 2**24), times the weight scales."""
        return ((codes.float() - ZERO_POINT) @ self.weight_int8.float().T) * self.weight_scale


def _onednn_kernel(
    weight: torch.Tensor, scale: torch.Tensor
) -> Callable[[torch.Tensor], torch.Tensor] | None:
    try:
        packed = torch.ops.onednn.qlinear_prepack(weight, None)
    except (AttributeError, RuntimeError):
        return None
    zero = torch.zeros(weight.shape[0], dtype=torch.int64)

    def kernel(q: torch.Tensor) -> torch.Tensor:
        return torch.ops.onednn.qlinear_pointwise(
            q, 1.0, ZERO_POINT, packed, scale, zero, None, 1.0, 0, torch.float32, "none", [], ""
        )

    return kernel


def linear_layers(module: nn.Module) -> dict[str, nn.Linear]:
    return {name: m for name, m in module.named_modules() if isinstance(m, nn.Linear)}


def observe_inputs(
    model: nn.Module,
    batches: Iterable[dict[str, torch.Tensor]],
    modules: dict[str, nn.Module],
    observe: Callable[[str, torch.Tensor], None],
) -> None:
    """Run `model` on the batches, calling `observe(name, input)` with each input of `modules`."""

    def recorder(name: str) -> Callable:
        def hook(_: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
            observe(name, inputs[0].detach())

        return hook

    handles = [module.register_forward_pre_hook(recorder(name))
               for name, module in modules.items()]
    try:
        with torch.inference_mode():
            for batch in batches:
                model(**batch)
    finally:
        for handle in handles:
            handle.remove()


def calibrate(
    model: nn.Module, batches: Iterable[dict[str, torch.Tensor]], within: nn.Module
) -> dict[str, list]:
    """Per-input-channel absolute maxima of the inputs of every linear layer in `within` (named
    relative to it) while `model` runs on the batches."""
    maxima: dict[str, torch.Tensor] = {}

    def record(name: str, x: torch.Tensor) -> None:
        seen = x.abs().reshape(-1, x.shape[-1]).amax(0)
        maxima[name] = torch.maximum(maxima[name], seen) if name in maxima else seen

    observe_inputs(model, batches, linear_layers(within), record)
    return {name: [round(float(v), 5) for v in values] for name, values in maxima.items()}
