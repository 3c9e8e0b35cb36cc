"""Tiny Hugging Face classifiers for the rater tests, trained on real educational text (PubMedQA abstracts, GSM8K
solutions) against promotional pages and site boilerplate, and saved with save_pretrained like any model folder."""

from __future__ import annotations

from pathlib import Path

from climb.quality.hf_classifier import HfClassifierRaterSpec
from tests.climb.quality.test_quality import boilerplate_texts, load_gsm8k, load_pubmed, spam_texts

MODEL_MAX_LENGTH = 64  # position embeddings of the tiny models: longer texts must be truncated to fit
TRAIN_LENGTH = 32  # tokens per training text: enough to tell the kinds of text apart, and fast
TRAIN_STEPS = 60  # batches of 32; both heads separate the kinds by a wide margin by then
LABELS = ("spam", "boilerplate", "educational")  # the classification head's id2label, in output order
LABEL_SCORES = {"spam": 0.0, "boilerplate": 1.0, "educational": 5.0}
REGRESSION_TARGETS = {"educational": 4.5, "spam": 0.5, "boilerplate": 0.5}
THREADS = 1  # the test machine's cores are shared: one thread avoids waiting on busy ones


def classifier_texts() -> dict[str, list[str]]:
    """Training texts by label, and held-out `good` and `bad` texts from further rows and other seeds."""
    return {
        "educational": load_pubmed(40) + load_gsm8k(40), "spam": spam_texts(40, seed=0),
        "boilerplate": boilerplate_texts(40, seed=1),
        "good": load_pubmed(12, skip=500) + load_gsm8k(12, skip=500),
        "bad": spam_texts(12, seed=7) + boilerplate_texts(12, seed=8),
    }


def build_tokenizer(corpus: list[str]):
    """A WordPiece tokenizer trained on `corpus`, wrapped so that AutoTokenizer reloads it from a folder."""
    import transformers
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    core = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    core.normalizer = normalizers.BertNormalizer(lowercase=True)
    core.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    core.train_from_iterator(corpus, trainers.WordPieceTrainer(vocab_size=2000, special_tokens=specials))
    core.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[(t, core.token_to_id(t)) for t in ("[CLS]", "[SEP]")])
    return transformers.PreTrainedTokenizerFast(
        tokenizer_object=core, pad_token="[PAD]", unk_token="[UNK]", cls_token="[CLS]", sep_token="[SEP]",
        mask_token="[MASK]", model_max_length=MODEL_MAX_LENGTH)


def train_and_save(folder: Path, tokenizer, texts: list[str], targets, labels: tuple[str, ...]) -> str:
    """A one-layer BERT with a head of len(labels) outputs, trained for TRAIN_STEPS batches, saved to `folder`."""
    import torch
    import transformers

    torch.manual_seed(0)
    config = transformers.BertConfig(
        vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
        max_position_embeddings=MODEL_MAX_LENGTH, num_labels=len(labels), id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)})
    model = transformers.BertForSequenceClassification(config)
    batch = tokenizer(texts, truncation=True, max_length=TRAIN_LENGTH, padding=True, return_tensors="pt")
    optimiser = torch.optim.AdamW(model.parameters(), lr=5e-3)
    draws = torch.Generator().manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(THREADS)
    try:
        for _ in range(TRAIN_STEPS):
            rows = torch.randint(len(texts), (32,), generator=draws)
            model(input_ids=batch["input_ids"][rows], attention_mask=batch["attention_mask"][rows],
                  labels=targets[rows]).loss.backward()
            optimiser.step()
            optimiser.zero_grad()
    finally:
        torch.set_num_threads(threads)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


def train_classifiers(root: Path, texts: dict[str, list[str]]) -> dict[str, str]:
    """Folders of two classifiers sharing one tokenizer: `regression` (one logit: 4.5 for educational text, 0.5
    for the rest) and `classification` (spam / boilerplate / educational)."""
    import torch

    kinds = [label for label in LABELS for _ in texts[label]]
    corpus = [text for label in LABELS for text in texts[label]]
    tokenizer = build_tokenizer(corpus)
    scores = torch.tensor([REGRESSION_TARGETS[kind] for kind in kinds])
    classes = torch.tensor([LABELS.index(kind) for kind in kinds])
    return {"regression": train_and_save(root / "regression", tokenizer, corpus, scores, ("score",)),
            "classification": train_and_save(root / "classification", tokenizer, corpus, classes, LABELS)}


def spec_for(models: dict[str, str], head: str, **settings) -> HfClassifierRaterSpec:
    """The spec of one of the two classifiers, on THREADS CPU threads unless `settings` say otherwise."""
    head_settings = {"regression": True} if head == "regression" else {"label_scores": LABEL_SCORES}
    return HfClassifierRaterSpec(model=models[head], **{**head_settings, "threads": THREADS, **settings})
