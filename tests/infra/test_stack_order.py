"""EcrPromoterSource waits for EcrPromoterDestination when both are deployed together.

Otherwise a promotion right after the source stack lands can replicate into the destination before its
`prod-…` repositories exist: replication creates them with default (mutable, unscanned) settings, and the
destination stack then fails with AlreadyExists.
"""

from __future__ import annotations

from promoter.contract import DESTINATION_STACK_NAME, SOURCE_STACK_NAME
from tests.support.cdk import Synthesized


def test_source_stack_depends_on_destination_stack(scenario: Synthesized) -> None:
    artifacts = scenario.manifest["artifacts"]
    assert DESTINATION_STACK_NAME in artifacts[SOURCE_STACK_NAME].get("dependencies", [])
    assert SOURCE_STACK_NAME not in artifacts[DESTINATION_STACK_NAME].get("dependencies", [])
