"""The sections of the configuration file: one strict pydantic model per section.

`ClimbConfig` (climb.core.config) assembles them into the whole file and `load_config` reads it;
climb.core.config re-exports every name here, so `from climb.core.config import CorpusConfig` keeps working.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, field_validator, model_validator


class _Section(BaseModel):
    # strict: YAML "10" stays a string and is reported, never coerced; forbid: typos are errors.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class CsvOptions(_Section):
    header: bool = True  # first row names the columns
    columns: list[str] | None = None  # column names when header is false
    delimiter: str = ","


class LengthFilters(_Section):
    """Documents outside these bounds are kept out as `filter:*`; None disables a bound."""

    min_chars: int | None = Field(default=20, ge=0)
    max_chars: int | None = Field(default=None, ge=1)
    min_words: int | None = Field(default=3, ge=0)
    max_words: int | None = Field(default=None, ge=1)


class CorpusConfig(_Section):
    paths: list[str] = Field(min_length=1)  # globs, files, folders or fsspec URIs
    text_field: str | list[str] = "text"  # a list is joined with a blank line (e.g. title + body)
    id_field: str | None = None  # None: ids are "<shard>:<row>"
    metadata_fields: list[str] = []  # carried through as string columns (e.g. a label)
    txt_mode: Literal["file", "paragraphs"] = "file"  # .txt: one document per file or per blank-line block
    csv: CsvOptions = CsvOptions()
    normalization: Literal["NFC", "NFKC", "none"] = "NFC"  # Unicode normal form applied before hashing
    filters: LengthFilters = LengthFilters()
    max_record_bytes: int = Field(default=8 * 1024 * 1024, ge=1)  # larger records are quarantined

    @field_validator("text_field")
    @classmethod
    def _non_empty_text_field(cls, value: str | list[str]) -> str | list[str]:
        if not value:
            raise ValueError("must name at least one field")
        return value


class NearDedupConfig(_Section):
    """Lexical near-duplicates (docs/method.md, deduplication): MinHash LSH over word n-grams, every candidate
    pair confirmed by its exact Jaccard similarity."""

    # Defaults measured (benchmarks/dedup.py): word 2-grams at 0.7 remove >= 96% of planted copies with a few
    # percent of words edited, a boilerplate line or a trimmed ending, and no original; 5-grams at 0.8 remove 60%.
    threshold: float = Field(default=0.7, gt=0, le=1)  # exact Jaccard of the word n-gram sets at or above: duplicate
    ngram: int = Field(default=2, ge=1)  # words per shingle
    num_perm: int = Field(default=112, ge=2)  # MinHash permutations = bands x rows per band
    bands: int | None = Field(default=None, ge=1)  # LSH bands; null: chosen from the threshold (99% of pairs at it)
    seed: int = 0

    @model_validator(mode="after")
    def _bands_divide_permutations(self) -> NearDedupConfig:
        if self.bands is not None and self.num_perm % self.bands:
            raise ValueError(f"num_perm ({self.num_perm}) must be a multiple of bands ({self.bands})")
        return self


class ContaminationConfig(_Section):
    """Target decontamination (docs/method.md, decontamination): a training document is removed from ClimbLab when
    it holds at least `threshold` of the distinct word n-grams of some `window`-word window of a target document."""

    ngram: int = Field(default=8, ge=1)  # words per n-gram (a changed word breaks 8 of them, not 13 as in GPT-3's)
    window: int = Field(default=50, ge=1)  # words per target window (stride: half); a shorter document is one window
    threshold: float = Field(default=0.5, gt=0, le=1)  # share of a window's n-grams found in the training document
    boilerplate_documents: int | None = Field(default=2, ge=2)  # n-grams in this many target documents are ignored


class SemanticDedupConfig(_Section):
    """Semantic duplicates (SemDeDup) inside each fine cluster, on the stored embeddings (docs/method.md)."""

    eps: float = Field(default=0.05, gt=0, lt=1)  # a pair with cosine > 1 - eps is a duplicate
    keep: Literal["centroid", "rating"] = "centroid"  # which of a group stays: nearest the centroid | best rated


class DedupConfig(_Section):
    near: NearDedupConfig | None = NearDedupConfig()  # null: exact duplicates only
    contamination: ContaminationConfig | None = ContaminationConfig()  # null: training text may overlap the target
    semantic: SemanticDedupConfig | None = None  # off by default: {eps: 0.05, keep: centroid} turns it on


class EmbeddingConfig(_Section):
    """The document embedder (paper: stella_en_400M_v5, 1024-d, 512 tokens; default: bundled MiniLM, 384-d)."""

    model: str = "all-MiniLM-L6-v2"  # the bundled offline copy, a local folder, or a hub name
    max_length: int | None = Field(default=None, ge=8)  # tokens; null: 512 on GPU, 256 on CPU
    batch_size: int = Field(default=64, ge=1)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    dtype: Literal["auto", "float32", "float16", "bfloat16"] = "auto"  # auto: bf16/fp16 on GPU, fp32 on CPU
    trust_remote_code: bool = False  # stella_en_400M_v5 needs true; never implied
    threads: int | None = Field(default=None, ge=1)  # CPU threads; null: every available CPU


class FastTextRaterConfig(_Section):
    fasttext: str  # a supervised fastText model file
    label_scores: dict[str, float]  # score in [0, 5] of each label; a document scores the expected value


class TrainedRaterConfig(_Section):
    trained: str  # labelled file (JSONL, CSV or Parquet) with a text and a 0-5 score per row
    text_field: str = "text"
    score_field: str = "score"
    folds: int = Field(default=5, ge=2)  # cross-validation folds reported in the metadata
    seed: int = 0


class HfClassifierRaterConfig(_Section):
    """A pretrained Hugging Face sequence classifier: a regression head, or labels mapped to scores."""

    hf_classifier: str  # a local model folder (relative to this file), or a hub name where there is a network
    label_scores: dict[str, Annotated[float, Field(ge=0, le=5)]] | None = Field(default=None, min_length=1)  # by label
    regression: bool = False  # true: one logit that is the score (FineWeb-Edu style); else label_scores
    batch_size: int = Field(default=32, ge=1)  # texts per forward pass
    max_length: int | None = Field(default=None, ge=2)  # tokens; null: the model's maximum
    device: Literal["auto", "cpu", "cuda"] = "auto"
    dtype: Literal["auto", "float32", "float16", "bfloat16"] = "auto"  # auto: bf16/fp16 on GPU (climb.core.device)
    threads: int | None = Field(default=None, ge=1)  # CPU threads; null: every available CPU

    @model_validator(mode="after")
    def _one_head(self) -> HfClassifierRaterConfig:
        if self.regression == (self.label_scores is not None):
            raise ValueError("give label_scores (a classification head) or regression: true (a one-logit head), "
                             "exactly one of the two")
        return self


RaterName = Literal["quality", "educational_value", "informational_value", "advertisement"]
RATER_FORMS = ("'heuristic', {fasttext: FILE, label_scores: {...}}, {trained: FILE, ...} or "
               "{hf_classifier: MODEL, label_scores: {...} | regression: true}")


def _rater_form(value: Any) -> str | None:
    if isinstance(value, str):
        return "heuristic"
    if isinstance(value, dict):
        return next((form for form in ("fasttext", "trained", "hf_classifier") if form in value), None)
    return None


RaterChoice = Annotated[
    Annotated[Literal["heuristic"], Tag("heuristic")]
    | Annotated[FastTextRaterConfig, Tag("fasttext")]
    | Annotated[TrainedRaterConfig, Tag("trained")]
    | Annotated[HfClassifierRaterConfig, Tag("hf_classifier")],
    Discriminator(_rater_form),
]


class QualityConfig(_Section):
    """The paper's four raters on its 0-5 scale; a rater not listed is the built-in heuristic."""

    raters: dict[RaterName, RaterChoice] = {}


