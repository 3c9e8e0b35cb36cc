"""Tests for the quality raters (climb.quality.raters, climb.quality.signals): the four heuristic raters rank real
text above spam and boilerplate, every rule moves its rater, fastText and trained raters score as specified."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import random
import re

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scipy.stats import spearmanr

from climb.quality import signals as qs
from climb.quality.raters import (
    RATERS,
    CrossValidation,
    FastTextRater,
    FastTextRaterSpec,
    HeuristicRaterSpec,
    TrainedRater,
    TrainedRaterSpec,
    compute_signals,
    heuristic_scores,
    rate,
    read_labelled,
    score_histogram,
)
from tests.conftest import shared_data

# ---- corpora ------------------------------------------------------------------------------------------------
PRODUCTS = ["sneakers", "headphones", "vitamins", "sunglasses", "watches", "handbags", "phone cases", "mattresses"]
HOOKS = [
    "BUY NOW!!!", "{pct}% OFF everything!!", "FREE SHIPPING on all orders!", "Limited time offer!!!",
    "Click here to claim your coupon!", "Best price guaranteed!", "ORDER NOW and save ${dollars}!",
    "Use promo code SAVE{pct} at checkout!", "Don't miss this DEAL!!!", "Subscribe and sign up for exclusive offers!",
    "HUGE SALE ends tonight!", "Visit http://www.{site}.com/deals now!", "Cheapest {product} online!!",
]
BOILERPLATE = [
    "We use cookies to improve your experience. By continuing you accept our Cookie Policy.", "Accept all cookies",
    "Home | About | Products | Blog | Contact Us", "Privacy Policy | Terms of Use | Sitemap",
    "© 2024 Example Inc. All rights reserved.", "Skip to main content", "Sign in", "My Account", "Shopping Cart (0)",
    "Please enable JavaScript to view this page.", "Follow us on Facebook Twitter Instagram", "Back to top",
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore.",
    "Read more", "Powered by WordPress", "Newsletter", "Menu", "Search",
]


def spam_texts(n: int, seed: int) -> list[str]:
    """Promotional pages: shouted hooks, discounts, coupons, URLs, one product sentence."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        product = rng.choice(PRODUCTS)
        parts = [rng.choice(HOOKS).format(pct=rng.choice([20, 30, 50, 70]), dollars=rng.randint(5, 99),
                                          site=product.replace(" ", ""), product=product)
                 for _ in range(rng.randint(5, 10))]
        parts.insert(rng.randint(0, len(parts)), f"Our {product} are the best {product} you will ever own.")
        out.append((" " if rng.random() < 0.5 else "\n").join(parts))
    return out


def boilerplate_texts(n: int, seed: int) -> list[str]:
    """Site furniture: cookie banners, menus, footers, lorem ipsum, often with repeated lines."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        lines = [rng.choice(BOILERPLATE) for _ in range(rng.randint(6, 14))]
        if rng.random() < 0.5:
            lines += lines[: rng.randint(2, 5)]
        out.append("\n".join(lines))
    return out


def load_gsm8k(n: int, skip: int = 0) -> list[str]:
    texts = []
    with open(shared_data("gsm8k", "train.jsonl"), encoding="utf-8") as handle:
        for i, line in enumerate(handle):
            if i >= skip:
                item = json.loads(line)
                texts.append(item["question"] + "\n" + item["answer"])
            if len(texts) == n:
                break
    return texts


def load_pubmed(n: int, skip: int = 0) -> list[str]:
    with open(shared_data("pubmedqa", "ori_pqal.json"), encoding="utf-8") as handle:
        items = list(json.load(handle).values())
    return [" ".join(item["CONTEXTS"]) for item in items[skip : skip + n]]


def load_shakespeare(n: int) -> list[str]:
    text = shared_data("tinyshakespeare", "input.txt").read_text(encoding="utf-8")
    return [block for block in text.split("\n\n") if len(block.split()) >= 20][:n]


@pytest.fixture(scope="module")
def corpora() -> dict[str, list[str]]:
    return {"gsm8k": load_gsm8k(200), "pubmed": load_pubmed(200), "spam": spam_texts(100, seed=0),
            "boilerplate": boilerplate_texts(100, seed=1)}


@pytest.fixture(scope="module")
def corpus_scores(corpora) -> dict[str, dict[str, np.ndarray]]:
    return {name: heuristic_scores(texts) for name, texts in corpora.items()}


# ---- heuristic raters on real data ---------------------------------------------------------------------------
MARGIN = 0.5


@pytest.mark.parametrize("rater", RATERS)
@pytest.mark.parametrize("good", ["gsm8k", "pubmed"])
@pytest.mark.parametrize("bad", ["spam", "boilerplate"])
def test_real_text_outscores_spam_and_boilerplate(corpus_scores, rater, good, bad):
    """Each rater's mean over real gsm8k / PubMed text exceeds its mean over spam / boilerplate by >= 0.5."""
    assert corpus_scores[good][rater].mean() > corpus_scores[bad][rater].mean() + MARGIN


