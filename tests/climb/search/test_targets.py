"""Tests for the target engine (climb.search.targets, climb.search.benchmarks): benchmark loaders on the real
files, log-likelihood scoring (acc vs acc_norm, batching, truncation), text loss, hold-out split, combine."""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import asdict
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from tokenizers import Tokenizer, models, pre_tokenizers

from climb.search.targets import (
    FORMATS,
    GENERAL_REASONING_TARGET,
    MCItem,
    TargetPart,
    combine,
    load_benchmark,
    mean_token_loss,
    score_multiple_choice,
    split_holdout,
    text_windows,
)
from climb.climblab.tokenization import train_bpe
from tests.conftest import shared_data

# ------------------------------------------------------------------------------ fakes

# A unigram "model": every position predicts the same distribution, so log-likelihoods are hand-computable.
VOCAB = ["<|endoftext|>", "Q", "short", "long", "é"]
PROBS = [0.05, 0.2, 0.15, 0.3, 0.3]  # sums to 1; log_softmax(log p) == log p


def _word_level() -> Tokenizer:
    """A whitespace word tokenizer over VOCAB (ids in order)."""
    tokenizer = Tokenizer(models.WordLevel({token: i for i, token in enumerate(VOCAB)}, unk_token=VOCAB[0]))
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer.add_special_tokens([VOCAB[0]])
    return tokenizer


class UnigramLM(torch.nn.Module):
    """Logits log PROBS at every position, whatever the input; records the widest input it saw."""

    def __init__(self):
        super().__init__()
        self.log_probs = torch.nn.Parameter(torch.tensor(PROBS).log(), requires_grad=False)
        self.widest = 0

    def forward(self, input_ids, attention_mask):
        assert input_ids.shape == attention_mask.shape
        self.widest = max(self.widest, input_ids.shape[1])
        return SimpleNamespace(logits=self.log_probs.expand(*input_ids.shape, len(PROBS)))


LN = {token: math.log(p) for token, p in zip(VOCAB, PROBS)}


@pytest.fixture(scope="module")
def piqa_path():
    return shared_data("piqa", "valid.jsonl")


# ------------------------------------------------------------------------------ loaders on the real files

REAL = {  # id: (format, path under ../shared/data, items, choices per item, gold counts or None)
    "piqa": ("piqa", ("piqa", "valid.jsonl"), 1838, {2}, {0: 910, 1: 928}),
    "arc_easy_test": ("arc", ("arc_easy", "ARC-Easy-Test.jsonl"), 2376, {3, 4, 5}, None),
    "arc_easy_dev": ("arc", ("arc_easy", "ARC-Easy-Dev.jsonl"), 570, {3, 4, 5}, None),
    "hellaswag_all": ("hellaswag", ("hellaswag", "hellaswag_val_full.part*.txt"), 10042, {4},
                      {0: 2515, 1: 2485, 2: 2584, 3: 2458}),
    "hellaswag_part1": ("hellaswag", ("hellaswag", "hellaswag_val_full.part1.txt"), 3348, {4}, None),
    "winogrande": ("winogrande", ("winogrande", "dev.jsonl"), 1267, {2}, {0: 628, 1: 639}),
    "arc_challenge": ("mosaic", ("arc_challenge", "arc_challenge.jsonl"), 1172, {4}, None),
    "boolq": ("mosaic", ("boolq", "boolq.jsonl"), 3270, {2}, {0: 1237, 1: 2033}),
    "copa": ("mosaic", ("copa", "copa.jsonl"), 100, {2}, None),
    "mmlu_test": ("mmlu", ("mmlu", "test"), 14042, {4}, None),
    "mmlu_dev": ("mmlu", ("mmlu", "dev"), 285, {4}, None),
}


