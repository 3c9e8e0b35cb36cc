"""The climbmix asset and its blocking check, materialised with Dagster on a small synthetic ClimbLab."""

import json

import dagster as dg

from climb_assets.climbmix.assets import climbmix
from climb_assets.climbmix.checks import climbmix_matches_mixture
from resources import ProjectResource
from tests.climb.climbmix.test_climbmix import build_climblab_storage


def test_climbmix_materialises_with_the_export_section(tmp_path):
    """`export.tokens`/`seed`/`formats` shape what lands under <root>/climbmix/; the metadata reports realised
    tokens, weights and epochs per cluster; the blocking check reads the files back and passes."""
    home = tmp_path / "home"
    build_climblab_storage(home)
    config = tmp_path / "climb.yaml"
    config.write_text("corpus:\n  paths: ['unused/*.jsonl']\n"
                      "export:\n  tokens: 6000\n  seed: 2\n  formats: [parquet, megatron]\n")
    result = dg.materialize([climbmix, climbmix_matches_mixture],
                            resources={"project": ProjectResource(config_path=str(config), home=str(home))})
    assert result.success
    metadata = result.asset_materializations_for_node("climbmix")[0].metadata
    assert abs(metadata["tokens"].value - 6000) <= 60 and metadata["budget"].value == 6000
    assert metadata["formats"].value == "parquet, megatron"
    assert set(metadata["realised_weights"].value) == {"0", "1", "2"}
    [check] = result.get_asset_check_evaluations()
    assert check.passed and check.check_name == "climbmix_matches_mixture"
    summary = json.loads((home / "climbmix" / "climbmix.json").read_text())
    assert summary["settings"]["seed"] == 2 and summary["config"]["export"]["tokens"] == 6000
    assert (home / "climbmix" / "_manifest.json").exists() and not (home / "climbmix" / "jsonl").exists()
    assert sorted(p.name for p in (home / "climbmix" / "megatron").iterdir())[0] == "blend.json"
