"""The bodiless 403 of awslabs/amazon-ecr-credential-helper#679 (`HEAD …/blobs/sha256:…: unexpected status
code 403 Forbidden (HEAD responses have no body, use GET for details)`), through the fault proxy in front
of the real registry: the token is refreshed only when `GET /v2/` with it is refused too."""

from __future__ import annotations

import base64
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.stub import Stubber

from devtools import images
from devtools.faultproxy import FaultProxy
from devtools.localregistry import LocalRegistry
from promoter.registry import AuthenticationFailed, EcrAuth, RegistryClient, RetryPolicy

FAST = RetryPolicy(attempts=2, base_delay=0.001, max_delay=0.002, deadline=5, read_timeout=5, connect_timeout=2)


def _auth() -> EcrAuth:
    client = boto3.client("ecr", region_name="us-west-2", aws_access_key_id="t", aws_secret_access_key="t")
    stubber = Stubber(client)
    for secret in ("proxy-secret-1", "proxy-secret-2"):
        token = base64.b64encode(f"AWS:{secret}".encode()).decode()
        data = {"authorizationToken": token, "expiresAt": datetime.now(UTC) + timedelta(hours=12)}
        stubber.add_response("get_authorization_token", {"authorizationData": [data]}, {})
    stubber.activate()
    return EcrAuth("us-west-2", lambda: client)


@pytest.mark.parametrize("probe_refused", [True, False], ids=["expired-token", "permission-denied"])
def test_a_bodiless_403_on_head_refreshes_only_when_the_token_is_refused_everywhere(
    registry: LocalRegistry,
    repo_name: Callable[[str], str],
    fault_proxy: Callable[[LocalRegistry], FaultProxy],
    probe_refused: bool,
) -> None:
    # Given an image, and a proxy that answers the first HEAD of its manifest 403 (no body: it is a HEAD)
    dev = repo_name("dev-app")
    pushed = images.push_image(registry.url, dev, "v1", [os.urandom(1000)])
    proxy = fault_proxy(registry)
    proxy.inject("403", method="HEAD", path=r"/manifests/v1$", times=1 if probe_refused else None)
    if probe_refused:  # an expired token is refused by the API root as well
        proxy.inject("403", method="GET", path=r"^/v2/$", times=1)
    auth = _auth()
    client = RegistryClient(proxy.url, auth=auth, retry=FAST)

    if probe_refused:
        # When the tag is resolved, Then the token was refreshed once and the retry found the image
        found = client.resolve(dev, "v1")
        assert found is not None and found.digest == pushed.digest
        assert auth.tokens_fetched == 2
    else:
        # When the tag is resolved, Then the denial stands, with no refresh (GET /v2/ accepted the token)
        with pytest.raises(AuthenticationFailed) as caught:
            client.resolve(dev, "v1")
        assert caught.value.status == 403 and auth.tokens_fetched == 1
        assert "proxy-secret" not in str(caught.value)
    assert [r.path for r in proxy.requests_matching("GET", r"^/v2/$")] == ["/v2/"]
