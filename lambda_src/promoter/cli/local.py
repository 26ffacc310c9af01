"""The `--local` invoker: the function's own entry point (`promoter.entry.handle`) in this process.

Settings come from the environment the CLI's edge passes in, as the stack would set them; when
PROMOTION_POLICY is not set, the policy is the one in this checkout's cdk.json, read by infra's
validated config reader (imported only then: it needs pydantic and the checkout).
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promoter.cli.exits import EXIT_FAILURE, EXIT_USAGE, CliFailure
from promoter.contract import Env

if TYPE_CHECKING:
    from promoter.config import Settings
    from promoter.promotion import Services
    from promoter.registry import TransientRegistryError

# The account whose ECR registry --local talks to when REGISTRY_ENDPOINT is not set.
ACCOUNT_ID_VARIABLE = "AWS_ACCOUNT_ID"
_CHECKOUT = Path(__file__).resolve().parents[3]


class LocalInvoker:
    """Runs each request through `handle`, as the deployed function would, against local settings."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = dict(env)
        self._settings: Settings | None = None
        self._services: Services | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from promoter.config import Settings  # noqa: PLC0415

            environ = dict(self._env)
            if not environ.get(Env.PROMOTION_POLICY):
                environ[Env.PROMOTION_POLICY] = checkout_policy_json()
            try:
                self._settings = Settings.from_environ(environ)
            except ValueError as error:  # ConfigError and PolicyError name the variable
                raise CliFailure(f"--local: {error}", EXIT_USAGE, "config") from None
        return self._settings

    def _built_services(self) -> Services:
        if self._services is None:
            from promoter.wiring import build_services  # noqa: PLC0415

            try:
                self._services = build_services(self.settings, self._env.get(ACCOUNT_ID_VARIABLE))
            except ValueError as error:
                raise CliFailure(
                    f"--local: {error}: set {Env.REGISTRY_ENDPOINT} for a local registry, or "
                    f"{ACCOUNT_ID_VARIABLE} and --region for this account's ECR",
                    EXIT_USAGE,
                    "config",
                ) from None
        return self._services

    def invoke(self, request: dict[str, Any]) -> dict[str, Any]:
        """The function's response to `request`; expected environment faults become one-line CliFailures."""
        from promoter.entry import handle  # noqa: PLC0415
        from promoter.registry import TransientRegistryError  # noqa: PLC0415

        try:
            return handle(request, self._built_services(), request_id=f"cli-{uuid.uuid4()}")
        except TransientRegistryError as error:
            raise self._unreachable_registry(error) from error
        except CliFailure:
            raise
        except Exception as error:
            from promoter.cli.aws_errors import explain_aws_error  # noqa: PLC0415

            failure = explain_aws_error(error, local=True) or self._missing_ledger(error)
            if failure is None:
                raise
            raise failure from error

    def resolve_digest(self, repository: str, tag: str) -> str:
        """The digest `repository:tag` names in the local registry (REGISTRY_ENDPOINT)."""
        from promoter.registry import RegistryClient, RegistryError, TransientRegistryError  # noqa: PLC0415

        endpoint = self.settings.registry_endpoint
        if endpoint is None:
            raise CliFailure(f"{Env.REGISTRY_ENDPOINT} is not set: give the image as REPO@sha256:<digest>", EXIT_USAGE)
        client = RegistryClient.for_endpoint(endpoint)
        try:
            found = client.resolve(repository, tag)
        except TransientRegistryError as error:
            raise self._unreachable_registry(error) from error
        except RegistryError as error:
            raise CliFailure(f"cannot resolve {repository}:{tag}: {error}") from None
        finally:
            client.close()
        if found is None:
            raise CliFailure(f"{repository}:{tag} is not in the registry at {endpoint}: push it first", EXIT_FAILURE)
        return found.digest

    def _unreachable_registry(self, error: TransientRegistryError) -> CliFailure:
        """Like copy's: a fault with no HTTP status may be a registry that is not running; one connect tells."""
        from promoter.cli.reach import address_of, why_unreachable  # noqa: PLC0415

        endpoint = self.settings.registry_endpoint
        reason = why_unreachable(endpoint) if endpoint and error.status is None else None
        if endpoint and reason:
            _, _, where = address_of(endpoint)
            return CliFailure(
                f"cannot reach {where} ({reason}): is the registry running? ({Env.REGISTRY_ENDPOINT}={endpoint})",
                EXIT_FAILURE,
                "unreachable",
            )
        return CliFailure(f"registry fault after retries: {error}", EXIT_FAILURE, "transient-registry-error")

    def _missing_ledger(self, error: Exception) -> CliFailure | None:
        """`LEDGER_TABLE 'x' not found in REGION` when DynamoDB says a resource is missing and it is the table."""
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

        if not isinstance(error, ClientError) or error.response.get("Error", {}).get("Code") != (
            "ResourceNotFoundException"
        ):
            return None
        import boto3  # noqa: PLC0415

        settings = self.settings
        dynamodb = boto3.client("dynamodb", region_name=settings.region)
        try:
            dynamodb.describe_table(TableName=settings.ledger_table)
        except dynamodb.exceptions.ResourceNotFoundException:
            region = dynamodb.meta.region_name
            return CliFailure(
                f"{Env.LEDGER_TABLE} {settings.ledger_table!r} not found in {region}: create it (string keys pk, sk) "
                "or point AWS_ENDPOINT_URL at the ledger that has it",
                EXIT_FAILURE,
                "ledger-not-found",
            )
        except (BotoCoreError, ClientError):
            return None
        return None


def checkout_policy_json() -> str:
    """The policy of this checkout's cdk.json, through infra's one validated reader, whatever the cwd."""
    try:
        from infra.config import load_deploy_config  # noqa: PLC0415
    except ModuleNotFoundError:
        # Run from lambda_src/ (PYTHONPATH=.): the checkout root holds infra/ and cdk.json.
        if not (_CHECKOUT / "infra" / "config.py").is_file():
            raise CliFailure(
                f"{Env.PROMOTION_POLICY} is not set and no checkout cdk.json was found: export "
                f"{Env.PROMOTION_POLICY}='<policy JSON>'",
                EXIT_USAGE,
                "config",
            ) from None
        sys.path.append(str(_CHECKOUT))
        from infra.config import load_deploy_config  # noqa: PLC0415
    from infra.config import CDK_JSON  # noqa: PLC0415

    try:
        return load_deploy_config().policy_json
    except json.JSONDecodeError as error:
        raise CliFailure(
            f"{CDK_JSON}:{error.lineno}:{error.colno}: {error.msg}: fix the JSON or set {Env.PROMOTION_POLICY}",
            EXIT_USAGE,
            "config",
        ) from None
    except OSError as error:
        raise CliFailure(
            f"cannot read {CDK_JSON} ({error.strerror}): set {Env.PROMOTION_POLICY}", EXIT_USAGE, "config"
        ) from None
    except ValueError as error:  # ConfigError / PolicyError: already name the cdk.json key
        raise CliFailure(f"{error}", EXIT_USAGE, "config") from None
