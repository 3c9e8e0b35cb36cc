"""Proxy model settings: the Llama presets, `ProxyConfig` (what one proxy run is), and model construction.

The paper's proxies have ~62M and ~350M parameters; `tiny` (0.66M with an 8k vocabulary) is for CPU tests
and the demo. The training loop that uses these is `climb.search.proxy`; torch and transformers are imported
lazily.
"""

from __future__ import annotations

from dataclasses import dataclass

PRECISIONS = ("auto", "float32", "bfloat16")


@dataclass(frozen=True)
class ProxyArchitecture:
    """A Llama decoder's shape (full multi-head attention, SwiGLU MLP, tied embeddings)."""

    hidden_size: int
    layers: int
    heads: int
    intermediate_size: int  # SwiGLU width, ~8/3 of hidden as in Llama
    max_position: int  # RoPE: costs no parameters, bounds sequence_length


PRESETS = {
    "tiny": ProxyArchitecture(64, 2, 4, 256, 1024),  # 0.13M non-embedding; 0.66M total with an 8k vocab
    "62m": ProxyArchitecture(512, 14, 8, 1408, 2048),  # 61.4M with a 32k vocab (the paper's small proxy)
    "350m": ProxyArchitecture(1024, 24, 16, 2944, 2048),  # 350.5M with a 32k vocab (the paper's larger one)
}
# Peak AdamW lr when the config leaves it None. 62m and 350m follow Pythia-70M / Pythia-410M; tiny runs
# only tens of steps at the default budget, where a high rate is what moves the loss.
DEFAULT_LEARNING_RATES = {"tiny": 1e-2, "62m": 1e-3, "350m": 3e-4}
assert DEFAULT_LEARNING_RATES.keys() == PRESETS.keys(), "every preset needs a default learning rate"


@dataclass(frozen=True)
class ProxyConfig:
    """Settings of one proxy run; `proxy_key` hashes them with the mixture, so results are reused safely."""

    preset: str = "tiny"  # tiny | 62m | 350m (the architecture; ignored for it when init_from is set)
    tokens: int = 100_000  # training tokens per run (the budget); rounded down to whole batches
    sequence_length: int = 256  # tokens per window the model sees
    batch_size: int = 16  # windows per step
    learning_rate: float | None = None  # peak AdamW lr; None: DEFAULT_LEARNING_RATES[preset]
    warmup_fraction: float = 0.05  # of the steps, linear from lr/warmup_steps to the peak
    weight_decay: float = 0.1  # decoupled, on weight matrices and embeddings only
    init_from: str | None = None  # a Hugging Face causal-LM checkpoint folder to continue from
    device: str = "auto"  # auto | cpu | cuda
    precision: str = "auto"  # auto | float32 | bfloat16 (autocast over float32 weights); module docstring
    seed: int = 0  # model init and window sampling
    threads: int | None = None  # torch CPU threads; None: every available CPU

    def __post_init__(self):
        if self.preset not in PRESETS:
            raise ValueError(f"unknown proxy preset {self.preset!r}; choose one of {sorted(PRESETS)}")
        if min(self.sequence_length, self.batch_size) < 1:
            raise ValueError(f"sequence_length and batch_size must be >= 1, got {self}")
        if self.tokens < self.batch_size * self.sequence_length:
            raise ValueError(f"tokens={self.tokens:,} is less than one batch of {self.batch_size} x "
                             f"{self.sequence_length} = {self.batch_size * self.sequence_length:,} tokens")
        if self.sequence_length > PRESETS[self.preset].max_position and self.init_from is None:
            raise ValueError(f"sequence_length {self.sequence_length} exceeds preset {self.preset!r}'s "
                             f"max_position {PRESETS[self.preset].max_position}")
        if self.learning_rate is not None and not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0 (or None for the preset's), got {self.learning_rate}")
        if not 0 <= self.warmup_fraction < 1 or self.weight_decay < 0:
            raise ValueError(f"need 0 <= warmup_fraction < 1 and weight_decay >= 0, got {self}")
        if self.device not in ("auto", "cpu", "cuda") or self.precision not in PRECISIONS:
            raise ValueError(f"device must be auto, cpu or cuda and precision one of {PRECISIONS}, got "
                             f"{self.device!r} and {self.precision!r}")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"threads must be >= 1 or None, got {self.threads}")

    @property
    def architecture(self) -> ProxyArchitecture:
        return PRESETS[self.preset]

    @property
    def peak_learning_rate(self) -> float:
        return self.learning_rate if self.learning_rate is not None else DEFAULT_LEARNING_RATES[self.preset]

    @property
    def steps(self) -> int:
        return self.tokens // (self.batch_size * self.sequence_length)


def llama_config(architecture: ProxyArchitecture, *, vocab_size: int):
    """The transformers LlamaConfig of a preset: full multi-head attention, tied input/output embeddings."""
    from transformers import LlamaConfig

    a = architecture
    return LlamaConfig(vocab_size=vocab_size, hidden_size=a.hidden_size, intermediate_size=a.intermediate_size,
                       num_hidden_layers=a.layers, num_attention_heads=a.heads, num_key_value_heads=a.heads,
                       max_position_embeddings=a.max_position, tie_word_embeddings=True, use_cache=False)


def build_model(config: ProxyConfig, *, vocab_size: int):
    """A float32 LlamaForCausalLM: the preset, seeded by config.seed, or the checkpoint at config.init_from.

    Args:
        config: the proxy settings (preset, seed, init_from are read here).
        vocab_size: the tokenizer's vocabulary; a checkpoint with another raises ValueError.
    """
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, LlamaForCausalLM

    if config.init_from is None:
        with torch.random.fork_rng(devices=[]):  # seeded init without touching the caller's RNG
            torch.manual_seed(config.seed)
            return LlamaForCausalLM(llama_config(config.architecture, vocab_size=vocab_size))
    found = AutoConfig.from_pretrained(config.init_from)  # checked before the weights are read
    if found.vocab_size != vocab_size:
        raise ValueError(f"checkpoint {config.init_from} has a vocabulary of {found.vocab_size:,} ids, the "
                         f"tokenizer has {vocab_size:,}: a proxy must use the token stores' tokenizer")
    limit = getattr(found, "max_position_embeddings", None)
    if limit is not None and config.sequence_length > limit:
        raise ValueError(f"sequence_length {config.sequence_length} exceeds checkpoint {config.init_from}'s "
                         f"max_position_embeddings {limit}")
    return AutoModelForCausalLM.from_pretrained(config.init_from, dtype=torch.float32)


def n_parameters(model) -> dict:
    """{"total", "non_embedding"} parameter counts of a model, or of a config (built on the meta device).

    Tied embeddings count once; non-embedding leaves out the input embedding (and an untied output head).
    """
    import torch
    from transformers import AutoModelForCausalLM, PretrainedConfig

    if isinstance(model, PretrainedConfig):
        with torch.device("meta"):  # shapes only: the 350m preset allocates nothing
            model = AutoModelForCausalLM.from_config(model)
    total = sum(p.numel() for p in model.parameters())  # parameters() yields a tied tensor once
    embeddings = {id(m.weight): m.weight.numel() for m in (model.get_input_embeddings(), model.get_output_embeddings())}
    return {"total": total, "non_embedding": total - sum(embeddings.values())}
