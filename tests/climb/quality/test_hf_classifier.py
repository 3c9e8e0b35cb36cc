"""Tests for the Hugging Face classifier rater (climb.quality.hf_classifier), with tiny BERT classifiers trained on
real educational text against spam and boilerplate (tests.climb.quality.hf_models). A regression head gives the
score; a classification head gives the expected label score; scores lie in [0, 5], rank held-out educational text
first, do not depend on batching and stop at the model's length; the model loads once; a model that does not fit
its spec, or cannot be loaded, is refused with the rater and model named."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest

from climb.quality.hf_classifier import HfClassifierRater, HfClassifierRaterSpec, hf_classifier_rater
from climb.quality.raters import rate
from tests.climb.quality.hf_models import LABEL_SCORES, LABELS, MODEL_MAX_LENGTH, spec_for

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")


def direct_logits(folder: str, texts: list[str]) -> np.ndarray:
    """The model's logits computed one text at a time, without the rater."""
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
    model = transformers.AutoModelForSequenceClassification.from_pretrained(folder).eval()
    with torch.inference_mode():
        return np.stack([model(**tokenizer(text, truncation=True, return_tensors="pt")).logits[0].numpy()
                         for text in texts])


# ---- scores ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("head", ["regression", "classification"])
def test_good_texts_outscore_bad_texts(hf_models, hf_texts, head):
    """Held-out educational texts all score above held-out spam and boilerplate, every score within [0, 5]."""
    rater = hf_classifier_rater(spec_for(hf_models, head))
    good, bad = rater.score(hf_texts["good"]), rater.score(hf_texts["bad"])
    assert good.dtype == np.float32 and good.shape == (len(hf_texts["good"]),)
    for scores in (good, bad):
        assert ((scores >= 0) & (scores <= 5)).all()
    assert good.min() > bad.max() and good.mean() - bad.mean() > 2.0


@pytest.mark.parametrize("head", ["regression", "classification"])
def test_batch_size_does_not_change_scores(hf_models, hf_texts, head):
    """Length-sorted batches of 16 (two forward passes for 18 texts) give each text the score it gets alone (one
    pass per text), in the texts' order."""
    mixed = hf_texts["good"][:8] + hf_texts["bad"][:8] + ["", "Short."]
    scores, passes = {}, {}
    for batch_size in (1, 16):
        rater = HfClassifierRater(spec_for(hf_models, head, batch_size=batch_size, dtype="float32"))
        calls = []
        rater.network.register_forward_hook(lambda *_: calls.append(1))
        scores[batch_size], passes[batch_size] = rater.score(mixed), len(calls)
    assert passes == {1: len(mixed), 16: 2}
    np.testing.assert_allclose(scores[16], scores[1], atol=1e-5)


def test_regression_score_is_the_logit_clipped(hf_models, hf_texts):
    """A one-logit head: the score is the logit itself, clipped to [0, 5]."""
    sample = hf_texts["good"][:4] + hf_texts["bad"][:4]
    expected = np.clip(direct_logits(hf_models["regression"], sample)[:, 0], 0, 5)
    scores = HfClassifierRater(spec_for(hf_models, "regression", dtype="float32")).score(sample)
    np.testing.assert_allclose(scores, expected, atol=1e-5)


@pytest.mark.parametrize(("shift", "clipped_to"), [(+10.0, 5.0), (-10.0, 0.0)])
def test_regression_outside_the_scale_is_clipped(hf_models, hf_texts, tmp_path, shift, clipped_to):
    """The regression model with its output bias moved by 10 puts every logit beyond the scale: each score is
    then the nearest end of [0, 5]."""
    model = transformers.AutoModelForSequenceClassification.from_pretrained(hf_models["regression"])
    with torch.no_grad():
        model.classifier.bias += shift
    model.save_pretrained(tmp_path)
    transformers.AutoTokenizer.from_pretrained(hf_models["regression"]).save_pretrained(tmp_path)
    scores = HfClassifierRater(spec_for({"regression": str(tmp_path)}, "regression")).score(
        hf_texts["good"][:3] + hf_texts["bad"][:3])
    assert scores.tolist() == [clipped_to] * 6


