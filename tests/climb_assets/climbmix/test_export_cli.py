"""`climb export --tokenizer` and `--push-to-hub`, run in-process as the command line runs them.

Contract: `export.tokenizer` (a folder beside the configuration file) and `--tokenizer` (which wins) choose the
ids of the tokenized files, reported with the tokenizer; `export.license` reaches the card; `--push-to-hub`
without a token or a reachable hub exits 1 with one line and writes nothing, not even the local folder.
"""

from __future__ import annotations

import json

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