def test_advertisement_flags_spam(corpus_scores):
    """Promotional pages average below 2 on `advertisement` (higher = less promotional); real text near 5."""
    assert corpus_scores["spam"]["advertisement"].mean() < 2.0
    assert corpus_scores["pubmed"]["advertisement"].mean() > 4.5


@pytest.mark.parametrize("rater", RATERS)
def test_scores_are_within_range_and_continuous(corpus_scores, rater):
    """Scores are float32 within [0, 5] and take many distinct values (not a handful of levels)."""
    scores = np.concatenate([by_rater[rater] for by_rater in corpus_scores.values()])
    assert scores.dtype == np.float32
    assert scores.min() >= 0.0 and scores.max() <= 5.0
    assert len(np.unique(scores)) >= 150, f"{rater}: {len(np.unique(scores))} distinct values over {len(scores)}"


EDGE_CASES = {
    "empty": "",
    "whitespace": " \n\t \n",
    "one_word": "hello",
    "one_long_token": "x" * 5000,
    "10k_repeated_words": "buy " * 10_000,
    "only_symbols": "!!! ### $$$ %%% ^^^ &&& *** ((( ))) ... … ©",
    "digits": "1 2 3 4 5 6 7 8 9 10 = 55",
    "chinese": "数据混合对语言模型的预训练非常重要。我们通过聚类来寻找最佳的数据混合比例。",
    "russian": "Смесь данных важна для предварительного обучения языковых моделей. Мы используем кластеризацию.",
    "arabic": "مزيج البيانات مهم للتدريب المسبق لنماذج اللغة.",
    "emoji": "🔥🔥🔥 great 🎉🎉 wow 😀",
    "control_chars": "text\x00with\x07control\r\ncharacters\r",
    "one_line_per_char": "\n".join("abcdefghijklmnopqrstuvwxyz"),
}


@pytest.mark.parametrize("text", EDGE_CASES.values(), ids=EDGE_CASES.keys())
def test_edge_cases_score_within_range(text):
    """Any string rates without an exception, every score within [0, 5]."""
    scores = heuristic_scores([text])
    for rater in RATERS:
        assert scores[rater].shape == (1,)
        assert 0.0 <= float(scores[rater][0]) <= 5.0


def test_empty_batch_gives_empty_arrays():
    """No documents, four empty float32 arrays."""
    scores = heuristic_scores([])
    assert list(scores) == list(RATERS) and all(s.shape == (0,) and s.dtype == np.float32 for s in scores.values())


# ---- each rule moves its rater ---------------------------------------------------------------------------------
BASE = (
    "Photosynthesis is the process by which plants turn light into chemical energy.\n"
    "In the chloroplasts of a leaf, water is split and oxygen is released into the air.\n"
    "The energy captured in this way is stored in the bonds of sugar molecules.\n"
    "Farmers and gardeners care about it, as crops grow faster when they have enough light and water.\n"
    "Botanists have measured how the speed of the reaction changes with temperature in many species.\n"
    "Some desert plants open their pores only at night to keep their water from escaping in the heat."
)


def _lines(transform):
    return lambda text: "\n".join(transform(line) for line in text.split("\n"))


