"""Multiple-choice benchmark loaders: one `MCItem` list from each benchmark's own file format (paper step 6).

CLIMB's general-reasoning target scores a proxy zero-shot on PIQA, ARC-Easy and HellaSwag by log-likelihood
(climb.search.targets). Each loader turns a benchmark's file into items whose prompts follow
lm-evaluation-harness, so a proxy's numbers are comparable with published ones:

- piqa: `valid.jsonl` {goal, sol1, sol2} and `valid-labels.lst` beside it (one 0/1 per line);
  context "Question: {goal}\\nAnswer:", continuations " {sol}".
- arc: AI2's JSONL {id, question: {stem, choices: [{text, label}]}, answerKey}; labels A-E or 1-4, 3-5
  choices; context "Question: {stem}\\nAnswer:", continuations " {text}".
- hellaswag: klosax's text blocks of 6 lines (activity_label ": " ctx, gold index, 4 endings), the format
  llama.cpp reads; continuations " {ending}". klosax already removed the WikiHow markup, and ctx_a/ctx_b
  arrive joined, so lm-eval's capitalisation of ctx_b cannot be applied (it changes one letter).
- winogrande: {qID, sentence with one "_", option1, option2, answer "1"|"2"}; lm-eval's partial scoring:
  context = sentence up to the blank + option, continuation = the rest of the sentence (identical across
  choices, scored after each option).
- mosaic: llm-foundry's {query, choices, gold} (its arc_challenge, boolq, copa); context = query,
  continuations " {choice}".
- mmlu: CSV with the header question,choice0..choice3,answer (0-3); context
  "{question}\\nA. ..\\nB. ..\\nC. ..\\nD. ..\\nAnswer:", continuations " A" .. " D" (lm-eval's template
  without the per-subject description line).

A path is one file, a glob, a folder (every file of the format's extension, sorted) or a list of those;
files are read in sorted order. Every malformed row raises ValueError naming the file and line (row for CSV).
"""

from __future__ import annotations

import csv
import glob
import io
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FORMATS = ("piqa", "arc", "hellaswag", "winogrande", "mosaic", "mmlu")
FOLDER_PATTERNS = {"piqa": "*.jsonl", "arc": "*.jsonl", "hellaswag": "*.txt", "winogrande": "*.jsonl",
                   "mosaic": "*.jsonl", "mmlu": "*.csv"}  # what a folder contributes, per format
PIQA_LABELS_SUFFIX = "-labels.lst"  # valid.jsonl -> valid-labels.lst, the authors' naming
HELLASWAG_BLOCK = 6  # lines per task: context, gold index, 4 endings
HELLASWAG_ENDINGS = 4
MMLU_HEADER = ["question", "choice0", "choice1", "choice2", "choice3", "answer"]
MMLU_LETTERS = "ABCD"
WINOGRANDE_BLANK = "_"


@dataclass(frozen=True)
class MCItem:
    """One multiple-choice question as scoring needs it: log P(continuations[i] | contexts[i]) per choice."""

    id: str  # unique within a load: the benchmark's own id, else "{file name}:{line}"
    contexts: tuple[str, ...]  # one per choice (WinoGrande puts the option in the context) or all equal
    continuations: tuple[str, ...]  # the scored text per choice
    gold: int  # index of the correct choice

    def __post_init__(self):
        object.__setattr__(self, "contexts", tuple(self.contexts))  # lists from JSON (asdict round trips)
        object.__setattr__(self, "continuations", tuple(self.continuations))
        if not len(self.contexts) == len(self.continuations) >= 2:
            raise ValueError(f"item {self.id}: need >= 2 choices with one context each, got "
                             f"{len(self.contexts)} contexts and {len(self.continuations)} continuations")
        if not 0 <= self.gold < len(self.continuations):
            raise ValueError(f"item {self.id}: gold {self.gold} is not a choice index")


def _fail(path: Path, where: str, message: str) -> ValueError:
    return ValueError(f"{path}:{where}: {message}")


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """(1-based line number, text without its newline) of every non-blank line, decoded as UTF-8."""
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                text = raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as err:
                raise _fail(path, f"line {number}", f"not UTF-8 ({err})") from err
            if text.strip():
                yield number, text


