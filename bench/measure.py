"""What the edge capacity benchmark measures with: the process's CPU time and peak memory, each
camera's window of analysed samples and lags after the warm-up, and the figures summed over
cameras (bench/edge_capacity.py)."""

from __future__ import annotations

import os
import resource
import statistics
import threading
import time
from collections import deque
from pathlib import Path


def start_staggered(threads: list[threading.Thread], sample_fps: float) -> None:
    """Start the cameras spread over one sample interval: real cameras are not in step, and
    N copies of one clip started at once would all want their samples in the same instant."""
    for thread in threads:
        thread.start()
        time.sleep(1.0 / sample_fps / len(threads))


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def thread_cpu() -> dict[str, float]:
    """CPU seconds of this process's threads so far, summed by the first word of their Python
    names (``camera``, ``inference``, ...; the main thread is ``main``, unnamed Python threads
    ``other``, threads of the libraries' own pools ``native``). Read from ``/proc``: empty where
    there is none."""
    plain = {"MainThread": "main", "Thread": "other"}
    names = {t.native_id: plain.get(t.name.split("-")[0], t.name.split("-")[0]) for t in threading.enumerate()}
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[str, float] = {}
    for task in Path("/proc/self/task").glob("*"):
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the thread ended meanwhile
        kind = names.get(int(task.name), "native")
        out[kind] = out.get(kind, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return out


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Window:
    """Analysed frames and lags of one camera after the warm-up."""

    def __init__(self, opens_at: float) -> None:
        self.opens_at = opens_at
        self.count = 0
        self.held = 0  # samples the pipeline's scene guard kept from the model, after the warm-up
        self.lags: deque[float] = deque(maxlen=100_000)

    def record(self, done: float, due: float) -> None:
        if done >= self.opens_at:
            self.count += 1
            self.lags.append(done - due)

    def hold(self, done: float) -> None:
        if done >= self.opens_at:
            self.held += 1


def handled(min_rate: float, p99_lag: float, sample_fps: float) -> bool:
    """A run whose slowest camera got at least 85 % of its sample rate (a window holds a whole
    number of samples, and a "2 s" GOP may be 2.002 s) with the p99 lag under 1 s."""
    return min_rate >= 0.85 * sample_fps and p99_lag < 1.0


def summarise(windows: list[Window], seconds: float, sample_fps: float, cpu: float, wall: float) -> dict:
    lags = sorted(lag for w in windows for lag in w.lags)
    rates = [w.count / seconds for w in windows]
    p99 = lags[min(len(lags) - 1, int(0.99 * len(lags)))] if lags else float("inf")
    return {
        "fps": sum(rates), "min_rate": min(rates), "mean_lag": statistics.fmean(lags) if lags else float("inf"),
        "p99_lag": p99, "cpu": cpu / wall, "peak_mb": peak_mb(), "held": sum(w.held for w in windows),
        "handled": handled(min(rates), p99, sample_fps),
    }


def held_note(row: dict) -> str:
    return f" ({row['held']} samples held back by the scene guard)" if row.get("held") else ""
