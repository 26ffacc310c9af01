"""`python -m benchmarks.startup`: the copy CLI's fixed costs next to skopeo's, cross-registry.

Why a benchmark of its own (issue 18.2): the data phase of a cross-registry copy is already faster than
skopeo's; what is left is fixed cost. For each image shape (uneven 40/30/20/10/1 MB, even 5x20 MB, 60 small
layers) it runs `python -m promoter copy` and `skopeo copy` (cold blob-info cache) in turn, each into a fresh
target repository of a second registry, and reports min/median/max of:
- *first request*: from spawning the process to the first byte it sends to a registry;
- *exit lag*: from the last byte a registry sent it to the process being reaped;
- *wall*: the whole process.
The two timestamps come from a byte relay in front of each registry (only bytes are timed; the data itself
is not inspected). Results go to `.bench/startup.json` (untracked); a Markdown table is printed.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from devtools.images import push_image
from devtools.localregistry import LocalRegistry, start_registry

MB = 1_000_000
SHAPES: dict[str, list[int]] = {
    "uneven 40/30/20/10/1 MB": [40 * MB, 30 * MB, 20 * MB, 10 * MB, 1 * MB],
    "even 5x20 MB": [20 * MB] * 5,
    "60x100 KB": [100_000] * 60,
}
SKOPEO_ROOT_CACHE = Path("/var/lib/containers/cache")
ROOT = Path(__file__).resolve().parent.parent


class Relay:
    """A TCP relay to one upstream port that remembers when a client first sent bytes and when the upstream
    last answered, since the last `reset`. One thread per direction per connection."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self.first_in: float | None = None
        self.last_out: float | None = None
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def reset(self) -> None:
        with self._lock:
            self.first_in = self.last_out = None

    def close(self) -> None:
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            for sock in (client, upstream):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, inbound: bool) -> None:
        try:
            while chunk := source.recv(262144):
                now = time.monotonic()
                if inbound:
                    with self._lock:
                        if self.first_in is None:
                            self.first_in = now
                sink.sendall(chunk)
                if not inbound:
                    with self._lock:
                        self.last_out = time.monotonic()
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()


@dataclass(frozen=True)
class Run:
    tool: str
    shape: str
    wall: float
    first_request: float
    exit_lag: float


def gzip_layers(sizes: Sequence[int]) -> list[bytes]:
    """Real gzip streams (stored, level 0) so skopeo copies them as they are."""
    return [gzip.compress(os.urandom(size), compresslevel=0, mtime=0) for size in sizes]


def run_once(tool: str, shape: str, argv: list[str], env: dict[str, str], relays: Sequence[Relay]) -> Run:
    for relay in relays:
        relay.reset()
    started = time.monotonic()
    process = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, check=False)
    ended = time.monotonic()
    if process.returncode != 0:
        raise RuntimeError(f"{tool} failed ({process.returncode}): {process.stderr.decode()[-800:]}")
    firsts = [r.first_in for r in relays if r.first_in is not None]
    lasts = [r.last_out for r in relays if r.last_out is not None]
    return Run(tool, shape, ended - started, min(firsts) - started, ended - max(lasts))


# The CLI's proposed exit path: flush what was printed, then leave without tearing the interpreter down.
EXIT_NOW = (
    "import os, sys\n"
    "from promoter.cli import main\n"
    "code = main(sys.argv[1:])\n"
    "sys.stdout.flush()\n"
    "sys.stderr.flush()\n"
    "os._exit(code)"
)


def commands(source: str, target: str, home: str, baseline: Path | None) -> dict[str, tuple[list[str], dict[str, str]]]:
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'lambda_src'}:{ROOT}", "HOME": home, "XDG_DATA_HOME": home}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as users run it: bytecode cached (the warm-up run writes it)
    copy = ["copy", source, target, "--json"]
    tools = {
        "ecr-promoter": ([sys.executable, "-m", "promoter", *copy], env),
        "ecr-promoter + os._exit": ([sys.executable, "-c", EXIT_NOW, *copy], env),
        "skopeo (cold)": (
            [
                "skopeo",
                "copy",
                "--quiet",
                "--src-tls-verify=false",
                "--dest-tls-verify=false",
                f"docker://{source}",
                f"docker://{target}",
            ],
            env,
        ),
    }
    if baseline is not None:  # another revision's lambda_src (e.g. `git archive main lambda_src`)
        tools["ecr-promoter (baseline)"] = (tools["ecr-promoter"][0], {**env, "PYTHONPATH": f"{baseline}:{ROOT}"})
    return tools


def measure(runs: int, shapes: Sequence[str], baseline: Path | None) -> list[Run]:
    results: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as work:
        registries: list[LocalRegistry] = [start_registry(Path(work) / name) for name in ("a", "b")]
        relays = [Relay(registry.port) for registry in registries]
        try:
            for shape_index, shape in enumerate(shapes):
                repository = f"bench/src{shape_index}"
                push_image(registries[0].url, repository, "v1", gzip_layers(SHAPES[shape]))
                for run in range(runs + 1):  # run 0 warms the page cache and bytecode; not counted
                    for tool_index, tool in enumerate(commands("", "", "", baseline)):
                        shutil.rmtree(SKOPEO_ROOT_CACHE, ignore_errors=True)
                        home = tempfile.mkdtemp(dir=work)
                        target = f"{relays[1].host}/bench/dst{shape_index}-{run}-{tool_index}:v1"
                        argv, env = commands(f"{relays[0].host}/{repository}:v1", target, home, baseline)[tool]
                        measured = run_once(tool, shape, argv, env, relays)
                        if run:
                            results.append(measured)
        finally:
            for relay in relays:
                relay.close()
            for registry in registries:
                registry.stop()
    return results


def spread(values: Sequence[float]) -> str:
    return f"{min(values) * 1000:.0f} / {statistics.median(values) * 1000:.0f} / {max(values) * 1000:.0f}"


def table(results: Sequence[Run]) -> str:
    lines = [
        "| image | tool | first request ms (min/med/max) | exit lag ms | wall ms | wall x skopeo (median) |",
        "|---|---|---|---|---|---:|",
    ]
    for shape in dict.fromkeys(r.shape for r in results):
        skopeo = statistics.median(r.wall for r in results if r.shape == shape and r.tool.startswith("skopeo"))
        for tool in dict.fromkeys(r.tool for r in results):
            rows = [r for r in results if r.shape == shape and r.tool == tool]
            wall = statistics.median(r.wall for r in rows)
            lines.append(
                f"| {shape} | {tool} | {spread([r.first_request for r in rows])} | "
                f"{spread([r.exit_lag for r in rows])} | {spread([r.wall for r in rows])} | {wall / skopeo:.2f} |"
            )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--shape", action="append", choices=list(SHAPES), help="default: every shape")
    parser.add_argument("--baseline", type=Path, help="a lambda_src of another revision, measured alongside")
    parser.add_argument("--out", type=Path, default=ROOT / ".bench" / "startup.json")
    args = parser.parse_args(argv)
    results = measure(args.runs, args.shape or list(SHAPES), args.baseline)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()
    args.out.write_text(json.dumps({"load": load, "runs": [r.__dict__ for r in results]}, indent=1))
    print(f"load average (1 min) at the end: {load[0]:.1f}; runs per figure: {args.runs}\n")
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
