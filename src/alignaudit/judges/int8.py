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


class TokenQuantizer:
    """7-bit codes, one step per token, for the input of one or more linear layers.

    Layers that read the same tensor (an attention block's query, key and value) share one
    quantizer, so that tensor is quantized once: the last input and its codes are kept, and a
    call with the very same tensor object returns them.
    """

    def __init__(self, smooth: torch.Tensor) -> None:
        self.inverse_smooth = 1.0 / smooth
        self._last: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None

    def __call__(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Codes and steps of `x` flattened to (tokens, channels)."""
        if self._last is not None and self._last[0] is x:
            return self._last[1], self._last[2]
        flat = x.reshape(-1, x.shape[-1]).float()
        smoothed = flat * self.inverse_smooth.to(x.device)
        # amax and amin separately: ten times faster than torch.aminmax along rows on CPU.
        high, low = smoothed.amax(-1, keepdim=True), smoothed.amin(-1, keepdim=True)
        absmax = torch.maximum(high, -low).clamp_(min=1e-8)
        # |smoothed| <= absmax, so the rounded codes stay within +-ACTIVATION_LEVELS; adding the
        # (even) zero point before rounding gives the same integers as after. In-place steps:
        # a broadcast addcmul is several times slower on CPU.
        codes = smoothed.mul_(ACTIVATION_LEVELS / absmax).add_(ZERO_POINT).round_()
        result = codes.to(torch.uint8), absmax / ACTIVATION_LEVELS
        self._last = (x, *result)
        return result


def smoothing(input_absmax: torch.Tensor, weights: list[torch.Tensor]) -> torch.Tensor:
    """SmoothQuant's per-input-channel factors for linear layers that share an input."""
    weight_absmax = torch.stack([w.detach().float().abs().amax(0) for w in weights]).amax(0)
    activation = input_absmax.float().clamp(min=1e-5).pow(MIGRATION)
    return activation / weight_absmax.clamp(min=1e-5).pow(1 - MIGRATION)


class Int8Linear(nn.Module):
    """y = W x + b computed as int8 weights times 7-bit activations, one scale per token."""

    def __init__(self, linear: nn.Linear, quantizer: TokenQuantizer, smooth: torch.Tensor) -> None:
        super().__init__()
        scaled = linear.weight.detach().float() * smooth
        self.register_buffer("weight_scale", scaled.abs().amax(1).clamp(min=1e-12) / 127.0)
        quantized = torch.round(scaled / self.weight_scale[:, None]).clamp(-127, 127)
        self.register_buffer("weight_int8", quantized.to(torch.int8))
        bias = linear.bias.detach().float() if linear.bias is not None else None
        self.register_buffer("bias", bias)
        self.out_features = linear.out_features
        self.quantizer = quantizer
        self._kernel = _onednn_kernel(self.weight_int8, self.weight_scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        codes, step = self.quantizer(x)  # the very tensor: siblings reuse its codes
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


def calibrate(
    model: nn.Module, batches: Iterable[dict[str, torch.Tensor]], within: nn.Module
) -> dict[str, list]:
    """Per-input-channel absolute maxima of the inputs of every linear layer in `within` (named
    relative to it) while `model` runs on the batches."""
    maxima: dict[str, torch.Tensor] = {}

    def recorder(name: str) -> Callable:
        def hook(_: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
            seen = inputs[0].detach().abs().reshape(-1, inputs[0].shape[-1]).amax(0)
            maxima[name] = torch.maximum(maxima[name], seen) if name in maxima else seen

        return hook

    handles = [m.register_forward_pre_hook(recorder(n)) for n, m in linear_layers(within).items()]
    try:
        with torch.inference_mode():
            for batch in batches:
                model(**batch)
    finally:
        for handle in handles:
            handle.remove()
    return {name: [round(float(v), 5) for v in values] for name, values in maxima.items()}


def quantize_linear_layers(module: nn.Module, calibration: dict[str, list]) -> None:
    """Replace every calibrated linear layer of `module` in place. Siblings with the same
    calibration read the same input and share its quantizer."""
    groups: dict[tuple[str, tuple], list[str]] = {}
    for name in linear_layers(module):
        if name in calibration:
            parent = name.rpartition(".")[0]
            groups.setdefault((parent, tuple(calibration[name])), []).append(name)
    for (parent_name, absmax), names in groups.items():
        parent = module.get_submodule(parent_name) if parent_name else module
        linears = [module.get_submodule(name) for name in names]
        smooth = smoothing(torch.tensor(absmax), [linear.weight for linear in linears])
        quantizer = TokenQuantizer(smooth)
        for name, linear in zip(names, linears, strict=True):
            quantized = Int8Linear(linear, quantizer, smooth)
            setattr(parent, name.rpartition(".")[2], quantized)
