"""Start and stop devcloud as a child process (for tests, the demo, benchmarks)."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO


class DevCloudProcess:
    """``vnext-proxy devcloud`` in a subprocess; ``endpoint`` once it is ready."""

    def __init__(
        self,
        port: int = 0,
        log_path: Path | None = None,
        notifications: str | None = None,
        keystone: bool = True,
        vnext_url: str | None = None,
    ) -> None:
        self.port = port
        self.log_path = log_path
        #: A RabbitMQ (rabbit://...) Nova publishes its versioned notifications to.
        self.notifications = notifications
        #: Nova validates tokens with a real Keystone (``keystone_url``, …/v3);
        #: without, with the fixed token table (the fast mode).
        self.keystone = keystone
        #: Where the proxy is, for Keystone's catalog (devcloud's default otherwise).
        self.vnext_url = vnext_url
        self.endpoint: str | None = None
        self.keystone_url: str | None = None
        self._proc: subprocess.Popen[str] | None = None
        self._log: IO[str] | None = None
        self._pump_thread = threading.Thread()

    def start(self, timeout: float = 120.0) -> str:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        command = [sys.executable, "-m", "vnext_proxy", "devcloud", "--port", str(self.port)]
        if self.notifications is not None:
            command += ["--notifications", self.notifications]
        if not self.keystone:
            command.append("--token-table")
        elif self.log_path is not None:  # Keystone's own log, beside devcloud's
            env["DEVCLOUD_KEYSTONE_LOG"] = str(self.log_path.with_suffix(".keystone.log"))
        if self.vnext_url is not None:
            command += ["--vnext-url", self.vnext_url]
        self._proc = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            start_new_session=True,
        )
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = self.log_path.open("w", encoding="utf-8")
        lines: queue.Queue[str | None] = queue.Queue()
        self._pump_thread = threading.Thread(target=self._pump, args=(lines,), daemon=True)
        self._pump_thread.start()
        deadline = time.monotonic() + timeout
        seen: list[str] = []
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=0.5)
            except queue.Empty:
                continue
            if line is None:
                break
            seen.append(line)
            if line.startswith("READY "):
                words = line.split()
                self.endpoint = words[1]
                self.keystone_url = words[2] if self.keystone else None
                return self.endpoint
        self.stop()
        tail = "".join(seen[-20:])
        raise RuntimeError(f"devcloud did not become ready within {timeout:g}s:\n{tail}")

    def _pump(self, lines: queue.Queue[str | None]) -> None:
        assert self._proc is not None
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            if self._log is not None:
                self._log.write(line)
                self._log.flush()
            lines.put(line)
        lines.put(None)

    def stop(self, timeout: float = 15.0) -> None:
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        # The pump ends at EOF; only then may its pipe and log be closed.
        self._pump_thread.join(timeout)
        if proc.stdout is not None:
            proc.stdout.close()
        if self._log is not None:
            self._log.close()
            self._log = None
        self._proc = None

    def __enter__(self) -> DevCloudProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
