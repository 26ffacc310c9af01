"""What `make destroy` leaves behind, and the commands that remove each piece by hand.

Production repositories and the ledger (the audit trail) carry `DeletionPolicy: Retain`, so `cdk destroy`
keeps them. This reads the synthesized cloud assembly, lists every retained resource per stack and account,
resolves its physical name from CloudFormation while the stacks still exist (when the caller's credentials
reach that account), and prints how to delete it.

Usage: python -m infra.retained cdk.out   (make destroy runs it before and prints it again after destroying)
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RETAINING = ("Retain", "RetainExceptOnCreate")
# The property that holds a resource's name when the template fixes it.
NAME_PROPERTY = {
    "AWS::ECR::Repository": "RepositoryName",
    "AWS::DynamoDB::Table": "TableName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::S3::Bucket": "BucketName",
}


@dataclass(frozen=True)
class Kept:
    stack: str
    account: str
    region: str
    logical_id: str
    kind: str
    path: str
    name: str | None

    def lookup(self) -> str:
        """The command that reads the physical name from CloudFormation (only while the stack exists)."""
        return (
            f"aws cloudformation describe-stack-resource --stack-name {self.stack} --logical-resource-id "
            f"{self.logical_id} --query StackResourceDetail.PhysicalResourceId --output text --region {self.region}"
        )

    def removal(self) -> str:
        """The command that deletes this resource (run with credentials for `account`)."""
        name = self.name or f"<{self.logical_id} physical id>"
        region = f"--region {self.region}"
        commands = {
            # --force deletes the images too: copy what you still need first.
            "AWS::ECR::Repository": f"aws ecr delete-repository --repository-name {name} --force {region}",
            "AWS::DynamoDB::Table": f"aws dynamodb delete-table --table-name {name} {region}",
            "AWS::KMS::Key": f"aws kms schedule-key-deletion --key-id {name} --pending-window-in-days 7 {region}",
            "AWS::Logs::LogGroup": f"aws logs delete-log-group --log-group-name {name} {region}",
            "AWS::S3::Bucket": f"aws s3 rb s3://{name} --force {region}",
        }
        generic = f"aws cloudcontrol delete-resource --type-name {self.kind} --identifier {name} {region}"
        return commands.get(self.kind, generic)


Resolver = Callable[[Kept], str | None]


def kept_resources(outdir: Path, resolve: Resolver | None = None) -> list[Kept]:
    """Every resource with a Retain deletion policy in the assembly at `outdir`, stack by stack."""
    manifest = json.loads((outdir / "manifest.json").read_text())
    kept: list[Kept] = []
    for stack, artifact in manifest["artifacts"].items():
        if artifact.get("type") != "aws:cloudformation:stack":
            continue
        account, region = artifact["environment"].removeprefix("aws://").split("/")
        template = json.loads((outdir / artifact["properties"]["templateFile"]).read_text())
        for logical_id, body in template.get("Resources", {}).items():
            if body.get("DeletionPolicy") not in RETAINING:
                continue
            fixed = body.get("Properties", {}).get(NAME_PROPERTY.get(body["Type"], ""))
            item = Kept(
                stack=stack,
                account=account,
                region=region,
                logical_id=logical_id,
                kind=body["Type"],
                path=body.get("Metadata", {}).get("aws:cdk:path", logical_id),
                name=fixed if isinstance(fixed, str) else None,
            )
            if item.name is None and resolve is not None:
                item = Kept(**{**item.__dict__, "name": resolve(item)})
            kept.append(item)
    return kept


def report(kept: list[Kept]) -> str:
    if not kept:
        return "make destroy keeps nothing: every resource of both stacks is deleted.\n"
    lines = [
        "make destroy KEEPS these resources (DeletionPolicy Retain): production images and the audit trail",
        "outlive the stacks. To remove one, run its command with credentials for its account:",
    ]
    for stack in dict.fromkeys(item.stack for item in kept):
        first = next(item for item in kept if item.stack == stack)
        lines.append(f"\n  {stack} (account {first.account}, {first.region})")
        for item in (i for i in kept if i.stack == stack):
            lines.append(f"    {item.kind}  {item.path}  name: {item.name or '(not resolved: see below)'}")
            if item.name is None:
                lines.append(f"      look up: {item.lookup()}")
            lines.append(f"      remove: {item.removal()}")
    if any(item.name is None for item in kept):
        lines.append(
            "\n  A name was not resolved (no credentials for that account, or the stack is not deployed): run its"
            "\n  'look up' command BEFORE destroying; afterwards the stack that knows the name is gone."
        )
    lines.append(
        "\n  Also kept on purpose: the CDKToolkit bootstrap stacks (shared by other CDK apps), repositories that"
        "\n  replication created on its own (targets of glob rules) and other teams' replication rules and"
        "\n  registry-policy statements (only ecr-promoter's own rule and statement are removed)."
    )
    return "\n".join(lines) + "\n"


def cloudformation_resolver() -> Resolver:
    """Look physical ids up in CloudFormation with the caller's credentials; None where that is not possible."""
    import boto3  # noqa: PLC0415 - only the CLI path needs AWS
    from botocore.config import Config  # noqa: PLC0415
    from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

    config = Config(connect_timeout=5, read_timeout=10, retries={"max_attempts": 2})

    def resolve(item: Kept) -> str | None:
        try:
            client: Any = boto3.client("cloudformation", region_name=item.region, config=config)
            detail = client.describe_stack_resource(StackName=item.stack, LogicalResourceId=item.logical_id)
            return str(detail["StackResourceDetail"]["PhysicalResourceId"])
        except (BotoCoreError, ClientError):
            return None

    return resolve


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m infra.retained CDK_OUTDIR", file=sys.stderr)
        return 2
    sys.stdout.write(report(kept_resources(Path(argv[0]), cloudformation_resolver())))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
