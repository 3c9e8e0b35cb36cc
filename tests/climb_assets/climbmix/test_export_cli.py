"""`climb export --tokenizer` and `--push-to-hub`, run in-process as the command line runs them.

Contract: `export.tokenizer` (a folder beside the configuration file) and `--tokenizer` (which wins) choose the
ids of the tokenized files, reported with the tokenizer; `export.license` reaches the card; `--push-to-hub`
without a token or a reachable hub exits 1 with one line and writes nothing, not even the local folder; with
them it uploads the finished folder to a dataset repository (the hub stood in for: no network in tests).
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from climb_assets.cli import main
from tests.climb.climbmix.test_card_and_hub import UNREACHABLE, no_hub_credentials  # noqa: F401 (a fixture)
from tests.climb.climbmix.test_climbmix import build_climblab_storage
from tests.climb.climbmix.test_retokenize import (megatron_documents_decode_to_the_texts, save_bpe_tokenizer,
                                               save_wide_tokenizer)


@pytest.fixture
def project(tmp_path):
    """A storage root with ClimbLab and an optimal mixture, and a configuration naming a tokenizer beside it."""
    build_climblab_storage(tmp_path / "home")
    save_bpe_tokenizer(tmp_path / "project" / "tok")
    config = tmp_path / "project" / "climb.yaml"
    config.write_text("corpus:\n  paths: ['unused/*.jsonl']\n"
                      "export:\n  tokens: 2000\n  tokenizer: tok\n  license: odc-by\n")
    return {"config": str(config), "home": str(tmp_path / "home"), "tmp": tmp_path}


def _export(project, out: str, *extra: str) -> int:
    return main(["export", "--out", out, "--config", project["config"], "--home", project["home"], *extra])


def test_the_files_tokenizer_and_the_command_lines(project, capsys):
    """The file's relative `tokenizer: tok` is the folder beside it; `--tokenizer` replaces it; either way the
    Megatron files read with Megatron-core decode to the texts with that tokenizer; both are named in
    climbmix.json and in the command's output; the file's license is in the card."""
    tmp = project["tmp"]
    assert _export(project, str(tmp / "a")) == 0
    summary = json.loads((tmp / "a" / "climbmix.json").read_text())
    assert summary["tokenizer"]["source"] == str(tmp / "project" / "tok")
    megatron_documents_decode_to_the_texts(tmp / "a", tmp / "project" / "tok", np.uint16)
    assert "\nlicense: odc-by\n" in (tmp / "a" / "README.md").read_text()
    wide = save_wide_tokenizer(tmp / "wide")
    assert _export(project, str(tmp / "b"), "--tokenizer", str(wide)) == 0
    summary = json.loads((tmp / "b" / "climbmix.json").read_text())
    assert summary["tokenizer"]["source"] == str(wide) and summary["tokenizer"]["vocab_size"] > 65_500
    megatron_documents_decode_to_the_texts(tmp / "b", wide, np.int32)
    assert f"tokenizer {wide} (sha256 {summary['tokenizer']['sha256'][:12]}" in capsys.readouterr().out


def test_an_unloadable_tokenizer_is_one_line(project, capsys):
    assert _export(project, str(project["tmp"] / "mix"), "--tokenizer", str(project["tmp"] / "missing")) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("climb: error: export tokenizer") and "AutoTokenizer cannot load it" in err
    assert "\n" not in err and not (project["tmp"] / "mix").exists()


@pytest.mark.parametrize("environment, reason", [
    ({}, "no Hugging Face token"),
    ({"HF_TOKEN": "hf_not_a_real_token", "HF_ENDPOINT": UNREACHABLE}, "could not be reached"),
], ids=["no-token", "unreachable-hub"])
def test_push_to_hub_stops_before_writing(project, no_hub_credentials, capsys, environment, reason):  # noqa: F811
    for name, value in environment.items():
        no_hub_credentials.setenv(name, value)
    out = project["tmp"] / "mix"
    assert _export(project, str(out), "--push-to-hub", "user/climbmix") == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("climb: error: --push-to-hub user/climbmix: ") and reason in err and "\n" not in err
    assert not out.exists()


class _RecordingHub:
    """Stands in for huggingface_hub.HfApi (no network in tests): answers whoami, records what is pushed."""

    calls: list = []
    fail_upload = False

    def __init__(self, endpoint=None, token=None):
        self.token = token

    def whoami(self, token=None):
        return {"name": "user"}

    def create_repo(self, repo_id, **options):
        self.calls.append(("create_repo", repo_id, options))

    def upload_folder(self, *, folder_path, repo_id, repo_type, commit_message):
        if self.fail_upload:
            raise RuntimeError("403 Forbidden: no write access\nsecond line")
        self.calls.append(("upload_folder", repo_id, repo_type, sorted(p.name for p in Path(folder_path).iterdir())))
        return SimpleNamespace(commit_url=f"https://hub.test/datasets/{repo_id}/commit/1")


@pytest.mark.parametrize("fail_upload", [False, True], ids=["uploaded", "upload-refused"])
def test_push_to_hub_uploads_the_finished_folder(project, no_hub_credentials, capsys, fail_upload):  # noqa: F811
    """With a token and a hub that answers, the dataset repository is created and the finished folder uploaded
    (card included); a refused upload is one line that says where the local export is."""
    import huggingface_hub

    no_hub_credentials.setenv("HF_TOKEN", "hf_not_a_real_token")
    no_hub_credentials.setattr(huggingface_hub, "HfApi", _RecordingHub)
    no_hub_credentials.setattr(_RecordingHub, "calls", [])
    no_hub_credentials.setattr(_RecordingHub, "fail_upload", fail_upload)
    out = project["tmp"] / "mix"
    code = _export(project, str(out), "--push-to-hub", "user/climbmix")
    printed = capsys.readouterr()
    assert (out / "README.md").exists()
    if fail_upload:
        assert code == 1 and printed.err.strip().endswith(f"403 Forbidden: no write access); the export is in {out}")
        assert "\n" not in printed.err.strip()
        return
    assert code == 0 and _RecordingHub.calls == [
        ("create_repo", "user/climbmix", {"repo_type": "dataset", "private": False, "exist_ok": True}),
        ("upload_folder", "user/climbmix", "dataset", sorted(p.name for p in out.iterdir()))]
    assert "README.md" in _RecordingHub.calls[1][3]
    url = "https://hub.test/datasets/user/climbmix/commit/1"
    assert f"pushed to the dataset repository user/climbmix: {url}" in printed.out
