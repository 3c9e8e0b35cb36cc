"""Semantic stage (paper steps 1-4): embedding, K-means, pruning, merging into super-clusters, profiles."""

from climb.semantic.clustering import (CENTROIDS, CorpusGrowth, corpus_growth, fit_centroids, verify_assignments,
                                       write_assignments)
from climb.semantic.embedding import Embedder
from climb.semantic.embedding_store import (
    embedder_settings, reusable_embeddings, verify_embeddings, write_embeddings)
from climb.semantic.merging import MergeSettings
from climb.semantic.profiles import write_cluster_profiles, write_super_clusters
from climb.semantic.semdedup import SEMANTIC_DUPLICATES, SemanticSettings, semantic_duplicates, write_semantic_duplicates

__all__ = ["CENTROIDS", "SEMANTIC_DUPLICATES", "CorpusGrowth", "SemanticSettings", "Embedder", "MergeSettings", "corpus_growth", "embedder_settings",
           "fit_centroids", "verify_assignments", "verify_embeddings", "write_assignments", "write_cluster_profiles",
           "reusable_embeddings", "semantic_duplicates", "write_embeddings", "write_semantic_duplicates", "write_super_clusters"]
