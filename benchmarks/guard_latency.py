"""What the grounding guard adds to the time to the first token a user sees.

The real pipeline answers questions of a golden set on a real index, with an LLM stand-in of
known speed in place of the model (as in ``benchmarks/web_load.py``: the first token
``--first-ms`` after the call, then ``--rate`` tokens per second). The stand-in "writes" a
supported answer: the extractive answer's sentences for the same question, split into word
tokens, so the guard shows it (a guard that dropped everything would fall back and measure
something else). Each question runs twice, in the same process and order:

- **baseline**: the guard replaced by a pass-through (tokens shown as they arrive);
- **guard**: the pipeline as shipped (a unit is shown once it is complete and checked).

It prints, for the baseline, when the first token was shown and when the first *sentence* was
complete in the stream; for the guard, when the first token was shown. The guard shows whole
checked sentences (a customer never sees one appear and vanish), so its first token can come no
earlier than the first sentence's end: what the guard adds is measured from there (the target,
``added p95 <= 150 ms``: checking costs well under a millisecond, so anything more is waiting
the guard should not do). The wait for the first sentence itself is printed too: it is the
price of sentence-by-sentence streaming, set by the model's speed and its first sentence's length.
The checking alone is the CPU time of ``check_unit`` per unit.

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


def first_token_ms(pipeline: Any, request: Any) -> tuple[float, float, Any]:
    """Milliseconds from the sources event (retrieval done) to the first token shown and to the first
    complete sentence shown, and the done event."""
    from assistant.grounding import ends_unit, split_units

    started = time.perf_counter()
    first = sentence = None
    done = None
    shown = ""
    for event in pipeline.stream(request):
        if event.type == "sources":  # from here: retrieval's own variance stays out of the comparison
            started = time.perf_counter()
        if event.type == "token":
            now = (time.perf_counter() - started) * 1000
            first = now if first is None else first
            shown += event.text
            units = split_units(shown)
            if sentence is None and units and (len(units) > 1 or ends_unit(units[0])):
                sentence = now
        if event.type == "done":
            done = event
    return first or 0.0, sentence or first or 0.0, done


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
    sentence: list[float] = []
    guarded: list[float] = []
    fell_back = 0
    for case in cases:
        found = retriever.search(case.question, audience=case.audience)
        model.reply = extractive_answer(case.question, found.passages, intro="INTRO",
                                        encode=embedder.encode).removeprefix("INTRO").lstrip()
        request = AnswerRequest(question=case.question, audience=case.audience, channel="eval")
        pipeline_module._Run._grounding_guard = lambda self, *a: PassThrough()  # type: ignore[method-assign,assignment]
        ms, first_sentence, _ = first_token_ms(pipeline, request)
        baseline.append(ms)
        sentence.append(first_sentence)
        pipeline_module._Run._grounding_guard = original  # type: ignore[method-assign]
        grounding.check_unit = timed_check
        ms, _, done = first_token_ms(pipeline, request)
        grounding.check_unit = real_check
        guarded.append(ms)
        fell_back += bool(done is not None and done.grounding.fell_back)
    added = [g - b for g, b in zip(guarded, sentence, strict=True)]
    wait = [s - b for s, b in zip(sentence, baseline, strict=True)]
    print(f"{len(cases)} questions; stand-in: first token after {args.first_ms:.0f} ms, {args.rate:.0f} tokens/s")
    print(f"baseline (no guard), first token shown:    p50 {pct(baseline, .5):.0f} ms  p95 {pct(baseline, .95):.0f} ms")
    print(f"baseline (no guard), first sentence ended: p50 {pct(sentence, .5):.0f} ms  p95 {pct(sentence, .95):.0f} ms")
    print(f"with the guard, first token shown:         p50 {pct(guarded, .5):.0f} ms  p95 {pct(guarded, .95):.0f} ms")
    print(f"added by the guard (after the sentence ended): p50 {pct(added, .5):.0f} ms  p95 {pct(added, .95):.0f} ms "
          f"(target p95 <= 150 ms)")
    print(f"sentence-by-sentence wait (first token to first sentence end, no guard): p50 {pct(wait, .5):.0f} ms  "
          f"p95 {pct(wait, .95):.0f} ms")
    if checks:
        print(f"checking one unit (CPU): mean {statistics.mean(checks):.2f} ms  p95 {pct(checks, .95):.2f} ms "
              f"over {len(checks)} units; answers that fell back: {fell_back}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
