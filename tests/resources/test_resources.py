"""The Dagster resources: empty fields fall back to the environment and the file, overrides apply only
where set, and the code location takes values from `dg.EnvVar` where the environment sets them."""

from __future__ import annotations

import os

import dagster as dg
import pytest

from climb.core import DEFAULT_CONFIG_PATH, load_config
from climb.search import learnt_settings
from climb.search.rounds import proxy_config
from resources import EmbedderResource, ProjectResource, ProxyTrainerResource


def test_project_resource_defaults_to_the_environment_then_the_demo_file(tmp_path, monkeypatch):
    """config_path "" -> $CLIMB_CONFIG -> the demo's file; home "" -> $CLIMB_HOME -> the file's root."""
    monkeypatch.delenv("CLIMB_CONFIG", raising=False)
    monkeypatch.setenv("CLIMB_HOME", str(tmp_path / "from_env"))
    project = ProjectResource()
    assert project.config().search == load_config(DEFAULT_CONFIG_PATH).search
    assert project.config().storage_root == str(tmp_path / "from_env")
    explicit = ProjectResource(home=str(tmp_path / "explicit"))
    assert explicit.config().storage_root == str(tmp_path / "explicit")


def test_project_resource_reloads_an_edited_file(tmp_path):
    """The configuration is cached per file, until the file changes."""
    path = tmp_path / "climb.yaml"
    path.write_text(f"corpus:\n  paths: ['{DEFAULT_CONFIG_PATH}']\nsearch:\n  rounds: [4, 2]\n")
    project = ProjectResource(config_path=str(path), home=str(tmp_path / "home"))
    assert project.config().search.rounds == [4, 2]
    assert project.config() is project.config()
    path.write_text(f"corpus:\n  paths: ['{DEFAULT_CONFIG_PATH}']\nsearch:\n  rounds: [8]\n")
    os.utime(path, (1e9, 2e9))  # a different modification time, however fast the test runs
    assert project.config().search.rounds == [8]


@pytest.mark.parametrize("device, workers, expect_device, expect_workers", [
    ("", 0, None, None),  # nothing overridden: the file's values
    ("cuda", 0, "cuda", None),
    ("", 3, None, 3),
    ("cpu", 2, "cpu", 2),
])
def test_proxy_trainer_overrides_only_what_it_sets(device, workers, expect_device, expect_workers):
    """`configure` replaces proxy.device / search.workers where set and leaves everything else alone."""
    config = load_config(DEFAULT_CONFIG_PATH)
    configured = ProxyTrainerResource(device=device, workers=workers).configure(config)
    assert configured.proxy.device == (expect_device or config.proxy.device)
    assert configured.search.workers == (expect_workers or config.search.workers)
    assert configured.model_dump(exclude={"proxy", "search"}) == config.model_dump(exclude={"proxy", "search"})
    assert configured.search.rounds == config.search.rounds


def test_proxy_trainer_device_does_not_change_what_a_proxy_learns():
    """Cached proxy runs stay valid when a deployment moves training to another device."""
    config = load_config(DEFAULT_CONFIG_PATH)
    on_gpu = ProxyTrainerResource(device="cuda", workers=1).configure(config)
    assert learnt_settings(proxy_config(on_gpu)) == learnt_settings(proxy_config(config))


def test_embedder_resource_device_override():
    config = load_config(DEFAULT_CONFIG_PATH)
    assert EmbedderResource(device="cpu").embedder(config.embedding).placement.device == "cpu"


def test_code_location_takes_set_variables_from_envvar(monkeypatch, tmp_path):
    """Variables the environment sets become dg.EnvVar fields (shown as such in the UI); unset ones stay empty."""
    from climb_assets.definitions import build_resources

    monkeypatch.setenv("CLIMB_HOME", str(tmp_path))
    monkeypatch.setenv("CLIMB_PROXY_DEVICE", "cpu")
    monkeypatch.delenv("CLIMB_CONFIG", raising=False)
    monkeypatch.delenv("CLIMB_EMBEDDING_DEVICE", raising=False)
    resources = build_resources()
    fields = resources["project"]._get_non_default_public_field_values()  # noqa: SLF001
    assert fields.get("home") == dg.EnvVar("CLIMB_HOME")
    assert "config_path" not in fields or fields["config_path"] == ""
    assert resources["proxy_trainer"]._get_non_default_public_field_values().get("device") == dg.EnvVar(  # noqa: SLF001
        "CLIMB_PROXY_DEVICE")


@pytest.mark.parametrize("precision", ["auto", "float32", "bfloat16"])
def test_proxy_precision_comes_from_the_configuration_and_names_the_run(precision):
    """`proxy.precision` reaches the trainer, and a run in another precision is another cache entry."""
    config = load_config(DEFAULT_CONFIG_PATH)
    config = config.model_copy(update={"proxy": config.proxy.model_copy(update={"precision": precision})})
    settings = learnt_settings(proxy_config(config))
    assert settings["precision"] == precision
    assert (settings == learnt_settings(proxy_config(load_config(DEFAULT_CONFIG_PATH)))) == (precision == "auto")


@pytest.mark.parametrize("value", [[3, 1, 2], {"key": "abc", "loss": 1.5}, None])
def test_step_outputs_round_trip_as_json_files(tmp_path, value):
    """A step output is written under the root's cache (no temporary file left) and read back as written; a
    missing one is an error naming it."""
    from resources import ProjectResource, StepOutputsIOManager

    (tmp_path / "climb.yaml").write_text("corpus:\n  paths: ['*.jsonl']\n")
    manager = StepOutputsIOManager(project=ProjectResource(config_path=str(tmp_path / "climb.yaml"),
                                                           home=str(tmp_path / "home")))
    output = dg.build_output_context(run_id="run-1", step_key="train_round_1[0]", name="result")
    manager.handle_output(output, value)
    files = sorted(p.name for p in (tmp_path / "home").rglob("*") if p.is_file())
    assert files == ["result.json"]
    assert manager.load_input(dg.build_input_context(upstream_output=output)) == value
    other = dg.build_output_context(run_id="run-1", step_key="train_round_1[1]", name="result")
    with pytest.raises(FileNotFoundError, match=r"train_round_1\[1\]/result is not under"):
        manager.load_input(dg.build_input_context(upstream_output=other))
