"""Credentials for a registry host, found where skopeo, crane and docker users keep them.

Why a module of its own: a copy between registries that require logins needs the user's existing
logins, and finding them is file and process plumbing that the HTTP layers must not know about. Order,
first hit wins:
1. an explicit `USER[:PASS]` (the CLI's `--src-creds` / `--dest-creds`);
2. `REGISTRY_AUTH_FILE` (containers-auth.json: podman, skopeo, buildah);
3. the Docker config (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`): `credHelpers[host]`,
   then an `auths` entry (base64 `auth`, or `username`/`password`), then `credsStore`. A helper runs as
   `docker-credential-<name> get` with the host on stdin, only when it is on PATH.
An ECR host takes only explicit credentials: otherwise its client fetches (and refreshes) its own token.

Nothing here reads `os.environ` or the home directory: `CredentialSources.from_environ` is the edge.
A secret never appears in a repr, a log line or an error message.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import RegistryError
from .reference import ecr_host_parts

log = logging.getLogger("promoter.registry")

EXPLICIT = "explicit"
_HELPER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_DOCKER_HUB = "index.docker.io"
_DOCKER_HUB_ALIASES = frozenset({"docker.io", "registry-1.docker.io", "index.docker.io"})
_HELPER_TIMEOUT = 30.0

# (helper executable, server) -> (exit status, stdout). Injectable so tests can observe the calls.
HelperRunner = Callable[[str, str], tuple[int, bytes]]


class CredentialsError(RegistryError):
    """Credentials could not be read (unreadable config, failing helper, malformed `USER[:PASS]`)."""


@dataclass(frozen=True)
class Credentials:
    """A username and its password (or token). `source` says where they were found, for messages."""

    username: str
    password: str = field(repr=False)
    source: str = EXPLICIT

    def __repr__(self) -> str:
        return f"Credentials(username={self.username!r}, source={self.source!r})"

    __str__ = __repr__


def parse_user_pass(text: str, source: str = EXPLICIT) -> Credentials:
    """`USER[:PASS]` -> Credentials (no `:PASS`: an empty password). The text never reaches an error."""
    username, _, password = text.partition(":")
    if not username:
        raise CredentialsError(f"credentials from {source} have no user name: expected USER[:PASS]")
    return Credentials(username, password, source)


def _run_helper(executable: str, server: str) -> tuple[int, bytes]:
    completed = subprocess.run(  # noqa: S603 - a docker-credential-<name> found on PATH, fixed argument
        [executable, "get"], input=server.encode(), capture_output=True, timeout=_HELPER_TIMEOUT, check=False
    )
    return completed.returncode, completed.stdout


def _canonical(key: str) -> str:
    """A config key (`https://index.docker.io/v1/`, `host:5000`, `quay.io/org/repo`) as `host[/path]`."""
    text = key.strip()
    if "://" in text:
        text = text.split("://", 1)[1]
    host, _, path = text.partition("/")
    host = host.lower()
    if host in _DOCKER_HUB_ALIASES:
        host = _DOCKER_HUB
    path = path.strip("/")
    return host if path in ("", "v1", "v2") else f"{host}/{path}"


@dataclass(frozen=True)
class CredentialSources:
    """Where to look. `docker_config` is the config.json path; `search_path` the PATH for helpers."""

    auth_file: Path | None = None
    docker_config: Path | None = None
    search_path: str = ""
    run_helper: HelperRunner = field(default=_run_helper, compare=False, repr=False)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], home: Path | None) -> CredentialSources:
        """`REGISTRY_AUTH_FILE`, `DOCKER_CONFIG` (else `<home>/.docker`) and `PATH` of this environment."""
        auth_file = environ.get("REGISTRY_AUTH_FILE")
        docker_dir = environ.get("DOCKER_CONFIG") or (str(home / ".docker") if home is not None else None)
        return cls(
            auth_file=Path(auth_file) if auth_file else None,
            docker_config=Path(docker_dir) / "config.json" if docker_dir else None,
            search_path=environ.get("PATH", os.defpath),
        )

    def resolve(self, host: str, repository: str | None = None, explicit: str | None = None) -> Credentials | None:
        """Credentials for `host` (and `repository`, for repository-scoped auth-file entries), or None."""
        if explicit is not None:
            return parse_user_pass(explicit)
        if ecr_host_parts(host) is not None:
            return None
        wanted = self._keys(host, repository)
        for path in (self.auth_file, self.docker_config):
            if path is None:
                continue
            found = self._from_file(path, wanted)
            if found is not None:
                return found
        return None

    @staticmethod
    def _keys(host: str, repository: str | None) -> list[str]:
        """Most specific first: `host/a/b`, `host/a`, `host`."""
        base = _canonical(host)
        keys = [base]
        if repository:
            parts = repository.split("/")
            keys = [f"{base}/{'/'.join(parts[:n])}" for n in range(len(parts), 0, -1)] + keys
        return keys

    def _from_file(self, path: Path, wanted: list[str]) -> Credentials | None:
        config = _read_config(path)
        if config is None:
            return None
        helpers = {_canonical(k): v for k, v in _mapping(config.get("credHelpers")).items()}
        auths = {_canonical(k): v for k, v in _mapping(config.get("auths")).items()}
        for key in wanted:
            if isinstance(helpers.get(key), str):
                found = self._from_helper(str(helpers[key]), key)
                if found is not None:
                    return found
            entry = auths.get(key)
            if isinstance(entry, dict):
                found = _from_auth_entry(entry, f"{path.name} auths")
                if found is not None:
                    return found
        store = config.get("credsStore")
        if isinstance(store, str) and store:
            return self._from_helper(store, wanted[-1])
        return None

    def _from_helper(self, name: str, server: str) -> Credentials | None:
        if not _HELPER_NAME.fullmatch(name):
            raise CredentialsError(f"credential helper name {name!r} is not a plain name")
        program = f"docker-credential-{name}"
        executable = shutil.which(program, path=self.search_path)
        if executable is None:
            log.debug("credential helper %s is not on PATH: skipped for %s", program, server)
            return None
        # Docker stores Docker Hub logins under its v1 URL; every other server under its host.
        servers = ["https://index.docker.io/v1/", server] if server == _DOCKER_HUB else [server]
        for candidate in servers:
            try:
                status, output = self.run_helper(executable, candidate)
            except (OSError, subprocess.SubprocessError) as error:
                raise CredentialsError(f"{program} could not run for {server}: {type(error).__name__}") from None
            if status != 0:
                if b"credentials not found" in output.lower():
                    continue
                raise CredentialsError(f"{program} failed for {server} (exit {status})")
            try:
                document = json.loads(output)
                username, secret = document["Username"], document["Secret"]
            except (ValueError, KeyError, TypeError):
                raise CredentialsError(f"{program} answered something that is not credentials") from None
            if not isinstance(username, str) or not isinstance(secret, str) or not secret:
                continue
            if username == "<token>":
                raise CredentialsError(f"{program} holds an identity token for {server}: use USER:PASS instead")
            return Credentials(username, secret, program)
        return None


def _read_config(path: Path) -> dict[str, Any] | None:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as error:
        raise CredentialsError(f"cannot read {path}: {error.strerror}") from None
    try:
        document = json.loads(text)
    except ValueError:
        raise CredentialsError(f"{path} is not valid JSON") from None
    if not isinstance(document, dict):
        raise CredentialsError(f"{path} is not a JSON object")
    return document


def _mapping(value: object) -> dict[str, Any]:
    return {str(k): v for k, v in value.items()} if isinstance(value, dict) else {}


def _from_auth_entry(entry: dict[str, Any], source: str) -> Credentials | None:
    encoded = entry.get("auth")
    if isinstance(encoded, str) and encoded:
        try:
            decoded = base64.b64decode(encoded, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise CredentialsError(f"an `auth` entry in {source} is not base64 of USER:PASS") from None
        username, separator, password = decoded.partition(":")
        if not username or not separator:
            raise CredentialsError(f"an `auth` entry in {source} is not base64 of USER:PASS")
        return Credentials(username, password, source)
    user, secret = entry.get("username"), entry.get("password")
    if isinstance(user, str) and user and isinstance(secret, str):
        return Credentials(user, secret, source)
    if entry.get("identitytoken"):
        raise CredentialsError(f"{source} holds an identity token (OAuth) login: use USER:PASS instead")
    return None
