"""What the grounding guard adds to the time to the first token a user sees.

The real pipeline answers questions of a golden set on a real index, with an LLM stand-in of
known speed in place of the model (as in ``benchmarks/web_load.py``: the first token
``--first-ms`` after the call, then ``--rate`` tokens per second). The stand-in "writes" a
supported answer: the extractive answer's sentences for the same question, split into word
tokens, so the guard shows it (a guard that dropped everything would fall back and measure
something else). Each question runs twice, in the same process and order:

- **baseline**: the guard replaced by a pass-through (tokens shown as they arrive);
- **guard**: the pipeline as shipped (a unit is shown once it is complete and checked).

It prints time to first shown token p50/p95 for both, the difference (what the guard adds:
waiting for the first unit to end, plus the checking), and the checking alone (CPU time of
``check_unit`` per unit). The target is ``added p95 <= 150 ms`` with the stand-in's defaults.

    python benchmarks/guard_latency.py --data-dir var --dataset examples/eval/golden.jsonl
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def stand_in_model(first_ms: float, rate: float) -> Any:
    from langchain_core.language_models.chat_models import BaseChatModel, generate_from_stream
    from langchain_core.messages import AIMessageChunk
    from langchain_core.outputs import ChatGenerationChunk

    class StandIn(BaseChatModel):
        """Streams ``reply`` word by word at a fixed pace."""

        reply: str = ""

        @property
        def _llm_type(self) -> str:
            return "stand-in"

        def _generate(self, messages: Any, stop: Any = None, run_manager: Any = None, **kwargs: Any) -> Any:
            return generate_from_stream(self._stream(messages, stop, run_manager, **kwargs))

        def _stream(self, messages: Any, stop: Any = None, run_manager: Any = None,
                    **kwargs: Any) -> Iterator[ChatGenerationChunk]:
            time.sleep(first_ms / 1000)
            for i, token in enumerate(re.findall(r"\S+\s*", self.reply)):
                if i:
                    time.sleep(1 / rate)
                yield ChatGenerationChunk(message=AIMessageChunk(content=token))
            yield ChatGenerationChunk(message=AIMessageChunk(content="", response_metadata={"model_name": "stand-in"}))

    return StandIn()


def first_token_ms(pipeline: Any, request: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    first = None
    done = None
    for event in pipeline.stream(request):
        if event.type == "token" and first is None:
            first = (time.perf_counter() - started) * 1000
        if event.type == "done":
            done = event
    return first or 0.0, done


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    pos = (len(ordered) - 1) * p
    lo, hi = int(pos), min(int(pos) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--dataset", type=Path, default=ROOT / "examples" / "eval" / "golden.jsonl")
    parser.add_argument("--questions", type=int, default=20)
    parser.add_argument("--first-ms", type=float, default=300.0)
    parser.add_argument("--rate", type=float, default=40.0, help="stand-in tokens per second")
    args = parser.parse_args()

    from assistant import factory, grounding
    from assistant import pipeline as pipeline_module
    from assistant.config import Settings
    from assistant.evaluation import load_dataset
    from assistant.llm.extractive import extractive_answer
    from assistant.schemas import AnswerRequest

    settings = Settings(data_dir=args.data_dir)
    embedder = factory.build_embedder(settings)
    retriever = factory.build_retriever(settings, embedder=embedder)
    model = stand_in_model(args.first_ms, args.rate)
    pipeline = factory.build_pipeline(settings, backend="local", retriever=retriever)
    pipeline._llm_provider = lambda name: model  # the stand-in in place of the model
    cases = [c for c in load_dataset(args.dataset) if c.answerable][: args.questions]

    class PassThrough:
        def __init__(self) -> None:
            self.report = grounding.GroundingReport()

        def feed(self, text: str) -> str:
            return text

        def finish(self) -> str:
            return ""

    original = pipeline_module._Run._grounding_guard
    checks: list[float] = []
    real_check = grounding.check_unit

    def timed_check(*a: Any, **k: Any) -> Any:
        t0 = time.process_time()
        try:
            return real_check(*a, **k)
        finally:
            checks.append((time.process_time() - t0) * 1000)

    baseline: list[float] = []
    guarded: list[float] = []
    fell_back = 0
    for case in cases:
        found = retriever.search(case.question, audience=case.audience)
        model.reply = re.sub(r"^.*?\n\n", "", extractive_answer(case.question, found.passages, intro="",
                                                                    encode=embedder.encode), count=1)
        request = AnswerRequest(question=case.question, audience=case.audience, channel="eval")
        pipeline_module._Run._grounding_guard = lambda self, *a: PassThrough()  # type: ignore[method-assign,assignment]
        ms, _ = first_token_ms(pipeline, request)
        baseline.append(ms)
        pipeline_module._Run._grounding_guard = original  # type: ignore[method-assign]
        grounding.check_unit = timed_check
        ms, done = first_token_ms(pipeline, request)
        grounding.check_unit = real_check
        guarded.append(ms)
        fell_back += bool(done is not None and done.grounding.fell_back)
    added = [g - b for g, b in zip(guarded, baseline, strict=True)]
    print(f"{len(cases)} questions; stand-in: first token after {args.first_ms:.0f} ms, {args.rate:.0f} tokens/s")
    print(f"first token shown, baseline (no guard): p50 {pct(baseline, .5):.0f} ms  p95 {pct(baseline, .95):.0f} ms")
    print(f"first token shown, with the guard:      p50 {pct(guarded, .5):.0f} ms  p95 {pct(guarded, .95):.0f} ms")
    print(f"added by the guard:                     p50 {pct(added, .5):.0f} ms  p95 {pct(added, .95):.0f} ms "
          f"(target p95 <= 150 ms)")
    if checks:
        print(f"checking one unit (CPU): mean {statistics.mean(checks):.2f} ms  p95 {pct(checks, .95):.2f} ms "
              f"over {len(checks)} units; answers that fell back: {fell_back}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
