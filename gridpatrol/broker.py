"""An MQTT broker for one machine: Mosquitto when it is on PATH, else amqtt (pure Python)."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout_s: float = 10.0) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def mosquitto_path() -> str | None:
    return shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if Path(p).exists()), None
    )


class LocalBroker:
    """Start with :meth:`start`, stop with :meth:`stop`; ``url`` is its mqtt:// address."""

    def __init__(self, port: int | None = None, prefer: str = "mosquitto", persistence_dir: Path | None = None,
                 extra_conf: str = "") -> None:
        self.port = port or free_port()
        self.extra_conf = extra_conf  # more mosquitto.conf lines (password_file, acl_file, ...)
        self.prefer = prefer
        self.persistence_dir = persistence_dir
        self.kind = ""
        self._proc: subprocess.Popen[bytes] | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._amqtt_thread: threading.Thread | None = None
        self._amqtt_stop: threading.Event | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> LocalBroker:
        binary = mosquitto_path() if self.prefer == "mosquitto" else None
        if binary:
            self._start_mosquitto(binary)
        else:
            self._start_amqtt()
        if not wait_port(self.port):
            self.stop()
            raise RuntimeError(f"the {self.kind} broker did not start listening on port {self.port}")
        return self

    def _start_mosquitto(self, binary: str) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="gridpatrol-mosquitto-")
        data = self.persistence_dir or Path(self._tmp.name)
        data.mkdir(parents=True, exist_ok=True)
        conf = Path(self._tmp.name) / "mosquitto.conf"
        conf.write_text(
            # A loopback broker owned by this process runs as this process's user: started
            # as root, Mosquitto would otherwise drop to its own user and fail (quietly) to
            # save sessions and queued messages in our folders.
            f"user {pwd.getpwuid(os.geteuid()).pw_name}\n"
            f"listener {self.port} 127.0.0.1\n"
            f"{self.extra_conf or 'allow_anonymous true'}\n"
            f"persistence true\npersistence_location {data}/\nautosave_interval 1\n"
            "max_queued_messages 100000\nmax_inflight_messages 2000\nlog_dest stderr\n",
            encoding="utf-8",
        )
        self.kind = "mosquitto"
        self.log_path = Path(self._tmp.name) / "mosquitto.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - kept open while the broker runs
        self._proc = subprocess.Popen([binary, "-c", str(conf)], stdout=self._log, stderr=subprocess.STDOUT)

    def _start_amqtt(self) -> None:
        import asyncio

        from amqtt.broker import Broker

        self.kind = "amqtt"
        ready, stop = threading.Event(), threading.Event()
        self._amqtt_stop = stop
        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{self.port}"}},
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
        }

        def run() -> None:
            async def main() -> None:
                broker = Broker(config)
                await broker.start()
                ready.set()
                while not stop.is_set():
                    await asyncio.sleep(0.1)
                await broker.shutdown()

            asyncio.run(main())

        self._amqtt_thread = threading.Thread(target=run, name="amqtt-broker", daemon=True)
        self._amqtt_thread.start()
        ready.wait(10)

    def kill(self) -> None:
        """Stop abruptly (SIGKILL), as a crash would."""
        if self._proc and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait(5)

    def stop(self) -> None:
        if self._proc and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
        if self._amqtt_stop is not None:
            self._amqtt_stop.set()
            if self._amqtt_thread:
                self._amqtt_thread.join(5)
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> LocalBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
