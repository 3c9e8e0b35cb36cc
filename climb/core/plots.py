"""Small plots for the Dagster UI: PNGs returned as bytes and as Markdown with an inline image."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence

import numpy as np

FIGSIZE = (6.4, 3.2)
DPI = 80  # small images: metadata is stored in the event log


def render(fig) -> bytes:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=DPI)
    plt.close(fig)
    return buffer.getvalue()


def figure():
    import matplotlib

    matplotlib.use("Agg")  # no display: render to memory
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=FIGSIZE)


def as_markdown(png: bytes, title: str) -> str:
    return f"![{title}](data:image/png;base64,{base64.b64encode(png).decode('ascii')})"


def cluster_sizes(sizes: Sequence[int], *, title: str, ylabel: str = "documents") -> bytes:
    """Cluster sizes sorted from largest to smallest (a long tail is normal)."""
    fig, ax = figure()
    ordered = np.sort(np.asarray(sizes))[::-1]
    ax.bar(np.arange(len(ordered)), ordered, width=1.0, color="#4c72b0")
    ax.set(title=title, xlabel="cluster (by size)", ylabel=ylabel)
    return render(fig)


def quality_per_cluster(means: dict[str, Sequence[float]], kept: Sequence[bool], *, title: str) -> bytes:
    """Each rater's cluster means, pruned clusters in grey."""
    fig, ax = figure()
    kept = np.asarray(kept, dtype=bool)
    for offset, (rater, values) in enumerate(means.items()):
        values = np.asarray(values, dtype=float)
        x = offset + np.linspace(-0.3, 0.3, len(values)) if len(values) > 1 else np.full(len(values), offset)
        ax.scatter(x[kept], values[kept], s=8, label=rater)
        ax.scatter(x[~kept], values[~kept], s=8, color="#bbbbbb")
    ax.set_xticks(range(len(means)), [r.replace("_", "\n") for r in means], fontsize=7)
    ax.set(title=title, ylabel="cluster mean (0-5)", ylim=(0, 5))
    return render(fig)


def centroid_projection(centroids: np.ndarray, groups: np.ndarray, labels: dict[int, str], *, title: str) -> bytes:
    """Centroids projected on their first two principal components, coloured by super-cluster."""
    fig, ax = figure()
    centred = centroids - centroids.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    xy = centred @ vt[:2].T if len(centroids) > 1 else np.zeros((len(centroids), 2))
    cmap = __import__("matplotlib").colormaps["tab20"]
    for group in np.unique(groups):
        members = groups == group
        ax.scatter(xy[members, 0], xy[members, 1], s=12, color=cmap(int(group) % 20),
                   label=f"{group}: {labels.get(int(group), '')}"[:32])
    if len(np.unique(groups)) <= 12:
        ax.legend(fontsize=6, loc="best")
    ax.set(title=title, xlabel="PC 1", ylabel="PC 2")
    return render(fig)