@pytest.mark.parametrize("case", REAL, ids=list(REAL))
def test_loader_reads_real_benchmark(case):
    """Each format loads its real file(s) with the published item count, choice counts, gold in range,
    unique ids and the gold distribution docs/test_data.md states."""
    fmt, parts, count, n_choices, gold_counts = REAL[case]
    folder = shared_data(*parts[:-1])
    items = load_benchmark(str(folder / parts[-1]), fmt)
    assert len(items) == count
    assert {len(item.continuations) for item in items} <= n_choices
    assert all(len(item.contexts) == len(item.continuations) and 0 <= item.gold < len(item.continuations)
               for item in items)
    assert len({item.id for item in items}) == count
    if gold_counts is not None:
        assert dict(Counter(item.gold for item in items)) == gold_counts


def test_real_arc_easy_keeps_3_and_5_choice_items():
    """ARC-Easy test keeps its odd items: 2,365 with 4 choices, 7 with 3, 4 with 5 (labels A-E or 1-4)."""
    items = load_benchmark(str(shared_data("arc_easy", "ARC-Easy-Test.jsonl")), "arc")
    assert Counter(len(item.continuations) for item in items) == {4: 2365, 3: 7, 5: 4}


def test_real_mmlu_spans_57_subjects():
    """An MMLU folder reads all 57 *_test.csv files."""
    items = load_benchmark(str(shared_data("mmlu", "test")), "mmlu")
    assert len({item.id.split(":")[0] for item in items}) == 57


@pytest.mark.parametrize(
    "fmt, parts, context, continuations, gold",
    [
        ("piqa", ("piqa", "valid.jsonl"), "Question: How do I ready a guinea pig cage for it's new occupants?\nAnswer:",
         (" Provide the guinea pig with a cage full of a few inches of bedding made of ripped paper strips, you will "
          "also need to supply it with a water bottle and a food dish.",), 0),
        ("hellaswag", ("hellaswag", "hellaswag_val_full.part1.txt"),
         "Roof shingle removal: A man is sitting on a roof. he",
         (" is using wrap to wrap a pair of skis.", " is ripping level tiles off.", " is holding a rubik's cube.",
          " starts pulling up roofing on a roof."), 3),
        ("winogrande", ("winogrande", "dev.jsonl"), "Sarah was a much better surgeon than Maria so Sarah",
         (" always got the easier cases.", " always got the easier cases."), 1),
        ("mosaic", ("copa", "copa.jsonl"), "The man turned on the faucet, therefore",
         (" the toilet filled with water.", " water flowed from the spout."), 1),
    ],
    ids=["piqa", "hellaswag", "winogrande", "mosaic"],
)
def test_loader_builds_lm_eval_prompts(fmt, parts, context, continuations, gold):
    """The first real item of each format has lm-eval's context and space-led continuations."""
    item = load_benchmark(str(shared_data(*parts)), fmt, limit=1)[0]
    assert item.contexts[0] == context
    assert item.continuations[: len(continuations)] == continuations
    assert item.gold == gold


def test_mmlu_prompt_lists_lettered_choices():
    """MMLU: the question, the four lettered choices, "Answer:"; continuations are the letters."""
    item = load_benchmark(str(shared_data("mmlu", "test", "anatomy_test.csv")), "mmlu", limit=2)[1]
    assert item.contexts[0] == (
        'A "dished face" profile is often associated with\nA. a protruding mandible due to reactivation of the '
        "condylar cartilage by acromegaly.\nB. a recessive maxilla due to failure of elongation of the cranial "
        "base.\nC. an enlarged frontal bone due to hydrocephaly.\nD. defective development of the maxillary air "
        "sinus.\nAnswer:")
    assert item.continuations == (" A", " B", " C", " D") and item.gold == 1


def test_limit_stops_across_files():
    """limit keeps the first items in sorted file order, crossing file boundaries."""
    items = load_benchmark(str(shared_data("mmlu", "dev")), "mmlu", limit=7)
    assert [item.id for item in items] == [f"abstract_algebra_dev:{r}" for r in range(2, 7)] + [
        "anatomy_dev:2", "anatomy_dev:3"]