class ReclusterConfig(_Section):
    """When `recluster_sensor` asks for new centroids (and everything downstream)."""

    new_document_share: float | None = Field(default=0.2, gt=0)  # documents added since the last fit / fitted
    distance_drift: float | None = Field(default=0.1, gt=0)  # relative rise of mean distance to nearest centroid
    minimum_interval_seconds: int = Field(default=3600, ge=0)  # between two re-clusterings


class ClusteringConfig(_Section):
    """K-means, pruning and merging (paper steps 2-4)."""

    k_init: int = Field(default=1000, ge=1)  # paper: 1000; reduced (with a warning) on small corpora
    iterations: int = Field(default=20, ge=1)
    sample_per_centroid: int = Field(default=256, ge=1)  # K-means is fitted on at most k_init * this vectors
    seed: int = 0
    prune: Literal["paper", "reference", "none"] | dict[RaterName, float] = "reference"  # see climb/semantic/pruning.py
    merge_threshold: float | None = Field(default=1.5, gt=0)  # Ward distance on unit centroids (paper: 1.5)
    target_super_clusters: int | None = Field(default=None, ge=1)  # overrides merge_threshold
    max_token_share: float | None = Field(default=0.5, gt=0, le=1)  # collapse guard per super-cluster
    use_gpu: Literal["auto", "never", "always"] = "auto"  # faiss GPU index when its GPU build and CUDA are present
    recluster: ReclusterConfig = ReclusterConfig()


