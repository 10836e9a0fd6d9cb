"""The one place that turns settings into concrete parts (embedding model, index, LLM, pipeline).

Everything else takes its parts as arguments, so tests build the same objects from fakes or
small real parts. Builders are cheap to call; heavy objects (models) load lazily on first use.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from assistant.config import Settings
from assistant.embeddings import Embedder
from assistant.index import IndexHandle
from assistant.store import Store
from assistant.workers import WorkerPool

if TYPE_CHECKING:
    from langchain_core.language_models.chat_models import BaseChatModel

    from assistant.pipeline import AnswerPipeline
    from assistant.protocols import Retriever
    from assistant.retrieval import HybridRetriever


def build_embedder(settings: Settings) -> Embedder:
    return Embedder(settings.embedding.model, device=settings.embedding.device,
                    batch_size=settings.embedding.batch_size, threads=settings.embedding.threads)


def build_index_handle(settings: Settings, embedder: Embedder | None = None) -> IndexHandle:
    """Follows the published generation; refuses one built with another embedding model."""
    embedder = embedder or build_embedder(settings)
    return IndexHandle(settings.data_dir, model_id=embedder.model_id, device=settings.index.device)


def build_worker_pool(settings: Settings) -> WorkerPool:
    """The process's bounded pool for answer work (``ASSISTANT_WEB_WORKERS``, ``ASSISTANT_WEB_QUEUE``)."""
    return WorkerPool(settings.web.workers, queue=settings.web.queue)


def build_store(settings: Settings) -> Store:
    """SQLite in the data directory, or the database ``ASSISTANT_STORE_URL`` names (Postgres for replicas)."""
    from assistant.store_postgres import open_store

    return open_store(settings.store_url, settings.store_path)


def build_retriever(settings: Settings, *, embedder: Embedder | None = None,
                    index: IndexHandle | None = None) -> HybridRetriever:
    """Hybrid retriever over the published generation, with the reranker when one is configured."""
    from assistant.rerank import CrossEncoderReranker
    from assistant.retrieval import HybridRetriever

    embedder = embedder or build_embedder(settings)
    index = index or build_index_handle(settings, embedder)
    model = settings.retrieval.reranker_model
    reranker = CrossEncoderReranker(model, device=settings.embedding.device) if model else None
    return HybridRetriever(index, embedder, settings.retrieval, reranker=reranker,
                           own_names=(settings.brand.product_name, settings.brand.company_name))


def build_llm(settings: Settings, backend: str | None = None) -> BaseChatModel | None:
    """The chat model for ``backend`` (default: ``settings.llm.backend``); ``None`` for extractive.

    Nothing connects or loads here: remote backends connect per request, the local model loads
    on its first generation.
    """
    from assistant.llm import check_backend

    name = check_backend(backend or settings.llm.backend)
    llm = settings.llm
    if name == "tgi":
        from assistant.llm.tgi import TGIChatModel

        token = settings.tgi.token.get_secret_value() if settings.tgi.token else None
        return TGIChatModel(url=settings.tgi.url, api=settings.tgi.api, token=token, timeout_s=llm.timeout_s,
                            chat_template=settings.tgi.chat_template, max_new_tokens=llm.max_new_tokens,
                            temperature=llm.temperature, max_retries=llm.max_retries)
    if name == "openai":
        from assistant.llm.openai_compat import OpenAICompatibleChatModel

        return OpenAICompatibleChatModel(
            base_url=settings.openai.base_url, api_key=settings.openai.api_key.get_secret_value() or None,
            model_name=settings.openai.model, timeout_s=llm.timeout_s, max_new_tokens=llm.max_new_tokens,
            temperature=llm.temperature, max_retries=llm.max_retries,
        )
    if name == "local":
        from assistant.llm.local import LocalChatModel

        return LocalChatModel(model_path=settings.local.model_path, n_ctx=settings.local.n_ctx,
                              threads=settings.local.threads, repeat_penalty=settings.local.repeat_penalty,
                              max_new_tokens=llm.max_new_tokens,
                              temperature=llm.temperature, max_retries=0)
    return None


def build_pipeline(settings: Settings, *, store: Store | None = None, backend: str | None = None,
                   retriever: Retriever | None = None) -> AnswerPipeline:
    """The answer pipeline; prompts are loaded and validated here, so a bad prompt fails at start.

    ``backend`` overrides ``settings.llm.backend`` as the default; requests may still name
    another. Chat models are built on first use per backend and reused.
    """

    from assistant.pipeline import AnswerPipeline
    from assistant.prompts import load_prompts

    prompts = load_prompts(settings.llm.prompts_dir)

    @functools.cache
    def llm_for(name: str) -> BaseChatModel | None:
        return build_llm(settings, name)

    return AnswerPipeline(retriever=retriever or build_retriever(settings), prompts=prompts, llm_provider=llm_for,
                          settings=settings, store=store, backend=backend, pool=build_worker_pool(settings))
