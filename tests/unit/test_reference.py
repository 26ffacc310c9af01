"""Image references and name validation: the OCI grammar, enforced before any request."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from promoter.registry import (
    ImageReference,
    InvalidReference,
    ecr_host_parts,
    is_loopback_host,
    parse_reference,
    validate_digest,
    validate_repository_name,
    validate_tag,
)

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:5000/dev-app:v1", ImageReference("127.0.0.1:5000", "dev-app", "v1", None)),
        ("localhost/dev-app", ImageReference("localhost", "dev-app", None, None)),
        (f"127.0.0.1:5000/team/dev.app_x@{DIGEST}", ImageReference("127.0.0.1:5000", "team/dev.app_x", None, DIGEST)),
        (
            f"registry.example.com/a/b/c:1.0-rc_1@{DIGEST}",
            ImageReference("registry.example.com", "a/b/c", "1.0-rc_1", DIGEST),
        ),
        (
            "111122223333.dkr.ecr.us-west-2.amazonaws.com/prod-microservice:v1.2.3",
            ImageReference("111122223333.dkr.ecr.us-west-2.amazonaws.com", "prod-microservice", "v1.2.3", None),
        ),
        ("[::1]:5000/app:latest", ImageReference("[::1]:5000", "app", "latest", None)),
        ("127.0.0.1:5000/a__b---c:_tag", ImageReference("127.0.0.1:5000", "a__b---c", "_tag", None)),
    ],
)
def test_valid_references_parse_into_their_parts(text: str, expected: ImageReference) -> None:
    # Given a well-formed reference, When it is parsed, Then every part is where it belongs
    parsed = parse_reference(text)
    assert parsed == expected
    # And it prints back as written
    assert str(parsed) == text


@pytest.mark.parametrize(
    "text",
    [
        "",
        "dev-app:v1",  # no registry host
        "dev/app:v1",  # first component is not a host
        "127.0.0.1:5000/Dev-App:v1",  # uppercase repository
        "127.0.0.1:5000/dev-app:",  # empty tag
        "127.0.0.1:5000/dev-app:-v1",  # tag starting with '-'
        "127.0.0.1:5000/dev-app:" + "x" * 129,  # tag too long
        "127.0.0.1:5000/dev-app@sha256:abc",  # short digest
        "127.0.0.1:5000/dev-app@sha512:" + "a" * 128,  # unsupported algorithm
        f"127.0.0.1:5000/dev-app@{DIGEST.upper()}",  # uppercase hex
        "127.0.0.1:5000/dev--app/-x:v1",  # component starting with a separator
        "127.0.0.1:5000/dev..app:v1",  # double dot
        "127.0.0.1:5000//dev-app:v1",  # empty component
        "127.0.0.1:5000/dev-app/:v1",  # trailing slash
        "127.0.0.1:99999/dev-app:v1",  # port out of range
        "127.0.0.1:5000/dev app:v1",  # whitespace
        " 127.0.0.1:5000/dev-app:v1",
        "-bad.host/dev-app:v1",
        "127.0.0.1:5000/" + "a" * 257,  # name too long (ECR allows 256)
    ],
)
def test_malformed_references_are_refused_with_invalid_reference(text: str) -> None:
    # Given a malformed reference, When it is parsed, Then InvalidReference (a ValueError) says why
    with pytest.raises(InvalidReference) as caught:
        parse_reference(text)
    assert isinstance(caught.value, ValueError)
    assert str(caught.value)


def test_validators_accept_the_grammar_and_return_their_input() -> None:
    assert validate_repository_name("dev-microservice") == "dev-microservice"
    assert validate_repository_name("team/sub.app__x") == "team/sub.app__x"
    assert validate_tag("v1.2.3") == "v1.2.3"
    assert validate_tag("A" * 128) == "A" * 128
    assert validate_digest(DIGEST) == DIGEST


@pytest.mark.parametrize("name", ["", "UPPER", "a/", "/a", "a//b", "a..b", "-a", "a-", "a" * 257, "a b"])
def test_repository_validator_refuses_invalid_names(name: str) -> None:
    with pytest.raises(InvalidReference):
        validate_repository_name(name)


@pytest.mark.parametrize("tag", ["", ".v1", "-v1", "v1/2", "v" * 129, "v1 ", "sha256:x"])
def test_tag_validator_refuses_invalid_tags(tag: str) -> None:
    with pytest.raises(InvalidReference):
        validate_tag(tag)


@pytest.mark.parametrize("digest", ["", "sha256:", "sha256:" + "g" * 64, "md5:" + "a" * 32, "sha256:" + "a" * 63])
def test_digest_validator_refuses_invalid_digests(digest: str) -> None:
    with pytest.raises(InvalidReference):
        validate_digest(digest)


def test_reference_is_the_digest_when_both_tag_and_digest_are_given() -> None:
    assert parse_reference(f"h.io/app:v1@{DIGEST}").reference == DIGEST
    assert parse_reference("h.io/app:v1").reference == "v1"
    assert parse_reference("h.io/app").reference is None


def test_image_reference_validates_its_fields_when_built_directly() -> None:
    with pytest.raises(InvalidReference):
        ImageReference("127.0.0.1:5000", "Bad")
    with pytest.raises(InvalidReference):
        ImageReference("127.0.0.1:5000", "ok", tag="no good")


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1:5000", True),
        ("127.1.2.3", True),
        ("localhost:5000", True),
        ("[::1]:5000", True),
        ("10.0.0.1:5000", False),
        ("registry.example.com", False),
        ("111122223333.dkr.ecr.us-west-2.amazonaws.com", False),
    ],
)
def test_loopback_hosts_are_recognised(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


def test_ecr_hosts_yield_account_and_region() -> None:
    assert ecr_host_parts("111122223333.dkr.ecr.us-west-2.amazonaws.com") == ("111122223333", "us-west-2")
    assert ecr_host_parts("444455556666.dkr.ecr-fips.us-gov-west-1.amazonaws.com") == ("444455556666", "us-gov-west-1")
    assert ecr_host_parts("111122223333.dkr.ecr.cn-north-1.amazonaws.com.cn") == ("111122223333", "cn-north-1")
    assert ecr_host_parts("public.ecr.aws") is None
    assert ecr_host_parts("127.0.0.1:5000") is None


_component = st.from_regex(r"[a-z0-9]{1,5}(?:[._-][a-z0-9]{1,5}){0,2}", fullmatch=True)
_repository = st.lists(_component, min_size=1, max_size=3).map("/".join)
_tag = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,20}", fullmatch=True)
_digest = st.from_regex(r"[a-f0-9]{64}", fullmatch=True).map(lambda h: "sha256:" + h)


@given(_repository, st.none() | _tag, st.none() | _digest, st.integers(1, 65535))
def test_any_reference_built_from_the_grammar_round_trips(
    repo: str, tag: str | None, digest: str | None, port: int
) -> None:
    # Given any reference the grammar allows, When printed and parsed again, Then nothing changes
    reference = ImageReference(f"127.0.0.1:{port}", repo, tag, digest)
    assert parse_reference(str(reference)) == reference