RULES = {
    # id: (transform of BASE, rater, expected change)
    "duplicate_lines": (lambda t: t + "\n" + t, "quality", "lower"),
    "repeated_phrase": (lambda t: t + "\n" + " ".join(["plants turn light into chemical energy"] * 6), "quality",
                        "lower"),
    "bullet_lines": (_lines(lambda line: "• " + line), "quality", "lower"),
    "ellipsis_lines": (_lines(lambda line: line.rstrip(".") + "..."), "quality", "lower"),
    "unpunctuated_lines": (_lines(lambda line: line.rstrip(".")), "quality", "lower"),
    "short_lines": (lambda t: "\n".join(" ".join(t.split()[i : i + 3]) for i in range(0, len(t.split()), 3)),
                    "quality", "lower"),
    "hashtags": (lambda t: " ".join("#" + w for w in t.split()), "quality", "lower"),
    "non_alphabetic_words": (lambda t: t + "\n" + " ".join(str(i * 37 % 1000) for i in range(60)), "quality",
                             "lower"),
    "no_stop_words": (lambda t: " ".join(w for w in t.split(" ") if w.lower() not in qs.STOP_WORDS), "quality",
                      "lower"),
    "too_short": (lambda t: " ".join(t.split()[:12]), "quality", "lower"),
    "cookie_banner": (lambda t: t + "\nWe use cookies. Privacy Policy | Terms of Use | All rights reserved.",
                      "quality", "lower"),
    "lorem_ipsum": (lambda t: t + "\nLorem ipsum dolor sit amet, consectetur adipiscing elit.", "quality", "lower"),
    "promo_phrases": (lambda t: t + "\nBuy now with free shipping and 50% off: use our coupon, best price deal.",
                      "advertisement", "lower"),
    "exclamations": (lambda t: t.replace(".", "!!!"), "advertisement", "lower"),
    "urls": (lambda t: t + "\nSee http://example.com/plants and https://example.org or www.example.net today.",
             "advertisement", "lower"),
    "capitals": (lambda t: t.upper(), "advertisement", "lower"),
    "promo_hurts_education": (lambda t: t + "\nSubscribe now! Sign up for our newsletter deals and discounts!",
                              "educational_value", "lower"),
    "reasoning_connectives": (lambda t: t.replace("Farmers", "Therefore, because of this, farmers").replace(
        "Botanists", "For example, in one study with clear evidence, botanists"), "educational_value", "higher"),
    "worked_arithmetic": (lambda t: t + "\nIf 6 CO2 + 6 H2O = C6H12O6 + 6 O2, then 6 x 2 = 12 oxygen atoms.",
                          "educational_value", "higher"),
    "figures": (lambda t: t.replace("in many species", "in 148 species between 5 and 45 degrees, in 1998 and 2004")
                .replace("at night", "at night, 70% of them below 20.5 degrees"), "informational_value", "higher"),
    "spam_hurts_information": (lambda t: t + "\nHUGE SALE!!! Order now at www.shop.com!!!", "informational_value",
                               "lower"),
}


@pytest.mark.parametrize("transform, rater, direction", RULES.values(), ids=RULES.keys())
def test_each_rule_moves_its_rater(transform, rater, direction):
    """Breaking (or meeting) one heuristic rule moves the rater it feeds in the documented direction."""
    before, after = (float(heuristic_scores([text])[rater][0]) for text in (BASE, transform(BASE)))
    if direction == "lower":
        assert after < before - 0.05, f"{rater}: {before:.3f} -> {after:.3f}"
    else:
        assert after > before + 0.05, f"{rater}: {before:.3f} -> {after:.3f}"


SIGNALS = [
    # (text, signal, expected)
    ("a b c\na b c\nd e f", "duplicate_line_fraction", 1 / 3),
    ("the cat and the dog sat with me", "stop_words", 4.0),
    ("• one item\n• two item\nplain line", "bullet_line_fraction", 2 / 3),
    ("to be continued...\nthe end.", "ellipsis_line_fraction", 0.5),
    ("Visit http://a.com or www.b.org now", "url_density", 40.0),
    ("BUY NOW and I said yes", "caps_word_fraction", 2 / 6),
    ("Hello world. Goodbye world!", "mean_sentence_words", 2.0),
    ("50% off today", "promo_density", 100 / 3),
    ("words 123 and 4.5", "alpha_word_fraction", 0.5),
    ("", "words", 0.0),
    ("lorem ipsum dolor", "lorem_ipsum", 1.0),
]


