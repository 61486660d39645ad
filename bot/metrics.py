"""Prometheus metrics, served at ``GET /metrics``."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    """One registry per app instance, so tests and several apps in one process stay apart."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.webhooks = Counter(
            "sms_bridge_webhook_requests_total",
            "VoIPbin webhook deliveries by result",
            ["result"],
            registry=self.registry,
        )
        self.slack_requests = Counter(
            "sms_bridge_slack_requests_total",
            "Requests from Slack by result",
            ["result"],
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
            "Jobs waiting or running, by state",
            ["state"],
            registry=self.registry,
        )
        self.request_seconds = Histogram(
            "sms_bridge_request_seconds",
            "Time to answer an HTTP request, by route",
            ["route"],
            registry=self.registry,
        )