def _json_records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, text in _lines(path):
        try:
            record = json.loads(text)
        except json.JSONDecodeError as err:
            raise _fail(path, f"line {number}", f"not JSON ({err})") from err
        if not isinstance(record, dict):
            raise _fail(path, f"line {number}", f"expected a JSON object, got {type(record).__name__}")
        yield number, record


def _field(record: dict[str, Any], key: str, kind: type, path: Path, where: str) -> Any:
    value = record.get(key)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise _fail(path, where, f"field {key!r} must be a {kind.__name__}, got {value!r:.80}")
    return value


def _index(value: Any, n: int, path: Path, where: str, name: str) -> int:
    """An int (or a decimal string of one) in [0, n)."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < n:
        raise _fail(path, where, f"{name} must be an index in [0, {n}), got {value!r:.40}")
    return value


def _texts(values: Any, path: Path, where: str, name: str) -> list[str]:
    if not isinstance(values, list) or len(values) < 2 or not all(isinstance(v, str) for v in values):
        raise _fail(path, where, f"{name} must be a list of >= 2 strings, got {values!r:.80}")
    return values


def _item(item_id: str, context: str, choices: Sequence[str], gold: int) -> MCItem:
    return MCItem(item_id, (context,) * len(choices), tuple(f" {choice}" for choice in choices), gold)


def _piqa(path: Path) -> Iterator[MCItem]:
    labels_path = path.with_name(path.name.removesuffix(".jsonl") + PIQA_LABELS_SUFFIX)
    if not labels_path.is_file():
        raise ValueError(f"{path}: PIQA labels file {labels_path} not found (one 0/1 per line, aligned)")
    labels = list(_lines(labels_path))
    records = list(_json_records(path))
    if len(labels) != len(records):
        raise ValueError(f"{path}: {len(records):,} questions but {labels_path} holds {len(labels):,} labels")
    for (number, record), (label_line, label) in zip(records, labels):
        where = f"line {number}"
        goal, sol1, sol2 = (_field(record, key, str, path, where) for key in ("goal", "sol1", "sol2"))
        gold = _index(label, 2, labels_path, f"line {label_line}", "the label")
        yield _item(f"{path.name}:{number}", f"Question: {goal}\nAnswer:", (sol1, sol2), gold)


def _arc(path: Path) -> Iterator[MCItem]:
    for number, record in _json_records(path):
        where = f"line {number}"
        question = _field(record, "question", dict, path, where)
        stem = _field(question, "stem", str, path, where)
        choices = _field(question, "choices", list, path, where)
        if len(choices) < 2 or not all(isinstance(c, dict) and isinstance(c.get("text"), str)
                                       and isinstance(c.get("label"), str) for c in choices):
            raise _fail(path, where, f"question.choices must be >= 2 {{text, label}} strings, got {choices!r:.80}")
        labels = [choice["label"] for choice in choices]
        answer = record.get("answerKey")
        if len(set(labels)) != len(labels) or answer not in labels:
            raise _fail(path, where, f"answerKey {answer!r} is not one of the distinct labels {labels}")
        item_id = str(record.get("id") or f"{path.name}:{number}")
        yield _item(item_id, f"Question: {stem}\nAnswer:", [c["text"] for c in choices], labels.index(answer))


def _hellaswag(path: Path) -> Iterator[MCItem]:
    block: list[tuple[int, str]] = []
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                block.append((number, raw.decode("utf-8").rstrip("\r\n")))
            except UnicodeDecodeError as err:
                raise _fail(path, f"line {number}", f"not UTF-8 ({err})") from err
            if len(block) < HELLASWAG_BLOCK:
                continue
            (first, context), (gold_line, gold), *endings = block
            block = []
            for line, text in [(first, context), *endings]:
                if not text.strip():
                    raise _fail(path, f"line {line}", f"empty line inside the {HELLASWAG_BLOCK}-line task "
                                f"starting at line {first}")
            gold_index = _index(gold, HELLASWAG_ENDINGS, path, f"line {gold_line}", "the gold ending (line 2)")
            task = (first - 1) // HELLASWAG_BLOCK + 1
            yield _item(f"{path.name}:{task}", context, [text for _, text in endings], gold_index)
    if any(text.strip() for _, text in block):
        raise _fail(path, f"line {block[0][0]}", f"incomplete task: {len(block)} of {HELLASWAG_BLOCK} lines")


def _winogrande(path: Path) -> Iterator[MCItem]:
    for number, record in _json_records(path):
        where = f"line {number}"
        sentence, option1, option2 = (_field(record, k, str, path, where) for k in ("sentence", "option1", "option2"))
        if sentence.count(WINOGRANDE_BLANK) != 1:
            raise _fail(path, where, f"the sentence must hold exactly one {WINOGRANDE_BLANK!r}: {sentence!r:.80}")
        answer = record.get("answer")
        if answer not in ("1", "2"):
            raise _fail(path, where, f"answer must be '1' or '2', got {answer!r:.40}")
        blank = sentence.index(WINOGRANDE_BLANK)
        rest = sentence[blank + 1 :]
        item_id = str(record.get("qID") or f"{path.name}:{number}")
        contexts = (sentence[:blank] + option1, sentence[:blank] + option2)
        yield MCItem(item_id, contexts, (rest, rest), int(answer) - 1)


def _mosaic(path: Path) -> Iterator[MCItem]:
    for number, record in _json_records(path):
        where = f"line {number}"
        query = _field(record, "query", str, path, where)
        choices = _texts(record.get("choices"), path, where, "choices")
        gold = _index(record.get("gold"), len(choices), path, where, "gold")
        yield _item(f"{path.name}:{number}", query, choices, gold)


def _mmlu(path: Path) -> Iterator[MCItem]:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: not UTF-8 ({err})") from err
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header != MMLU_HEADER:
        raise _fail(path, "row 1", f"expected the header {','.join(MMLU_HEADER)}, got {header!r:.120}")
    for row_number, row in enumerate(reader, start=2):
        where = f"row {row_number} (line {reader.line_num})"
        if not row:
            continue
        if len(row) != len(MMLU_HEADER):
            raise _fail(path, where, f"expected {len(MMLU_HEADER)} fields, got {len(row)}")
        question, *choices, answer = row
        gold = _index(answer, len(MMLU_LETTERS), path, where, "answer")
        options = "".join(f"\n{letter}. {choice}" for letter, choice in zip(MMLU_LETTERS, choices))
        yield _item(f"{path.stem}:{row_number}", f"{question.strip()}{options}\nAnswer:", MMLU_LETTERS, gold)


LOADERS = {"piqa": _piqa, "arc": _arc, "hellaswag": _hellaswag, "winogrande": _winogrande,
           "mosaic": _mosaic, "mmlu": _mmlu}


def _files(path: str | Path | Sequence[str | Path], fmt: str) -> list[Path]:
    """The files a path names, each part expanded (glob, folder) and sorted; nothing found raises."""
    parts = [path] if isinstance(path, (str, Path)) else list(path)
    files: list[Path] = []
    for part in parts:
        text = str(part)
        if glob.has_magic(text):
            found = sorted(Path(p) for p in glob.glob(text) if Path(p).is_file())
        elif Path(text).is_dir():
            found = sorted(p for p in Path(text).glob(FOLDER_PATTERNS[fmt]) if p.is_file())
        elif Path(text).is_file():
            found = [Path(text)]
        else:
            raise FileNotFoundError(f"{fmt} benchmark: {text} does not exist")
        if not found:
            raise FileNotFoundError(f"{fmt} benchmark: no file matches {text} "
                                    f"(a folder contributes {FOLDER_PATTERNS[fmt]})")
        files.extend(found)
    return files


def load_benchmark(path: str | Path | Sequence[str | Path], fmt: str, *, limit: int | None = None) -> list[MCItem]:
    """The items of a multiple-choice benchmark file (or files), in file order.

    Args:
        path: a file, a glob ("hellaswag_val_full.part*.txt"), a folder (its files of the format's
            extension, FOLDER_PATTERNS) or a list of those; files are read in sorted order.
        fmt: one of FORMATS (see the module docstring for each format's fields and prompt).
        limit: keep the first `limit` items only (None: all); reading stops there.
    """
    if fmt not in LOADERS:
        raise ValueError(f"unknown benchmark format {fmt!r}; expected one of {', '.join(FORMATS)}")
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be >= 1 or None, got {limit}")
    items: list[MCItem] = []
    for file in _files(path, fmt):
        for item in LOADERS[fmt](file):
            items.append(item)
            if limit is not None and len(items) >= limit:
                return items
    if not items:
        raise ValueError(f"{fmt} benchmark {path}: no items")
    return items
