"""Template compilation and document drawing for the demo corpus (``climb.demo.corpus``).

The grammars of ``climb.demo.grammar`` are compiled once into literals and slot keys; a document is a
title and 3-10 non-repeating sentences drawn from its domain's grammar (with an occasional shared
neutral sentence), every choice a pure function of the random stream it is given.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from climb.demo.grammar import DOMAIN_GRAMMARS, NEUTRAL_SENTENCES, NEUTRAL_SLOTS

# ------------------------------------------------------------------ constants
DOMAINS: tuple[str, ...] = ("sports", "finance", "cooking", "medicine", "astronomy", "law")

MIN_SENTENCES, MAX_SENTENCES = 3, 10
MIN_WORDS, MAX_WORDS = 60, 220  # whole document, title included
NEUTRAL_RATE = 0.08  # share of body sentences taken from the shared neutral pool

_SLOT_RE = re.compile(r"\{([a-z_]+?)(?:_(\d+))?\}")


# -------------------------------------------------------------------- helpers
@dataclass(frozen=True)
class _Template:
    """A template split into literals and (slot, variant) keys, compiled once."""

    literals: tuple[str, ...]  # len(keys) + 1 pieces around the slots
    keys: tuple[tuple[str, str], ...]


def _compile(template: str, slots: Mapping[str, Sequence[str]]) -> _Template:
    keys = tuple((m.group(1), m.group(2) or "") for m in _SLOT_RE.finditer(template))
    missing = sorted({name for name, _ in keys if name not in slots})
    if missing:
        raise KeyError(f"template {template!r} uses unknown slots {missing}")
    return _Template(tuple(_SLOT_RE.split(template)[::3]), keys)


@dataclass(frozen=True)
class _CompiledGrammar:
    titles: tuple[_Template, ...]
    sentences: tuple[_Template, ...]
    slots: Mapping[str, tuple[str, ...]]


def _compile_grammars() -> dict[str, _CompiledGrammar]:
    out = {}
    for domain in DOMAINS:
        g = DOMAIN_GRAMMARS[domain]
        slots = {**NEUTRAL_SLOTS, **g.slots}
        out[domain] = _CompiledGrammar(
            tuple(_compile(t, slots) for t in g.titles),
            tuple(_compile(t, slots) for t in g.sentences),
            slots,
        )
    return out


_GRAMMARS = _compile_grammars()
_NEUTRAL = tuple(_compile(t, NEUTRAL_SLOTS) for t in NEUTRAL_SENTENCES)


class _Draws:
    """Uniform draws served from numpy blocks: one Generator call per block is
    far cheaper than one per slot, and stays a pure function of the seed."""

    def __init__(self, rng: np.random.Generator, block: int = 8192) -> None:
        self._rng, self._block = rng, block
        self._buf: list[float] = []
        self._i = 0

    def uniform(self) -> float:
        if self._i == len(self._buf):
            self._buf, self._i = self._rng.random(self._block).tolist(), 0
        self._i += 1
        return self._buf[self._i - 1]

    def below(self, n: int) -> int:
        return min(int(self.uniform() * n), n - 1)


def _fill(template: _Template, slots: Mapping[str, tuple[str, ...]], draws: _Draws) -> str:
    """Instantiate a template; ``{x}`` and ``{x_2}`` get different values."""
    chosen: dict[tuple[str, str], str] = {}
    parts = [template.literals[0]]
    for key, literal in zip(template.keys, template.literals[1:]):
        if key not in chosen:
            vocab = slots[key[0]]
            taken = {v for (name, _), v in chosen.items() if name == key[0]}
            value = vocab[draws.below(len(vocab))]
            while value in taken:
                value = vocab[draws.below(len(vocab))]
            chosen[key] = value
        parts += (chosen[key], literal)
    text = "".join(parts)
    return text[:1].upper() + text[1:]


def _document(domain: str, draws: _Draws) -> str:
    """Title line, blank line, then 3-10 non-repeating sentences (60-220 words)."""
    grammar = _GRAMMARS[domain]
    title = _fill(grammar.titles[draws.below(len(grammar.titles))], grammar.slots, draws)
    n_wanted = MIN_SENTENCES + draws.below(MAX_SENTENCES - MIN_SENTENCES + 1)
    words, body, used = len(title.split()), [], set()
    while len(body) < MAX_SENTENCES and (len(body) < n_wanted or words < MIN_WORDS):
        neutral = draws.uniform() < NEUTRAL_RATE
        pool, slots = (_NEUTRAL, NEUTRAL_SLOTS) if neutral else (grammar.sentences, grammar.slots)
        index = draws.below(len(pool))
        if (id(pool), index) in used:  # a real article does not repeat a sentence
            continue
        used.add((id(pool), index))
        sentence = _fill(pool[index], slots, draws)
        n = len(sentence.split())
        if words + n > MAX_WORDS and len(body) >= MIN_SENTENCES:
            break
        body.append(sentence)
        words += n
    return f"{title}\n\n{' '.join(body)}"


def _documents(domains: Sequence[str], draws: _Draws, taken: set[str]) -> list[str]:
    """One unique document per entry of ``domains``; texts in ``taken`` are
    avoided (and the new ones added), so no accidental duplicates exist."""
    texts = []
    for domain in domains:
        text = _document(domain, draws)
        while text in taken:
            text = _document(domain, draws)
        taken.add(text)
        texts.append(text)
    return texts