def test_hellaswag_accepts_a_list_of_parts():
    """HellaSwag parts passed as a list concatenate to the full validation set."""
    folder = shared_data("hellaswag")
    parts = [str(folder / f"hellaswag_val_full.part{i}.txt") for i in (1, 2, 3)]
    assert len(load_benchmark(parts, "hellaswag")) == 10042


# ------------------------------------------------------------------------------ loaders on malformed files

PIQA_OK = '{"goal": "g", "sol1": "a", "sol2": "b"}'
ARC_OK = ('{"id": "x", "question": {"stem": "s", "choices": [{"text": "a", "label": "A"}, {"text": "b", "label": "B"}]}, '
          '"answerKey": "B"}')
ARC_ONE_CHOICE = '{"question": {"stem": "s", "choices": [{"text": "a", "label": "A"}]}, "answerKey": "A"}'
WINO_OK = '{"qID": "q", "sentence": "A _ b.", "option1": "x", "option2": "y", "answer": "1"}'
MOSAIC_OK = '{"query": "q", "choices": ["a", "b"], "gold": 0}'
MMLU_HEADER = "question,choice0,choice1,choice2,choice3,answer"
HS_OK = "ctx: a\n0\ne1\ne2\ne3\ne4"
LABELS_01 = {"valid-labels.lst": "0\n1\n"}

MALFORMED = {  # id: (format, file name, content, extra files beside it, the message's "where")
    "piqa_not_json": ("piqa", "valid.jsonl", f"{PIQA_OK}\n{{not json", LABELS_01, "valid.jsonl:line 2"),
    "piqa_missing_sol2": ("piqa", "valid.jsonl", '{"goal": "g", "sol1": "a"}', {"valid-labels.lst": "0\n"},
                          "valid.jsonl:line 1"),
    "piqa_bad_label": ("piqa", "valid.jsonl", f"{PIQA_OK}\n{PIQA_OK}", {"valid-labels.lst": "0\n2\n"},
                       "valid-labels.lst:line 2"),
    "piqa_label_count": ("piqa", "valid.jsonl", PIQA_OK, LABELS_01, "1 questions but"),
    "piqa_no_labels": ("piqa", "valid.jsonl", PIQA_OK, {}, "labels file"),
    "arc_unknown_answer": ("arc", "a.jsonl", f"{ARC_OK}\n" + ARC_OK.replace('"answerKey": "B"', '"answerKey": "E"'),
                           {}, "a.jsonl:line 2"),
    "arc_one_choice": ("arc", "a.jsonl", ARC_ONE_CHOICE, {}, "a.jsonl:line 1"),
    "arc_not_object": ("arc", "a.jsonl", "[1, 2]", {}, "a.jsonl:line 1"),
    "hellaswag_bad_gold": ("hellaswag", "h.txt", f"{HS_OK}\nctx: b\n4\ne1\ne2\ne3\ne4", {}, "h.txt:line 8"),
    "hellaswag_truncated": ("hellaswag", "h.txt", f"{HS_OK}\nctx: b\n1\ne1", {}, "h.txt:line 7"),
    "hellaswag_empty_ending": ("hellaswag", "h.txt", "ctx: a\n0\ne1\n\ne3\ne4", {}, "h.txt:line 4"),
    "winogrande_no_blank": ("winogrande", "w.jsonl", f"{WINO_OK}\n" + WINO_OK.replace("_", "the"), {},
                            "w.jsonl:line 2"),
    "winogrande_bad_answer": ("winogrande", "w.jsonl", WINO_OK.replace('"1"', '"3"'), {}, "w.jsonl:line 1"),
    "mosaic_gold_out_of_range": ("mosaic", "m.jsonl", f"{MOSAIC_OK}\n\n" + MOSAIC_OK.replace('"gold": 0', '"gold": 2'),
                                 {}, "m.jsonl:line 3"),
    "mosaic_choices_not_strings": ("mosaic", "m.jsonl", '{"query": "q", "choices": [1, 2], "gold": 0}', {},
                                   "m.jsonl:line 1"),
    "mosaic_not_utf8": ("mosaic", "m.jsonl", b'{"query": "\xff", "choices": ["a", "b"], "gold": 0}', {},
                        "m.jsonl:line 1"),
    "mmlu_bad_header": ("mmlu", "x_test.csv", "q,a,b,c,d,answer\nq,a,b,c,d,0", {}, "x_test.csv:row 1"),
    "mmlu_short_row": ("mmlu", "x_test.csv", f"{MMLU_HEADER}\nq,a,b,c,d,0\nq,a,b,c,1", {}, "x_test.csv:row 3"),
    "mmlu_bad_answer": ("mmlu", "x_test.csv", f"{MMLU_HEADER}\nq,a,b,c,d,A", {}, "x_test.csv:row 2"),
}


