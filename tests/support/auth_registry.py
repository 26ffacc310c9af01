"""A real CNCF registry that requires a login (htpasswd, bcrypt): for the credential tests of the registry
layer and of the copy CLI."""

from __future__ import annotations

import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import bcrypt

from devtools.localregistry import LocalRegistry, find_registry_binary, free_port

_CONFIG = """\
version: 0.1
log:
  level: warn
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: {root}/data
http:
  addr: 127.0.0.1:{port}
  secret: ecr-promoter-auth-registry
auth:
  htpasswd:
    realm: ecr-promoter-test
    path: {root}/htpasswd
"""


class AuthRegistryDidNotStart(RuntimeError):
    pass


def start_auth_registry(root: Path, user: str, password: str) -> LocalRegistry:
    """Start a registry in `root` that accepts only `user:password`; ready when `/v2/` answers 401."""
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()
    (root / "htpasswd").write_text(f"{user}:{hashed}\n")
    port = free_port()
    (root / "config.yml").write_text(_CONFIG.format(root=root, port=port))
    with (root / "registry.log").open("ab") as log:
        process = subprocess.Popen(
            [find_registry_binary(), "serve", str(root / "config.yml")], stdout=log, stderr=subprocess.STDOUT
        )
    running = LocalRegistry(port=port, workdir=root, process=process, _owns_workdir=False)
    deadline = time.monotonic() + 10
    while True:
        try:
            urllib.request.urlopen(f"{running.url}/v2/", timeout=1)
        except urllib.error.HTTPError as answered:
            if answered.code == 401:
                return running
        except (urllib.error.URLError, ConnectionError):
            pass
        if time.monotonic() > deadline or process.poll() is not None:
            running.stop()
            raise AuthRegistryDidNotStart("the htpasswd registry did not start: " + running.log_text()[-500:])
        time.sleep(0.05)
