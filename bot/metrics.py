"""Prometheus metrics, served at ``GET /metrics``."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
)
from prometheus_client.gc_collector import GCCollector

# Every counter and histogram had a `_created` twin, the Unix time it was made: a second series
# for each with no use in queries, and the one most often mistaken for the count.
disable_created_metrics()  # type: ignore[no-untyped-call]


def _version() -> str:
    try:
        return version("sms-bridge")
    except PackageNotFoundError:
        return "unknown"


LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)


class Metrics:
    """One registry per app instance, so tests and several apps in one process stay apart."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        # process_* (CPU, memory, open files), python_info and python_gc_*, as the default
        # registry would have them.
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        Info("sms_bridge_build", "The running sms-bridge's version", registry=self.registry).info(
            {"version": _version()}
        )
        self.sms = Counter(
            "sms_bridge_sms_total",
            "SMS by event: sent (VoIPbin accepted it), received, failed, refused",
            ["event", "reason"],
            registry=self.registry,
        )
        self.webhooks = Counter(
            "sms_bridge_webhook_requests_total",
            "VoIPbin webhook deliveries by result",
            ["result"],
            registry=self.registry,
        )
        self.slack_requests = Counter(
            "sms_bridge_slack_requests_total",
            "Requests from Slack by HTTP status",
            ["result"],
            registry=self.registry,
        )
        self.api_calls = Counter(
            "sms_bridge_api_calls_total",
            "Calls to Slack and VoIPbin by method and outcome (ok, rate_limited, unavailable, "
            "rejected)",
            ["api", "method", "outcome"],
            registry=self.registry,
        )
        self.jobs = Counter(
            "sms_bridge_jobs_total",
            "Jobs run, by kind and outcome",
            ["kind", "outcome"],
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "sms_bridge_job_queue_depth",
            "Jobs by state: pending (due, waiting to run), scheduled (not due yet: a later "
            "check, a retry's backoff), running, dead",
            ["state"],
            registry=self.registry,
        )
        self.queue_age = Gauge(
            "sms_bridge_job_oldest_pending_seconds",
            "Age of the oldest job waiting to run",
            registry=self.registry,
        )
        self.end_to_end = Histogram(
            "sms_bridge_end_to_end_seconds",
            "From accepting an SMS to its effect: inbound = webhook to Slack post, "
            "outbound = Slack request to VoIPbin accepting the send",
            ["direction"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.request_seconds = Histogram(
            "sms_bridge_request_seconds",
            "Time to answer an HTTP request, by route",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
