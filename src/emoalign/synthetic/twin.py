"""Planted twins: models whose block outputs are an exact linear (affine) image of a source model's
block outputs in a wider residual stream (known-answer tests).

Two kinds:

- :func:`widen_rmsnorm_model` -- a weight-level twin of a pre-norm RMSNorm decoder (Llama, Qwen2,
  Qwen3), saved as an ordinary ``*ForCausalLM`` folder: block outputs ``h' = s·Q·h``.
- :func:`build_affine_twin` -- a wrapper twin of ANY model (e.g. a post-LayerNorm BERT encoder,
  where no weight-level twin exists): block outputs ``h' = s·Q·h + c_i`` (+ optional nuisance
  variation orthogonal to ``range(Q)``).

In both, ``Q`` (width × d) has orthonormal columns and ``s = sqrt(width / d)`` keeps the
per-coordinate RMS: ``mean((s·Q·h)²) = s²·‖h‖² / width = ‖h‖² / d = mean(h²)``.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from emoalign.core.errors import EmoalignError
from emoalign.models.blocks import find_blocks
from emoalign.models.loading import LoadedModel, hf_quiet, text_config

__all__ = [
    "TWIN_MAP_FILE",
    "WIDENABLE_MODEL_TYPES",
    "AffineTwin",
    "AffineTwinBlock",
    "AffineTwinConfig",
    "TwinMap",
    "build_affine_twin",
    "load_twin_map",
    "orthonormal_columns",
    "twin_loaded_model",
    "widen_rmsnorm_model",
]

TWIN_MAP_FILE = "twin_map.safetensors"
NOISE_FREQUENCY = 25.0  # ω of the noisy twin's nuisance term (see AffineTwinBlock)
#: Families whose RMSNorm is ``weight * x / rms(x)`` with the Llama module layout.
WIDENABLE_MODEL_TYPES: tuple[str, ...] = ("llama", "qwen2", "qwen3")


def orthonormal_columns(width: int, d: int, seed: int = 0) -> torch.Tensor:
    """A seeded random (width × d) float64 matrix with orthonormal columns (``QᵀQ = I``)."""
    if width < d:
        raise EmoalignError(f"twin width {width} is smaller than the source width {d}")
    gen = torch.Generator().manual_seed(seed)
    q, r = torch.linalg.qr(torch.randn(width, d, generator=gen, dtype=torch.float64))
    # QR is unique up to column signs: fix them (diag(R) > 0) so the same seed gives the same Q.
    return q * torch.where(torch.diagonal(r) < 0, -1.0, 1.0).to(q.dtype)[None, :]


@dataclass(frozen=True)
class TwinMap:
    """The planted map ``h -> scale · Q · h`` (``Q``: width × d, orthonormal columns, float64)."""

    q: torch.Tensor
    scale: float

    @property
    def width(self) -> int:
        return int(self.q.shape[0])

    @property
    def d(self) -> int:
        return int(self.q.shape[1])

    def apply(self, h: torch.Tensor) -> torch.Tensor:
        """``scale · h @ Qᵀ`` for row vectors ``h`` (..., d), in float64."""
        return self.scale * h.to(torch.float64) @ self.q.T

    def invert(self, h_twin: torch.Tensor) -> torch.Tensor:
        """``h_twin @ Q / scale``: exact left inverse of :meth:`apply` (and kills range(Q)^⊥)."""
        return h_twin.to(torch.float64) @ self.q / self.scale

    @classmethod
    def random(cls, width: int, d: int, seed: int = 0) -> TwinMap:
        return cls(q=orthonormal_columns(width, d, seed), scale=math.sqrt(width / d))


def load_twin_map(folder: str | Path) -> TwinMap:
    """The :class:`TwinMap` saved beside a model by :func:`widen_rmsnorm_model`."""
    from safetensors.torch import load_file

    tensors = load_file(str(Path(folder) / TWIN_MAP_FILE))
    return TwinMap(q=tensors["q"], scale=float(tensors["scale"]))


# ----------------------------------------------------------------------------------------------
# Weight-level twin of an RMSNorm decoder
# ----------------------------------------------------------------------------------------------


def widen_rmsnorm_model(
    source_dir_or_model: str | Path | nn.Module,
    out_dir: str | Path,
    *,
    width: int,
    seed: int = 0,
    tokenizer: Any | None = None,
) -> Path:
    """Save a ``*ForCausalLM`` twin of a Llama/Qwen2/Qwen3 causal LM whose residual stream is
    ``h' = s·Q·h`` (width ≥ d, ``s = sqrt(width/d)``) into ``out_dir``; returns ``out_dir``.

    RMSNorm weights ``g`` are folded into the next linear maps and set to 1 in the twin. Identity:
    ``rms(s·Q·h) = rms(h)``, so ``norm'(h') = s·Q·h/rms(h)`` and
    ``W·diag(g)·Qᵀ/s · s·Q·h/rms(h) = W·(g ⊙ h/rms(h)) = W·norm(h)`` (exact, eps included).
    Inputs (q/k/v/gate/up, lm_head): ``W' = W·diag(g)·Qᵀ/s``, biases unchanged. Outputs
    (o_proj/down_proj): ``W' = s·Q·W``, ``b' = s·Q·b``. Embeddings: ``E' = s·E·Qᵀ``. The LM head is
    untied. Heads, head_dim, intermediate size and vocabulary are unchanged, so attention is too.
    ``Q`` and ``s`` go to ``out_dir/twin_map.safetensors`` (:func:`load_twin_map`). The tokenizer
    (``tokenizer``, else the source folder's) is saved beside the weights.
    """
    from safetensors.torch import save_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    source_dir: Path | None = None
    if isinstance(source_dir_or_model, (str, Path)):
        source_dir = Path(source_dir_or_model)
        with hf_quiet(progress=True):
            model = AutoModelForCausalLM.from_pretrained(str(source_dir), dtype="auto")
    else:
        model = source_dir_or_model
        name_or_path = getattr(model, "name_or_path", "") or ""
        if name_or_path and Path(name_or_path).is_dir():
            source_dir = Path(name_or_path)
    config = model.config
    model_type = str(getattr(config, "model_type", "unknown"))
    if model_type not in WIDENABLE_MODEL_TYPES:
        raise EmoalignError(
            f"widen_rmsnorm_model supports {', '.join(WIDENABLE_MODEL_TYPES)}, not {model_type!r} "
            "(Gemma's norm is (1 + weight) and it scales embeddings by sqrt(hidden); LayerNorm models "
            "have no weight-level twin): use build_affine_twin instead"
        )
    base, lm_head = getattr(model, "model", None), getattr(model, "lm_head", None)
    if base is None or lm_head is None:
        raise EmoalignError(f"widen_rmsnorm_model needs a *ForCausalLM model, got {type(model).__name__}")
    d = int(config.hidden_size)
    tmap = TwinMap.random(width, d, seed)
    q, s = tmap.q, tmap.scale

    twin_config = copy.deepcopy(config)
    twin_config.hidden_size = width
    twin_config.head_dim = int(getattr(config, "head_dim", None) or d // config.num_attention_heads)
    twin_config.tie_word_embeddings = False
    twin = type(model)(twin_config).to(next(model.parameters()).dtype).eval()
    twin_base = twin.model

    done: set[int] = set()  # ids of twin parameters that were written

    def put(target: torch.Tensor, value: torch.Tensor) -> None:
        if target.shape != value.shape:
            raise EmoalignError(f"unexpected parameter shape {tuple(value.shape)} vs {tuple(target.shape)}")
        target.copy_(value.to(target.dtype))
        done.add(id(target))

    def fold_in(src: nn.Linear, dst: nn.Linear, gain: torch.Tensor) -> None:
        put(dst.weight, (src.weight.double() * gain.double()) @ q.T / s)
        if src.bias is not None:
            put(dst.bias, src.bias)  # W'(s·Q·h/rms) + b = W(norm h) + b: bias unchanged

    def fold_out(src: nn.Linear, dst: nn.Linear) -> None:
        put(dst.weight, s * q @ src.weight.double())
        if src.bias is not None:
            put(dst.bias, s * q @ src.bias.double())

    def unit_norm(norm: nn.Module) -> None:
        put(norm.weight, torch.ones_like(norm.weight))

    with torch.no_grad():
        # Start from the source for everything the width does not touch (Qwen3 q_norm/k_norm on
        # head_dim, rotary buffers); the width-dependent tensors are overwritten below.
        src_params = dict(model.named_parameters())
        for name, param in twin.named_parameters():
            if name in src_params and src_params[name].shape == param.shape:
                put(param, src_params[name])
        put(twin_base.embed_tokens.weight, s * base.embed_tokens.weight.double() @ q.T)
        for src_layer, dst_layer in zip(base.layers, twin_base.layers):
            g_attn = src_layer.input_layernorm.weight
            for proj in ("q_proj", "k_proj", "v_proj"):
                fold_in(getattr(src_layer.self_attn, proj), getattr(dst_layer.self_attn, proj), g_attn)
            fold_out(src_layer.self_attn.o_proj, dst_layer.self_attn.o_proj)
            g_mlp = src_layer.post_attention_layernorm.weight
            for proj in ("gate_proj", "up_proj"):
                fold_in(getattr(src_layer.mlp, proj), getattr(dst_layer.mlp, proj), g_mlp)
            fold_out(src_layer.mlp.down_proj, dst_layer.mlp.down_proj)
            unit_norm(dst_layer.input_layernorm)
            unit_norm(dst_layer.post_attention_layernorm)
        fold_in(lm_head, twin.lm_head, base.norm.weight)
        unit_norm(twin_base.norm)
    unset = [name for name, p in twin.named_parameters() if id(p) not in done]
    if unset:  # an architecture variant with parameters this folding does not know about
        raise EmoalignError(f"widen_rmsnorm_model: no folding rule for {', '.join(unset[:5])} of {model_type}")

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with hf_quiet(progress=True):
        twin.save_pretrained(out, safe_serialization=True)
    if tokenizer is None and source_dir is not None:
        tokenizer = AutoTokenizer.from_pretrained(str(source_dir))
    if tokenizer is not None:
        tokenizer.save_pretrained(out)
    save_file(
        {"q": q.contiguous(), "scale": torch.tensor(s, dtype=torch.float64)},
        str(out / TWIN_MAP_FILE),
        metadata={"seed": str(seed), "source": str(source_dir or type(model).__name__), "map": "h' = scale*Q@h"},
    )
    return out


# ----------------------------------------------------------------------------------------------
# Wrapper twin of any model
# ----------------------------------------------------------------------------------------------


@dataclass
class AffineTwinConfig:
    """What emoalign reads from a config (``hidden_size``, ``num_hidden_layers``, ``model_type``)."""

    hidden_size: int
    num_hidden_layers: int
    source_hidden_size: int
    source_model_type: str
    seed: int
    noise: float
    model_type: str = "affine_twin"
    _commit_hash: str | None = None


class AffineTwinBlock(nn.Module):
    """Block ``i`` of an :class:`AffineTwin`: maps source block ``i``'s output ``h`` (…, d) to
    ``h' = s·Q·h + c_i + noise·rms(h)·P⊥·sin(ω·R_i·h/rms(h))`` (…, width), where ``P⊥ = I − QQᵀ``.

    The nuisance term lies in ``range(Q)^⊥``: ``Qᵀ`` kills it, so :meth:`recover` returns the
    source's ``h`` exactly and the source computation is untouched, while an observer sees extra
    input-dependent variation. The high frequency ω makes it pseudo-random per input (deterministic,
    so batched == unbatched) and uncorrelated with any linear read-out of ``h``: a smooth function
    such as tanh would be nearly linear in ``h`` and the twin would stay an (oblique) linear image.
    """

    def __init__(self, q: torch.Tensor, scale: float, offset: torch.Tensor, noise: float, r: torch.Tensor | None):
        super().__init__()
        self.scale = float(scale)
        self.noise = float(noise)
        self.register_buffer("q", q.to(torch.float32).contiguous())
        self.register_buffer("offset", offset.to(torch.float32).contiguous())
        self.register_buffer("r", None if r is None else r.to(torch.float32).contiguous())

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        h = hidden.float()
        out = self.scale * h @ self.q.T + self.offset
        if self.noise > 0 and self.r is not None:
            rms = h.pow(2).mean(-1, keepdim=True).sqrt().clamp_min(1e-12)
            z = torch.sin(NOISE_FREQUENCY * ((h / rms) @ self.r.T))  # (…, width), entries in [-1, 1]
            z = z - (z @ self.q) @ self.q.T  # P⊥ z
            out = out + self.noise * rms * z
        return out.to(hidden.dtype)

    def recover(self, twin_hidden: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """``Qᵀ(h' − c)/s``: the source's ``h`` (QᵀQ = I and Qᵀ P⊥ = 0)."""
        return ((twin_hidden.float() - self.offset) @ self.q / self.scale).to(dtype)


class AffineTwin(nn.Module):
    """A planted twin of ``source`` whose block ``i`` output is ``s·Q·h_i + c_i`` (+ nuisance).

    ``forward`` runs the source model once; a temporary forward hook on each source block sends its
    output through ``self.layers[i]`` (so hooks on the twin blocks fire in order, and an exception
    raised in one stops the forward) and hands the next source block ``Qᵀ(h'_i − c_i)/s``, recovered
    from the twin's state. Everything is per token, so batched == unbatched. The twin blocks sit at
    ``self.layers`` (found by :func:`~emoalign.models.blocks.find_blocks`); the source is kept under
    ``self.source``, an attribute name ``find_blocks`` does not search.
    """

    def __init__(self, source: nn.Module, *, width: int, seed: int = 0, noise: float = 0.0):
        super().__init__()
        _, source_blocks = find_blocks(source)
        cfg = text_config(source.config)
        d = int(getattr(cfg, "hidden_size", None) or getattr(cfg, "n_embd"))
        if noise < 0:
            raise EmoalignError(f"twin noise must be >= 0, got {noise}")
        if noise > 0 and width <= d:
            raise EmoalignError(f"twin noise needs width > d (the orthogonal complement); got width={width}, d={d}")
        self.source = source
        self._source_blocks = list(source_blocks)  # plain list: not registered twice
        self.twin_map = TwinMap.random(width, d, seed)
        gen = torch.Generator().manual_seed(seed + 1)
        blocks = []
        for _ in source_blocks:
            offset = torch.randn(width, generator=gen, dtype=torch.float64)
            r = torch.randn(width, d, generator=gen, dtype=torch.float64) / math.sqrt(d) if noise > 0 else None
            blocks.append(AffineTwinBlock(self.twin_map.q, self.twin_map.scale, offset, noise, r))
        self.layers = nn.ModuleList(blocks)
        self.config = AffineTwinConfig(
            hidden_size=width,
            num_hidden_layers=len(blocks),
            source_hidden_size=d,
            source_model_type=str(getattr(source.config, "model_type", "unknown")),
            seed=seed,
            noise=float(noise),
        )
        self.to(source.get_input_embeddings().weight.device)

    def get_input_embeddings(self) -> nn.Module:
        """The source's token embedding (emoalign reads its ``.weight.device``)."""
        return self.source.get_input_embeddings()

    def forward(self, input_ids: torch.Tensor | None = None, attention_mask: torch.Tensor | None = None, **kwargs: Any):
        from transformers.modeling_outputs import BaseModelOutput

        last: list[torch.Tensor] = []

        def route(index: int):
            def hook(_module: nn.Module, _args: object, output: Any) -> Any:
                hidden = output[0] if isinstance(output, (tuple, list)) else output
                twin_hidden = self.layers[index](hidden)
                last[:] = [twin_hidden]
                back = self.layers[index].recover(twin_hidden, hidden.dtype)
                if isinstance(output, (tuple, list)):
                    return type(output)((back, *output[1:]))
                return back

            return hook

        handles = [block.register_forward_hook(route(i)) for i, block in enumerate(self._source_blocks)]
        try:
            self.source(input_ids=input_ids, attention_mask=attention_mask, **kwargs)
        finally:
            for handle in handles:
                handle.remove()
        return BaseModelOutput(last_hidden_state=last[0] if last else None)


def build_affine_twin(model: nn.Module, *, width: int, seed: int = 0, noise: float = 0.0) -> AffineTwin:
    """An :class:`AffineTwin` of ``model`` (any model :func:`find_blocks` understands), in eval mode.

    Block outputs: ``s·Q·h_i + c_i`` with ``Q`` (width × d) orthonormal columns, ``s = sqrt(width/d)``,
    ``c_i`` a seeded random offset per block; ``noise > 0`` adds the nuisance term of
    :class:`AffineTwinBlock`, orthogonal to ``range(Q)``. Shares the source's parameters.
    """
    return AffineTwin(model, width=width, seed=seed, noise=noise).eval()


def twin_loaded_model(
    loaded: LoadedModel, *, width: int, seed: int = 0, noise: float = 0.0, name: str = "twin"
) -> LoadedModel:
    """Wrap an already loaded source into a :class:`LoadedModel` of its :class:`AffineTwin` (same
    tokenizer, device and dtype), ready for ``extract_activations``.

    The hub id ``planted-twin-of-<source id>@w<width>-s<seed>-n<noise>`` names the source and the
    twin's parameters, so provenance (and any key built from it) differs between twins.
    """
    twin = build_affine_twin(loaded.model, width=width, seed=seed, noise=noise)
    hub_id = f"planted-twin-of-{loaded.spec.hub_id}@w{width}-s{seed}-n{noise:g}"
    spec = replace(loaded.spec, name=name, hub_id=hub_id, family="affine_twin", d_model=width)
    block_path, blocks = find_blocks(twin)
    return LoadedModel(
        spec=spec,
        model=twin,
        tokenizer=loaded.tokenizer,
        device=loaded.device,
        dtype=loaded.dtype,
        model_type="affine_twin",
        n_layers=len(blocks),
        d_model=width,
        block_path=block_path,
    )