class TokenizerConfig(_Section):
    """The tokenizer of ClimbLab's token stores and the proxy models: trained BPE, or the user's own."""

    train_vocab_size: int | None = Field(default=8192, ge=256)  # byte-level BPE trained on a corpus sample
    path: str | None = None  # or a tokenizer folder / hub name (overrides training)
    sample_documents: int = Field(default=20000, ge=1)  # documents the BPE is trained on
    min_frequency: int = Field(default=2, ge=1)


class SearchConfig(_Section):
    """Iterative mixture search (paper step 6): rounds of proxy runs with a predictor in between."""

    rounds: list[int] = Field(default=[64, 32, 16], min_length=1)  # proxy runs per round (paper: 64/32/16)
    pool_size: int = Field(default=100_000, ge=10)  # mixtures ranked by the predictor in later rounds
    top_n: int | None = Field(default=None, ge=1)  # later rounds pick at random among the top_n of the pool
    seed: int = 0
    max_epochs: float = Field(default=4.0, gt=0)  # a proxy run may repeat a cluster's tokens at most this often
    temperature: float = Field(default=0.5, gt=0)  # Dirichlet prior = token share ** temperature (paper: 0.5)
    workers: int | None = Field(default=None, ge=1)  # proxy runs trained in parallel; null: one per CPU
    baselines: list[Literal["uniform", "token_proportional", "best_of_n", "regmix"]] = [
        "uniform", "token_proportional", "best_of_n", "regmix"]
    # Round 1: coverage (the prior, then dense draws filling the simplex in log-weight space) | dirichlet (paper)
    first_round: Literal["coverage", "dirichlet"] = "coverage"
    # Later rounds, after the predicted optimum: thompson (optima of bootstrap refits) | ucb (picks among the top by
    # mean + exploration * std) | mean (paper: top-N by prediction alone)
    acquisition: Literal["thompson", "ucb", "mean"] = "ucb"
    exploration: float = Field(default=1.0, ge=0)  # ucb's kappa, in standard deviations of the predicted score
    # The answer: argmax (paper) | topk_mean (RegMix) | regularised (predicted - kl_weight * KL(w || prior)) |
    # verified (final_verify_runs proxies on the search split choose among the finalists and the best run)
    final: Literal["argmax", "topk_mean", "regularised", "verified"] = "verified"
    final_top_k: int = Field(default=100, ge=1)  # topk_mean: mixtures of the pool averaged (RegMix: 100)
    final_kl_weight: float = Field(default=0.05, ge=0)  # regularised: lambda, in score units (Olmix: 0.05-0.1)
    final_verify_runs: int = Field(default=3, ge=1)  # verified: finalists trained, counted in the search's budget
    verify_seeds: int = Field(default=1, ge=1)  # proxy seeds each method's answer is verified with (mean reported)


