"""The field types every input model shares: names checked by the one OCI grammar, strict models.

Kept apart from the readers (promoter.events for EventBridge, promoter.manual_events for manual
invocations) so both use the same checks and `InvalidEvent` without importing each other.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from promoter.registry.errors import InvalidReference
from promoter.registry.reference import validate_digest, validate_repository_name, validate_tag

_SUITE_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9 ._:/@+=-]{0,127}$"


class InvalidEvent(ValueError):
    """The input is not one the function understands; the message says why."""


def checked(check: Callable[[str], str], what: str) -> Callable[[str], str]:
    def validate(value: str) -> str:
        try:
            return check(value)
        except InvalidReference as error:
            raise ValueError(f"not a valid {what}: {str(error)[:200]}") from None

    return validate


Repository = Annotated[str, AfterValidator(checked(validate_repository_name, "repository name"))]
Digest = Annotated[str, AfterValidator(checked(validate_digest, "sha256 digest"))]
Tag = Annotated[str, AfterValidator(checked(validate_tag, "tag"))]
Suite = Annotated[str, Field(pattern=_SUITE_PATTERN)]


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")


class Strict(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="forbid")
