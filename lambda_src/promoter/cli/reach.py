"""Says why a registry could not be reached, for the one-line error an operator can act on.

The registry client raises `TransientRegistryError` after its retries without saying whether the host
answered at all; when the error carries no HTTP status, one TCP connect to the host tells a stopped
registry (refused), a wrong host name and a silent network apart.
"""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

PROBE_TIMEOUT_SECONDS = 3.0


def address_of(base_url: str) -> tuple[str, int, str]:
    """(host, port, `host:port` as the operator wrote it) of an `http(s)://host[:port]` URL."""
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return host, port, parts.netloc


def why_unreachable(base_url: str, timeout: float = PROBE_TIMEOUT_SECONDS) -> str | None:
    """A short reason ("connection refused", …) when `base_url`'s host cannot be connected to, else None."""
    host, port, _ = address_of(base_url)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except ConnectionRefusedError:
        return "connection refused"
    except TimeoutError:
        return "timed out"
    except socket.gaierror:
        return "unknown host"
    except OSError as error:
        return (error.strerror or type(error).__name__).lower()