@pytest.mark.parametrize("text, signal, expected", SIGNALS)
def test_signal_values(text, signal, expected):
    """compute_signals measures what its field documents."""
    assert getattr(compute_signals(text), signal) == pytest.approx(expected)


def test_rater_functions_agree_with_heuristic_scores(corpora):
    """The four documented per-rater functions give exactly what heuristic_scores returns."""
    texts = corpora["gsm8k"][:20] + corpora["spam"][:20]
    scores = heuristic_scores(texts)
    functions = {"quality": qs.quality_score, "educational_value": qs.educational_value_score,
                 "informational_value": qs.informational_value_score, "advertisement": qs.advertisement_score}
    for rater, function in functions.items():
        expected = np.array([function(compute_signals(t)) for t in texts], dtype=np.float32)
        np.testing.assert_array_equal(scores[rater], expected)


# ---- fastText ----------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fasttext_model(tmp_path_factory) -> str:
    """A tiny supervised model: __label__good on gsm8k/PubMed, __label__bad on spam/boilerplate."""
    fasttext = pytest.importorskip("fasttext")
    lines = [f"__label__good {t}" for t in load_gsm8k(100) + load_pubmed(100)]
    lines += [f"__label__bad {t}" for t in spam_texts(100, seed=10) + boilerplate_texts(100, seed=11)]
    random.Random(0).shuffle(lines)
    folder = tmp_path_factory.mktemp("fasttext")
    (folder / "train.txt").write_text("\n".join(re.sub(r"\s+", " ", line) for line in lines) + "\n", encoding="utf-8")
    # thread >= 11: fastText 0.9.2 initialises the input matrix in blocks of (rows * dim) / 10 per thread, so
    # fewer threads leave part of it as uninitialised memory and training randomly stops with "Encountered NaN".
    model = fasttext.train_supervised(str(folder / "train.txt"), epoch=10, lr=0.1, dim=16, thread=12, verbose=0)
    model.save_model(str(folder / "model.bin"))
    return str(folder / "model.bin")


def test_fasttext_scores_expected_label_value(fasttext_model):
    """score = sum of p(label) * label_score: good-like text > 4, bad-like < 1 with good -> 5, bad -> 0."""
    rater = FastTextRater(FastTextRaterSpec(model=fasttext_model, label_scores={"good": 5.0, "bad": 0.0}))
    good = rater.score(load_gsm8k(30, skip=500) + load_pubmed(30, skip=500))
    bad = rater.score(spam_texts(30, seed=20) + boilerplate_texts(30, seed=21))
    assert good.dtype == np.float32 and good.min() >= 0.0 and bad.max() <= 5.0
    assert good.mean() > 4.0 and bad.mean() < 1.0


def test_fasttext_label_missing_from_mapping_raises(fasttext_model):
    """A model label with no score raises ValueError naming the label and the model file."""
    with pytest.raises(ValueError) as info:
        FastTextRater(FastTextRaterSpec(model=fasttext_model, label_scores={"__label__good": 5.0}))
    assert "__label__bad" in str(info.value) and fasttext_model in str(info.value)


@pytest.mark.parametrize("label_scores, error", [
    ({}, "label_scores is empty"),
    ({"good": "high"}, "expected a finite number"),
    ({"good": math.nan}, "expected a finite number"),
    ((("good", 5.0), ("__label__good", 4.0)), "given twice"),
])
def test_fasttext_spec_validates_label_scores(label_scores, error):
    """Bad label scores are refused when the spec is built, naming the model file."""
    with pytest.raises(ValueError, match=error):
        FastTextRaterSpec(model="raters/quality.bin", label_scores=label_scores)


