"""What a Lambda cold start pays before the first event: the handler's import time and memory against
`import boto3`, the heaviest imports under it, and the size of the deployment asset."""

from __future__ import annotations

import io
import os
import subprocess
import zipfile

from benchmarks.measure import ProcessRun, Spread, median, run_process
from benchmarks.runners import LAMBDA_SRC, PYTHON


def import_times(runs: int) -> dict[str, tuple[Spread, float]]:
    """(wall seconds: median and range, median peak RSS MB) of a fresh process importing each module."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(LAMBDA_SRC)
    env.setdefault("AWS_DEFAULT_REGION", "us-west-2")
    codes = {
        "python (nothing)": "pass",
        "import boto3": "import boto3",
        "import promoter.handler": "import promoter.handler",
    }
    for code in codes.values():  # writes the bytecode cache once; later runs measure the steady state
        run_process([PYTHON, "-c", code], env)
    samples: dict[str, list[ProcessRun]] = {label: [] for label in codes}
    for _ in range(max(runs, 7)):  # interleaved, like the copies
        for label, code in codes.items():
            result = run_process([PYTHON, "-c", code], env)
            if result.returncode != 0:
                raise RuntimeError(f"{code}: {result.stderr[-2000:]}")
            samples[label].append(result)
    out = {
        label: (Spread.of(r.seconds for r in results), median(r.max_rss_kib * 1024 / 1e6 for r in results))
        for label, results in samples.items()
    }
    return out


def heaviest_imports(limit: int = 8) -> list[tuple[str, float]]:
    """The costliest modules imported directly by `promoter.handler` (cumulative, `-X importtime`)."""
    env = {**os.environ, "PYTHONPATH": str(LAMBDA_SRC), "AWS_DEFAULT_REGION": "us-west-2"}
    result = subprocess.run(
        [PYTHON, "-X", "importtime", "-c", "import promoter.handler"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    found: dict[str, float] = {}
    for line in result.stderr.splitlines():
        parts = line.split("|")
        if len(parts) != 3 or not parts[1].strip().isdigit():
            continue
        name = parts[2].rstrip()
        depth = (len(name) - len(name.lstrip())) // 2
        if depth <= 2 and name.strip() != "promoter.handler":
            found[name.strip()] = max(found.get(name.strip(), 0.0), int(parts[1]) / 1e6)
    return sorted(found.items(), key=lambda item: -item[1])[:limit]


def asset_zip_size() -> int:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in sorted(LAMBDA_SRC.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                archive.write(path, path.relative_to(LAMBDA_SRC).as_posix())
    return len(buffer.getvalue())