def test_no_texts_give_no_scores(hf_models):
    scores = hf_classifier_rater(spec_for(hf_models, "classification")).score([])
    assert scores.shape == (0,) and scores.dtype == np.float32


def test_classification_score_is_the_expected_label_score(hf_models, hf_texts):
    """A classification head: sum over the model's labels of softmax probability * label score; reversing the
    label scores (s -> 5 - s) reverses every document's score."""
    sample = hf_texts["good"][:4] + hf_texts["bad"][:4]
    logits = direct_logits(hf_models["classification"], sample)
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    expected = probabilities @ np.array([LABEL_SCORES[label] for label in LABELS])
    rater = HfClassifierRater(spec_for(hf_models, "classification", dtype="float32"))
    assert rater.labels == list(LABELS)
    np.testing.assert_allclose(rater.score(sample), expected, atol=1e-5)
    reversed_scores = {label: 5.0 - score for label, score in LABEL_SCORES.items()}
    reversed_rater = HfClassifierRater(spec_for(hf_models, "classification", dtype="float32",
                                                label_scores=reversed_scores))
    np.testing.assert_allclose(reversed_rater.score(sample), 5.0 - expected, atol=1e-5)


def test_texts_are_truncated_at_the_model_maximum(hf_models, hf_texts):
    """A text far longer than the model's 64 positions is rated by its first 64 tokens (what follows does not
    count), and a larger max_length is capped to the model's."""
    rater = HfClassifierRater(spec_for(hf_models, "classification", max_length=10_000, dtype="float32"))
    assert rater.max_length == MODEL_MAX_LENGTH
    article = " ".join(hf_texts["good"][:3])  # several hundred tokens
    with_spam_tail = article + " " + " ".join(hf_texts["bad"] * 3)
    assert len(rater.tokenizer(with_spam_tail)["input_ids"]) > 10 * MODEL_MAX_LENGTH
    np.testing.assert_allclose(rater.score([with_spam_tail]), rater.score([article]), atol=1e-5)


def test_max_length_takes_effect(hf_models, hf_texts):
    """An article's first six words followed by a spam page: with max_length 8 only the article's words are read
    and the text scores as educational, exactly as those words alone; with the model's 64 tokens it scores as spam."""
    opening = " ".join(hf_texts["good"][0].split()[:6])
    text = opening + " " + hf_texts["bad"][0]
    short = HfClassifierRater(spec_for(hf_models, "classification", max_length=8, dtype="float32"))
    full = HfClassifierRater(spec_for(hf_models, "classification", dtype="float32"))
    assert short.max_length == 8
    np.testing.assert_allclose(short.score([text]), short.score([opening]), atol=1e-5)
    assert short.score([text])[0] > 4.0 and full.score([text])[0] < 1.0


def test_model_loads_once_per_process(hf_models, hf_texts):
    """hf_classifier_rater and rate reuse the loaded model for every call (every shard); a rewritten model
    folder is loaded afresh."""
    spec = spec_for(hf_models, "regression")
    first = hf_classifier_rater(spec)
    rate(hf_texts["good"][:2], specs={"educational_value": spec})
    assert hf_classifier_rater(spec) is first
    config = Path(hf_models["regression"]) / "config.json"
    later = os.stat(config).st_mtime_ns + 1_000_000_000
    os.utime(config, ns=(later, later))
    assert hf_classifier_rater(spec) is not first


