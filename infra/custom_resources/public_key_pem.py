"""CloudFormation custom resource: a KMS key's public key as PEM, for a stack output.

KMS GetPublicKey returns the DER SubjectPublicKeyInfo, and no CloudFormation intrinsic can base64-encode
binary data; the CDK AwsCustomResource decodes binary responses as UTF-8 text, which mangles DER. So
this handler reads the key and wraps the DER in PEM itself (base64 in 64-character lines between the
`PUBLIC KEY` armour: RFC 7468), then answers CloudFormation on the presigned response URL.

Runs in Lambda (python3.14, the runtime's boto3); no other imports. Delete does nothing (the key is
retained, and a PEM is not a resource).
"""

from __future__ import annotations

import base64
import json
import logging
import textwrap
import urllib.request
from typing import Any

import boto3

LOG = logging.getLogger(__name__)
LOG.setLevel(logging.INFO)
PEM_ATTRIBUTE = "Pem"
KEY_PROPERTY = "KeyArn"


def pem_from_der(der: bytes) -> str:
    """RFC 7468 armour around a DER SubjectPublicKeyInfo."""
    body = "\n".join(textwrap.wrap(base64.b64encode(der).decode("ascii"), 64))
    return f"-----BEGIN PUBLIC KEY-----\n{body}\n-----END PUBLIC KEY-----\n"


def respond(event: dict[str, Any], status: str, data: dict[str, str], reason: str) -> None:
    url = str(event["ResponseURL"])
    if not url.startswith("https://"):
        raise ValueError("the CloudFormation response URL is not https")
    body = json.dumps(
        {
            "Status": status,
            "Reason": reason,
            "PhysicalResourceId": event.get("PhysicalResourceId") or event["ResourceProperties"][KEY_PROPERTY],
            "StackId": event["StackId"],
            "RequestId": event["RequestId"],
            "LogicalResourceId": event["LogicalResourceId"],
            "Data": data,
        }
    ).encode()
    request = urllib.request.Request(  # noqa: S310 - https checked above: CloudFormation's presigned URL
        url, data=body, method="PUT", headers={"content-type": "", "content-length": str(len(body))}
    )
    with urllib.request.urlopen(request, timeout=30):  # noqa: S310 - https checked above
        pass


def on_event(event: dict[str, Any], _context: Any) -> None:
    status, data, reason = "SUCCESS", {}, "ok"
    try:
        if event["RequestType"] in ("Create", "Update"):
            key = event["ResourceProperties"][KEY_PROPERTY]
            der = boto3.client("kms").get_public_key(KeyId=key)["PublicKey"]
            data = {PEM_ATTRIBUTE: pem_from_der(bytes(der))}
    except Exception as error:  # CloudFormation must hear back, or the stack waits an hour
        LOG.exception("reading the public key failed")
        status, reason = "FAILED", f"{type(error).__name__}: {error}"[:400]
    respond(event, status, data, reason)
