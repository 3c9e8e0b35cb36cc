"""Executors and Kubernetes step pods, built without a cluster.

Contract: the executor follows `deployment.executor` (auto: $CLIMB_EXECUTOR, else multiprocess); the
GPU steps (the `gpu` pool) get a step pod with nvidia.com/gpu in the limits, CPU/memory requests = limits,
the GPU node selector and tolerations, all from `deployment.gpu_pod`; every other step gets `cpu_pod`
and no GPU. Pod specs are built with dagster_k8s's own `construct_dagster_k8s_job`, merging the k8s
executor's `step_k8s_config` with the step's op tags as `K8sStepHandler._get_container_context` does.
"""

import json
import os
import subprocess
import sys

import dagster as dg
import pytest
from dagster_k8s.container_context import K8sContainerContext
from dagster_k8s.job import (DagsterK8sJobConfig, UserDefinedDagsterK8sConfig, construct_dagster_k8s_job,
                             get_user_defined_k8s_config)

from climb_assets.definitions import defs
from climb_assets.deployment import EXECUTOR_ENV, GPU_RESOURCE, executor_for, executor_name, gpu_op_tags
from climb.core.config import ConfigError, DeploymentConfig, GpuPodConfig
from tests.conftest import REPO

GPU_STEPS = {"embeddings", "centroids", "train_round_1", "train_round_2", "train_round_3", "optimal_mixture"}
DEMO_GPU_LIMITS = {"cpu": "8", "memory": "32Gi", GPU_RESOURCE: "1"}  # climb/demo/climb.yaml


def ops_of_definitions() -> dict[str, dg.OpDefinition]:
    """Every op of the code location's assets by name (a graph-backed asset contributes each of its ops)."""
    graph = defs.resolve_asset_graph()
    ops = {}
    for key in graph.get_all_asset_keys():
        node = defs.resolve_assets_def(key).node_def
        for op in (node.node_defs if isinstance(node, dg.GraphDefinition) else [node]):
            ops[op.name] = op
    return ops


def step_pod(op_tags, deployment: DeploymentConfig):
    """The V1PodSpec the k8s executor would launch for a step with these op tags."""
    executor = executor_for(deployment.model_copy(update={"executor": "k8s"}))
    executor_config = executor.config_schema.resolve_config({}).value["config"]
    context = K8sContainerContext(run_k8s_config=UserDefinedDagsterK8sConfig.from_dict(
        executor_config["step_k8s_config"])).merge(K8sContainerContext(
            run_k8s_config=get_user_defined_k8s_config(op_tags)))
    job = construct_dagster_k8s_job(
        DagsterK8sJobConfig(job_image="climb-dagster:test", dagster_home="/opt/dagster/dagster_home",
                            instance_config_map="dagster-instance"),
        args=["dagster", "api", "execute_step"], job_name="dagster-step-test",
        user_defined_k8s_config=context.run_k8s_config)
    return job.spec.template.spec


@pytest.mark.parametrize("asset", sorted(GPU_STEPS))
def test_gpu_step_pod_from_real_definitions(asset):
    """A GPU step's pod: GPU and CPU/memory limits, requests = limits, node selector, tolerations."""
    op = ops_of_definitions()[asset]
    assert op.pool == "gpu"
    pod = step_pod(op.tags, DeploymentConfig())
    (container,) = pod.containers
    assert container.resources.limits == DEMO_GPU_LIMITS
    assert container.resources.requests == {"cpu": "8", "memory": "32Gi"}
    assert pod.node_selector == {"nvidia.com/gpu.present": "true"}
    assert [(t.key, t.operator, t.effect) for t in pod.tolerations] == [("nvidia.com/gpu", "Exists", "NoSchedule")]


def test_other_steps_get_the_cpu_pod_and_no_gpu():
    """Every step outside the gpu pool has no pod tags: it gets `cpu_pod`, no GPU, no GPU node selector."""
    tagged = set()
    for name, op in ops_of_definitions().items():
        if "dagster-k8s/config" in op.tags:
            tagged.add(name)
            continue
        assert op.pool != "gpu", f"{name} is in the gpu pool without a GPU pod"
        pod = step_pod(op.tags, DeploymentConfig(cpu_pod={"cpu": "3", "memory": "6Gi"}))
        (container,) = pod.containers
        assert container.resources.limits == container.resources.requests == {"cpu": "3", "memory": "6Gi"}
        assert pod.node_selector is None and pod.tolerations is None
    assert tagged == GPU_STEPS


@pytest.mark.parametrize(
    "gpu_pod, limits, requests",
    [
        (GpuPodConfig(), DEMO_GPU_LIMITS, {"cpu": "8", "memory": "32Gi"}),
        (GpuPodConfig(gpus=4, cpu="32", memory="200Gi"), {"cpu": "32", "memory": "200Gi", GPU_RESOURCE: "4"},
         {"cpu": "32", "memory": "200Gi"}),
        (GpuPodConfig(gpus=0), {"cpu": "8", "memory": "32Gi"}, {"cpu": "8", "memory": "32Gi"}),  # no GPU at all
    ],
)
def test_gpu_op_tags_follow_gpu_pod(gpu_pod, limits, requests):
    """`gpu_pod` sizes the pod; GPUs only in the limits; gpus 0 requests no GPU."""
    resources = gpu_op_tags(DeploymentConfig(gpu_pod=gpu_pod))["dagster-k8s/config"]["container_config"]["resources"]
    assert (resources["limits"], resources["requests"]) == (limits, requests)