@pytest.mark.parametrize("case", MALFORMED, ids=list(MALFORMED))
def test_malformed_input_names_file_and_line(case, tmp_path):
    """A malformed row raises ValueError naming the file and the line (row for CSV) at fault."""
    fmt, name, content, extra, where = MALFORMED[case]
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    for extra_name, extra_text in extra.items():
        (tmp_path / extra_name).write_text(extra_text)
    with pytest.raises(ValueError, match=where.replace(".", r"\.")):
        load_benchmark(str(path), fmt)


def test_unknown_format_lists_formats(tmp_path):
    """An unknown format raises ValueError listing every supported format."""
    with pytest.raises(ValueError, match=", ".join(FORMATS)):
        load_benchmark(str(tmp_path), "squad")


def test_missing_path_raises(tmp_path):
    """A path that names nothing raises FileNotFoundError instead of returning no items."""
    with pytest.raises(FileNotFoundError, match="nope"):
        load_benchmark(str(tmp_path / "nope*.txt"), "hellaswag")


# ------------------------------------------------------------------------------ scoring: acc vs acc_norm

# " short": 1 token, 6 bytes, ll = ln .15 = -1.897 (-0.316 per byte);
# " long long": 2 tokens, 10 bytes, ll = 2 ln .3 = -2.408 (-0.241 per byte).
# acc picks "short" (higher sum), acc_norm picks "long long" (higher per byte).
ITEMS = [
    MCItem("a", ("Q",) * 2, (" short", " long long"), 0),
    MCItem("b", ("Q",) * 2, (" short", " long long"), 0),
    MCItem("c", ("Q",) * 2, (" long long", " short"), 0),
]


def test_acc_and_acc_norm_pick_different_choices():
    """acc takes the highest summed log-likelihood, acc_norm the highest per continuation byte."""
    result = score_multiple_choice(UnigramLM(), _word_level(), ITEMS, batch_size=2, return_details=True)
    assert (result["acc"], result["acc_norm"], result["n"]) == (2 / 3, 1 / 3, 3)
    assert [(d["pred"], d["pred_norm"]) for d in result["details"]] == [(0, 1), (0, 1), (1, 0)]
    np.testing.assert_allclose(result["details"][0]["loglikelihoods"], [LN["short"], 2 * LN["long"]], rtol=1e-6)


def test_acc_norm_counts_bytes_not_characters():
    """acc_norm divides by UTF-8 bytes, not characters: " é" is 3 bytes but 2 characters."""
    # " é": ll = ln .3 = -1.204, -0.401 per byte, -0.602 per character;
    # " Q short": ll = ln .2 + ln .15 = -3.507, 8 bytes = 8 characters, -0.438 per byte.
    # Per byte " é" wins (choice 0); per character " Q short" would (choice 1).
    item = MCItem("u", ("Q", "Q"), (" é", " Q short"), 0)
    result = score_multiple_choice(UnigramLM(), _word_level(), [item], return_details=True)
    assert (result["details"][0]["pred"], result["details"][0]["pred_norm"], result["acc_norm"]) == (0, 0, 1.0)


