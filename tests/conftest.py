"""Shared fixtures. torch is imported before faiss: both ship an OpenMP runtime, and loading
them in the other order can crash or oversubscribe threads on some builds."""

import os
from pathlib import Path

import pytest

try:  # pinned import order; both are optional for the corpus-stage tests
    import torch  # noqa: F401
    import faiss  # noqa: F401
except ImportError:
    pass

# Tests execute in one process (fast); `climb` subprocesses inherit it. Set before the code location loads.
os.environ.setdefault("CLIMB_EXECUTOR", "in_process")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("CLIMB_SHARED_DATA", REPO.parent / "shared" / "data"))


def shared_data(*parts: str) -> Path:
    """A path under ../shared/data, skipping the test when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared data not available: {path}")
    return path


@pytest.fixture()
def climb_env(tmp_path, monkeypatch):
    """An isolated storage root and Dagster home; CLIMB_CONFIG unset."""
    monkeypatch.setenv("CLIMB_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    monkeypatch.delenv("CLIMB_CONFIG", raising=False)
    (tmp_path / "dagster_home").mkdir()
    return tmp_path


@pytest.fixture(scope="session")
def demo_corpus(tmp_path_factory):
    """The demo corpus (seed 0), generated once per session."""
    from climb.demo.corpus import generate_demo_corpus

    out = tmp_path_factory.mktemp("demo")
    return generate_demo_corpus(out, seed=0)


# The longest modules, first in the collection: `make test` runs the suite with pytest-xdist by file
# (--dist loadfile --no-loadscope-reorder), so the demo's end-to-end run starts at once on a worker of its own
# while the short tests fill the others, instead of starting last.
LONGEST_FIRST = ("test_demo_end_to_end.py", "test_known_answer_sources.py", "test_materialize_all.py",
                 "test_cluster_quality.py", "test_postgres_instance.py")


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: the rest keep their order
