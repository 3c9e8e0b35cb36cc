"""Fixtures of the quality tests: two tiny Hugging Face classifiers, trained once per session."""

from __future__ import annotations

import pytest

from tests.climb.quality.hf_models import classifier_texts, train_classifiers


@pytest.fixture(scope="session")
def hf_texts() -> dict[str, list[str]]:
    return classifier_texts()


@pytest.fixture(scope="session")
def hf_models(hf_texts, tmp_path_factory) -> dict[str, str]:
    """Folders of the `regression` and `classification` classifiers (tests.climb.quality.hf_models)."""
    pytest.importorskip("transformers")
    return train_classifiers(tmp_path_factory.mktemp("hf_classifiers"), hf_texts)
