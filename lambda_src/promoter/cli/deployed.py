"""The deployed invoker: the stack's function (Lambda Invoke) and CI bus (PutEvents), found by the
source stack's outputs unless named. boto3 is imported on first use, never at start-up."""

from __future__ import annotations

import json
from typing import Any

from promoter.cli.exits import EXIT_FAILURE, CliFailure
from promoter.contract import DetailType, Source, StackOutput


def aws_client(service: str, region: str | None) -> Any:
    """One boto3 client; tests replace this function to hand in stubbed clients."""
    import boto3  # noqa: PLC0415 - only the deployed path pays for boto3

    return boto3.client(service, region_name=region)


class DeployedInvoker:
    """Talks to the deployed source stack in `region` (None: the AWS configuration's region)."""

    def __init__(self, *, stack: str, region: str | None, function: str | None = None) -> None:
        self.stack = stack
        self.region = region
        self.function = function
        self._outputs: dict[str, str] | None = None

    def _client(self, service: str) -> Any:
        return explained(lambda: aws_client(service, self.region))

    def stack_output(self, key: StackOutput) -> str:
        """An output of the source stack, read once per run."""
        if self._outputs is None:
            from botocore.exceptions import ClientError  # noqa: PLC0415

            cloudformation = self._client("cloudformation")
            try:
                stacks = explained(lambda: cloudformation.describe_stacks(StackName=self.stack)["Stacks"])
            except ClientError as error:
                where = f" in {cloudformation.meta.region_name}"
                raise CliFailure(
                    f"cannot read stack {self.stack!r}{where} ({error.response['Error'].get('Message', error)}): "
                    "pass --stack, --region or --function/--bus",
                    EXIT_FAILURE,
                    "stack-not-found",
                ) from None
            outputs = stacks[0].get("Outputs", []) if stacks else []
            self._outputs = {str(o["OutputKey"]): str(o["OutputValue"]) for o in outputs if "OutputKey" in o}
        if key not in self._outputs:
            raise CliFailure(f"stack {self.stack!r} has no output {key}; is it the ecr-promoter source stack?")
        return self._outputs[key]

    def invoke(self, request: dict[str, Any]) -> dict[str, Any]:
        """The deployed function's response to `request` (synchronous invoke)."""
        from botocore.exceptions import ClientError  # noqa: PLC0415

        function = self.function or self.stack_output(StackOutput.FUNCTION_NAME)
        lambda_ = self._client("lambda")
        try:
            answer = explained(
                lambda: lambda_.invoke(
                    FunctionName=function, InvocationType="RequestResponse", Payload=json.dumps(request).encode()
                )
            )
        except ClientError as error:
            raise CliFailure(f"cannot invoke {function}: {error}", EXIT_FAILURE, "invoke-failed") from None
        payload = json.loads(answer["Payload"].read() or b"{}")
        if answer.get("FunctionError"):
            if not isinstance(payload, dict):
                payload = {"errorMessage": str(payload)}
            message = payload.get("errorMessage", "no message")
            raise CliFailure(f"{function} failed: {payload.get('errorType', 'error')}: {message}")
        return payload  # type: ignore[no-any-return]

    def resolve_digest(self, repository: str, tag: str) -> str:
        """The digest `repository:tag` names in this account's ECR registry (DescribeImages)."""
        from botocore.exceptions import ClientError  # noqa: PLC0415

        ecr = self._client("ecr")
        try:
            answer = explained(lambda: ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}]))
        except ClientError as error:
            detail = error.response.get("Error", {})
            raise CliFailure(
                f"cannot resolve {repository}:{tag} in ECR ({detail.get('Code')}: {detail.get('Message', '')}): "
                "check the name and --region, or give REPO@sha256:<digest>",
                EXIT_FAILURE,
                "image-not-found",
            ) from None
        details = answer.get("imageDetails") or []
        if not details or not details[0].get("imageDigest"):
            raise CliFailure(f"{repository}:{tag} is not in ECR", EXIT_FAILURE, "image-not-found")
        return str(details[0]["imageDigest"])

    def put_test_result(self, bus: str | None, detail: dict[str, Any]) -> tuple[str, str]:
        """Put one `Image Test Result` event on the CI bus; returns (bus, event id)."""
        from botocore.exceptions import ClientError  # noqa: PLC0415

        bus = bus or self.stack_output(StackOutput.TEST_RESULT_BUS)
        events = self._client("events")
        entry = {
            "Source": Source.PROMOTER.value,
            "DetailType": DetailType.TEST_RESULT.value,
            "Detail": json.dumps(detail),
            "EventBusName": bus,
        }
        try:
            answer = explained(lambda: events.put_events(Entries=[entry]))
        except ClientError as error:
            raise CliFailure(f"cannot put the event on bus {bus}: {error}", EXIT_FAILURE, "put-events-failed") from None
        first = answer["Entries"][0]
        if answer.get("FailedEntryCount"):
            raise CliFailure(f"the bus refused the event: {first.get('ErrorCode')}: {first.get('ErrorMessage')}")
        return bus, str(first.get("EventId", "?"))


def explained(call: Any) -> Any:
    """Run `call`; an SDK failure we expect (no region, no credentials, no endpoint) becomes one line."""
    from botocore.exceptions import BotoCoreError  # noqa: PLC0415

    from promoter.cli.aws_errors import explain_aws_error  # noqa: PLC0415

    try:
        return call()
    except BotoCoreError as error:
        failure = explain_aws_error(error, local=False)
        if failure is None:
            raise CliFailure(f"AWS call failed: {error}", EXIT_FAILURE, "aws-error") from None
        raise failure from None
