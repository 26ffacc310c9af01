"""Start and stop a real CNCF distribution registry on a free loopback port.

Used by the pytest fixtures, `make demo` and `make bench`. The registry enforces
blob presence, digests and cross-repository mounts the way ECR does (see
shared NOTES.md), so copies tested against it are tested for real.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

_ACCESS_LINE = re.compile(r'"(?P<method>[A-Z]+) (?P<path>\S+) HTTP/[\d.]+" (?P<status>\d{3}) (?P<size>\d+|-)')

_CONFIG = """\
version: 0.1
log:
  level: warn
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:{port}
  secret: ecr-promoter-local-registry
"""


class RegistryUnavailable(RuntimeError):
    """The registry binary is missing or the server did not come up."""


@dataclass(frozen=True)
class AccessEntry:
    method: str
    path: str
    status: int
    size: int

    @property
    def is_blob_upload(self) -> bool:
        """A request that sends blob bytes (not a mount, which is a POST with ?mount=)."""
        return "/blobs/uploads/" in self.path and self.method in {"PATCH", "PUT"}

    @property
    def is_mount(self) -> bool:
        return self.method == "POST" and "mount=" in self.path


def find_registry_binary() -> str:
    """REGISTRY_BIN, else Debian's docker-registry, else Homebrew's registry."""
    configured = os.environ.get("REGISTRY_BIN")
    if configured:
        return configured
    for name in ("docker-registry", "registry"):
        found = shutil.which(name)
        if found:
            return found
    raise RegistryUnavailable(
        "no registry binary: run `make test` (it installs Debian's docker-registry), "
        "or set REGISTRY_BIN to distribution's `registry` binary"
    )


def _die_with_parent() -> None:
    """Linux: the registry gets SIGTERM when its parent dies, even by SIGKILL (no orphans)."""
    if sys.platform.startswith("linux"):
        import ctypes  # noqa: PLC0415

        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LocalRegistry:
    """A running registry: `host` is `127.0.0.1:PORT`, `url` is `http://127.0.0.1:PORT`."""

    port: int
    workdir: Path
    process: subprocess.Popen[bytes]
    _owns_workdir: bool = field(default=True, repr=False)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    @property
    def log_path(self) -> Path:
        return self.workdir / "registry.log"

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_mark(self) -> int:
        """An offset into the access log; pass it to `access_log` to see only later requests."""
        return self.log_path.stat().st_size

    def access_log(self, since: int = 0) -> list[AccessEntry]:
        # The access log is written after the response is sent; give it a moment to land.
        time.sleep(0.05)
        with self.log_path.open("rb") as handle:
            handle.seek(since)
            text = handle.read().decode(errors="replace")
        entries = []
        for line in text.splitlines():
            match = _ACCESS_LINE.search(line)
            if match:
                size = match["size"]
                entries.append(
                    AccessEntry(
                        method=match["method"],
                        path=match["path"],
                        status=int(match["status"]),
                        size=0 if size == "-" else int(size),
                    )
                )
        return entries

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._owns_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> LocalRegistry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_registry(workdir: Path | None = None, port: int | None = None, timeout: float = 10.0) -> LocalRegistry:
    """Start `docker-registry serve` with its own storage and access log; wait until /v2/ answers."""
    binary = find_registry_binary()
    owns = workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="ecr-promoter-registry-")) if workdir is None else workdir
    workdir.mkdir(parents=True, exist_ok=True)
    for attempt in range(5):
        chosen = port or free_port()
        config = workdir / "config.yml"
        config.write_text(_CONFIG.format(root=workdir / "data", port=chosen))
        try:
            with (workdir / "registry.log").open("ab") as log:
                process = subprocess.Popen(  # noqa: S603 - fixed binary, our own config
                    [binary, "serve", str(config)],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    preexec_fn=_die_with_parent,  # noqa: PLW1509 - only sets the parent-death signal
                )
        except OSError as error:
            if owns:
                shutil.rmtree(workdir, ignore_errors=True)
            raise RegistryUnavailable(f"cannot run the registry binary {binary!r}: {error.strerror}") from None
        registry = LocalRegistry(port=chosen, workdir=workdir, process=process, _owns_workdir=owns)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                break  # port taken between free_port() and bind: try another one
            try:
                with urllib.request.urlopen(f"{registry.url}/v2/", timeout=1) as response:
                    if response.status == 200:
                        return registry
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.03)
        else:
            registry.stop()
            raise RegistryUnavailable(f"registry on port {chosen} did not answer within {timeout}s")
        if port is not None or attempt == 4:
            text = (workdir / "registry.log").read_text(errors="replace")[-2000:]
            if owns:
                shutil.rmtree(workdir, ignore_errors=True)
            raise RegistryUnavailable(f"registry exited at start-up: {text}")
    raise RegistryUnavailable("registry did not start")  # pragma: no cover