# ---- errors ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("head", "settings", "message"),
    [
        pytest.param("classification", {"label_scores": {**LABEL_SCORES, "ham": 3.0}},
                     r"label_scores names 'ham', which is not a label of the model \(the model's labels: 'spam', "
                     r"'boilerplate', 'educational'\)", id="unknown-label"),
        pytest.param("classification", {"label_scores": {"spam": 0.0, "educational": 5.0}},
                     r"label 'boilerplate' of the model has no score in label_scores", id="label-without-score"),
        pytest.param("classification", {"label_scores": None, "regression": True},
                     "regression needs a one-logit head; the model has 3 labels", id="regression-on-three-labels"),
        pytest.param("regression", {"label_scores": {"score": 5.0}, "regression": False},
                     r"the model has one logit \(a regression head\); use regression: true",
                     id="label-scores-on-one-logit"),
    ],
)
def test_model_that_does_not_fit_its_spec_is_refused(hf_models, head, settings, message):
    """The error names the rater and the model; rate refuses before scoring anything."""
    spec = spec_for(hf_models, head, **settings)
    with pytest.raises(ValueError, match=f"rater 'quality': {re.escape(hf_models[head])}: {message}"):
        rate(["Some text to rate."], specs={"quality": spec})


@pytest.mark.parametrize(
    ("model", "message"),
    [
        pytest.param("/nonexistent/classifier", "/nonexistent/classifier: no such model folder", id="missing-folder"),
        pytest.param("{tmp}", "could not load a sequence classifier from the folder", id="folder-without-model"),
        pytest.param("nobody/no-such-classifier", "not a local folder, and could not load a sequence classifier "
                     "from the Hugging Face hub or its local cache .*point hf_classifier at a downloaded model folder",
                     id="hub-name-offline"),
    ],
)
def test_unloadable_model_is_refused(monkeypatch, tmp_path, model, message):
    """A missing folder is reported as such (no hub lookup), so is a folder without a model; a hub name offline and
    uncached says what to do."""
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)  # never the network in tests
    with pytest.raises(ValueError, match=message):
        HfClassifierRater(HfClassifierRaterSpec(model=model.format(tmp=tmp_path), regression=True))


def test_dtype_takes_effect(hf_models, hf_texts):
    """bfloat16 runs the model in bfloat16; its scores stay near float32's."""
    sample = hf_texts["good"][:3] + hf_texts["bad"][:3]
    half = HfClassifierRater(spec_for(hf_models, "classification", device="cpu", dtype="bfloat16"))
    full = HfClassifierRater(spec_for(hf_models, "classification", device="cpu", dtype="float32"))
    assert half.network.dtype == torch.bfloat16 and half.placement.dtype == "bfloat16"
    assert full.network.dtype == torch.float32
    np.testing.assert_allclose(half.score(sample), full.score(sample), atol=0.1)


def test_threads_take_effect(hf_models):
    """The rater gives torch the CPU threads its spec asks for."""
    before = torch.get_num_threads()
    try:
        for threads in (2, 1):
            rater = HfClassifierRater(spec_for(hf_models, "regression", device="cpu", threads=threads))
            assert rater.placement.threads == threads and torch.get_num_threads() == threads
    finally:
        torch.set_num_threads(before)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_a_gpu_is_refused(hf_models):
    with pytest.raises(ValueError, match="device 'cuda' was requested but torch sees no CUDA GPU"):
        HfClassifierRater(spec_for(hf_models, "regression", device="cuda"))


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        pytest.param({}, "exactly one of the two", id="no-head"),
        pytest.param({"label_scores": {"a": 1.0}, "regression": True}, "exactly one of the two", id="both-heads"),
        pytest.param({"label_scores": {}}, "label_scores is empty", id="empty-label-scores"),
        pytest.param({"label_scores": {"a": 6.0}}, r"label 'a' has score 6.0, expected a number in \[0, 5\]",
                     id="score-above-5"),
        pytest.param({"regression": True, "batch_size": 0}, "expected batch_size >= 1", id="batch-size-0"),
        pytest.param({"regression": True, "max_length": 1}, "max_length >= 2", id="max-length-1"),
        pytest.param({"regression": True, "threads": 0}, "threads >= 1", id="threads-0"),
    ],
)
def test_spec_is_checked(settings, message):
    with pytest.raises(ValueError, match=f"^model-x: .*{message}"):
        HfClassifierRaterSpec(model="model-x", **settings)
