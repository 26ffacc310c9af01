"""OCI distribution client, ECR authentication, image references and the copy engine.

Importing this package never imports boto3: only an ECR host's first token request does. Credential
sources (`credentials`: pathlib, base64, docker config files) and image labels (`labels`) load on first
use of one of their names, so a copy that needs neither does not pay for them at start-up.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._http import import_urllib3 as _import_urllib3  # noqa: F401 - first: urllib3 without importlib.metadata
from .auth import ChallengeAuth, EcrAuth
from .client import PutManifestResult, RegistryClient, RetryPolicy
from .copy import CHUNK_SIZE, CopyResult, copy_image
from .errors import (
    AuthenticationFailed,
    BlobNotFound,
    BlobTooLarge,
    DigestMismatch,
    ImageNotFound,
    InvalidReference,
    RegistryError,
    RepositoryNotFound,
    TagConflict,
    TransientRegistryError,
    UnsupportedManifest,
)
from .manifest import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    OCI_INDEX,
    OCI_MANIFEST,
    Descriptor,
    Manifest,
    sha256_digest,
)
from .reference import (
    ImageReference,
    ecr_host_parts,
    is_digest,
    is_loopback_host,
    parse_reference,
    validate_digest,
    validate_reference,
    validate_repository_name,
    validate_tag,
)

_LAZY = {
    "Credentials": "credentials",
    "CredentialsError": "credentials",
    "CredentialSources": "credentials",
    "parse_user_pass": "credentials",
    "REVISION_LABEL": "labels",
    "image_config": "labels",
    "image_labels": "labels",
    "platform_child": "labels",
    "revision_of": "labels",
}

if TYPE_CHECKING:
    from .credentials import Credentials, CredentialsError, CredentialSources, parse_user_pass
    from .labels import REVISION_LABEL, image_config, image_labels, platform_child, revision_of


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "CHUNK_SIZE",
    "DOCKER_LIST",
    "DOCKER_MANIFEST",
    "OCI_INDEX",
    "OCI_MANIFEST",
    "REVISION_LABEL",
    "AuthenticationFailed",
    "BlobNotFound",
    "BlobTooLarge",
    "ChallengeAuth",
    "CopyResult",
    "CredentialSources",
    "Credentials",
    "CredentialsError",
    "Descriptor",
    "DigestMismatch",
    "EcrAuth",
    "ImageNotFound",
    "ImageReference",
    "InvalidReference",
    "Manifest",
    "PutManifestResult",
    "RegistryClient",
    "RegistryError",
    "RepositoryNotFound",
    "RetryPolicy",
    "TagConflict",
    "TransientRegistryError",
    "UnsupportedManifest",
    "copy_image",
    "ecr_host_parts",
    "image_config",
    "image_labels",
    "is_digest",
    "is_loopback_host",
    "parse_reference",
    "parse_user_pass",
    "platform_child",
    "revision_of",
    "sha256_digest",
    "validate_digest",
    "validate_reference",
    "validate_repository_name",
    "validate_tag",
]