def test_fasttext_spec_is_hashable_with_normalised_labels():
    """A mapping and the equivalent pairs make equal, hashable specs with `__label__`-prefixed labels."""
    a = FastTextRaterSpec(model="m.bin", label_scores={"good": 5, "__label__bad": 0})
    b = FastTextRaterSpec(model="m.bin", label_scores=(("__label__bad", 0.0), ("__label__good", 5.0)))
    assert a == b and hash(a) == hash(b)
    assert a.label_scores == (("__label__bad", 0.0), ("__label__good", 5.0))


def test_fasttext_rater_in_rate_handles_newlines(fasttext_model, corpora):
    """rate() uses a fastText spec for its rater (multi-line texts included) and heuristics for the rest."""
    spec = FastTextRaterSpec(model=fasttext_model, label_scores={"good": 4.0, "bad": 1.0})
    texts = corpora["gsm8k"][:5] + corpora["boilerplate"][:5]  # both hold newlines
    scores = rate(texts, specs={"educational_value": spec})
    np.testing.assert_allclose(scores["educational_value"], FastTextRater(spec).score(texts))
    assert scores["educational_value"].min() >= 1.0 - 1e-6 and scores["educational_value"].max() <= 4.0 + 1e-3
    np.testing.assert_array_equal(scores["quality"], heuristic_scores(texts)["quality"])


def test_fasttext_missing_model_file_raises(tmp_path):
    """A model path that does not exist is a ValueError naming it."""
    pytest.importorskip("fasttext")
    missing = str(tmp_path / "nope.bin")
    with pytest.raises(ValueError, match="nope.bin"):
        FastTextRater(FastTextRaterSpec(model=missing, label_scores={"good": 5.0}))


# ---- trained rater ----------------------------------------------------------------------------------------------
LABELLED_SCORES = {"pubmed": 5.0, "gsm8k": 4.0, "shakespeare": 2.5, "spam": 0.5}
PER_SOURCE = 60


@pytest.fixture(scope="module")
def labelled(tmp_path_factory):
    """240 real labelled rows split 70/30, a JSONL file of the 70%, and a memoised real-embedder `embed`."""
    sources = {"pubmed": load_pubmed(PER_SOURCE, skip=300), "gsm8k": load_gsm8k(PER_SOURCE, skip=300),
               "shakespeare": load_shakespeare(PER_SOURCE), "spam": spam_texts(PER_SOURCE, seed=30)}
    rows = [(text, LABELLED_SCORES[name]) for name, texts in sources.items() for text in texts]
    order = np.random.default_rng(0).permutation(len(rows))
    cut = int(0.7 * len(rows))
    train, held_out = [rows[i] for i in order[:cut]], [rows[i] for i in order[cut:]]
    path = tmp_path_factory.mktemp("labelled") / "labels.jsonl"
    path.write_text("".join(json.dumps({"text": t, "score": s}) + "\n" for t, s in train), encoding="utf-8")

    from climb.semantic.embedding import Embedder, EmbedderSettings

    vectors = Embedder(EmbedderSettings(max_length=128)).embed([t for t, _ in rows]).vectors
    memo = {text: vector for (text, _), vector in zip(rows, vectors)}
    return {"path": str(path), "train": train, "held_out": held_out,
            "embed": lambda texts: np.stack([memo[t] for t in texts])}


@pytest.fixture(scope="module")
def fitted(labelled) -> TrainedRater:
    return TrainedRater.fit(TrainedRaterSpec(path=labelled["path"]), embed=labelled["embed"], threads=2)


def test_trained_rater_ranks_held_out_documents(labelled, fitted):
    """Fitted on real embeddings, the rater ranks a held-out 30% (Spearman > 0.6) and reports its k-fold CV."""
    texts, truth = zip(*labelled["held_out"])
    predicted = fitted.score(labelled["embed"](list(texts)))
    assert predicted.dtype == np.float32 and predicted.min() >= 0.0 and predicted.max() <= 5.0
    assert spearmanr(predicted, truth).statistic > 0.6
    assert isinstance(fitted.cv, CrossValidation)
    assert fitted.cv.folds == 5 and fitted.cv.rows == len(labelled["train"])
    assert fitted.cv.spearman > 0.6 and 0.0 <= fitted.cv.mae < 1.5


