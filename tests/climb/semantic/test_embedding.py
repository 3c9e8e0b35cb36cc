"""The embedding engine: pooling as the model defines it, unit vectors, determinism, real-data signal."""

import csv
import json
import shutil

import numpy as np
import pytest
import torch

from climb.core.device import cpu_has_native_bf16, resolve_placement
from climb.semantic.embedding import Embedder, EmbedderSettings, pool, read_layout, resolve_model_path
from tests.conftest import shared_data

TEXTS = ["The striker scored twice in the final minutes.", "Stocks fell as bond yields rose.",
         "Whisk the eggs with sugar until pale.", "short", "A much longer text " * 40]


@pytest.fixture(scope="module")
def minilm():
    return Embedder(EmbedderSettings(max_length=128, dtype="float32"))


@pytest.fixture(scope="module")
def tiny_st_model(tmp_path_factory):
    """A small random BERT saved as a sentence-transformers folder: CLS pooling and a tanh Dense 32 -> 8."""
    from safetensors.numpy import save_file
    from transformers import BertConfig, BertModel

    folder = tmp_path_factory.mktemp("tiny_st")
    bundled = resolve_model_path("all-MiniLM-L6-v2")
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        shutil.copy(f"{bundled}/{name}", folder / name)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128)
    BertModel(config).save_pretrained(folder)
    (folder / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"},
    ]))
    (folder / "1_Pooling").mkdir()
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(
        {"word_embedding_dimension": 32, "pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False}))
    (folder / "2_Dense").mkdir()
    (folder / "2_Dense" / "config.json").write_text(json.dumps(
        {"in_features": 32, "out_features": 8, "bias": True, "activation_function": "torch.nn.modules.activation.Tanh"}))
    rng = np.random.default_rng(0)
    save_file({"linear.weight": rng.normal(size=(8, 32)).astype(np.float32),
               "linear.bias": rng.normal(size=8).astype(np.float32)}, str(folder / "2_Dense" / "model.safetensors"))
    return folder


def test_bundled_model_matches_sentence_transformers(minilm):
    """The default model gives the vectors sentence-transformers gives (mean pooling, normalised)."""
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(resolve_model_path("all-MiniLM-L6-v2"), device="cpu")
    reference.max_seq_length = 128
    expected = reference.encode(TEXTS, normalize_embeddings=True)
    got = minilm.embed(TEXTS)
    assert got.vectors.dtype == np.float16 and got.vectors.shape == (len(TEXTS), 384)
    assert np.abs(got.vectors.astype(np.float32) - expected).max() < 2e-3
    assert got.n_tokens.max() == 128 and got.n_tokens.min() > 0  # the long text is truncated


def test_same_texts_give_identical_vectors(minilm):
    """Embedding the same documents twice gives bit-identical vectors, in input order."""
    first, second = minilm.embed(TEXTS), minilm.embed(TEXTS)
    assert np.array_equal(first.vectors, second.vectors)
    reordered = minilm.embed(TEXTS[::-1])
    assert np.abs(reordered.vectors[::-1].astype(np.float32) - first.vectors.astype(np.float32)).max() < 2e-3


def test_switched_sentence_transformers_folder(tiny_st_model):
    """Another local sentence-transformers folder works by path: its pooling and Dense layer are applied."""
    layout = read_layout(str(tiny_st_model))
    assert layout.pooling == "cls" and len(layout.dense) == 1
    embedder = Embedder(EmbedderSettings(model=str(tiny_st_model), max_length=64))
    assert embedder.dim == 8
    result = embedder.embed(TEXTS)
    norms = np.linalg.norm(result.vectors.astype(np.float32), axis=1)
    assert np.allclose(norms, 1.0, atol=2e-3)
    assert embedder.max_length == 64


def test_plain_encoder_is_mean_pooled(tiny_st_model, tmp_path):
    """A folder without modules.json is mean-pooled and has the encoder's hidden size."""
    plain = tmp_path / "plain"
    shutil.copytree(tiny_st_model, plain, ignore=shutil.ignore_patterns("modules.json", "1_Pooling", "2_Dense"))
    assert read_layout(str(plain)).pooling == "mean"
    assert Embedder(EmbedderSettings(model=str(plain), max_length=32)).dim == 32


@pytest.mark.parametrize(
    "mode, expected",
    [("mean", [[2.0, 3.0]]), ("cls", [[1.0, 2.0]]), ("max", [[3.0, 4.0]]), ("lasttoken", [[3.0, 4.0]]),
     ("mean_sqrt_len", [[4.0 / 2**0.5, 6.0 / 2**0.5]])],
)
def test_pooling_modes(mode, expected):
    """Each pooling mode ignores padding: two real tokens (1,2), (3,4) and one padded token (100,100)."""
    hidden = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]]])
    mask = torch.tensor([[1, 1, 0]])
    assert torch.allclose(pool(hidden, mask, mode), torch.tensor(expected))


def test_unknown_hub_model_is_a_clear_error(monkeypatch):
    """A model that is neither a folder nor reachable names itself and says how to fix it."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ValueError, match="NovaSearch/stella_en_400M_v5.*not a local folder"):
        resolve_model_path("NovaSearch/stella_en_400M_v5")


def test_remote_code_is_never_implied():
    """trust_remote_code stays off unless set explicitly."""
    assert EmbedderSettings().trust_remote_code is False
    assert EmbedderSettings(model="NovaSearch/stella_en_400M_v5").trust_remote_code is False


def test_device_rule_on_cpu():
    """auto picks the CPU here, bf16 only where the processor has it natively; CUDA without a GPU is an error."""
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    placement = resolve_placement("auto")
    expected = "bfloat16" if cpu_has_native_bf16() else "float32"
    assert (placement.device, placement.dtype) == ("cpu", expected) and placement.threads >= 1
    assert resolve_placement("cpu", "float32").dtype == "float32"
    with pytest.raises(ValueError, match="cuda"):
        resolve_placement("cuda")


def test_ag_news_same_class_is_closer(minilm):
    """On AG News, documents of the same class are on average closer than documents of different classes."""
    rows = list(csv.reader(open(shared_data("ag_news", "test.csv"), encoding="utf-8")))
    rng = np.random.default_rng(0)
    picked = [rows[i] for i in rng.choice(len(rows), size=200, replace=False)]
    labels = np.array([int(r[0]) for r in picked])
    vectors = minilm.embed([f"{r[1]}\n\n{r[2]}" for r in picked]).vectors.astype(np.float32)
    similarity = vectors @ vectors.T
    same = labels[:, None] == labels[None, :]
    off_diagonal = ~np.eye(len(labels), dtype=bool)
    within, across = similarity[same & off_diagonal].mean(), similarity[~same].mean()
    assert within > across + 0.05, (within, across)


def test_bfloat16_stays_close_to_float32(minilm):
    """bf16 inference (the CPU default where native) gives nearly the float32 vectors."""
    bf16 = Embedder(EmbedderSettings(max_length=128, dtype="bfloat16", device="cpu")).embed(TEXTS).vectors
    cosine = (bf16.astype(np.float32) * minilm.embed(TEXTS).vectors.astype(np.float32)).sum(axis=1)
    assert cosine.min() > 0.995