class ProxyConfigSection(_Section):
    """The proxy language models (paper: 62M and 350M, continued from pre-trained checkpoints)."""

    preset: Literal["tiny", "62m", "350m"] = "tiny"  # tiny: CPU tests and the demo, well under 1M parameters
    tokens: int = Field(default=100_000, ge=1)  # training tokens per proxy run
    sequence_length: int = Field(default=256, ge=8)
    batch_size: int = Field(default=16, ge=1)
    learning_rate: float | None = Field(default=None, gt=0)  # null: the preset's default
    init_from: str | None = None  # a Hugging Face causal-LM checkpoint to continue from
    device: Literal["auto", "cpu", "cuda"] = "auto"
    precision: Literal["auto", "float32", "bfloat16"] = "auto"  # auto: bf16 autocast on CUDA, float32 on CPU
    seed: int = 0
    # Trained proxies kept as Hugging Face checkpoints (climb.search.saved_proxies): verification = those that
    # verify optimal_mixture and its baselines; all = every proxy run too; none = only the scores are kept.
    save: Literal["none", "verification", "all"] = "verification"


class BenchmarkTarget(_Section):
    name: str
    path: str  # file, folder or glob
    format: Literal["piqa", "arc", "hellaswag", "winogrande", "mosaic", "mmlu"]
    metric: Literal["acc", "acc_norm"] = "acc_norm"
    weight: float = Field(default=1.0, gt=0)
    limit: int | None = Field(default=None, ge=1)  # items used (a seeded sample), for speed


class TargetConfig(_Section):
    """What the search maximises: loss on target text, benchmark accuracy, or a weighted mix of both."""

    text: list[str] = []  # globs of target text files (any corpus format); scored by -loss
    text_field: str = "text"
    text_weight: float = Field(default=1.0, gt=0)
    benchmarks: list[BenchmarkTarget] = []
    holdout_fraction: float = Field(default=0.3, gt=0, lt=1)  # kept apart from the search, for verification
    max_windows: int = Field(default=256, ge=1)  # target text windows scored per proxy (per split)
    seed: int = 0


class ExportConfig(_Section):
    """ClimbMix export (`climbmix` asset, `climb export`): the optimal mixture sampled to a token budget."""

    tokens: int = Field(default=1_000_000, ge=1)  # total tokens of the export (whole documents)
    formats: list[Literal["parquet", "jsonl", "megatron"]] = ["parquet", "jsonl", "megatron"]
    seed: int = 0
    max_epochs: float = Field(default=4.0, gt=0)  # a cluster short of tokens repeats at most this often
    documents_per_file: int = Field(default=100_000, ge=1)
    # Ids of the tokenized JSONL and Megatron files: a Hugging Face tokenizer folder (relative to this file) or
    # hub name (AutoTokenizer); null: ClimbLab's own tokenizer and its stored ids. Sampling counts ClimbLab tokens.
    tokenizer: str | None = Field(default=None, min_length=1)
    license: str | None = Field(default=None, min_length=1)  # the card's Hub license id (cc-by-4.0, ...); null: none
    language: list[str] = Field(default=["en"], min_length=1)  # ISO 639-1 codes of the texts, for the card


class GpuPodConfig(_Section):
    """Kubernetes resources of the GPU steps: embeddings, centroids, proxy_runs and optimal_mixture (which
    trains the verification proxies)."""

    gpus: int = Field(default=1, ge=0)
    cpu: str = "8"
    memory: str = "32Gi"
    node_selector: dict[str, str] = {"nvidia.com/gpu.present": "true"}
    tolerations: list[dict[str, str]] = [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]


class DeploymentConfig(_Section):
    """Where steps run: in one process, in local processes, or one Kubernetes pod per step."""

    executor: Literal["auto", "in_process", "multiprocess", "k8s"] = "auto"  # $CLIMB_EXECUTOR, else multiprocess from 8 CPUs
    max_concurrent: int | None = Field(default=None, ge=1)  # multiprocess: parallel steps (null: one per CPU)
    gpu_pod: GpuPodConfig = GpuPodConfig()
    cpu_pod: dict[str, str] = {"cpu": "2", "memory": "8Gi"}  # requests = limits of the other step pods
