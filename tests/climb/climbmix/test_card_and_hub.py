"""The dataset card's Hub metadata (climb.climbmix.card) and the push's preconditions (climb.climbmix.hub).

Contract: the card's front matter is Hub dataset-card metadata (parsed by huggingface_hub): license only when
`export.license` names one, language, the size category of the document count, text-generation, and configs
that make `datasets.load_dataset(<export folder>)` load the Parquet files without arguments. Pushing checks
offline mode, the repository id, the token and the hub's answer first, and stops with a one-line reason.
"""

from __future__ import annotations

import pytest

from climb.climbmix.card import size_category
from climb.climbmix.export import export_to_directory
from climb.climbmix.hub import HubUnavailable, check_hub_access
from climb.climbmix.plan import ExportSettings
from tests.climb.climbmix.test_climbmix import build_climblab_storage

UNREACHABLE = "http://127.0.0.1:9"  # the discard port: nothing listens, the connection is refused at once


@pytest.mark.parametrize("rows, category", [
    (0, "n<1K"), (999, "n<1K"), (1_000, "1K<n<10K"), (99_999, "10K<n<100K"), (2_500_000, "1M<n<10M"),
    (10**12 - 1, "100B<n<1T"), (10**12, "n>1T")])
def test_size_category_is_the_hubs_bin(rows, category):
    assert size_category(rows) == category


@pytest.mark.parametrize("license_id, language", [(None, ("en",)), ("cc-by-nc-4.0", ("en", "fr"))])
def test_card_metadata_is_what_the_hub_reads(tmp_path, license_id, language):
    """huggingface_hub parses the front matter: license present only when set, the languages, the size bin of
    the document count, text-generation, and the Parquet files as the default config."""
    from huggingface_hub import DatasetCard

    storage = build_climblab_storage(tmp_path / "home")
    summary = export_to_directory(storage=storage, out=tmp_path / "mix", settings=ExportSettings(
        tokens=2_000, license=license_id, language=language))
    data = DatasetCard.load(tmp_path / "mix" / "README.md").data.to_dict()
    assert data.get("license") == license_id and ("license" in data) == (license_id is not None)
    assert data["language"] == list(language) and data["task_categories"] == ["text-generation"]
    assert data["size_categories"] == [size_category(summary["totals"]["documents"])] == ["n<1K"]
    assert [c["config_name"] for c in data["configs"]] == ["default", "tokenized"]
    assert data["configs"][0]["data_files"] == [{"split": "train", "path": "parquet/*.parquet"}]


def test_load_dataset_on_the_folder_picks_the_parquet_config(tmp_path):
    """`datasets.load_dataset(<export folder>)`, no other argument, loads the Parquet texts, not the JSONL ids."""
    datasets = pytest.importorskip("datasets")
    storage = build_climblab_storage(tmp_path / "home")
    summary = export_to_directory(storage=storage, out=tmp_path / "mix",
                                  settings=ExportSettings(tokens=2_000, license="odc-by"))
    loaded = datasets.load_dataset(str(tmp_path / "mix"), cache_dir=str(tmp_path / "hf"))
    assert list(loaded) == ["train"] and loaded["train"].num_rows == summary["totals"]["documents"]
    assert set(loaded["train"].column_names) == {"text", "cluster_id", "token_count"}


@pytest.fixture
def no_hub_credentials(tmp_path, monkeypatch):
    """No token anywhere (environment, token file, OIDC) and offline mode off."""
    from huggingface_hub import constants

    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_OIDC_RESOURCE", "HF_HUB_OFFLINE", "HF_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "no-token"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    return monkeypatch


@pytest.mark.parametrize("environment, repo_id, reason", [
    ({}, "user/climbmix", "no Hugging Face token (set HF_TOKEN"),
    ({"HF_TOKEN": "hf_not_a_real_token", "HF_ENDPOINT": UNREACHABLE}, "user/climbmix", "could not be reached"),
    ({"HF_TOKEN": "hf_not_a_real_token", "HF_HUB_OFFLINE": "1"}, "user/climbmix", "HF_HUB_OFFLINE is set"),
    ({"HF_TOKEN": "hf_not_a_real_token"}, "not a repo id", "not a repository id"),
], ids=["no-token", "unreachable-hub", "offline", "bad-repo-id"])
def test_push_preconditions_fail_in_one_line(no_hub_credentials, environment, repo_id, reason):
    for name, value in environment.items():
        no_hub_credentials.setenv(name, value)
    with pytest.raises(HubUnavailable) as raised:
        check_hub_access(repo_id)
    message = str(raised.value)
    assert reason in message and "\n" not in message and message.endswith("nothing was written")
