"""urllib3, imported without loading `importlib.metadata`.

Why a module of its own: urllib3 2.x's `connection` module imports the `urllib3.http2` package, whose
`__init__` runs `from importlib.metadata import version` only so that an opt-in to HTTP/2
(`urllib3.http2.inject_into_urllib3()`, never called here) can check the h2 version. Loading
importlib.metadata (zipfile, csv, email, pathlib, tempfile, ...) is 15-20 ms of a copy's start-up. While
urllib3 is imported, `importlib.metadata` is a stand-in whose `version` (and any other attribute) loads the
real module on first use, so whoever does use it sees no difference. The package `__init__` imports this
module first, so every urllib3 import below it goes through here.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

_METADATA = "importlib.metadata"


class _DeferredMetadata(types.ModuleType):
    """Stands in for importlib.metadata while urllib3 is imported; every attribute is the real one's."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # the import system asks for `__path__` & co: a plain module has none
            raise AttributeError(name)
        return getattr(_real_metadata(), name)


def _real_metadata() -> types.ModuleType:
    if isinstance(sys.modules.get(_METADATA), _DeferredMetadata):
        del sys.modules[_METADATA]
    return importlib.import_module(_METADATA)


def _version(distribution_name: str) -> str:
    """`importlib.metadata.version`, loaded when first called."""
    version: str = _real_metadata().version(distribution_name)
    return version


def import_urllib3() -> None:
    """Import urllib3 (if nobody has yet) with importlib.metadata deferred."""
    if "urllib3" in sys.modules or _METADATA in sys.modules:
        return
    stand_in = _DeferredMetadata(_METADATA)
    stand_in.version = _version  # type: ignore[attr-defined]  # urllib3.http2: `from importlib.metadata import version`
    sys.modules[_METADATA] = stand_in
    try:
        importlib.import_module("urllib3")
    finally:
        if sys.modules.get(_METADATA) is stand_in:
            del sys.modules[_METADATA]


import_urllib3()