@pytest.mark.parametrize(
    "configured, env, expected",
    [
        ("in_process", None, "in_process"),
        ("multiprocess", None, "multiprocess"),
        ("k8s", None, "k8s"),
        ("auto", None, "multiprocess"),  # on 8 CPUs (see the test)
        ("auto", "in_process", "in_process"),
        ("auto", "k8s", "k8s"),
        ("multiprocess", "in_process", "multiprocess"),  # an explicit choice in the file wins
    ],
)
def test_executor_follows_configuration_then_environment(monkeypatch, configured, env, expected):
    """`deployment.executor` picks the executor; `auto` reads $CLIMB_EXECUTOR, else multiprocess."""
    monkeypatch.delenv(EXECUTOR_ENV, raising=False)
    if env:
        monkeypatch.setenv(EXECUTOR_ENV, env)
    monkeypatch.setattr("climb_assets.deployment.available_cpus", lambda: 8)
    deployment = DeploymentConfig(executor=configured)
    assert executor_name(deployment) == expected
    assert executor_for(deployment).name == expected


@pytest.mark.parametrize("executor", ["multiprocess", "k8s"])
def test_max_concurrent_reaches_the_executor(executor):
    """`max_concurrent` bounds parallel steps of a run, locally and on Kubernetes."""
    config = executor_for(DeploymentConfig(executor=executor, max_concurrent=3)).config_schema.resolve_config({})
    assert config.value["config"]["max_concurrent"] == 3


@pytest.mark.parametrize("cpus, expected", [(1, "in_process"), (2, "in_process"), (7, "in_process"),
                                             (8, "multiprocess"), (64, "multiprocess")])
def test_auto_runs_in_one_process_on_small_machines(monkeypatch, cpus, expected):
    """Spawning a process per step costs seconds each: auto uses it only where steps can run side by side."""
    monkeypatch.delenv(EXECUTOR_ENV, raising=False)
    assert executor_name(DeploymentConfig(), cpus=cpus) == expected


def test_unknown_executor_in_environment_is_an_error(monkeypatch):
    monkeypatch.setenv(EXECUTOR_ENV, "kubernetes")
    with pytest.raises(ConfigError, match=r"\$CLIMB_EXECUTOR: 'kubernetes' is not an executor"):
        executor_name(DeploymentConfig())


def test_cli_refuses_k8s_without_a_k8s_run_launcher():
    """With executor k8s, `climb run` hands its backfill to a cluster's daemon: without a K8sRunLauncher it stops,
    saying so."""
    from climb_assets.cli import ClimbError, _check_executor
    from climb.core.config import load_config

    config = load_config().model_copy(update={"deployment": DeploymentConfig(executor="k8s")})
    with dg.DagsterInstance.ephemeral() as instance, pytest.raises(ClimbError, match="no K8sRunLauncher"):
        _check_executor(instance, config, daemon=True)


def test_climb_run_uses_the_multiprocess_executor_when_asked(tmp_path):
    """With `executor: multiprocess`, `climb run` executes each step in its own process (and still succeeds)."""
    (tmp_path / "a.jsonl").write_text('{"text": "a perfectly ordinary document with several words"}\n')
    config = tmp_path / "climb.yaml"
    config.write_text("corpus: {paths: ['*.jsonl']}\ndeployment: {executor: multiprocess}\n")
    env = {k: v for k, v in os.environ.items() if k not in ("CLIMB_CONFIG", "DAGSTER_HOME", EXECUTOR_ENV)}
    env["CLIMB_HOME"] = str(tmp_path / "home")
    done = subprocess.run([sys.executable, "-m", "climb_assets.cli", "run", "--config", str(config), "--until",
                           "documents"], cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert 'Executing step "documents" in subprocess' in done.stdout + done.stderr


def test_configuration_file_reaches_the_code_location(tmp_path):
    """A file with `executor: k8s` and its own gpu_pod gives the loaded code location the k8s executor
    and those pods (the code location reads $CLIMB_CONFIG at import, so a fresh process loads it)."""
    (tmp_path / "a.jsonl").write_text('{"text": "a document long enough to keep"}\n')
    config = tmp_path / "climb.yaml"
    config.write_text(
        "corpus: {paths: ['*.jsonl']}\n"
        "deployment:\n  executor: k8s\n  cpu_pod: {cpu: '1', memory: 2Gi}\n"
        "  gpu_pod:\n    gpus: 2\n    cpu: '16'\n    memory: 64Gi\n"
        "    node_selector: {cloud.google.com/gke-accelerator: nvidia-l4}\n"
        "    tolerations: [{key: dedicated, operator: Equal, value: gpu, effect: NoSchedule}]\n")
    script = ("import json; import dagster as dg; from climb_assets.definitions import defs; print(json.dumps({"
              "'executor': defs.resolve_job_def('climb_shards').executor_def.name, "
              "'tags': {'embeddings': defs.resolve_assets_def('embeddings').op.tags, 'train_round_1': "
              "defs.resolve_assets_def(dg.AssetKey(['search', 'round_1', 'proxy_runs'])).node_def"
              ".node_named('train_round_1').definition.tags}}))")
    env = {**os.environ, "CLIMB_CONFIG": str(config), EXECUTOR_ENV: "in_process"}  # the file's k8s wins
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert loaded["executor"] == "k8s"
    deployment = DeploymentConfig(cpu_pod={"cpu": "1", "memory": "2Gi"})
    for name, tags in loaded["tags"].items():
        pod = step_pod(tags, deployment)
        assert pod.containers[0].resources.limits == {"cpu": "16", "memory": "64Gi", GPU_RESOURCE: "2"}, name
        assert pod.node_selector == {"cloud.google.com/gke-accelerator": "nvidia-l4"}
        assert [(t.key, t.operator, t.value, t.effect) for t in pod.tolerations] == [
            ("dedicated", "Equal", "gpu", "NoSchedule")]
