"""What the demo prints besides the steps: the final table, the result line and, with --keep, how to look
inside the registries and drive the kept ledger by hand."""

from __future__ import annotations

import re
import shlex
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from devtools.demo.scenario import SOURCE_REPOSITORY
from devtools.localregistry import LocalRegistry

_DIGEST = re.compile(r"sha256([:-])([0-9a-f]{12})[0-9a-f]{52}")  # a digest, or a sha256-<hex> referrer tag
ROOT = Path(__file__).resolve().parents[2]
TABLE_HEADERS = ("IMAGE", "DIGEST", "OUTCOME", "MOUNTED", "BYTES MOVED", "REPLICATED", "ATTESTATION")


def say(text: str = "") -> None:
    print(text, flush=True)


def short(digest: str | None) -> str:
    return digest[7:19] if digest and digest.startswith("sha256:") else (digest or "-")


def shorten_digests(text: str) -> str:
    return _DIGEST.sub(lambda found: f"sha256{found[1]}{found[2]}" + ("…" if found[1] == "-" else ""), text)


def human_bytes(count: int) -> str:
    if count < 1024:
        return f"{count} B"
    if count < 1024 * 1024:
        return f"{count / 1024:.0f} KB"
    return f"{count / (1024 * 1024):.1f} MB"


@dataclass
class Row:
    """One line of the final table: one case of the scenario and how it ended."""

    image: str
    tag: str | None  # the tag to look for in the production registry (None: a dev tag)
    digest: str
    outcome: str
    mounted: int | None = None
    moved: int | None = None
    replicated: str = "?"
    target: str | None = None  # the production repository it would reach (None: the scenario's)
    attestation: str | None = None  # the digest of the VSA the promotion attached (its referrer manifest)


def table(rows: Sequence[Row]) -> list[str]:
    """The final table, columns separated by two spaces or more (tests/integration/test_demo.py reads it)."""
    cells = [
        (
            row.image,
            short(row.digest),
            row.outcome,
            "-" if row.mounted is None else str(row.mounted),
            "-" if row.moved is None else human_bytes(row.moved),
            row.replicated,
            short(row.attestation) if row.attestation else "-",
        )
        for row in rows
    ]
    widths = [max(len(line[i]) for line in [TABLE_HEADERS, *cells]) for i in range(len(TABLE_HEADERS))]
    lines = ["  ".join(value.ljust(width) for value, width in zip(line, widths, strict=True)) for line in cells]
    header = "  ".join(value.ljust(width) for value, width in zip(TABLE_HEADERS, widths, strict=True))
    return [header.rstrip(), "  ".join("-" * width for width in widths), *(line.rstrip() for line in lines)]


def print_result(rows: Sequence[Row], failures: Sequence[str], checks: int, elapsed: float) -> None:
    say()
    say("Final table")
    for line in table(rows):
        say(f"   {line}")
    say()
    if failures:
        say(f"RESULT: FAILED: {len(failures)} of {checks} expectations did not hold ({elapsed:.1f} s):")
        for failure in failures:
            say(f"   - {failure}")
        print(f"demo: FAILED ({len(failures)} expectation(s) did not hold, see above)", file=sys.stderr)
    else:
        say(f"RESULT: OK: all {checks} expectations of the scenario held, in {elapsed:.1f} s")


def look_inside(dev: LocalRegistry, prod: LocalRegistry, target: str) -> list[str]:
    accept = "Accept: application/vnd.oci.image.manifest.v1+json"
    return [
        "",
        "The registries and the ledger keep running (--keep). Look inside:",
        f"  curl -s {dev.url}/v2/_catalog                 # dev account: {SOURCE_REPOSITORY}, {target}",
        f"  curl -s {prod.url}/v2/_catalog                 # production account: prod-… repositories only",
        f"  curl -s {dev.url}/v2/{SOURCE_REPOSITORY}/tags/list",
        f"  curl -s {prod.url}/v2/{target}/tags/list",
        f"  curl -s -H '{accept}' {prod.url}/v2/{target}/manifests/v1.0.0",
        f"  skopeo inspect --tls-verify=false docker://{prod.host}/{target}:v1.0.0",
        f"  skopeo inspect --tls-verify=false --raw docker://{dev.host}/{SOURCE_REPOSITORY}:v1.2.0",
        f"  skopeo list-tags --tls-verify=false docker://{dev.host}/{SOURCE_REPOSITORY}",
        f"  storage: {dev.workdir.parent} (dev/ and production/: config, data, access log)",
    ]


def python_command() -> str:
    """This interpreter as a user types it: `.venv/bin/python` inside the checkout, else its full path
    (not resolved: a venv's python is a symlink to the base interpreter, which lacks the venv's packages)."""
    try:
        return str(Path(sys.executable).relative_to(ROOT))
    except ValueError:
        return shlex.quote(sys.executable)


def drive_by_hand(environment: dict[str, str], tag: str, digest: str, suite: str, key: str) -> list[str]:
    """The exports and the three `--local` commands that finish the waiting image's story by hand
    (the result signed with the CI's KMS key `key`, in the kept moto server)."""
    python = f"{python_command()} -m promoter"
    image = f"{SOURCE_REPOSITORY}:{tag}"
    exports = {**environment, "PYTHONPATH": str(ROOT / "lambda_src")}
    return [
        "",
        f"Drive it by hand: {image} is pushed and scanned, and waits for its {suite} tests.",
        "In another shell (the variables are the function's local environment and the local ledger):",
        *(f"  export {name}={shlex.quote(value)}" for name, value in exports.items()),
        f"  cd {shlex.quote(str(ROOT))}",
        f"  {python} promote --local {image}                 # exit 4: pending ({suite} tests missing)",
        f"  {python} record-result --local {SOURCE_REPOSITORY}@{digest} --suite {suite} --result PASSED"
        f" --sign-with {key}   # exit 0: promoted",
        f"  {python} status --local {image}                  # exit 0: tests, scan and promotion",
    ]


def exported(line: str) -> tuple[str, str] | None:
    """(name, value) of one `export NAME=VALUE` line printed by drive_by_hand (for tests and scripts)."""
    match = re.fullmatch(r"\s*export ([A-Z_]+)=(.*)", line)
    if not match:
        return None
    [value] = shlex.split(match[2]) or [""]
    return match[1], value
