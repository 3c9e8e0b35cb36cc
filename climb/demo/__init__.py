"""The built-in demo corpus: six generated domains with deliberate defects, a planted target, its YAML."""

from climb.demo.corpus import DemoManifest, generate_demo_corpus

__all__ = ["DemoManifest", "generate_demo_corpus"]
