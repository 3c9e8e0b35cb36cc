"""The built-in demo corpus: six generated domains with deliberate defects, a planted target, its YAML."""

from climb.demo.corpus import DemoManifest, generate_demo_corpus
from climb.demo.planted import planted_weights

__all__ = ["DemoManifest", "generate_demo_corpus", "planted_weights"]
