"""What the function tells the rest of the organisation: the events it puts on the bus, the bypass audit of
the scheduled run, and a backfill over every source image.

The function runs with `EVENT_BUS=default` (as the stack sets it); moto's EventBridge matches its events
against two rules, as a next pipeline and a security team would subscribe (devtools.demo.bus).
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from devtools.demo.builds import push_build
from devtools.demo.report import say, short
from devtools.demo.scenario import SOURCE_REPOSITORY
from devtools.eventfactory import schedule_event

if TYPE_CHECKING:
    from devtools.demo.bus import Subscriber
    from devtools.demo.story import Demo

NEXT_PIPELINE = {"source": ["ecr-promoter"], "detail-type": ["Image Promoted"]}
SECURITY_TEAM = {"source": ["ecr-promoter"], "detail-type": ["Unrecorded Image"]}
MAX_BACKFILL_CALLS = 20


def events_out(demo: Demo, number: int, next_pipeline: Subscriber) -> None:
    """One `Image Promoted` per promotion (the duplicate delivery announced nothing twice)."""
    demo.section(f"{number}. The next pipeline's rule on the default bus received these Image Promoted events")
    received = next_pipeline.received()
    for event in received:
        detail = event.get("detail") or {}
        say(
            f"   Image Promoted: {detail.get('target-repository')}:{','.join(detail.get('tags') or [])} "
            f"{short(str(detail.get('digest')))} (rule {detail.get('rule')}, from {detail.get('source-repository')})"
        )
    announced = Counter((str(e["detail"].get("target-repository")), str(e["detail"].get("digest"))) for e in received)
    expected = Counter(demo.promotions)
    demo.expect(
        announced == expected, f"Image Promoted events {dict(announced)}, expected one per promotion {dict(expected)}"
    )


def bypass_audit(demo: Demo, number: int, security_team: Subscriber) -> None:
    """A direct push into the target is reported once by the scheduled run, and `status` shows it."""
    target = demo.target
    demo.section(f"{number}. An admin pushes a hotfix straight into {target}: the scheduled run reports it")
    hotfix = push_build(demo.dev.url, target, "hotfix-1", "v1.0.1-hotfix", demo.shared)
    say(f"   docker push {target}:v1.0.1-hotfix ({short(hotfix.digest)}): no gate, no promotion, no ledger record")
    for run in (1, 2):
        response = demo.deliver(schedule_event())
        reported = security_team.received()
        shown = ", ".join(
            f"{e['detail'].get('target-repository')}@{short(str(e['detail'].get('digest')))}" for e in reported
        )
        say(f"   scheduled run {run} (aws.events Scheduled Event)       -> Unrecorded Image events: {shown or 'none'}")
        digests = [e["detail"].get("digest") for e in reported]
        wanted = [hotfix.digest] if run == 1 else []
        demo.expect(
            digests == wanted and not response.get("error"),
            f"scheduled run {run}: Unrecorded Image for {digests}, expected {wanted}",
        )
    status = demo.deliver({"action": "status", "repository": target, "tag": "v1.0.1-hotfix"}).get("status") or {}
    unrecorded: dict[str, Any] = status.get("unrecorded") or {}
    label = f"status {target}:v1.0.1-hotfix"
    say(f"   {label:<50} -> unrecorded: {unrecorded or 'no'}")
    demo.expect(bool(unrecorded), f"status of {target}:v1.0.1-hotfix should show the audit's finding, shows {status}")


def backfill(demo: Demo, number: int) -> None:
    """`reconcile scope=all` walks every source image in bounded calls; an image whose events were lost is found."""
    demo.section(f"{number}. v1.8.0's events were lost; a backfill (reconcile, scope all) walks every source image")
    lost = push_build(demo.dev.url, SOURCE_REPOSITORY, "build-113", "v1.8.0", demo.shared)
    say(f"   docker push {SOURCE_REPOSITORY}:v1.8.0 ({short(lost.digest)}): its push event never reaches the function")
    request: dict[str, Any] = {"action": "reconcile", "scope": "all"}
    decisions: list[dict[str, Any]] = []
    calls = 0
    while calls < MAX_BACKFILL_CALLS:
        calls += 1
        response = demo.deliver(request)
        if response.get("error"):
            demo.expect(False, f"backfill call {calls}: {response['error']}")
            return
        decisions += response.get("decisions") or []
        if not response.get("cursor"):
            break
        request = {**request, "cursor": response["cursor"]}
    outcomes = Counter(str(d.get("outcome")) for d in decisions)
    tally = ", ".join(f"{count} {outcome}" for outcome, count in sorted(outcomes.items()))
    say(f"   backfill: {len(decisions)} decisions in {calls} call(s): {tally}")
    found = [d for d in decisions if d.get("digest") == lost.digest]
    what = f"{found[0].get('outcome')}: {'; '.join(found[0].get('reasons') or [])}" if found else "not found"
    say(f"   {SOURCE_REPOSITORY}:v1.8.0 -> {what}")
    demo.expect(calls < MAX_BACKFILL_CALLS, f"the backfill did not finish in {MAX_BACKFILL_CALLS} calls")
    demo.expect(
        [d.get("outcome") for d in found] == ["pending"],
        f"the backfill should find v1.8.0 and keep it pending on its gates, got {found}",
    )
    demo.expect("promoted" not in outcomes, f"a backfill of decided images should promote nothing new: {outcomes}")
