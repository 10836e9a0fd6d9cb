"""Prometheus metrics for one web app, in a registry of its own.

A per-app registry (not the global default) keeps two apps in one process — tests, or the
benchmark — from sharing counters or failing on duplicate names.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from assistant.schemas import DoneEvent

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class WebMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("assistant_web_requests", "HTTP requests answered",
                                ["route", "method", "status"], registry=r)
        self.request_seconds = Histogram("assistant_web_request_seconds",
                                         "Time from request to the end of the response (whole stream for SSE)",
                                         ["route"], buckets=_LATENCY_BUCKETS, registry=r)
        self.first_event_seconds = Histogram("assistant_web_first_event_seconds",
                                             "Time from a chat request to its first answer event",
                                             buckets=_LATENCY_BUCKETS, registry=r)
        self.stage_seconds = Histogram("assistant_answer_stage_seconds",
                                       "Answer pipeline time per stage (from the done event's timings)",
                                       ["stage"], buckets=_LATENCY_BUCKETS, registry=r)
        self.answers = Counter("assistant_answers", "Answers completed", ["mode"], registry=r)
        self.abstentions = Counter("assistant_abstentions", "Answers where the assistant abstained", registry=r)
        self.fallbacks = Counter("assistant_fallbacks", "Answers that fell back to the extractive backend",
                                 registry=r)
        self.answer_errors = Counter("assistant_answer_errors", "Answers that ended in an error event",
                                     ["code"], registry=r)
        self.feedback = Counter("assistant_feedback", "Feedback received", ["rating"], registry=r)
        self.handoffs = Counter("assistant_handoffs", "Hand-offs to a human", ["destination", "status"],
                                registry=r)
        self.busy = Counter("assistant_busy", "Answers refused because every worker was taken (503 busy)",
                            registry=r)
        self.rate_limited = Counter("assistant_rate_limited", "Requests refused by a rate limit or quota",
                                    ["scope"], registry=r)

    def observe_done(self, done: DoneEvent, *, mode: str) -> None:
        self.answers.labels(mode=mode).inc()
        if done.abstained:
            self.abstentions.inc()
        if done.fallback:
            self.fallbacks.inc()
        for stage, ms in done.timings_ms.items():
            self.stage_seconds.labels(stage=stage).observe(max(ms, 0.0) / 1000.0)

    def render(self) -> bytes:
        return generate_latest(self.registry)