def test_trained_rater_save_load_round_trip(labelled, fitted, tmp_path):
    """save() into a folder then load() gives identical predictions and the same spec and cross-validation."""
    embeddings = labelled["embed"]([t for t, _ in labelled["held_out"]])
    folder = tmp_path / "raters" / "quality"
    fitted.save(str(folder))
    loaded = TrainedRater.load(str(folder))
    np.testing.assert_array_equal(loaded.score(embeddings), fitted.score(embeddings))
    assert loaded.spec == fitted.spec and loaded.cv == fitted.cv and loaded.dim == fitted.dim
    assert sorted(p.name for p in folder.iterdir()) == ["lightgbm_model.txt", "rater.json"]  # no temporaries left
    sidecar = json.loads((folder / "rater.json").read_text())
    assert sidecar["lightgbm_params"]["deterministic"] is True and sidecar["cv"]["rows"] == fitted.cv.rows


def test_trained_rater_accepts_float16_and_float32(labelled, fitted):
    """The same embeddings as float16 or float32 give the same scores up to float16 rounding."""
    embeddings = labelled["embed"]([t for t, _ in labelled["held_out"][:10]]).astype(np.float16)
    np.testing.assert_allclose(fitted.score(embeddings), fitted.score(embeddings.astype(np.float32)))


def test_trained_rater_refuses_wrong_width(fitted):
    """Embeddings of another width than the fit's are a ValueError naming the labelled file."""
    with pytest.raises(ValueError, match=r"labels\.jsonl.*expected \(N, 384\)"):
        fitted.score(np.zeros((3, 16), dtype=np.float32))


def hashed_embed(texts: list[str], dim: int = 32) -> np.ndarray:
    """A cheap deterministic bag-of-words embedding, for tests of the fitting mechanics."""
    out = np.zeros((len(texts), dim), dtype=np.float32)
    for i, text in enumerate(texts):
        for word in text.lower().split():
            out[i, int(hashlib.md5(word.encode()).hexdigest()[:8], 16) % dim] += 1.0
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


@pytest.fixture(scope="module")
def mechanics_file(tmp_path_factory) -> str:
    """80 rows of spam (0.5) and PubMed (5.0) under custom column names, in CSV."""
    rows = [(t, 0.5) for t in spam_texts(40, seed=40)] + [(t, 5.0) for t in load_pubmed(40, skip=600)]
    table = pa.table({"body": [t for t, _ in rows], "rating": [s for _, s in rows]})
    path = tmp_path_factory.mktemp("mechanics") / "labels.csv"
    import pyarrow.csv as pacsv

    pacsv.write_csv(table, path)
    return str(path)


@pytest.mark.parametrize("change, effect", [
    ({"folds": 3}, lambda cv, base: cv.folds == 3 and cv.rows == base.rows),
    ({"seed": 7}, lambda cv, base: cv.folds == base.folds and cv.mae != base.mae),
], ids=["folds", "seed"])
def test_trained_spec_fields_take_effect(mechanics_file, change, effect):
    """folds sets the number of CV folds; seed changes the fold split and LightGBM's sampling; custom columns read."""
    base_spec = TrainedRaterSpec(path=mechanics_file, text_field="body", score_field="rating")
    base = TrainedRater.fit(base_spec, embed=hashed_embed, threads=1).cv
    changed = TrainedRater.fit(dataclasses.replace(base_spec, **change), embed=hashed_embed, threads=1).cv
    assert base.rows == 80 and effect(changed, base)


def test_trained_fit_is_deterministic(mechanics_file):
    """The same spec fits the same rater twice (fixed seed, deterministic LightGBM)."""
    spec = TrainedRaterSpec(path=mechanics_file, text_field="body", score_field="rating")
    a, b = (TrainedRater.fit(spec, embed=hashed_embed, threads=1) for _ in range(2))
    x = hashed_embed(spam_texts(5, seed=41))
    assert a.cv == b.cv
    np.testing.assert_array_equal(a.score(x), b.score(x))


