"""A small real HTTP server that speaks TGI's API, checked against TGI's own OpenAPI document.

It serves ``/v1/chat/completions`` (streaming and not), ``/generate_stream``, ``/generate``,
``/info`` and ``/health`` on 127.0.0.1 with a free port. Like TGI it answers 422 to a request
body that does not match the contract, and it records every request it received and every
payload it sent, so tests can validate both sides with :func:`validate`. ``behaviour`` scripts
the failures a real deployment shows: validation errors, overload, slowness, a stream that
stalls, and a connection dropped mid-stream.

The contract is vendored in ``tests/contracts/tgi-openapi.json`` (a copy of
``shared/contracts/tgi-openapi.json``; a test checks they match when the shared copy exists).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from aiohttp import web
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

CONTRACT = Path(__file__).resolve().parents[1] / "contracts" / "tgi-openapi.json"
SHARED_CONTRACT = Path(__file__).resolve().parents[3] / "shared" / "contracts" / "tgi-openapi.json"
MODEL_ID = "HuggingFaceTB/SmolLM2-1.7B-Instruct"
_URN = "urn:tgi-openapi"


# --------------------------------------------------------------------------- contract


def _to_json_schema(node: Any) -> Any:
    """OpenAPI 3.0 schema → JSON Schema: ``nullable: true`` becomes "or null"; annotations go."""
    if isinstance(node, list):
        return [_to_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _to_json_schema(v) for k, v in node.items() if k not in ("nullable", "example", "discriminator")}
    return {"anyOf": [out, {"type": "null"}]} if node.get("nullable") else out


@cache
def _registry() -> Registry:
    document = _to_json_schema(json.loads(CONTRACT.read_text(encoding="utf-8")))
    return Registry().with_resource(_URN, Resource.from_contents(document, default_specification=DRAFT202012))


def schema_errors(schema: str, instance: Any) -> list[str]:
    validator = Draft202012Validator({"$ref": f"{_URN}#/components/schemas/{schema}"}, registry=_registry())
    return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in validator.iter_errors(instance)]


def validate(schema: str, instance: Any) -> None:
    """Raise AssertionError listing every way ``instance`` breaks the contract's ``schema``."""
    errors = schema_errors(schema, instance)
    assert not errors, f"{schema} violates the TGI contract: {errors}\n{json.dumps(instance)[:800]}"


# --------------------------------------------------------------------------- server


@dataclass
class Behaviour:
    """What the server does with the next requests."""

    tokens: list[str] = field(default_factory=lambda: ["Refunds", " take", " five", " days", " [1]", "."])
    mode: str = "ok"  # ok | reject | overloaded | slow | drop | stall
    times: int = 10**9  # how many requests the mode applies to; "ok" after that
    after_tokens: int = 2  # drop/stall: tokens sent first
    delay_s: float = 3.0  # slow/stall: how long it waits


@dataclass
class Exchange:
    path: str
    body: Any
    headers: dict[str, str]
    mode: str = "ok"  # the scripted behaviour this request got
    sent: list[tuple[str, Any]] = field(default_factory=list)  # (schema name, payload) in send order


