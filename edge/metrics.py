"""The edge's Prometheus metrics, on a registry of its own, served at ``/metrics``, and its
health at ``/healthz`` on the same port (200 or 503 with the problems, for Docker's and
Kubernetes' probes)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer

Health = Callable[[], dict[str, Any]]  # {"status": "ok" | "unavailable", "problems": [...], ...}


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # probes every few seconds: no log line each
        pass


class EdgeMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.frames_decoded = Counter("gridpatrol_edge_frames_decoded", "Frames decoded", ["camera"], registry=r)
        self.frames_analysed = Counter("gridpatrol_edge_frames_analysed", "Frames run through the detector",
                                       ["camera"], registry=r)
        self.lag = Gauge("gridpatrol_edge_lag_seconds", "Wall time from a frame's arrival to its decision",
                         ["camera"], registry=r)
        self.decode_errors = Counter("gridpatrol_edge_decode_errors", "Stream read or decode failures",
                                     ["camera"], registry=r)
        self.reconnects = Counter("gridpatrol_edge_reconnects", "Stream reopen attempts", ["camera"], registry=r)
        self.camera_online = Gauge("gridpatrol_edge_camera_online", "1 while the camera's stream is up",
                                   ["camera"], registry=r)
        self.inference = Histogram("gridpatrol_edge_inference_seconds", "Detector time per frame", registry=r,
                                   buckets=(0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0))
        self.batch_size = Histogram("gridpatrol_edge_inference_batch_size", "Frames per inference call",
                                    registry=r, buckets=(1, 2, 4, 8, 16, 32))
        self.events = Counter("gridpatrol_edge_events", "Violation events decided", ["camera", "state"], registry=r)
        self.published = Counter("gridpatrol_edge_published", "Messages the broker acknowledged", registry=r)
        self.outbox_depth = Gauge("gridpatrol_edge_outbox_depth", "Messages waiting in the outbox", registry=r)
        self.evidence_bytes = Gauge("gridpatrol_edge_evidence_bytes", "Evidence kept on disk (at the last pruning)",
                                    registry=r)
        self.evidence_pruned = Gauge("gridpatrol_edge_evidence_pruned_files",
                                     "Evidence images pruned since start (age, size, free space)", registry=r)

    def watch_outbox(self, depth: Callable[[], int]) -> None:
        self.outbox_depth.set_function(depth)

    def watch_evidence(self, totals: Callable[[], Any]) -> None:
        """``totals()`` gives the store's running ``Pruned`` figures."""
        self.evidence_bytes.set_function(lambda: totals().kept_bytes)
        self.evidence_pruned.set_function(lambda: totals().files)

    def serve(self, host: str, port: int, health: Health | None = None) -> WSGIServer:
        metrics = make_wsgi_app(self.registry)

        def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
            if environ.get("PATH_INFO") == "/healthz" and health is not None:
                said = health()
                body = json.dumps(said, ensure_ascii=False).encode()
                start_response("200 OK" if said["status"] == "ok" else "503 Service Unavailable",
                               [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
                return [body]
            return metrics(environ, start_response)

        server = make_server(host, port, app, ThreadingWSGIServer, handler_class=_Quiet)
        threading.Thread(target=server.serve_forever, name="edge-metrics", daemon=True).start()
        return server