def test_mc_item_from_json_lists_equals_the_original():
    """An MCItem rebuilt from asdict/JSON (lists) holds tuples and equals the original."""
    item = ITEMS[0]
    assert MCItem(**json.loads(json.dumps(asdict(item)))) == item


def test_ties_break_to_lowest_index():
    """Equal log-likelihoods (and equal lengths) pick the first choice for acc and acc_norm."""
    item = MCItem("t", ("Q",) * 3, (" long", " long", " long"), 1)
    result = score_multiple_choice(UnigramLM(), _word_level(), [item], return_details=True)
    assert (result["details"][0]["pred"], result["details"][0]["pred_norm"]) == (0, 0)


def test_truncation_keeps_continuation_within_max_length():
    """Pairs are cut from the left to max_length input tokens; the continuation is still fully scored."""
    model = UnigramLM()
    item = MCItem("long", ("Q " * 50,) * 2, (" short", " long long"), 0)
    result = score_multiple_choice(model, _word_level(), [item], max_length=3, return_details=True)
    assert model.widest == 3
    np.testing.assert_allclose(result["details"][0]["loglikelihoods"], [LN["short"], 2 * LN["long"]], rtol=1e-6)
    with pytest.raises(ValueError, match="exceeds max_length 1"):
        score_multiple_choice(model, _word_level(), [item], max_length=1)


def test_empty_context_is_scored_after_end_of_text():
    """An empty context becomes the end-of-text token, so the first continuation token is scored."""
    item = MCItem("e", ("", ""), ("short", "long"), 1)
    result = score_multiple_choice(UnigramLM(), _word_level(), [item], return_details=True)
    np.testing.assert_allclose(result["details"][0]["loglikelihoods"], [LN["short"], LN["long"]], rtol=1e-6)


@pytest.mark.parametrize("bad", [dict(items=[]), dict(batch_size=0)], ids=["no_items", "batch_size_0"])
def test_score_rejects_bad_arguments(bad):
    """No items or a batch size below 1 raises ValueError, never a zero score."""
    arguments = dict(items=ITEMS, batch_size=4) | bad
    with pytest.raises(ValueError):
        score_multiple_choice(UnigramLM(), _word_level(), arguments["items"], batch_size=arguments["batch_size"])


# ------------------------------------------------------------------------------ scoring: a real tiny Llama


@pytest.fixture(scope="module")
def tiny_llama(piqa_path):
    """A random 2-layer Llama (hidden 32) and a 400-token BPE trained on PIQA goals and solutions; torch on
    one thread meanwhile (OpenMP barriers cost ~20 ms per tiny matmul on a busy 2-core machine)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    items = load_benchmark(str(piqa_path), "piqa", limit=400)
    tokenizer = train_bpe([c + s for item in items for c, s in zip(item.contexts, item.continuations)],
                          vocab_size=400)
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=tokenizer.get_vocab_size(), hidden_size=32, intermediate_size=64,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=4,
                         max_position_embeddings=512)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield LlamaForCausalLM(config), tokenizer
    torch.set_num_threads(threads)


def test_llama_scores_piqa_independently_of_batch_size(tiny_llama, piqa_path):
    """A real causal LM scores 20 PIQA items to accuracies in [0, 1], per-item log-likelihoods equal
    (1e-6) at batch 1 and 8, and leaves the model's training flag as it found it."""
    model, tokenizer = tiny_llama
    model.train()
    items = load_benchmark(str(piqa_path), "piqa", limit=20)
    one = score_multiple_choice(model, tokenizer, items, batch_size=1, return_details=True)
    eight = score_multiple_choice(model, tokenizer, items, batch_size=8, return_details=True)
    assert model.training
    assert one["n"] == 20 and 0 <= one["acc"] <= 1 and 0 <= one["acc_norm"] <= 1
    assert (one["acc"], one["acc_norm"]) == (eight["acc"], eight["acc_norm"])
    np.testing.assert_allclose([d["loglikelihoods"] for d in one["details"]],
                               [d["loglikelihoods"] for d in eight["details"]], rtol=0, atol=1e-6)
    assert all(ll < 0 for d in one["details"] for ll in d["loglikelihoods"])