class TGIServer:
    """Run with ``with TGIServer() as server: ... server.url``."""

    def __init__(self) -> None:
        self.behaviour = Behaviour()
        self.exchanges: list[Exchange] = []
        self._faulty_left = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="tgi-server", daemon=True)
        self._runner: web.AppRunner | None = None
        self.url = ""

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> TGIServer:
        self._thread.start()
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/generate_stream", self._generate_stream)
        app.router.add_post("/generate", self._generate)
        app.router.add_get("/info", self._info)
        app.router.add_get("/health", self._health)
        self._runner = web.AppRunner(app, shutdown_timeout=0.2, access_log=None)
        asyncio.run_coroutine_threadsafe(self._runner.setup(), self._loop).result(5)
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        asyncio.run_coroutine_threadsafe(site.start(), self._loop).result(5)
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    async def _shutdown(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        # Handlers still sleeping (slow/stall scripts) are cancelled, not left pending.
        pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    def script(self, **kwargs: Any) -> None:
        self.behaviour = Behaviour(**kwargs)
        self._faulty_left = self.behaviour.times

    def requests_to(self, path: str) -> list[Exchange]:
        return [e for e in self.exchanges if e.path == path]

    # ------------------------------------------------------------------ routes

    async def _info(self, request: web.Request) -> web.Response:
        info = {"model_id": MODEL_ID, "model_sha": None, "model_pipeline_tag": "text-generation",
                "max_concurrent_requests": 128, "max_best_of": 2, "max_stop_sequences": 4,
                "max_input_tokens": 4095, "max_total_tokens": 4096, "validation_workers": 2,
                "max_client_batch_size": 4, "router": "text-generation-router", "version": "3.3.6-dev0",
                "sha": None, "docker_label": None}
        return self._json(self._record(request, None), "Info", info)

    async def _health(self, request: web.Request) -> web.Response:
        self._record(request, None)
        return web.Response(status=200)

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        exchange = self._record(request, body)
        failure = await self._precheck(exchange, "ChatRequest", body)
        if failure is not None:
            return failure
        tokens = self._tokens_for(body.get("max_tokens"))
        created = int(time.time())

        def chunk(content: str, finish: str | None, usage: dict[str, int] | None = None,
                  choices: bool = True) -> dict[str, Any]:
            choice = {"index": 0, "delta": {"role": "assistant", "content": content}, "logprobs": None,
                      "finish_reason": finish}
            return {"object": "chat.completion.chunk", "id": "", "created": created, "model": MODEL_ID,
                    "system_fingerprint": "3.3.6-dev0-native", "choices": [choice] if choices else [],
                    "usage": usage}

        usage = {"prompt_tokens": 42, "completion_tokens": len(tokens), "total_tokens": 42 + len(tokens)}
        if not body.get("stream"):
            completion = {"object": "chat.completion", "id": "", "created": created, "model": MODEL_ID,
                          "system_fingerprint": "3.3.6-dev0-native", "usage": usage,
                          "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                                       "message": {"role": "assistant", "content": "".join(tokens)}}]}
            return self._json(exchange, "ChatCompletion", completion)
        events = [chunk(t, None) for t in tokens[:-1]] + [chunk(tokens[-1], "stop")]
        if (body.get("stream_options") or {}).get("include_usage"):
            events.append(chunk("", None, usage, choices=False))
        return await self._sse(request, exchange, "ChatCompletionChunk", events, done_marker=True)

    async def _generate_stream(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        exchange = self._record(request, body)
        failure = await self._precheck(exchange, "GenerateRequest", body)
        if failure is not None:
            return failure
        tokens = self._tokens_for((body.get("parameters") or {}).get("max_new_tokens"))
        events: list[dict[str, Any]] = []
        for i, text in enumerate(tokens):
            events.append({"index": i, "token": {"id": 100 + i, "text": text, "logprob": -0.5, "special": False},
                           "generated_text": None, "details": None})
        # TGI ends with the end-of-sequence token: special, not part of the answer.
        events.append({"index": len(tokens), "token": {"id": 2, "text": "<|im_end|>", "logprob": -0.1,
                                                       "special": True},
                       "generated_text": "".join(tokens),
                       "details": {"finish_reason": "eos_token", "generated_tokens": len(tokens) + 1,
                                   "input_length": 42, "seed": None}})
        return await self._sse(request, exchange, "StreamResponse", events, done_marker=False)

    async def _generate(self, request: web.Request) -> web.Response:
        body = await request.json()
        exchange = self._record(request, body)
        failure = await self._precheck(exchange, "GenerateRequest", body)
        if failure is not None:
            return failure
        return self._json(exchange, "GenerateResponse", {"generated_text": "".join(self.behaviour.tokens)})

    # ------------------------------------------------------------------ helpers

    def _record(self, request: web.Request, body: Any) -> Exchange:
        exchange = Exchange(request.path, body, {k.lower(): v for k, v in request.headers.items()})
        self.exchanges.append(exchange)
        return exchange

    def _faulty(self) -> str:
        if self._faulty_left <= 0:
            return "ok"
        self._faulty_left -= 1
        return self.behaviour.mode

    async def _precheck(self, exchange: Exchange, schema: str, body: Any) -> web.StreamResponse | None:
        errors = schema_errors(schema, body)
        if errors:  # TGI answers a body that breaks its contract with 422
            return self._json(exchange, "ErrorResponse",
                              {"error": f"Input validation error: {errors[0]}", "error_type": "validation"}, 422)
        mode = self._faulty()
        exchange.mode = mode
        if mode == "reject":
            return self._json(exchange, "ErrorResponse", {"error": "Input validation error: `inputs` tokens + "
                              "`max_new_tokens` must be <= 4096", "error_type": "validation"}, 422)
        if mode == "overloaded":
            return self._json(exchange, "ErrorResponse", {"error": "Model is overloaded",
                                                          "error_type": "overloaded"}, 429)
        if mode == "slow":
            await asyncio.sleep(self.behaviour.delay_s)
        return None

    def _tokens_for(self, limit: int | None) -> list[str]:
        tokens = self.behaviour.tokens
        return tokens[:limit] if limit else tokens

    def _json(self, exchange: Exchange | None, schema: str, payload: Any, status: int = 200) -> web.Response:
        if exchange is not None:
            exchange.sent.append((schema, payload))
        return web.json_response(payload, status=status)

    async def _sse(self, request: web.Request, exchange: Exchange, schema: str, events: list[dict[str, Any]],
                   *, done_marker: bool) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await response.prepare(request)
        mode = exchange.mode
        for i, event in enumerate(events):
            if mode in ("drop", "stall") and i == self.behaviour.after_tokens:
                if mode == "stall":
                    await asyncio.sleep(self.behaviour.delay_s)
                # Drop the TCP connection mid-body: the client sees an incomplete chunked response.
                assert request.transport is not None
                request.transport.abort()
                return response
            exchange.sent.append((schema, event))
            await response.write(f"data: {json.dumps(event)}\n\n".encode())
            await asyncio.sleep(0)
        if done_marker:
            await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response
