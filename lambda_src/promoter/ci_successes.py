"""Pipeline and build successes as evidence: confirm the run, then find the images built from it.

A success names commits, not images. Images are indexed by the commit they were built from (their
push tag or their `org.opencontainers.image.revision` label) when they are pushed; a success is
recorded per commit, so whichever of the two arrives first, the other finds it. With ECR the run is
confirmed through GetPipelineExecution / BatchGetBuilds and its revisions come from there; in local
mode (no CI API) the event's own revision is the evidence.
"""

from __future__ import annotations

import re

from promoter.commands import ImagePushed, PipelineSucceeded
from promoter.gates import SuiteResult
from promoter.ports import BuildConfirmer, Ledger, PipelineConfirmer, RunStatus

_HEX_REVISION = re.compile(r"^[0-9a-f]{40}$")
# Images are often tagged with a short commit hash: look the run's revision up under these prefixes too.
_SHORT_SHA_LENGTHS = (7, 8, 10, 12)


class CiSuccesses:
    def __init__(
        self, ledger: Ledger, pipeline_runs: PipelineConfirmer | None, build_runs: BuildConfirmer | None
    ) -> None:
        self._ledger = ledger
        self._pipeline_runs = pipeline_runs
        self._build_runs = build_runs

    def confirmed_revisions(self, event: PipelineSucceeded) -> tuple[str, ...] | str:
        """The run's revisions, from the CI API where there is one; else why the event is ignored."""
        run: RunStatus | None
        if event.pipeline_name is not None and self._pipeline_runs is not None:
            what = f"pipeline {event.pipeline_name} execution {event.execution_id}"
            run = self._pipeline_runs.confirm(event.pipeline_name, event.execution_id or "")
        elif event.project_name is not None and self._build_runs is not None:
            if not event.build_id:
                return f"{event.suite} succeeded but the event names no build id to confirm"
            what = f"build {event.build_id}"
            run = self._build_runs.confirm(event.build_id)
        else:
            return event.revisions  # local mode: no CI API, the event is the evidence
        if run is None:
            return f"{what} does not exist: nothing to confirm"
        if not run.succeeded:
            return f"{what} is {run.status or 'unknown'} according to the API, not SUCCEEDED"
        return run.revisions

    def record_success(self, event: PipelineSucceeded, revisions: tuple[str, ...]) -> list[tuple[str, str]]:
        """Record the success per revision and as a PASSED suite of every image built from one; those images."""
        images: list[tuple[str, str]] = []
        for revision in revisions:
            self._ledger.record_revision_success(revision, event.suite, event.time, event.event_id)
            keys = [revision]
            if _HEX_REVISION.fullmatch(revision):
                keys += [revision[:length] for length in _SHORT_SHA_LENGTHS]
            for key in keys:
                for image in self._ledger.images_for_revision(key):
                    if image not in images:
                        images.append(image)
        passed = SuiteResult(event.suite, "PASSED", event.time)
        for repository, digest in images:
            self._ledger.record_test(repository, digest, passed, event.event_id)
        return images

    def link_push(self, event: ImagePushed, label: str | None) -> None:
        """Index the pushed image under its commit(s), and apply successes already recorded for them."""
        revisions = {event.tag} if event.tag else set()
        if label:
            revisions.add(label)
        for revision in sorted(revisions):
            self._ledger.link_revision(revision, event.repository, event.digest)
            for success in self._ledger.revision_successes(revision):
                self._ledger.record_test(event.repository, event.digest, success, event.event_id)
