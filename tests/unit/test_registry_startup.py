"""The copy engine's start-up imports only what a copy needs: no `importlib.metadata` (urllib3.http2 pulls it
in only to check an h2 version nobody asked for), no credential files machinery, no boto3. Counted in a
fresh interpreter (modules loaded), never timed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _fresh(code: str) -> dict[str, object]:
    """Run `code` in a new interpreter that imports the copy engine first; it prints one JSON object."""
    env = {"PYTHONPATH": f"{ROOT / 'lambda_src'}:{ROOT}", "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True, timeout=60)
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_importing_the_copy_engine_loads_no_package_metadata_credentials_or_boto3() -> None:
    # Given a fresh interpreter
    # When it imports what `promoter copy` uses
    loaded = _fresh(
        "import json, sys\n"
        "from promoter.registry import RegistryClient, copy_image, parse_reference\n"
        "watch = ['importlib.metadata', 'zipfile', 'promoter.registry.credentials', 'promoter.registry.labels',"
        " 'boto3', 'botocore']\n"
        "print(json.dumps({'loaded': [m for m in watch if m in sys.modules], 'urllib3': 'urllib3' in sys.modules}))"
    )

    # Then urllib3 is there, and none of the rest
    assert loaded == {"loaded": [], "urllib3": True}


def test_deferred_metadata_still_answers_urllib3_and_later_importers() -> None:
    # Given the copy engine imported (urllib3 loaded with importlib.metadata deferred)
    # When urllib3.http2's `version` is called and importlib.metadata is imported afterwards
    seen = _fresh(
        "import json, sys\n"
        "import promoter.registry\n"
        "import urllib3.http2\n"
        "before = 'importlib.metadata' in sys.modules\n"
        "via_urllib3 = urllib3.http2.version('urllib3')\n"
        "import importlib.metadata\n"
        "direct = importlib.metadata.version('urllib3')\n"
        "print(json.dumps({'before': before, 'via_urllib3': via_urllib3, 'direct': direct,"
        " 'real': hasattr(importlib.metadata, 'distributions'), 'version': urllib3.__version__}))"
    )

    # Then both answer the installed version, from the real module, loaded only on that first call
    assert seen["before"] is False
    assert seen["via_urllib3"] == seen["direct"] == seen["version"]
    assert seen["real"] is True


def test_lazy_names_resolve_to_their_modules() -> None:
    # Given the package's lazily loaded names
    import promoter.registry as registry
    from promoter.registry import credentials, labels

    # When they are read, Then they are the modules' own objects, and an unknown name is an AttributeError
    assert registry.Credentials is credentials.Credentials
    assert registry.image_labels is labels.image_labels
    try:
        registry.__getattr__("no_such_name")
    except AttributeError as error:
        assert "no_such_name" in str(error)
    else:
        raise AssertionError("an unknown name must raise AttributeError")