def test_llama_loglikelihood_matches_a_direct_forward_pass(tiny_llama, piqa_path):
    """Each choice's score is sum log_softmax(model(context + continuation))[continuation positions],
    with context and continuation tokenized separately (checked on 3 items in one padded batch)."""
    model, tokenizer = tiny_llama
    items = load_benchmark(str(piqa_path), "piqa", limit=3)
    result = score_multiple_choice(model, tokenizer, items, batch_size=6, return_details=True)
    for item, detail in zip(items, result["details"]):
        for context, continuation, score in zip(item.contexts, item.continuations, detail["loglikelihoods"]):
            context_ids = tokenizer.encode(context, add_special_tokens=False).ids
            continuation_ids = tokenizer.encode(continuation, add_special_tokens=False).ids
            ids = torch.tensor([context_ids + continuation_ids])
            with torch.no_grad():
                log_probs = model(input_ids=ids).logits[0, :-1].log_softmax(-1)
            targets = ids[0, len(context_ids):]
            expected = log_probs[len(context_ids) - 1 :].gather(1, targets[:, None]).double().sum().item()
            assert score == pytest.approx(expected, rel=1e-6)


def test_llama_text_loss_is_near_uniform_for_a_random_model(tiny_llama, piqa_path):
    """A random model's mean token loss on real text is close to ln(vocab) and batch-size independent."""
    model, tokenizer = tiny_llama
    texts = [item.contexts[0] for item in load_benchmark(str(piqa_path), "piqa", limit=50)]
    windows = text_windows(texts, tokenizer, length=32, eos_id=0)
    loss = mean_token_loss(model, windows, batch_size=4)
    assert abs(loss - math.log(tokenizer.get_vocab_size())) < 0.5
    assert mean_token_loss(model, windows, batch_size=len(windows)) == pytest.approx(loss, abs=1e-5)


# ------------------------------------------------------------------------------ text loss


def test_text_windows_shape_dtype_and_eos():
    """Texts become one stream with EOS after each, cut into (n, length + 1) int64 windows; the tail drops."""
    tokenizer = _word_level()
    windows = text_windows(["Q short", "long", "short long Q"], tokenizer, length=2, eos_id=0)
    # stream: Q short <eos> long <eos> short long Q <eos>  (9 tokens -> 3 windows of 3)
    assert windows.dtype == np.int64
    np.testing.assert_array_equal(windows, [[1, 2, 0], [3, 0, 2], [3, 1, 0]])
    np.testing.assert_array_equal(text_windows(["Q short", "long"], tokenizer, length=3, eos_id=0), [[1, 2, 0, 3]])


def test_text_windows_too_short_names_the_numbers():
    """Fewer tokens than one window raises ValueError with the token count and window size."""
    with pytest.raises(ValueError, match=r"give 3 tokens .* one window of 11"):
        text_windows(["Q short"], _word_level(), length=10, eos_id=0)


def test_mean_token_loss_matches_hand_computation():
    """One window [Q short long short]: the mean of -ln p over the three labels short, long, short."""
    windows = np.array([[1, 2, 3, 2]], dtype=np.int64)
    expected = -(2 * LN["short"] + LN["long"]) / 3
    assert mean_token_loss(UnigramLM(), windows) == pytest.approx(expected, rel=1e-6)


def test_mean_token_loss_rejects_bad_windows():
    """A window without a label (one column) raises ValueError."""
    with pytest.raises(ValueError, match="windows must be"):
        mean_token_loss(UnigramLM(), np.zeros((2, 1), dtype=np.int64))


# ------------------------------------------------------------------------------ hold-out split


