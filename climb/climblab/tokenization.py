"""Tokenization engine: the tokenizer of ClimbLab and of the proxy models (paper step 5).

Either a byte-level BPE trained on a sample of the corpus (the `tokenizers` library), or the user's
tokenizer: a folder holding `tokenizer.json`, any folder `transformers.AutoTokenizer` can load, or a
hub name where there is a network. Byte-level BPE has no unknown tokens: every string round-trips.

Determinism: the same texts and settings give the same vocabulary, merges and ids. The BPE trainer
ranks merges by (count, pair), so ties break lexicographically, never by hash or thread order;
identical `tokenizer.json` was measured across 1, 2, 8 and 16 Rayon threads and across processes
(tokenizers 0.23), so training leaves the thread settings alone.

Token counts and ids never include special tokens; the token stores append `eos_id(tokenizer)` after
every document themselves.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import tokenizers

EOS_TOKEN = "<|endoftext|>"  # appended after every document in token stores; id 0 in trained tokenizers
# End-of-text tokens of common tokenizers, tried in order when EOS_TOKEN is absent:
# Llama 3, Llama 2 / Mistral / T5 / OPT, Gemma.
KNOWN_EOS_TOKENS = (EOS_TOKEN, "<|end_of_text|>", "</s>", "<eos>")
BYTE_ALPHABET_SIZE = 256  # a byte-level vocabulary holds every byte, plus EOS_TOKEN
TOKENIZER_FILE = "tokenizer.json"
# The class name that both transformers 4 and 5 resolve to their fast (tokenizers-backed) tokenizer.
TRANSFORMERS_TOKENIZER_CLASS = "PreTrainedTokenizerFast"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TokenizerSettings:
    """Which tokenizer ClimbLab and the proxies use (the `tokenizer` section of the configuration)."""

    train_vocab_size: int | None = 8192  # train a byte-level BPE of this size (ignored when path is set)
    path: str | None = None  # a tokenizer folder (tokenizer.json / AutoTokenizer) or hub name
    min_frequency: int = 2  # a pair seen fewer times is never merged
    sample_documents: int = 20000  # documents used for training (the caller samples them)

    def __post_init__(self):
        if self.path is None and (self.train_vocab_size is None or self.train_vocab_size <= BYTE_ALPHABET_SIZE):
            raise ValueError(
                f"tokenizer.train_vocab_size must exceed {BYTE_ALPHABET_SIZE} (the byte alphabet) when no "
                f"tokenizer.path is given, got {self.train_vocab_size}"
            )
        if self.min_frequency < 1 or self.sample_documents < 1:
            raise ValueError(f"tokenizer.min_frequency and sample_documents must be >= 1, got {self}")


def _counted(texts: Iterable[str], counter: list[int]) -> Iterator[str]:
    for text in texts:
        counter[0] += 1
        yield text


def _backend_of(loaded, path_or_name: str) -> "tokenizers.Tokenizer":
    """The `tokenizers.Tokenizer` behind a transformers tokenizer (fast tokenizers only)."""
    from tokenizers import Tokenizer

    backend = getattr(loaded, "backend_tokenizer", None)
    if not isinstance(backend, Tokenizer):
        raise ValueError(
            f"tokenizer {path_or_name!r} loads only as a slow (pure Python) {type(loaded).__name__}; token "
            f"stores need a fast tokenizer: convert it once (e.g. save it with `tokenizer.json`) and point "
            f"tokenizer.path at that folder"
        )
    return Tokenizer.from_str(backend.to_str())  # a copy: the caller may change truncation and padding


def _plain(tokenizer: "tokenizers.Tokenizer") -> "tokenizers.Tokenizer":
    """No truncation or padding: a shipped tokenizer.json may carry them (MiniLM pads everything to 128)."""
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


def train_bpe(texts: Iterable[str], *, vocab_size: int, min_frequency: int = 2) -> "tokenizers.Tokenizer":
    """Train a byte-level BPE (GPT-2 style pre-tokenisation, no prefix space) on `texts`.

    EOS_TOKEN is the only special token and gets id 0; ids 1-256 hold the byte alphabet, so no text is
    ever unknown. Deterministic (see the module docstring); no environment variable is changed.

    Args:
        texts: the training documents (the caller samples them, TokenizerSettings.sample_documents).
        vocab_size: the largest vocabulary, EOS_TOKEN and the 256 bytes included; training stops
            earlier when no pair is seen `min_frequency` times any more.
        min_frequency: a pair seen fewer times is never merged.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    if vocab_size <= BYTE_ALPHABET_SIZE:
        raise ValueError(f"vocab_size must exceed {BYTE_ALPHABET_SIZE} (the byte alphabet), got {vocab_size}")
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=[EOS_TOKEN],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    counter, started = [0], time.perf_counter()
    tokenizer.train_from_iterator(_counted(texts, counter), trainer=trainer)
    seconds = time.perf_counter() - started
    assert tokenizer.token_to_id(EOS_TOKEN) == 0, "EOS_TOKEN must be id 0 in a trained tokenizer"
    log.info(f"trained a byte-level BPE of {tokenizer.get_vocab_size():,} tokens on {counter[0]:,} documents "
             f"in {seconds:.1f} s ({counter[0] / max(seconds, 1e-9):,.0f} docs/s)")
    return tokenizer