def _write(path, fmt: str, records: list[dict]) -> str:
    """A labelled file in one of the three formats; CSV and Parquet hold every value as a string (None: absent)."""
    if fmt == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    elif fmt == "csv":
        import csv

        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=["text", "score"])
            writer.writeheader()
            writer.writerows({"text": r.get("text", ""), "score": r.get("score", "")} for r in records)
    else:
        columns = {name: [None if r.get(name) is None else str(r[name]) for r in records] for name in ("text", "score")}
        pq.write_table(pa.table(columns), path)
    return str(path)


GOOD_ROWS = [{"text": "a sound document", "score": 4.5}, {"text": "another one", "score": 1}]


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet", "parquet_numeric"])
def test_read_labelled_reads_every_format(tmp_path, fmt):
    """JSONL, CSV and Parquet (numeric or string scores) give the same texts and float32 scores."""
    if fmt == "parquet_numeric":
        path = str(tmp_path / "labels.parquet")
        pq.write_table(pa.table({"text": [r["text"] for r in GOOD_ROWS], "score": [4.5, 1.0]}), path)
    else:
        path = _write(tmp_path / f"labels.{fmt}", fmt, GOOD_ROWS)
    texts, scores = read_labelled(path)
    assert texts == ["a sound document", "another one"]
    assert scores.dtype == np.float32 and scores.tolist() == [4.5, 1.0]


BAD_ROWS = {
    # id: (the third record, part of the message)
    "score_not_a_number": ({"text": "fine", "score": "high"}, "score 'high' in 'score' is not a number"),
    "score_too_high": ({"text": "fine", "score": 7.5}, "outside [0, 5]"),
    "score_negative": ({"text": "fine", "score": -1}, "outside [0, 5]"),
    "score_nan": ({"text": "fine", "score": "nan"}, "outside [0, 5]"),
    "score_missing": ({"text": "fine"}, "in 'score' is not a number"),
    "text_missing": ({"score": 3.0}, "text in 'text' is"),
}
WHERE = {"jsonl": "line 3", "csv": "line 4", "parquet": "row 2"}  # the third record (CSV: after the header)


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
@pytest.mark.parametrize("bad, message", BAD_ROWS.values(), ids=BAD_ROWS.keys())
def test_bad_row_names_file_and_row(tmp_path, fmt, bad, message):
    """A bad third record raises ValueError naming the file, its line (JSONL, CSV) or row (Parquet), and why."""
    path = _write(tmp_path / f"labels.{fmt}", fmt, GOOD_ROWS + [bad])
    with pytest.raises(ValueError) as info:
        read_labelled(path)
    assert str(info.value).startswith(f"{path}: {WHERE[fmt]}: ") and message in str(info.value), str(info.value)


def test_fit_reports_bad_row_before_embedding(tmp_path):
    """TrainedRater.fit fails on a bad row with the file and line, without calling the embedder."""
    path = _write(tmp_path / "labels.jsonl", "jsonl", GOOD_ROWS + [{"text": "x", "score": 7.5}])

    def embed(texts):
        raise AssertionError("embed must not be called")

    with pytest.raises(ValueError, match=r"labels\.jsonl: line 3: score 7\.5"):
        TrainedRater.fit(TrainedRaterSpec(path=path), embed=embed)


@pytest.mark.parametrize("records, message", [
    ([{"text": f"doc {i}", "score": 1.0 + (i % 2)} for i in range(6)], "needs at least 10"),
    ([{"text": f"doc {i}", "score": 3.0} for i in range(20)], "scores that vary"),
])
def test_fit_refuses_unusable_files(tmp_path, records, message):
    """Too few rows for the folds, or a constant score, is a ValueError naming the file."""
    path = _write(tmp_path / "labels.jsonl", "jsonl", records)
    with pytest.raises(ValueError, match=message) as info:
        TrainedRater.fit(TrainedRaterSpec(path=path), embed=hashed_embed)
    assert path in str(info.value)


def test_unknown_labelled_format_is_refused(tmp_path):
    """A labelled file that is not JSONL, CSV or Parquet is a ValueError naming it."""
    path = tmp_path / "labels.xlsx"
    path.write_text("x")
    with pytest.raises(ValueError, match="labels.xlsx: unknown labelled-file format"):
        read_labelled(str(path))


