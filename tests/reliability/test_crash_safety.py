"""Crash safety: SIGKILL `python -m promoter copy` in the middle of a large blob (the source is behind a
bandwidth-throttling TCP proxy), run the same copy again: it completes. A watcher polls the target during
both runs: at no moment does it hold a manifest whose blobs are missing."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from devtools import images
from devtools.localregistry import LocalRegistry

ROOT = Path(__file__).resolve().parents[2]
BIG = 12 * 1024 * 1024


class ThrottledProxy:
    """A TCP forwarder to `upstream`; answers (upstream -> client) are paced at `rate` bytes/s."""

    def __init__(self, upstream_port: int, rate: float) -> None:
        self.upstream_port = upstream_port
        self.rate = rate
        self.downloaded = 0
        self._lock = threading.Lock()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stopped:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            threading.Thread(target=self._pump, args=(client, upstream, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, True), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, throttled: bool) -> None:
        try:
            while True:
                data = source.recv(64 * 1024)
                if not data:
                    break
                sink.sendall(data)
                if throttled:
                    with self._lock:
                        self.downloaded += len(data)
                    if self.rate:
                        time.sleep(len(data) / self.rate)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def stop(self) -> None:
        self._stopped = True
        self._server.close()


class Watcher(threading.Thread):
    """Polls the target: whenever a manifest is there, every blob it names must be there too."""

    def __init__(self, target: LocalRegistry, repository: str, digest: str) -> None:
        super().__init__(daemon=True)
        self.target, self.repository, self.digest = target, repository, digest
        self.polls = 0
        self.violations: list[str] = []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            for reference in ("v1", self.digest):
                status, _, body = images.get_manifest(self.target.url, self.repository, reference)
                if status == 200:
                    document = json.loads(body)
                    digests = [document["config"]["digest"], *(layer["digest"] for layer in document["layers"])]
                    missing = [d for d in digests if not images.blob_exists(self.target.url, self.repository, d)]
                    if missing:
                        self.violations.append(f"{reference}: manifest present, blobs missing {missing}")
            self.polls += 1
            time.sleep(0.01)


@pytest.mark.slow
@pytest.mark.parametrize("kill_at", [0.2, 0.6, 0.9])
def test_sigkill_mid_blob_then_rerun_completes_and_never_exposes_a_partial_image(
    registry: LocalRegistry, second_registry: LocalRegistry, repo_name, kill_at: float
) -> None:
    # Given a large layer in the source, served through a slow link (~6 MB/s)
    dev, prod = repo_name("dev-crash"), repo_name("prod-crash")
    pushed = images.push_image(registry.url, dev, "v1", [os.urandom(BIG), os.urandom(50_000)])
    source_port = int(registry.url.rsplit(":", 1)[1])
    proxy = ThrottledProxy(source_port, rate=6e6)
    target_host = second_registry.url.removeprefix("http://")
    command = [sys.executable, "-m", "promoter", "copy", f"127.0.0.1:{proxy.port}/{dev}:v1", f"{target_host}/{prod}:v1"]
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'lambda_src'}:{ROOT}"}
    watcher = Watcher(second_registry, prod, pushed.digest)
    watcher.start()
    try:
        # When the copy is SIGKILLed once `kill_at` of the big layer has gone through
        copy = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while proxy.downloaded < kill_at * BIG and copy.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        assert copy.poll() is None, "the copy ended before it could be killed"
        os.kill(copy.pid, signal.SIGKILL)
        assert copy.wait(timeout=10) == -signal.SIGKILL
        copy.communicate()
        killed_at = proxy.downloaded
        assert images.get_manifest(second_registry.url, prod, "v1")[0] == 404

        # And the same command runs again (at full speed)
        proxy.rate = 0
        again = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    finally:
        watcher.done.set()
        watcher.join(timeout=5)
        proxy.stop()

    # Then the second run completed the exact image, and the watcher never saw a partial one
    assert again.returncode == 0, again.stderr
    assert 0 < killed_at < BIG  # the big layer had not fully arrived: killed mid-blob
    assert images.get_manifest(second_registry.url, prod, "v1")[2] == pushed.manifest
    assert all(images.blob_exists(second_registry.url, prod, d) for d in pushed.blobs)
    assert watcher.polls > 10 and watcher.violations == []
