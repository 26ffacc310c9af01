"""OCI distribution client, ECR authentication, image references and the copy engine.

Importing this package never imports boto3: only an ECR host's first token request does.
"""

from __future__ import annotations

from .auth import ChallengeAuth, EcrAuth
from .client import PutManifestResult, RegistryClient, RetryPolicy
from .copy import CHUNK_SIZE, CopyResult, copy_image
from .credentials import Credentials, CredentialsError, CredentialSources, parse_user_pass
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
from .labels import REVISION_LABEL, image_config, image_labels, platform_child, revision_of
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
