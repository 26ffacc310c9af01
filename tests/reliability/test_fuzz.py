"""Fuzzing with Hypothesis, plus a corpus of hostile inputs: event parsing, policy loading, reference parsing
and the handler itself only ever fail with their own clean errors (InvalidEvent, PolicyError,
InvalidReference, or a response with "error" and nothing written), never with another exception."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devtools import eventfactory
from promoter.events import InvalidEvent, parse_event
from promoter.policy import PolicyError, load_policy
from promoter.registry import InvalidReference, parse_reference
from promoter.registry.reference import is_digest, is_valid_repository_name, is_valid_tag, validate_repository_name

DIGEST = "sha256:" + "ab" * 32
pytestmark = [
    pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisWarning"),
    pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning"),
]
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# ---- building blocks --------------------------------------------------------------------------

HOSTILE_STRINGS = [
    "",
    " ",
    "A" * 100_000,
    "dev-" + "a" * 300,
    "../../etc/passwd",
    "dev/../../prod-microservice",
    "dev-microservice/..",
    "/dev-microservice",
    "dev-microservice/",
    "dev-microservice%2F..%2Fprod",
    "prod-microservice\x00",
    "dev\nmicroservice",
    "DEV-MICROSERVICE",
    "dév-microservice",
    "dev-\u202emicroservice",
    "💥" * 50,
    "\ud800",
    "sha256:" + "g" * 64,
    "sha256:" + "A" * 64,
    "sha256:" + "a" * 63,
    "sha512:" + "a" * 128,
    "md5:" + "a" * 32,
    "sha256:" + "a" * 64 + "\n",
    "v1;rm -rf /",
    "$(reboot)",
    "{{name}}",
    "*",
    "${jndi:ldap://x}",
]
HOSTILE_VALUES: list[Any] = [
    *HOSTILE_STRINGS,
    None,
    True,
    0,
    -1,
    2**80,
    1e308,
    float("nan"),
    [],
    {},
    [[[[[]]]]],
    {"a": {"b": {"c": {"d": [None, {"e": "f"}]}}}},
    ["PASSED"] * 1000,
]
json_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.text(max_size=40),
    st.sampled_from(HOSTILE_VALUES),
)
json_values = st.recursive(
    json_leaves,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)


def valid_events(repository: str = "dev-microservice") -> list[dict[str, Any]]:
    return [
        eventfactory.push_event(repository, DIGEST, "v1"),
        eventfactory.scan_event(repository, DIGEST, {"CRITICAL": 1}, ["v1"]),
        eventfactory.ci_result_event(repository, DIGEST, "integration", "PASSED", "https://ci/1"),
        eventfactory.codebuild_event("build", "abc123"),
        eventfactory.codepipeline_event("pipe", "exec-1"),
        eventfactory.schedule_event(),
        {"action": "reconcile"},
        {"action": "promote", "repository": repository, "tag": "v1", "dry_run": True},
        {"action": "promote", "repository": repository, "digest": DIGEST, "override": {"reason": "x"}},
        {"action": "status", "repository": repository, "tag": "v1"},
    ]


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


def _replace(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    copied = json.loads(json.dumps(value))
    node = copied
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = new
    return copied


@st.composite
def mutated_events(draw: st.DrawFn) -> Any:
    """A valid event with one to three of its values (or the whole detail) replaced by garbage, or keys dropped."""
    event = draw(st.sampled_from(valid_events()))
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(event)
        path = draw(st.sampled_from(paths))
        if path and draw(st.booleans()) and isinstance(event, dict):
            node = event
            for step in path[:-1]:
                node = node[step]
            if isinstance(node, dict):
                node.pop(path[-1], None)
                continue
        event = _replace(event, path, draw(json_values))
    return event


@st.composite
def events_with_one_bad_string(draw: st.DrawFn) -> Any:
    """A valid event with exactly one of its strings replaced by arbitrary or hostile text: everything else is
    well-formed, so the parser's check of that one field is what decides."""
    event = draw(st.sampled_from(valid_events()))
    paths = [path for path in _paths(event) if path and isinstance(_get(event, path), str)]
    path = draw(st.sampled_from(paths))
    return _replace(event, path, draw(st.one_of(st.text(max_size=40), st.sampled_from(HOSTILE_STRINGS))))


