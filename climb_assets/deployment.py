"""Where steps run (docs/architecture.md, executors and Kubernetes): the executor chosen by configuration, and the Kubernetes step pods.

- `executor_for`: in one process (tests, small machines), local processes (default from 8 CPUs), or one Kubernetes Job per step
  (`k8s_job_executor`, which refuses to run without the K8sRunLauncher of a cluster deployment).
- `gpu_op_tags`: the `dagster-k8s/config` op tags of the GPU steps (embeddings, centroids, proxy_runs,
  optimal_mixture): nvidia.com/gpu in the limits, CPU and memory requests = limits, the GPU node
  selector and tolerations. Step pods take op tags, never job tags. The same steps share the `gpu`
  concurrency pool, which bounds them across runs.
- `cpu_step_k8s_config`: every other step pod's resources, as the k8s executor's `step_k8s_config`;
  the GPU op tags are deep-merged over it, so a new asset gets a CPU pod without being tagged.
"""

from __future__ import annotations

import os

import dagster as dg

from climb.core import ConfigError, DeploymentConfig, available_cpus

EXECUTOR_ENV = "CLIMB_EXECUTOR"  # read when `deployment.executor` is auto
# auto picks multiprocess from this many CPUs: each step process costs seconds (torch's import at least), so on
# fewer cores it only costs (with spawned steps the 2-core demo took 32 min multiprocess vs 14 in one process).
PARALLEL_MIN_CPUS = 8
EXECUTORS = ("in_process", "multiprocess", "k8s")
K8S_CONFIG_TAG = "dagster-k8s/config"  # the key dagster_k8s reads from op tags
GPU_RESOURCE = "nvidia.com/gpu"  # the NVIDIA device plugin's extended resource
GPU_POOL = "gpu"  # the concurrency pool of every GPU step
# multiprocess steps fork from a server that imported the code location once, instead of each spawned step importing
# dagster and the graph again (~10 s a step on a loaded 2-core machine); the server starts clean and imports no torch,
# so no step inherits an initialised CUDA.
FORKSERVER = {"forkserver": {"preload_modules": ["climb_assets.definitions"]}}


def executor_name(deployment: DeploymentConfig, cpus: int | None = None) -> str:
    """The configured executor; `auto` is `$CLIMB_EXECUTOR`, else multiprocess where steps can really run
    side by side (>= PARALLEL_MIN_CPUS CPUs), else in-process."""
    if deployment.executor != "auto":
        return deployment.executor
    cpus = available_cpus() if cpus is None else cpus
    name = os.environ.get(EXECUTOR_ENV, "").strip() or ("multiprocess" if cpus >= PARALLEL_MIN_CPUS else "in_process")
    if name not in EXECUTORS:
        raise ConfigError(f"${EXECUTOR_ENV}: {name!r} is not an executor; expected one of {', '.join(EXECUTORS)}")
    return name


def executor_for(deployment: DeploymentConfig) -> dg.ExecutorDefinition:
    """The executor of every job of the code location (and of materialisations from the UI).

    multiprocess forks one process per step from a forkserver holding the code location; k8s launches
    one Job per step from the run's image, with `cpu_pod` resources unless the step's op tags say more.
    `max_concurrent` bounds parallel steps of one run in both; the `gpu` pool bounds GPU steps across runs.
    """
    name = executor_name(deployment)
    if name == "in_process":
        return dg.in_process_executor
    limit = {"max_concurrent": deployment.max_concurrent} if deployment.max_concurrent else {}
    if name == "multiprocess":
        return dg.multiprocess_executor.configured({"start_method": FORKSERVER, **limit})
    from dagster_k8s import k8s_job_executor  # imported here: only cluster deployments need the client

    return k8s_job_executor.configured({"step_k8s_config": cpu_step_k8s_config(deployment), **limit})


def _resources(requests: dict[str, str], limits: dict[str, str]) -> dict:
    return {"resources": {"requests": dict(requests), "limits": dict(limits)}}


def cpu_step_k8s_config(deployment: DeploymentConfig) -> dict:
    """The step pod of a non-GPU step: `cpu_pod` as requests and limits (Guaranteed QoS)."""
    return {"container_config": _resources(deployment.cpu_pod, deployment.cpu_pod)}


def gpu_op_tags(deployment: DeploymentConfig) -> dict[str, dict]:
    """Op tags giving a step a GPU pod from `gpu_pod`: requests = limits for CPU and memory, the GPUs in
    the limits (Kubernetes sets extended-resource requests equal to limits), selector and tolerations.
    `gpus: 0` leaves the GPU out (a CPU-only cluster keeps the placement and sizes).
    """
    pod = deployment.gpu_pod
    amounts = {"cpu": pod.cpu, "memory": pod.memory}
    limits = {**amounts, GPU_RESOURCE: str(pod.gpus)} if pod.gpus else amounts
    return {K8S_CONFIG_TAG: {
        "container_config": _resources(amounts, limits),
        "pod_spec_config": {"node_selector": dict(pod.node_selector),
                            "tolerations": [dict(t) for t in pod.tolerations]},
    }}