def load_tokenizer(path_or_name: str) -> "tokenizers.Tokenizer":
    """The user's tokenizer as a `tokenizers.Tokenizer`, without truncation or padding.

    Args:
        path_or_name: a `tokenizer.json` file, a folder holding one (read directly), any folder
            `transformers.AutoTokenizer` loads as a fast tokenizer, or a hub name (needs the network
            or the local hub cache). Nothing loadable, or a slow-only tokenizer, raises ValueError.
    """
    from tokenizers import Tokenizer

    local = Path(path_or_name).expanduser()
    file = local if local.is_file() else local / TOKENIZER_FILE
    if file.is_file():
        try:
            return _plain(Tokenizer.from_file(str(file)))
        except Exception as err:
            raise ValueError(f"{file} is not a readable tokenizers file ({type(err).__name__}: {err})") from err
    try:
        from transformers import AutoTokenizer

        loaded = AutoTokenizer.from_pretrained(str(local) if local.is_dir() else path_or_name)
    except Exception as err:
        where = "a folder" if local.is_dir() else "neither a local folder nor a reachable hub name"
        raise ValueError(
            f"no tokenizer could be loaded from {path_or_name!r} ({where}; {type(err).__name__}: {err}); "
            f"point tokenizer.path at a folder holding {TOKENIZER_FILE}"
        ) from err
    return _plain(_backend_of(loaded, path_or_name))


def eos_id(tokenizer: "tokenizers.Tokenizer") -> int:
    """The id that ends every document: EOS_TOKEN's, else the tokenizer's own end-of-text token.

    Args:
        tokenizer: a trained or loaded tokenizer; one with none of KNOWN_EOS_TOKENS raises ValueError.
    """
    for token in KNOWN_EOS_TOKENS:
        token_id = tokenizer.token_to_id(token)
        if token_id is not None:
            return int(token_id)
    raise ValueError(
        f"the tokenizer has no end-of-text token (none of {KNOWN_EOS_TOKENS}); token stores need one to "
        f"separate documents: add {EOS_TOKEN!r} as a special token or train a tokenizer instead"
    )


def save_tokenizer(tokenizer: "tokenizers.Tokenizer", folder: str) -> None:
    """Write `tokenizer.json` and a folder that `transformers.AutoTokenizer.from_pretrained` loads.

    `tokenizer.json` is the tokenizer exactly as given (transformers would add an empty post-processor);
    `tokenizer_config.json` names its end-of-text token as `eos_token`.

    Args:
        tokenizer: the tokenizer to save; it must have an end-of-text token (see eos_id).
        folder: a local folder, created when missing (the caller makes it a staging folder).
    """
    from transformers import PreTrainedTokenizerFast

    eos_token = tokenizer.id_to_token(eos_id(tokenizer))
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token=eos_token).save_pretrained(str(out))
    tokenizer.save(str(out / TOKENIZER_FILE))
    config_file = out / "tokenizer_config.json"
    config = json.loads(config_file.read_text())
    config["tokenizer_class"] = TRANSFORMERS_TOKENIZER_CLASS  # v5 writes its own name, which v4 cannot load
    config_file.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")


def encode_batch(tokenizer: "tokenizers.Tokenizer", texts: Sequence[str]) -> list[list[int]]:
    """Token ids of each text, without special tokens (encoded in parallel threads).

    Args:
        tokenizer: a trained or loaded tokenizer.
        texts: the documents.
    """
    encodings = tokenizer.encode_batch_fast(list(texts), add_special_tokens=False)
    return [encoding.ids for encoding in encodings]


def count_tokens(tokenizer: "tokenizers.Tokenizer", texts: Sequence[str], *, batch_size: int = 1024) -> np.ndarray:
    """(N,) int64: how many tokens each text encodes to, without special tokens.

    Args:
        tokenizer: a trained or loaded tokenizer.
        texts: the documents.
        batch_size: documents encoded together (bounds the memory the encodings take).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    counts = np.zeros(len(texts), dtype=np.int64)
    for start in range(0, len(texts), batch_size):
        batch = list(texts[start : start + batch_size])
        encodings = tokenizer.encode_batch_fast(batch, add_special_tokens=False)
        counts[start : start + len(batch)] = [len(encoding.ids) for encoding in encodings]
    return counts


def resolve_tokenizer(*, settings: TokenizerSettings, texts: Iterable[str] = ()) -> "tokenizers.Tokenizer":
    """The tokenizer the settings ask for: the user's (settings.path) or a BPE trained on `texts`.

    Args:
        settings: path, or vocabulary size and minimum pair frequency for training.
        texts: the training sample (ignored when settings.path is set).
    """
    if settings.path is not None:
        return load_tokenizer(settings.path)
    return train_bpe(texts, vocab_size=settings.train_vocab_size, min_frequency=settings.min_frequency)