# ---- rate() -------------------------------------------------------------------------------------------------------
def test_rate_defaults_to_heuristics(corpora):
    """With no specs (or explicit heuristic specs) rate() returns heuristic_scores for all four raters."""
    texts = corpora["pubmed"][:10]
    expected = heuristic_scores(texts)
    for specs in ({}, {name: HeuristicRaterSpec() for name in RATERS}):
        scores = rate(texts, specs=specs)
        assert list(scores) == list(RATERS)
        for name in RATERS:
            np.testing.assert_array_equal(scores[name], expected[name])


def test_rate_uses_trained_rater(labelled, fitted):
    """A trained spec scores from the embeddings with its fitted rater; the others stay heuristic."""
    texts = [t for t, _ in labelled["held_out"][:12]]
    embeddings = labelled["embed"](texts)
    scores = rate(texts, specs={"quality": fitted.spec}, embeddings=embeddings, trained={"quality": fitted})
    np.testing.assert_array_equal(scores["quality"], fitted.score(embeddings))
    np.testing.assert_array_equal(scores["advertisement"], heuristic_scores(texts)["advertisement"])


class _Fitted:
    """Stands in for a TrainedRater fitted from labels.jsonl."""

    spec = TrainedRaterSpec(path="labels.jsonl")

    def score(self, embeddings):
        return np.full(len(embeddings), 2.0, dtype=np.float32)


TRAINED = TrainedRaterSpec(path="labels.jsonl")


@pytest.mark.parametrize("kwargs, message", [
    (dict(specs={"relevance": HeuristicRaterSpec()}), "unknown rater 'relevance'"),
    (dict(specs={"quality": TRAINED}, embeddings=np.zeros((2, 4))), "no fitted TrainedRater"),
    (dict(specs={"quality": TRAINED}, trained={"quality": _Fitted()}), "needs the documents' embeddings"),
    (dict(specs={"quality": TRAINED}, trained={"quality": _Fitted()}, embeddings=np.zeros((3, 4))),
     r"shape \(3, 4\), expected \(2, d\)"),
    (dict(specs={"quality": TrainedRaterSpec(path="other.jsonl")}, trained={"quality": _Fitted()},
          embeddings=np.zeros((2, 4))), "the fitted rater comes from"),
    (dict(specs={"quality": FastTextRaterSpec(model="missing.bin", label_scores={"good": 5})}), "missing.bin"),
])
def test_rate_refuses_incomplete_inputs(kwargs, message):
    """Unknown rater names, a trained rater not given or fitted elsewhere, missing or misshapen embeddings, and a
    missing fastText model are ValueErrors."""
    with pytest.raises(ValueError, match=message):
        rate(["one document", "another document"], **kwargs)


def test_rate_with_stand_in_trained_rater():
    """A trained rater's scores pass through rate() unchanged when the inputs are complete."""
    scores = rate(["one", "two"], specs={"quality": TRAINED}, trained={"quality": _Fitted()},
                  embeddings=np.zeros((2, 4), dtype=np.float16))
    assert scores["quality"].tolist() == [2.0, 2.0]


# ---- histogram --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("scores, bins, expected", [
    ([0.0, 0.4, 0.5, 4.99, 5.0], 10, [2, 1, 0, 0, 0, 0, 0, 0, 0, 2]),
    ([2.5, 2.5], 2, [0, 2]),
    ([], 5, [0, 0, 0, 0, 0]),
    ([1.0, 3.0, 5.0], 1, [3]),
])
def test_score_histogram_counts_equal_bins(scores, bins, expected):
    """Counts over [0, 5] in equal bins; 5.0 falls in the last bin; counts add up to the number of scores."""
    assert score_histogram(np.array(scores, dtype=np.float32), bins=bins) == expected


@pytest.mark.parametrize("scores, bins", [([5.5], 10), ([-0.1], 10), ([math.nan], 10), ([1.0], 0)])
def test_score_histogram_refuses_out_of_range(scores, bins):
    """A score outside [0, 5], NaN, or fewer than one bin is a ValueError (counts would not add up)."""
    with pytest.raises(ValueError):
        score_histogram(np.array(scores), bins=bins)