def _get(value: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        value = value[step]
    return value


any_event = st.one_of(
    json_values,
    mutated_events(),
    events_with_one_bad_string(),
    st.dictionaries(st.text(max_size=12), json_values, max_size=6),
)
# Every seed, CodePipeline included: a pipeline the account does not have is a clean answer, not an exception.
handler_events = st.one_of(json_values, mutated_events())
MAX_MESSAGE = 5_000  # an error message is bounded: no 100 kB echo of the input


def assert_well_formed(command: Any) -> None:
    """What parses names only what the one name grammar (promoter.registry.reference) allows: a command's
    repository, digest and tags are safe to put in a registry URL and a ledger key."""
    repository = getattr(command, "repository", None)
    digest = getattr(command, "digest", None)
    tags = [getattr(command, "tag", None), *(getattr(command, "tags", None) or ())]
    assert repository is None or (isinstance(repository, str) and is_valid_repository_name(repository)), command
    assert digest is None or (isinstance(digest, str) and is_digest(digest)), command
    assert all(tag is None or (isinstance(tag, str) and is_valid_tag(tag)) for tag in tags), command


# ---- parse_event --------------------------------------------------------------------------------


@FUZZ
@given(any_event)
def test_parse_event_fails_only_with_invalid_event(event: Any) -> None:
    # Given any JSON value or a mutated valid event; When it is parsed
    try:
        command = parse_event(event, request_id="fuzz")
    except InvalidEvent as error:
        # Then a refusal is an InvalidEvent with a short, non-empty reason
        assert 0 < len(str(error)) < MAX_MESSAGE
        return
    # Then what is accepted is a command of a known kind that names only well-formed references
    assert command.kind in SEED_KINDS.values() or command.kind == "ignored", command
    assert_well_formed(command)


SEED_KINDS = {
    "ECR Image Action": "push",
    "ECR Image Scan": "scan",
    "Image Test Result": "test",
    "CodeBuild Build State Change": "pipeline",
    "CodePipeline Pipeline Execution State Change": "pipeline",
    "Scheduled Event": "reconcile",
    "reconcile": "reconcile",
    "promote": "promote",
    "status": "status",
}


@pytest.mark.parametrize("event", valid_events(), ids=lambda e: e.get("detail-type") or e.get("action"))
def test_the_seeds_of_the_mutations_are_valid(event: dict[str, Any]) -> None:
    # Given a valid event of each kind (the seeds the mutations start from)
    detail = event.get("detail") or {}
    # When it is parsed
    command = parse_event(event, request_id="seed")
    # Then it becomes the command of its kind, carrying the image it names
    assert command.kind == SEED_KINDS[event.get("detail-type") or event["action"]]
    repository = event.get("repository") or detail.get("repository-name")
    digest = event.get("digest") or detail.get("image-digest")
    tag = event.get("tag") or detail.get("image-tag")
    assert getattr(command, "repository", None) == repository
    assert getattr(command, "digest", None) == digest
    if tag is not None:
        assert command.tag == tag
    if "image-tags" in detail:
        assert list(command.tags) == detail["image-tags"]
    assert_well_formed(command)


@pytest.mark.parametrize("value", HOSTILE_VALUES, ids=range(len(HOSTILE_VALUES)))
@pytest.mark.parametrize("where", ["repository", "digest", "tag", "action", "result", "detail"])
def test_hostile_values_in_every_field_are_refused_cleanly(where: str, value: Any) -> None:
    # Given a manual request and an AWS event with one hostile value in one field
    manual: dict[str, Any] = {"action": "promote", "repository": "dev-x", "tag": "v1"}
    events = {
        "repository": [{**manual, "repository": value}, eventfactory.push_event(value, DIGEST)],
        "digest": [{**manual, "tag": None, "digest": value}, eventfactory.push_event("dev-x", value)],
        "tag": [{**manual, "tag": value}, eventfactory.push_event("dev-x", DIGEST, value)],
        "action": [{**manual, "action": value}],
        "result": [eventfactory.ci_result_event("dev-x", DIGEST, "integration", value)],
        "detail": [{**eventfactory.push_event("dev-x", DIGEST), "detail": value}],
    }[where]
    for event in events:
        # The only acceptable values in this corpus: a well-formed tag (e.g. "DEV-MICROSERVICE": tags may be upper
        # case), or no tag at all on a push (the factory leaves a falsy tag out; ECR pushes may carry none).
        acceptable = where == "tag" and (
            (isinstance(value, str) and is_valid_tag(value)) or (not value and event.get("source") == "aws.ecr")
        )
        # When it is parsed
        try:
            command = parse_event(event, request_id="hostile")
        except InvalidEvent as error:
            # Then it is refused with a clean, bounded reason, and only if it was not acceptable
            assert not acceptable, f"refused an acceptable {where} {value!r}: {error}"
            assert 0 < len(str(error)) < MAX_MESSAGE
            continue
        # Then what is accepted was acceptable, and carries the value as given
        assert acceptable, f"accepted a hostile {where} {repr(value)[:80]}: {repr(command)[:200]}"
        assert command.tag == (value or None)
        assert_well_formed(command)


@pytest.mark.parametrize(
    "repository", ["../prod-microservice", "dev/../prod", "dev-microservice/../../x", "./dev", "dev//x", "/dev"]
)
def test_path_traversal_in_repository_names_is_refused(repository: str) -> None:
    with pytest.raises(InvalidEvent):
        parse_event({"action": "promote", "repository": repository, "tag": "v1"}, request_id="t")
    with pytest.raises(InvalidReference):
        validate_repository_name(repository)
    with pytest.raises(InvalidReference):
        parse_reference(f"127.0.0.1:5000/{repository}:v1")


@pytest.mark.parametrize("result", ["passed", "PASS", "SUCCEEDED", "", "FAILED ", None, 1, ["PASSED"]])
def test_unknown_test_result_values_are_refused(result: Any) -> None:
    with pytest.raises(InvalidEvent):
        parse_event(eventfactory.ci_result_event("dev-x", DIGEST, "integration", result), request_id="t")


# ---- load_policy --------------------------------------------------------------------------------

VALID_POLICY = {
    "rules": [
        {
            "name": "microservice",
            "source": "dev-*",
            "target": "prod-{name}",
            "tags": ["v*"],
            "require": {"tests": ["integration"], "scan": {"fail_on": ["CRITICAL"]}},
        }
    ],
    "allow_override": False,
}


@st.composite
def mutated_policies(draw: st.DrawFn) -> Any:
    policy: Any = json.loads(json.dumps(VALID_POLICY))
    for _ in range(draw(st.integers(1, 3))):
        policy = _replace(policy, draw(st.sampled_from(_paths(policy))), draw(json_values))
    return policy


def assert_policy_is_usable(policy: Any) -> None:
    """What loads is usable: every source and every target it can name is a valid repository name."""
    assert policy.rules
    for rule in policy.rules:
        assert is_valid_repository_name(rule.source.replace("*", "abc")), rule
        target = rule.target_for("dev-abc") if "*" in rule.source else rule.target_for(rule.source)
        if target is not None:
            validate_repository_name(target)
        assert is_valid_repository_name(rule.target.replace("{name}", "abc")), rule
        assert rule.tags and all(isinstance(glob, str) and glob for glob in rule.tags), rule
    assert policy.allow_override in (True, False)


policy_bytes = st.one_of(
    st.binary(max_size=200),  # arbitrary bytes: b"\x80", b"0\x00000" (json's UTF-16 sniffing), ...
    mutated_policies().map(lambda p: json.dumps(p, allow_nan=True).encode()),
    mutated_policies().map(lambda p: json.dumps(p).encode("utf-16")),
    st.text(max_size=100).map(lambda t: t.encode("utf-8", "surrogatepass")),
)


@FUZZ
@given(st.one_of(json_values, mutated_policies(), st.text(max_size=200), policy_bytes))
def test_load_policy_fails_only_with_policy_error(raw: Any) -> None:
    # Given any JSON value, a mutated valid policy, text or bytes
    if not isinstance(raw, str | bytes | dict):
        raw = json.dumps(raw, allow_nan=True)
    # When it is loaded
    try:
        policy = load_policy(raw)
    except PolicyError as error:
        # Then a refusal is a PolicyError with a reason
        assert str(error)
        return
    # Then what loads is usable
    assert_policy_is_usable(policy)


@pytest.mark.parametrize("raw", [b"\x80", b"0\x00000", b"\xff\xfe{", b'{"rules": \xc3(}'], ids=repr)
def test_undecodable_policy_bytes_are_a_policy_error(raw: bytes) -> None:
    # Given bytes that are not UTF-8 JSON (or that json's encoding sniffing misreads); When loaded
    # Then the refusal is a PolicyError (was UnicodeDecodeError, RELIABILITY.md bug 4)
    with pytest.raises(PolicyError):
        load_policy(raw)


@pytest.mark.parametrize("value", HOSTILE_VALUES, ids=range(len(HOSTILE_VALUES)))
@pytest.mark.parametrize("field", ["name", "source", "target", "tags", "require", "allow_override", "rules"])
def test_hostile_policy_values_are_refused_or_safe(field: str, value: Any) -> None:
    # Given the valid policy with one hostile value in one field
    policy: Any = json.loads(json.dumps(VALID_POLICY))
    if field in ("allow_override", "rules"):
        policy[field] = value
    else:
        policy["rules"][0][field] = value
    # When it is loaded
    try:
        loaded = load_policy(json.dumps(policy))
    except PolicyError as error:
        # Then a refusal says where: the field is named in the reason
        assert field in str(error), str(error)[:300]
        return
    # Then what loads is safe: only valid repository names and tag globs, and an override only when the
    # policy says exactly `true` (no hostile value is coerced into permission)
    assert_policy_is_usable(loaded)
    assert loaded.allow_override is (field == "allow_override" and value is True)
    [rule] = loaded.rules
    assert (rule.source, rule.target) == (
        value if field == "source" else "dev-*",
        value if field == "target" else "prod-{name}",
    )
    assert all(_TAG_GLOB_CHARS.issuperset(glob) for glob in rule.tags), rule.tags
    if field == "name":
        assert rule.name == value and 1 <= len(rule.name) <= 64
    if field == "require" and value == {}:
        assert not rule.require.tests and rule.require.scan is None  # exactly what was written: no gates
    elif field != "require":
        assert rule.require.tests == ("integration",) and rule.require.scan is not None


_TAG_GLOB_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-*?[]!")


@pytest.mark.parametrize("target", ["../prod", "prod/../../x", "PROD-{name}", "prod-{name}/..", "prod-{other}"])
def test_policy_targets_with_traversal_or_bad_names_are_refused(target: str) -> None:
    with pytest.raises(PolicyError):
        load_policy({"rules": [{"name": "r", "source": "dev-*", "target": target}]})


# ---- parse_reference ----------------------------------------------------------------------------

hosts = st.sampled_from(["127.0.0.1:5000", "localhost", "111122223333.dkr.ecr.us-west-2.amazonaws.com", "[::1]:5000"])
reference_parts = st.one_of(st.text(max_size=30), st.sampled_from(HOSTILE_STRINGS), st.just("dev-app"))


@FUZZ
@given(
    st.one_of(
        st.text(max_size=300),
        st.sampled_from(HOSTILE_STRINGS),
        st.builds(
            lambda h, r, t, d: f"{h}/{r}{t}{d}",
            hosts,
            reference_parts,
            st.sampled_from(["", ":v1"]) | reference_parts.map(lambda s: ":" + s),
            st.sampled_from(["", "@" + DIGEST]) | reference_parts.map(lambda s: "@" + s),
        ),
    )
)
def test_parse_reference_fails_only_with_invalid_reference(text: str) -> None:
    try:
        reference = parse_reference(text)
    except InvalidReference as error:
        assert str(error)
        return
    # What parses is safe to put in a URL path: no traversal, no whitespace, no empty components
    assert ".." not in reference.repository.split("/")
    assert "" not in reference.repository.split("/")
    assert not any(ch.isspace() for ch in str(reference.host) + reference.repository)


# ---- the handler itself -------------------------------------------------------------------------


@pytest.fixture
def fuzz_promoter(promoter, repo_name):
    dev = repo_name("dev")
    promoter.configure(
        {
            "rules": [{"name": "r", "source": dev, "target": dev.replace("dev-", "prod-"), "tags": ["v*"]}],
            "allow_override": True,
        }
    )
    return promoter, dev


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(event=st.one_of(handler_events, st.sampled_from(HOSTILE_VALUES)))
def test_handler_never_raises_on_garbage_and_writes_nothing_for_it(fuzz_promoter, event: Any) -> None:
    promoter, _ = fuzz_promoter
    before = len(promoter.ledger_items())
    response = promoter.invoke(event)
    assert isinstance(response, dict) and isinstance(response.get("decisions"), list)
    json.dumps(response)  # JSON-able
    if "error" in response:
        assert response["decisions"] == []
        assert len(promoter.ledger_items()) == before


@pytest.mark.parametrize("index", range(len(HOSTILE_VALUES)))
def test_handler_hostile_manual_invocations_answer_an_error(fuzz_promoter, index: int) -> None:
    promoter, dev = fuzz_promoter
    value = HOSTILE_VALUES[index]
    for event in (
        value,
        {"action": value},
        {"action": "promote", "repository": value, "tag": "v1"},
        {"action": "promote", "repository": dev, "digest": value},
        {"action": "status", "repository": dev, "tag": value},
        {"action": "promote", "repository": dev, "tag": "v1", "override": value},
    ):
        if event == {"action": "promote", "repository": dev, "tag": "v1", "override": None}:
            continue  # a valid request (no override)
        response = promoter.invoke(event)
        assert response["decisions"] == [] and response["error"], (event, response)
    assert promoter.ledger_items() == []