@pytest.mark.parametrize("n, fraction, seed", [(10, 0.2, 0), (1838, 0.1, 7), (3, 0.5, 1)])
def test_split_holdout_is_disjoint_complete_and_deterministic(n, fraction, seed):
    """The split partitions the items, holds out round(fraction * n), keeps input order, repeats per seed."""
    items = [f"item{i}" for i in range(n)]
    search, holdout = split_holdout(items, holdout_fraction=fraction, seed=seed)
    assert len(holdout) == round(fraction * n)
    assert sorted(search + holdout) == sorted(items) and not set(search) & set(holdout)
    assert search == sorted(search, key=items.index) and holdout == sorted(holdout, key=items.index)
    assert (search, holdout) == split_holdout(items, holdout_fraction=fraction, seed=seed)


def test_split_holdout_depends_on_seed():
    """Different seeds hold out different items."""
    items = list(range(100))
    assert split_holdout(items, holdout_fraction=0.2, seed=0)[1] != split_holdout(items, holdout_fraction=0.2, seed=1)[1]


@pytest.mark.parametrize("n, fraction", [(10, 0.0), (10, 1.0), (1, 0.5), (10, 0.01)])
def test_split_holdout_rejects_an_empty_side(n, fraction):
    """A fraction outside (0, 1) or one that leaves a side empty raises ValueError."""
    with pytest.raises(ValueError):
        split_holdout(list(range(n)), holdout_fraction=fraction, seed=0)


# ------------------------------------------------------------------------------ combine


@pytest.mark.parametrize(
    "scores, parts, expected",
    [
        ({"piqa": 0.6, "arc_easy": 0.5, "hellaswag": 0.4, "piqa_acc": 0.9}, GENERAL_REASONING_TARGET, 0.5),
        ({"wiki": 3.0}, [TargetPart("wiki", "text", "loss")], -3.0),
        ({"wiki": 3.0, "piqa": 0.6}, [TargetPart("wiki", "text", "loss", 1.0),
                                               TargetPart("piqa", "benchmark", "acc", 3.0)], (-3.0 + 1.8) / 4),
    ],
    ids=["general_reasoning_mean", "loss_is_negated", "weighted"],
)
def test_combine_signs_and_weights(scores, parts, expected):
    """combine is the weighted mean, over the parts' names, of accuracies and negated losses (higher is
    better); keys no part names are ignored."""
    assert combine(scores, parts) == pytest.approx(expected)


def test_combine_lower_loss_scores_higher():
    """A lower text loss gives a higher objective."""
    parts = [TargetPart("wiki", "text", "loss")]
    assert combine({"wiki": 2.0}, parts) > combine({"wiki": 3.0}, parts)


@pytest.mark.parametrize(
    "scores, parts, message",
    [
        ({"piqa_acc": 0.5}, [TargetPart("piqa", "benchmark", "acc_norm")], "lack"),
        ({"piqa": float("nan")}, [TargetPart("piqa", "benchmark", "acc")], "finite"),
        ({}, [], "at least one"),
        ({"piqa": 0.5}, [TargetPart("piqa", "benchmark", "acc"), TargetPart("piqa", "benchmark", "acc_norm")], "unique"),
    ],
    ids=["missing_key", "nan", "no_parts", "repeated_name"],
)
def test_combine_rejects_missing_or_bad_scores(scores, parts, message):
    """A missing or non-finite score, an empty target or a repeated part name raises ValueError."""
    with pytest.raises(ValueError, match=message):
        combine(scores, parts)


@pytest.mark.parametrize(
    "kind, metric, weight",
    [("text", "acc", 1.0), ("benchmark", "loss", 1.0), ("image", "loss", 1.0), ("text", "loss", 0.0),
     ("text", "loss", float("inf"))],
)
def test_target_part_validates_kind_metric_weight(kind, metric, weight):
    """A kind outside text/benchmark, a metric the kind does not report, or a weight <= 0 raises."""
    with pytest.raises(ValueError):
        TargetPart("x", kind, metric, weight)
