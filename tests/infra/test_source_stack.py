"""The source (dev account) stack as synthesized from cdk.json: key properties, not resource counts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from infra.application import SOURCE_STACK
from infra.permissions import ECR_READ_ACTIONS, ECR_WRITE_ACTIONS, LEDGER_ACTIONS
from infra.powertools_layer import pinned_version
from infra.promoter_function import HANDLER, LAMBDA_SOURCE
from promoter.contract import METRICS_NAMESPACE, SERVICE_NAME, DetailType, Env, LedgerKey, Metric, Source, StackOutput
from promoter.policy import load_policy
from tests.support.cdk import Synthesized, Template, as_list, function_named, only, ref_of, resources, role_statements

SOURCE_REPO = "arn:aws:ecr:us-west-2:111122223333:repository/dev-microservice"
TARGET_REPO = "arn:aws:ecr:us-west-2:111122223333:repository/prod-microservice"
WRITE_ONLY = {"ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload", "ecr:PutImage"}
# The only actions that may have `*` as resource: they support no resource-level permissions.
# (inspector2:ListFindings: "IAM permissions required for enhanced scanning", ECR user guide; it has no resource
# type in the Service Authorization Reference for Amazon Inspector2.)
UNSCOPABLE = {
    "ecr:GetAuthorizationToken",
    "inspector2:ListFindings",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
}


@pytest.fixture(scope="module")
def template(scenario: Synthesized) -> Template:
    return scenario.source


@pytest.fixture(scope="module")
def promoter(template: Template) -> tuple[str, Any]:
    return function_named(template, HANDLER)


def failure_queue(template: Template) -> str | None:
    return ref_of(only(template, "AWS::Lambda::EventInvokeConfig")[1]["DestinationConfig"]["OnFailure"]["Destination"])


def rule_with(template: Template, source: str) -> tuple[str, Any]:
    return only(
        template, "AWS::Events::Rule", lambda body: source in json.dumps(body["Properties"].get("EventPattern"))
    )


def test_stack_targets_the_source_account(scenario: Synthesized) -> None:
    assert scenario.manifest["artifacts"][SOURCE_STACK]["environment"] == "aws://111122223333/us-west-2"


def test_function_runtime_code_and_limits(template: Template, promoter: tuple[str, Any]) -> None:
    _, props = promoter
    assert props["Runtime"] == "python3.14"
    assert props["Architectures"] == ["arm64"]
    assert props["MemorySize"] == 512
    assert props["Timeout"] == 300
    assert props["TracingConfig"] == {"Mode": "Active"}
    # The layer is the SSM parameter Powertools publishes for the release requirements.txt pins.
    (layer,) = props["Layers"]
    parameter = template["Parameters"][str(ref_of(layer))]
    assert parameter["Type"] == "AWS::SSM::Parameter::Value<String>"
    assert parameter["Default"] == f"/aws/service/powertools/python/arm64/python3.14/{pinned_version()}"


def function_asset(scenario: Synthesized, promoter: tuple[str, Any]) -> Path:
    return scenario.outdir / f"asset.{promoter[1]['Code']['S3Key'].removesuffix('.zip')}"


def test_function_asset_is_lambda_src_without_bytecode_or_cli(scenario: Synthesized, promoter: tuple[str, Any]) -> None:
    asset = function_asset(scenario, promoter)
    assert (asset / "promoter" / "policy.py").is_file()
    assert not list(asset.rglob("__pycache__"))
    assert not list(asset.rglob("*.pyc"))
    # The CLI is a module today and a package once the CLI work lands: neither may ship, nor `python -m`.
    assert (LAMBDA_SOURCE / "promoter" / "__main__.py").is_file(), "the exclusion below must exclude something"
    shipped = {path.relative_to(asset).as_posix() for path in asset.rglob("*")}
    assert not {name for name in shipped if name == "promoter/cli.py" or name.startswith("promoter/cli/")}
    assert "promoter/__main__.py" not in shipped
    assert "promoter/cli" not in shipped


def test_the_handler_imports_from_the_asset_alone(scenario: Synthesized, promoter: tuple[str, Any]) -> None:
    # Given only the asset on the path (the layer's Powertools/pydantic and boto3 come from this venv)
    asset = function_asset(scenario, promoter)
    handler_module = HANDLER.rsplit(".", 1)[0]
    # When the handler module is imported the way Lambda does, Then it loads from the asset: nothing excluded is needed
    script = f"import {handler_module} as h, promoter; print(promoter.__file__); assert callable(h.lambda_handler)"
    run = subprocess.run(
        [sys.executable, "-c", script],
        cwd=asset,
        env={**os.environ, "PYTHONPATH": str(asset), "POWERTOOLS_TRACE_DISABLED": "true"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert Path(run.stdout.strip()).resolve().is_relative_to(asset.resolve())


def test_function_environment(scenario: Synthesized, template: Template, promoter: tuple[str, Any]) -> None:
    env = promoter[1]["Environment"]["Variables"]
    assert set(env) == {
        Env.PROMOTION_POLICY,
        Env.LEDGER_TABLE,
        Env.EVENT_BUS,
        Env.POWERTOOLS_SERVICE_NAME,
        Env.POWERTOOLS_METRICS_NAMESPACE,
        Env.POWERTOOLS_LOG_LEVEL,
    }  # no REGISTRY_ENDPOINT: in AWS the promoter talks to this account's ECR
    assert env[Env.PROMOTION_POLICY] == json.dumps(scenario.context["promotion_policy"], separators=(",", ":"))
    assert load_policy(env[Env.PROMOTION_POLICY]).source_patterns == ("dev-microservice",)
    assert ref_of(env[Env.LEDGER_TABLE]) == only(template, "AWS::DynamoDB::Table")[0]
    assert env[Env.POWERTOOLS_SERVICE_NAME] == SERVICE_NAME
    assert env[Env.POWERTOOLS_METRICS_NAMESPACE] == METRICS_NAMESPACE
    assert env[Env.POWERTOOLS_LOG_LEVEL] == "INFO"
    assert env[Env.EVENT_BUS] == "default"  # decisions go out on the account's default bus


def test_function_logs_to_its_own_group_with_retention(template: Template, promoter: tuple[str, Any]) -> None:
    group = ref_of(promoter[1]["LoggingConfig"]["LogGroup"])
    assert template["Resources"][group]["Properties"]["RetentionInDays"] > 0


def test_async_invocations_retry_then_land_in_an_encrypted_queue(template: Template, promoter: tuple[str, Any]) -> None:
    _, config = only(template, "AWS::Lambda::EventInvokeConfig")
    assert ref_of(config["FunctionName"]) == promoter[0]
    assert config["MaximumRetryAttempts"] == 2
    assert config["MaximumEventAgeInSeconds"] == 6 * 3600
    queue = ref_of(config["DestinationConfig"]["OnFailure"]["Destination"])
    assert_secure_queue(template, queue)


def assert_secure_queue(template: Template, queue: str | None) -> None:
    assert queue is not None
    assert template["Resources"][queue]["Properties"]["SqsManagedSseEnabled"] is True
    statements = [
        statement
        for body in resources(template, "AWS::SQS::QueuePolicy").values()
        if queue in [ref_of(q) for q in body["Properties"]["Queues"]]
        for statement in body["Properties"]["PolicyDocument"]["Statement"]
    ]
    assert any(
        statement["Effect"] == "Deny" and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for statement in statements
    ), f"{queue} does not enforce TLS"


# ---- IAM -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def statements(template: Template, promoter: tuple[str, Any]) -> list[dict[str, Any]]:
    role = ref_of(promoter[1]["Role"])
    assert role is not None
    assert "ManagedPolicyArns" not in template["Resources"][role]["Properties"]
    return role_statements(template, role)


def granted(statements: list[dict[str, Any]], action: str) -> list[Any]:
    return [resource for s in statements if action in as_list(s["Action"]) for resource in as_list(s["Resource"])]


def test_no_wildcard_actions(statements: list[dict[str, Any]]) -> None:
    actions = [action for s in statements for action in as_list(s["Action"])]
    assert all("*" not in action for action in actions), actions
    assert all(s["Effect"] == "Allow" for s in statements)


def test_ecr_reads_only_sources_and_writes_only_targets(statements: list[dict[str, Any]]) -> None:
    for action in WRITE_ONLY:
        assert granted(statements, action) == [TARGET_REPO], action
    for action in set(ECR_READ_ACTIONS) - set(ECR_WRITE_ACTIONS):
        assert granted(statements, action) == [SOURCE_REPO], action
    for action in set(ECR_READ_ACTIONS) & set(ECR_WRITE_ACTIONS):
        assert sorted(granted(statements, action)) == sorted([SOURCE_REPO, TARGET_REPO]), action
    assert granted(statements, "ecr:GetAuthorizationToken") == ["*"]
    ecr_actions = {a for s in statements for a in as_list(s["Action"]) if a.startswith("ecr:")}
    assert ecr_actions == {*ECR_READ_ACTIONS, *ECR_WRITE_ACTIONS, "ecr:GetAuthorizationToken"}


def test_star_resources_only_for_actions_without_resource_types(statements: list[dict[str, Any]]) -> None:
    for statement in statements:
        if "*" in as_list(statement["Resource"]):
            assert set(as_list(statement["Action"])) <= UNSCOPABLE, statement


def test_dynamodb_only_on_the_ledger(template: Template, statements: list[dict[str, Any]]) -> None:
    table = only(template, "AWS::DynamoDB::Table")[0]
    dynamo = [s for s in statements if any(a.startswith("dynamodb:") for a in as_list(s["Action"]))]
    assert {a for s in dynamo for a in as_list(s["Action"])} == set(LEDGER_ACTIONS)
    assert all([ref_of(r) for r in as_list(s["Resource"])] == [table] for s in dynamo)


def test_other_grants_are_scoped(
    template: Template, promoter: tuple[str, Any], statements: list[dict[str, Any]]
) -> None:
    # Enhanced scanning: DescribeImageScanFindings needs inspector2:ListFindings, which takes no resource.
    assert granted(statements, "inspector2:ListFindings") == ["*"]
    # The scenario requires no `codebuild:`/`pipeline:` suite: nothing to confirm, so no build or pipeline read.
    assert not [a for s in statements for a in as_list(s["Action"]) if a.split(":")[0] in {"codebuild", "codepipeline"}]
    assert [ref_of(r) for r in granted(statements, "sqs:SendMessage")] == [failure_queue(template)]
    log_group = ref_of(promoter[1]["LoggingConfig"]["LogGroup"])
    assert [ref_of(r) for r in granted(statements, "logs:PutLogEvents")] == [log_group]


# ---- triggers --------------------------------------------------------------------------


def test_push_rule_matches_successful_pushes_to_source_repositories(template: Template) -> None:
    _, rule = rule_with(template, DetailType.IMAGE_ACTION)
    assert rule["EventPattern"] == {
        "source": [Source.ECR],
        "detail-type": [DetailType.IMAGE_ACTION],
        "detail": {"action-type": ["PUSH"], "result": ["SUCCESS"], "repository-name": ["dev-microservice"]},
    }


def test_scan_rule_matches_completed_scans_of_source_repositories(template: Template) -> None:
    _, rule = rule_with(template, DetailType.IMAGE_SCAN)
    assert rule["EventPattern"] == {
        "source": [Source.ECR],
        "detail-type": [DetailType.IMAGE_SCAN],
        "detail": {"scan-status": ["COMPLETE"], "repository-name": ["dev-microservice"]},
    }


def test_enhanced_scan_rule_matches_inspector_completions_for_source_repository_arns(template: Template) -> None:
    # "Event for an initial image scan (enhanced scanning)" (ECR user guide, image-scanning-enhanced-events):
    # source aws.inspector2, detail-type "Inspector2 Scan", scan-status INITIAL_SCAN_COMPLETE, and
    # repository-name is the repository ARN, so other accounts' registries never match.
    _, rule = rule_with(template, DetailType.INSPECTOR_SCAN)
    assert rule["EventPattern"] == {
        "source": [Source.INSPECTOR],
        "detail-type": [DetailType.INSPECTOR_SCAN],
        "detail": {"scan-status": ["INITIAL_SCAN_COMPLETE"], "repository-name": [SOURCE_REPO]},
    }


def test_no_build_or_pipeline_rule_without_a_suite_that_needs_it(template: Template) -> None:
    # The scenario's policy requires only the `integration` suite: every successful build or pipeline run of
    # the account would wake the function for nothing (and count as an error), so there is no such rule.
    sources = {
        s
        for body in resources(template, "AWS::Events::Rule").values()
        for s in body["Properties"].get("EventPattern", {}).get("source", [])
    }
    assert sources == {Source.ECR, Source.INSPECTOR, Source.PROMOTER}


def test_reconcile_schedule_sends_the_reconcile_action(template: Template) -> None:
    _, rule = only(template, "AWS::Events::Rule", lambda body: "ScheduleExpression" in body["Properties"])
    assert rule["ScheduleExpression"] == "rate(15 minutes)"
    (target,) = rule["Targets"]
    assert json.loads(target["Input"]) == {"action": "reconcile"}


def test_every_rule_target_retries_and_has_its_own_encrypted_dead_letter_queue(
    template: Template, promoter: tuple[str, Any]
) -> None:
    queues = []
    for rule in resources(template, "AWS::Events::Rule").values():
        (target,) = rule["Properties"]["Targets"]
        assert ref_of(target["Arn"]) == promoter[0]
        assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0
        assert target["RetryPolicy"]["MaximumEventAgeInSeconds"] > 0
        queue = ref_of(target["DeadLetterConfig"]["Arn"])
        assert_secure_queue(template, queue)
        queues.append(queue)
    assert len(set(queues)) == len(queues) == len(resources(template, "AWS::Events::Rule"))


def test_test_results_arrive_on_a_dedicated_bus_only_ci_principals_may_write(
    scenario: Synthesized, template: Template
) -> None:
    bus, _ = only(template, "AWS::Events::EventBus")
    _, rule = rule_with(template, DetailType.TEST_RESULT)
    assert ref_of(rule["EventBusName"]) == bus
    assert rule["EventPattern"] == {
        "source": [Source.PROMOTER],
        "detail-type": [DetailType.TEST_RESULT],
        "detail": {"repository-name": ["dev-microservice"]},
    }
    policies = [p for p in resources(template, "AWS::Events::EventBusPolicy").values()]
    statements = [p["Properties"]["Statement"] for p in policies if ref_of(p["Properties"]["EventBusName"]) == bus]
    assert statements and all(s["Effect"] == "Allow" for s in statements)
    assert {a for s in statements for a in as_list(s["Action"])} == {"events:PutEvents"}
    principals = {p for s in statements for p in as_list(s["Principal"]["AWS"])}
    assert principals == set(scenario.context["ci_principals"])
    assert all(ref_of(s["Resource"]) == bus for s in statements)


def test_default_bus_is_left_alone(template: Template) -> None:
    for rule in resources(template, "AWS::Events::Rule").values():
        if DetailType.TEST_RESULT not in json.dumps(rule["Properties"]):
            assert "EventBusName" not in rule["Properties"]


# ---- ledger, alarms, registry ----------------------------------------------------------


def test_ledger_table(template: Template) -> None:
    _, table = only(template, "AWS::DynamoDB::Table")
    assert table["KeySchema"] == [
        {"AttributeName": LedgerKey.PARTITION, "KeyType": "HASH"},
        {"AttributeName": LedgerKey.SORT, "KeyType": "RANGE"},
    ]
    assert {(a["AttributeName"], a["AttributeType"]) for a in table["AttributeDefinitions"]} == {
        (LedgerKey.PARTITION, "S"),
        (LedgerKey.SORT, "S"),
    }
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}


def test_alarms_notify_an_encrypted_tls_only_topic(template: Template, promoter: tuple[str, Any]) -> None:
    topic, props = only(template, "AWS::SNS::Topic")
    assert ref_of(props["KmsMasterKeyId"]) in resources(template, "AWS::KMS::Key")
    _, policy = only(template, "AWS::SNS::TopicPolicy")
    assert any(
        s["Effect"] == "Deny" and "aws:SecureTransport" in json.dumps(s) for s in policy["PolicyDocument"]["Statement"]
    )
    alarms = [body["Properties"] for body in resources(template, "AWS::CloudWatch::Alarm").values()]
    assert all([ref_of(action) for action in alarm["AlarmActions"]] == [topic] for alarm in alarms)

    def alarm_on(metric: str, namespace: str) -> list[dict[str, Any]]:
        return [a for a in alarms if a["MetricName"] == metric and a["Namespace"] == namespace]

    (errors,) = alarm_on("Errors", "AWS/Lambda")
    assert ref_of(errors["Dimensions"][0]["Value"]) == promoter[0]
    (conflict,) = alarm_on(Metric.CONFLICT, METRICS_NAMESPACE)
    assert conflict["Dimensions"] == [{"Name": "service", "Value": SERVICE_NAME}]
    watched = {ref_of(a["Dimensions"][0]["Value"]) for a in alarm_on("ApproximateNumberOfMessagesVisible", "AWS/SQS")}
    assert failure_queue(template) in watched
    assert watched == set(resources(template, "AWS::SQS::Queue"))  # every dead-letter queue too


def test_no_email_subscription_unless_configured(template: Template) -> None:
    assert not resources(template, "AWS::SNS::Subscription")


def test_replication_and_blob_mounting_are_merged_into_the_registry_not_replaced(template: Template) -> None:
    # No resource that would replace the registry's one configuration, nor the old set-and-disable call.
    assert not resources(template, "AWS::ECR::ReplicationConfiguration")
    assert not resources(template, "Custom::AWS")
    _, rule = only(template, "Custom::EcrReplicationRule")
    _, blob = only(template, "Custom::EcrBlobMounting")
    assert {key: rule[key] for key in ("Setting", "Prefix", "DestinationRegistryId", "DestinationRegion")} == {
        "Setting": "ReplicationRule",
        "Prefix": "prod-",
        "DestinationRegistryId": "444455556666",
        "DestinationRegion": "us-west-2",
    }
    assert (blob["Setting"], blob["Value"]) == ("BlobMounting", "ENABLED")
    # Both go through the one merge provider of this stack.
    assert rule["ServiceToken"] == blob["ServiceToken"]
    framework = ref_of(rule["ServiceToken"])
    assert framework is not None and template["Resources"][framework]["Type"] == "AWS::Lambda::Function"


def test_reference_repositories(template: Template) -> None:
    repos = {
        body["Properties"]["RepositoryName"]: body["Properties"]
        for body in resources(template, "AWS::ECR::Repository").values()
    }
    assert set(repos) == {"dev-microservice", "prod-microservice"}
    assert all(repo["ImageScanningConfiguration"] == {"ScanOnPush": True} for repo in repos.values())
    assert repos["prod-microservice"]["ImageTagMutability"] == "IMMUTABLE_WITH_EXCLUSION"
    assert repos["dev-microservice"]["ImageTagMutability"] == "MUTABLE"
    # Promoted (and replicated) images outlive the stack; the demo's source repository does not.
    deletion = {
        body["Properties"]["RepositoryName"]: (body["DeletionPolicy"], body["UpdateReplacePolicy"])
        for body in resources(template, "AWS::ECR::Repository").values()
    }
    assert deletion == {"prod-microservice": ("Retain", "Retain"), "dev-microservice": ("Delete", "Delete")}
    assert "EmptyOnDelete" not in repos["prod-microservice"]


def test_outputs_for_the_operator_cli(template: Template, promoter: tuple[str, Any]) -> None:
    outputs = template["Outputs"]
    assert ref_of(outputs[StackOutput.FUNCTION_NAME]["Value"]) == promoter[0]
    assert ref_of(outputs[StackOutput.TEST_RESULT_BUS]["Value"]) == only(template, "AWS::Events::EventBus")[0]
    assert ref_of(outputs[StackOutput.LEDGER_TABLE]["Value"]) == only(template, "AWS::DynamoDB::Table")[0]
    assert ref_of(outputs[StackOutput.FAILURE_QUEUE_URL]["Value"]) == failure_queue(template)


def test_repositories_are_listed_only_for_glob_rules(
    statements: list[dict[str, Any]], glob_scenario: Synthesized
) -> None:
    # Given cdk.json's named rule, Then no listing is granted: the function names those repositories itself
    assert granted(statements, "ecr:DescribeRepositories") == []
    # Given a `dev-*` -> `prod-{name}` rule, Then the backfill and the bypass audit may list repository names
    # (DescribeRepositories without repositoryNames describes the whole registry: not scoped by a pattern)
    template = glob_scenario.source
    _, function = function_named(template, HANDLER)
    role = ref_of(function["Role"])
    assert role is not None
    glob_statements = role_statements(template, role)
    listing = [s for s in glob_statements if "ecr:DescribeRepositories" in as_list(s["Action"])]
    assert [as_list(s["Action"]) for s in listing] == [["ecr:DescribeRepositories"]]
    assert granted(glob_statements, "ecr:DescribeRepositories") == ["arn:aws:ecr:us-west-2:111122223333:repository/*"]
