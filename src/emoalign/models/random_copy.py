"""Random-weight copies of a model's architecture: seeded, truncated to the blocks needed, built fast.

A random copy is the architecture of a model (``AutoModel.from_config``: no LM head) with seeded
random weights, truncated to its first ``n_blocks`` blocks. It is the untrained control and the
"vocabulary baseline": the same pipeline run on random-weight copies of both models,
20+ seeds each, so a copy must cost little next to one forward pass over the prompts.

How it is built
---------------
1. The config is deep-copied; a multimodal config (Gemma-3 ``*-it``) is reduced to its text config
   (the vision tower never runs on text prompts, and would cost more than the language model).
2. The first ``n_blocks`` blocks are constructed with their *parameters* on the ``meta`` device
   (buffers such as rotary frequencies or ``embed_scale`` are real, computed by the constructors as
   usual). The weights are initialised with the config at full depth (GPT-2 scales ``c_proj`` by
   it); afterwards the text config's ``num_hidden_layers`` and its per-layer lists
   (``layer_types``, GPT-Neo's ``attention_layers``) are truncated to ``n_blocks``.
3. Parameters are allocated on the CPU and initialised by the model's own ``_init_weights`` (so
   every family keeps its scheme: normal(0, ``initializer_range``) for linear and embedding
   weights, GPT-2's depth-scaled ``c_proj``, zero biases, unit LayerNorm/RMSNorm scales, Gemma's
   zero RMSNorm offsets, zeroed padding rows, rotary buffers), with one change: every ``normal_``
   draws from seeded generators chunk by chunk (a thread pool fills the chunks in parallel), instead
   of from the global RNG. Other random initialisers (rare: uniform, truncated normal, ...) get a
   generator seeded from the parameter name.
4. With ``token_ids`` (the tokens the prompts actually use), only the input-embedding chunks holding
   those tokens' rows are drawn (a chunk is a few rows, see ``EMBEDDING_CHUNK_ELEMENTS``); the other
   rows are zero and cost nothing (lazily zeroed memory). The forward on inputs made of those tokens
   is bit-identical to that of the full copy. A 262k x 640 embedding of which ~800 rows are used costs
   milliseconds instead of the ~1-2 s of drawing all of it.

What is guaranteed
------------------
Every drawn value is a function of ``(seed, architecture hash, parameter name, chunk index, mean,
std)`` only, where a chunk is a fixed number of leading-dimension rows set by the parameter's shape
and the architecture hash is :func:`architecture_hash` of the config as given. Hence:

- the same ``(config, seed, n_blocks, dtype)`` gives bit-identical weights in any process, whatever
  the target device (values are drawn on the CPU in float32, then cast to ``dtype`` and moved) —
  with one torch build on one CPU type: torch's ``normal_`` kernels are vectorised per instruction
  set, so another CPU or torch release may differ in the last bits;
- a copy truncated to ``n`` blocks has exactly the first ``n`` blocks of a deeper copy with the same
  seed (GPT-2's ``c_proj`` scale uses the full depth), so layer ``i``'s activations do not depend on
  how many blocks were built;
- an input-embedding row is the same whether it was drawn alone (``token_ids``) or with all rows;
- different seeds give independent draws, and so do different architectures whatever their seeds
  (the architecture hash enters every stream: a 4096-wide and a 5120-wide Llama never share values).
  Two checkpoints of ONE architecture with the same seed give the same copy: a study whose two
  models share an architecture must give its two sides different seeds.

Values differ from ``AutoModel.from_config`` under ``torch.manual_seed(seed)`` (another RNG stream;
same distributions). If the model's ``_init_weights`` leaves a parameter untouched through the
transformers initialisation helpers (remote code that writes ``.data`` directly), or transformers
predates ``transformers.initialization`` (4.x), the builder falls back to plain ``from_config`` of
the truncated config under a seeded global RNG: deterministic, but slower and without the
prefix guarantee.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import math
import mmap
import os
from collections.abc import Callable, Collection, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import torch
from torch import nn

from emoalign.core.errors import EmoalignError
from emoalign.core.log import get_logger
from emoalign.models.blocks import find_blocks
from emoalign.models.hf import text_config

log = get_logger(__name__)

#: Bump when the drawing scheme changes: it is part of every random-copy cache key.
RANDOM_INIT_VERSION = 1
#: Elements per independently seeded chunk of an ordinary parameter.
CHUNK_ELEMENTS = 1 << 20
#: Elements per chunk of the input embedding: a few rows (6 at d = 640, 2 at d = 1536, 1 from d = 2048),
#: so the rows of the prompts' tokens are cheap to draw alone.
EMBEDDING_CHUNK_ELEMENTS = 1 << 12
#: Draw with a thread pool only above this many elements (thread start-up costs more below).
PARALLEL_MIN_ELEMENTS = 1 << 22
#: Config attributes that hold one entry per block (truncated with the blocks).
PER_LAYER_CONFIG_LISTS = ("layer_types", "attention_layers")

_MASK64 = (1 << 64) - 1
_RANDOM_INITS = (
    "uniform_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_",
    "trunc_normal_", "orthogonal_", "sparse_",
)
_DETERMINISTIC_INITS = ("constant_", "ones_", "zeros_", "eye_", "dirac_", "copy_")


def config_depth(config: Any) -> int:
    """Number of blocks of the (text) model."""
    cfg = text_config(config)
    depth = getattr(cfg, "num_hidden_layers", None)
    if depth is None:
        raise EmoalignError(f"config of type {type(cfg).__name__} has no num_hidden_layers")
    return int(depth)


def truncate_config(config: Any, n_blocks: int) -> None:
    """Set the config's depth to ``n_blocks`` in place and cut its per-layer lists to match."""
    cfg = text_config(config)
    depth = config_depth(cfg)
    for name in PER_LAYER_CONFIG_LISTS:
        value = getattr(cfg, name, None)
        if isinstance(value, (list, tuple)) and len(value) == depth:
            setattr(cfg, name, type(value)(value[:n_blocks]))
    cfg.num_hidden_layers = n_blocks  # attribute_map: n_layer (GPT-2), num_layers (GPT-Neo)


