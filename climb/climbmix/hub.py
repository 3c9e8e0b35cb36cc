"""Publishing a ClimbMix export folder as a Hugging Face Hub dataset repository (`climb export --push-to-hub`).

`check_hub_access` runs before the export is written: offline mode (HF_HUB_OFFLINE), no token (HF_TOKEN or
`hf auth login`), an invalid repository id, or a hub that cannot be reached or refuses the token each stop the
command with a one-line reason, so nothing remote (and nothing local) is written. `push_export` then creates
the dataset repository when missing and uploads the folder in one commit; its card (README.md) carries the
metadata the Hub reads (climb/climbmix/card.py).
"""

from __future__ import annotations

import os
from pathlib import Path

OFFLINE_VALUES = ("1", "on", "yes", "true")  # what huggingface_hub reads as a set HF_HUB_OFFLINE


class HubUnavailable(RuntimeError):
    """Why an export cannot be pushed, in one line."""


def _reason(err: Exception) -> str:
    return f"{type(err).__name__}: {(str(err).strip().splitlines() or [''])[0]}"


def check_hub_access(repo_id: str) -> str:
    """The token to push `repo_id` with, once the hub has answered to it; HubUnavailable otherwise.

    Args:
        repo_id: "<user or organisation>/<name>" of the dataset repository.
    """
    from huggingface_hub import HfApi, constants, get_token
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    where = f"--push-to-hub {repo_id}"
    if constants.is_offline_mode() or os.environ.get("HF_HUB_OFFLINE", "").lower() in OFFLINE_VALUES:
        raise HubUnavailable(f"{where}: HF_HUB_OFFLINE is set, so the hub cannot be reached; nothing was written")
    try:
        validate_repo_id(repo_id)
    except HFValidationError as err:
        raise HubUnavailable(f"{where}: not a repository id ({_reason(err)}); nothing was written") from err
    token = get_token()
    if not token:
        raise HubUnavailable(f"{where}: no Hugging Face token (set HF_TOKEN or run `hf auth login`); "
                             "nothing was written")
    try:
        HfApi(endpoint=os.environ.get("HF_ENDPOINT") or None).whoami(token=token)
    except Exception as err:  # connection errors and refused tokens alike: the push could not go ahead
        raise HubUnavailable(f"{where}: the hub did not accept the token or could not be reached ({_reason(err)}); "
                             "nothing was written") from err
    return token


def push_export(folder: str | Path, *, repo_id: str, token: str, private: bool = False) -> str:
    """Create the dataset repository if needed and upload the export folder; returns the commit's URL.
    A refusal by the hub (rights, quota, network) is HubUnavailable in one line.

    Args:
        folder: a finished export folder (README.md, climbmix.json and the data files).
        repo_id: the dataset repository, checked by `check_hub_access`.
        token: the token `check_hub_access` returned.
        private: create a missing repository as private.
    """
    from huggingface_hub import HfApi

    api = HfApi(endpoint=os.environ.get("HF_ENDPOINT") or None, token=token)
    try:
        api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        commit = api.upload_folder(folder_path=str(folder), repo_id=repo_id, repo_type="dataset",
                                   commit_message="ClimbMix export (climb export)")
    except Exception as err:  # the hub's HTTP and network errors alike
        raise HubUnavailable(f"--push-to-hub {repo_id}: the upload failed ({_reason(err)})") from err
    return commit.commit_url