#: Config fields that name or date a checkpoint without changing what is built.
NON_ARCHITECTURE_FIELDS = frozenset(
    {"_name_or_path", "name_or_path", "_commit_hash", "transformers_version", "architectures", "dtype", "torch_dtype"}
)


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _strip(v) for k, v in value.items() if k not in NON_ARCHITECTURE_FIELDS}
    if isinstance(value, (list, tuple)):
        return [_strip(v) for v in value]
    return value


def architecture_hash(config: Any) -> str:
    """sha256 of the config's ``to_dict()`` without the fields that name, locate or date a checkpoint
    (``_name_or_path``, ``_commit_hash``, ``transformers_version``, ``architectures``, dtype):
    two checkpoints of one architecture share it, wherever and whenever they were saved."""
    payload = json.dumps(_strip(config.to_dict()), sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def _derived_seed(seed: int, key: str) -> int:
    """A 64-bit seed from ``(seed, key)``, stable across processes (no Python ``hash``)."""
    digest = hashlib.sha256(f"emoalign-random-copy:{int(seed)}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


def _chunk_seed(base: int, chunk: int) -> int:
    # splitmix64 finaliser: neighbouring chunks get unrelated seeds
    z = (base + (chunk + 1) * 0x9E3779B97F4A7C15) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return (z ^ (z >> 31)) & ((1 << 63) - 1)


def _lazy_zeros(shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
    """A zero CPU tensor whose pages are only touched when written (private anonymous mapping),
    so a 262k-row embedding of which a few thousand rows are drawn costs almost nothing."""
    nbytes = math.prod(shape) * torch.empty((), dtype=dtype).element_size()
    if nbytes == 0 or not hasattr(mmap, "MAP_PRIVATE"):
        return torch.zeros(shape, dtype=dtype)
    buffer = mmap.mmap(-1, nbytes, flags=mmap.MAP_PRIVATE)
    return torch.frombuffer(buffer, dtype=dtype).view(shape)  # the tensor keeps the mapping alive


@contextlib.contextmanager
def _parameters_on_meta() -> Iterator[None]:
    """Register every new parameter on the ``meta`` device; buffers stay real (computed as usual)."""
    original = nn.Module.register_parameter

    def register_parameter(module: nn.Module, name: str, param: nn.Parameter | None) -> None:
        original(module, name, param)
        if param is not None and param.device.type != "meta":
            module._parameters[name] = type(param)(param.to("meta"), requires_grad=param.requires_grad)

    nn.Module.register_parameter = register_parameter  # type: ignore[method-assign]
    try:
        yield
    finally:
        nn.Module.register_parameter = original  # type: ignore[method-assign]


@contextlib.contextmanager
def _no_initialisation_at_construction() -> Iterator[None]:
    """Skip transformers' weight init inside ``post_init`` (it would only draw into meta tensors,
    which is slow through torch's meta kernels); weight tying still happens there."""
    from transformers.modeling_utils import PreTrainedModel

    original = PreTrainedModel.initialize_weights
    PreTrainedModel.initialize_weights = lambda self: None  # type: ignore[method-assign]
    try:
        yield
    finally:
        PreTrainedModel.initialize_weights = original  # type: ignore[method-assign]


def _materialise_parameters(model: nn.Module, lazy: set[int]) -> None:
    """Replace meta parameters by uninitialised CPU tensors (ties preserved); ``lazy``: ids of meta
    parameters to allocate as lazily zeroed memory instead."""
    new: dict[int, nn.Parameter] = {}
    for module in model.modules():
        for name, param in list(module._parameters.items()):
            if param is None:
                continue
            if id(param) not in new:
                if param.device.type != "meta":
                    new[id(param)] = param
                else:
                    shape, dtype = tuple(param.shape), param.dtype
                    data = _lazy_zeros(shape, dtype) if id(param) in lazy else torch.empty(shape, dtype=dtype)
                    new[id(param)] = nn.Parameter(data, requires_grad=False)
            module._parameters[name] = new[id(param)]


class _SeededInit:
    """Patches ``transformers.initialization`` while the model's ``_init_weights`` runs: ``normal_``
    draws per-chunk seeded values, other random initialisers get a per-parameter generator, and
    every write is recorded so parameters left untouched can be detected."""

    def __init__(
        self,
        model: nn.Module,
        seed: int,
        architecture: str,
        embedding: torch.Tensor,
        embedding_rows: Collection[int] | None,
        workers: int,
    ) -> None:
        self.seed = int(seed)
        self.architecture = architecture
        self.by_id: dict[int, str] = {}
        self.by_address: dict[tuple[int, tuple[int, ...], torch.dtype], str] = {}
        for name, tensor in [*model.named_parameters(), *model.named_buffers()]:
            self.by_id.setdefault(id(tensor), name)
            self.by_address.setdefault((tensor.data_ptr(), tuple(tensor.shape), tensor.dtype), name)
        self.embedding_key = self.name_of(embedding)
        self.embedding_rows = None if embedding_rows is None else sorted({int(r) for r in embedding_rows})
        self.written: set[int] = set()
        self.unnamed = 0
        self.workers = max(1, workers)

    def name_of(self, tensor: torch.Tensor) -> str:
        name = self.by_id.get(id(tensor)) or self.by_address.get(
            (tensor.data_ptr(), tuple(tensor.shape), tensor.dtype)
        )
        if name is None:  # a view or a temporary: named by call order (deterministic)
            self.unnamed += 1
            name = f"<unnamed {self.unnamed}>"
        return name

    def mark(self, tensor: torch.Tensor) -> None:
        if tensor.device.type != "meta":
            self.written.add(tensor.untyped_storage().data_ptr())

    def is_written(self, tensor: torch.Tensor) -> bool:
        return tensor.untyped_storage().data_ptr() in self.written

    def normal_(
        self, tensor: torch.Tensor, mean: float = 0.0, std: float = 1.0, generator: Any = None
    ) -> torch.Tensor:
        if getattr(tensor, "_is_hf_initialized", False) or tensor.device.type == "meta":
            return tensor
        key = self.name_of(tensor)
        sparse = key == self.embedding_key and self.embedding_rows is not None
        chunk_elements = EMBEDDING_CHUNK_ELEMENTS if key == self.embedding_key else CHUNK_ELEMENTS
        with torch.no_grad():
            self._fill_normal(tensor, key, float(mean), float(std), chunk_elements, sparse)
        self.mark(tensor)
        return tensor

    def _fill_normal(
        self, tensor: torch.Tensor, key: str, mean: float, std: float, chunk_elements: int, sparse: bool
    ) -> None:
        rows2d = tensor.reshape(tensor.shape[0], -1) if tensor.dim() > 1 else tensor.reshape(-1, 1)
        if rows2d.data_ptr() != tensor.data_ptr() or not tensor.is_contiguous():
            rows2d = torch.empty(rows2d.shape, dtype=tensor.dtype)  # non-contiguous: fill a copy
        n_rows, row_size = rows2d.shape
        per_chunk = max(1, chunk_elements // max(row_size, 1))
        if sparse:
            chunks = sorted({row // per_chunk for row in self.embedding_rows if 0 <= row < n_rows})
        else:
            chunks = list(range(math.ceil(n_rows / per_chunk)))
        base = _derived_seed(self.seed, f"{self.architecture}/{key}")
        direct = tensor.dtype == torch.float32 and tensor.device.type == "cpu"

        def fill_all(group: list[int]) -> None:
            generator = torch.Generator()  # one per thread, re-seeded for every chunk
            for chunk in group:
                generator.manual_seed(_chunk_seed(base, chunk))
                rows = rows2d[chunk * per_chunk : (chunk + 1) * per_chunk]
                if direct:
                    rows.normal_(mean, std, generator=generator)
                else:  # draw in float32 so every dtype rounds the same values
                    rows.copy_(torch.empty(rows.shape, dtype=torch.float32).normal_(mean, std, generator=generator))

        n_drawn = min(len(chunks) * per_chunk, n_rows) * row_size
        if self.workers > 1 and len(chunks) > 1 and n_drawn >= PARALLEL_MIN_ELEMENTS:
            with ThreadPoolExecutor(max_workers=self.workers) as pool:
                list(pool.map(fill_all, [chunks[w :: self.workers] for w in range(self.workers)]))
        else:
            fill_all(chunks)
        if rows2d.data_ptr() != tensor.data_ptr():
            tensor.copy_(rows2d.view(tensor.shape))

    def _wrap_random(self, original: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
        def wrapped(tensor: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
            if kwargs.get("generator") is None and tensor.device.type != "meta":
                kwargs["generator"] = torch.Generator().manual_seed(
                    _chunk_seed(_derived_seed(self.seed, f"{self.architecture}/{self.name_of(tensor)}"), -1)
                )
            flagged = getattr(tensor, "_is_hf_initialized", False)
            result = original(tensor, *args, **kwargs)
            if not flagged:
                self.mark(tensor)
            return result

        return wrapped

    def _wrap_deterministic(self, original: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
        def wrapped(tensor: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
            flagged = getattr(tensor, "_is_hf_initialized", False)
            result = original(tensor, *args, **kwargs)
            if not flagged:
                self.mark(tensor)
            return result

        return wrapped

    @contextlib.contextmanager
    def patched(self) -> Iterator[None]:
        """Route the transformers initialisation helpers (and, through transformers' own guard,
        ``torch.nn.init``) to the seeded versions for the duration of the block."""
        from transformers import initialization as hf_init

        replacements: dict[str, Callable[..., torch.Tensor]] = {"normal_": self.normal_}
        for name in _RANDOM_INITS:
            if hasattr(hf_init, name):
                replacements[name] = self._wrap_random(getattr(hf_init, name))
        for name in _DETERMINISTIC_INITS:
            if hasattr(hf_init, name):
                replacements[name] = self._wrap_deterministic(getattr(hf_init, name))
        originals = {name: getattr(hf_init, name) for name in replacements}
        for name, function in replacements.items():
            setattr(hf_init, name, function)
        try:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(_chunk_seed(_derived_seed(self.seed, f"{self.architecture}/<global>"), 0))
                yield
        finally:
            for name, function in originals.items():
                setattr(hf_init, name, function)


def _clear_init_flags(model: nn.Module) -> None:
    for module in model.modules():
        module.__dict__.pop("_is_hf_initialized", None)
    for tensor in [*model.parameters(), *model.buffers()]:
        if hasattr(tensor, "_is_hf_initialized"):
            with contextlib.suppress(AttributeError):
                del tensor._is_hf_initialized


def _model_config(config: Any) -> Any:
    """The config to build: a deep copy, reduced to the text config when that is an AutoModel of its own."""
    from transformers.models.auto.modeling_auto import MODEL_MAPPING_NAMES

    cfg = copy.deepcopy(config)
    text = text_config(cfg)
    if text is not cfg and getattr(text, "model_type", None) in MODEL_MAPPING_NAMES:
        return text
    return cfg


def _build_with_from_config(
    cfg: Any, seed: int, architecture: str, n_blocks: int, dtype: torch.dtype, trust_remote_code: bool
) -> nn.Module:
    """Fallback: plain ``AutoModel.from_config`` of the truncated config under a seeded global RNG."""
    from transformers import AutoModel

    truncate_config(cfg, n_blocks)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(_chunk_seed(_derived_seed(seed, f"{architecture}/<from_config>"), 0))
        return AutoModel.from_config(cfg, dtype=dtype, trust_remote_code=trust_remote_code)


def default_workers() -> int:
    """Threads that draw weights in parallel: torch's intra-op thread count."""
    return max(1, min(torch.get_num_threads(), os.cpu_count() or 1))


def build_random_copy(
    config: Any,
    seed: int,
    n_blocks: int | None = None,
    *,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device = "cpu",
    token_ids: Collection[int] | None = None,
    trust_remote_code: bool = False,
    workers: int | None = None,
) -> nn.Module:
    """The architecture of ``config`` (``AutoModel``, no LM head) with seeded random weights,
    truncated to its first ``n_blocks`` blocks, in eval mode, on ``device``.

    Parameters
    ----------
    config
        A transformers config (not modified; multimodal configs are built from their text config).
    seed
        Seed of the draw; see the module docstring for what it guarantees.
    n_blocks
        Blocks to build (deepest requested layer + 1); ``None``: all of them.
    dtype, device
        Weights are drawn on the CPU in float32, then cast to ``dtype`` and moved to ``device``.
    token_ids
        If given, only the input-embedding rows of these tokens (and their chunk neighbours) are
        drawn, the others are zero: a forward on inputs made of these tokens equals that of the full
        copy, bit for bit.
    workers
        Threads that draw chunks in parallel (default: torch's thread count). No effect on values.
    """
    from transformers import AutoModel

    architecture = architecture_hash(config)
    cfg = _model_config(config)
    depth = config_depth(cfg)
    n_blocks = depth if n_blocks is None else int(n_blocks)
    if not 1 <= n_blocks <= depth:
        raise EmoalignError(f"a random copy needs 1 to {depth} blocks, not {n_blocks}")
    if not _has_hf_initialization():
        return _finish(_build_with_from_config(cfg, seed, architecture, n_blocks, dtype, trust_remote_code), device)

    text_config(cfg).num_hidden_layers = n_blocks  # construct only the blocks needed ...
    with _parameters_on_meta(), _no_initialisation_at_construction():
        model = AutoModel.from_config(cfg, dtype=dtype, trust_remote_code=trust_remote_code)
    text_config(model.config).num_hidden_layers = depth  # ... but initialise them as in the full model
    _, blocks = find_blocks(model)
    del blocks[n_blocks:]
    embedding = model.get_input_embeddings().weight
    _materialise_parameters(model, lazy={id(embedding)} if token_ids is not None else set())
    embedding = model.get_input_embeddings().weight  # drawn in row chunks, sparse or not
    _clear_init_flags(model)
    init = _SeededInit(model, seed, architecture, embedding, token_ids, workers or default_workers())
    with init.patched():
        model.initialize_weights()
    untouched = [name for name, param in model.named_parameters() if not init.is_written(param)]
    if untouched:
        log.info(
            f"the init of {type(model).__name__} leaves {', '.join(untouched[:3])}"
            f"{' ...' if len(untouched) > 3 else ''} to its own code; building the random copy the slow way"
        )
        return _finish(_build_with_from_config(
            _model_config(config), seed, architecture, n_blocks, dtype, trust_remote_code
        ), device)
    truncate_config(model.config, n_blocks)
    return _finish(model, device)


def _has_hf_initialization() -> bool:
    try:
        from transformers import initialization  # noqa: F401
        from transformers.modeling_utils import PreTrainedModel
    except ImportError:  # transformers 4.x
        return False
    return hasattr(PreTrainedModel, "initialize_weights")


def _finish(model: nn.Module, device: str | torch.device) -> nn.Module:
    model.requires_grad_(False)
    model.to(torch.device(device))
    return model.eval()
