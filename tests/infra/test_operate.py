"""Operating the deployment: notifications reach someone, the dashboard shows what matters, replication failures
alarm in the registry where they happen.

The dashboard and alarms are read from the scenario synth; constructs that take settings cdk.json does not have
yet (external topic ARNs, an e-mail) are synthesized in a small app of their own, cdk-nag included.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from infra.dashboard import UNRECORDED_IMAGE
from promoter.contract import METRICS_NAMESPACE, OUTCOME_METRIC, Metric
from tests.support.cdk import Synthesized, Template, as_list, only, ref_of, resources

PAGER = "arn:aws:sns:us-west-2:111122223333:team-pager"
CHAT = "arn:aws:sns:us-west-2:999988887777:chatops"


def dashboard_widgets(template: Template) -> dict[str, list[list[Any]]]:
    """Widget title → its metric rows, from the dashboard body (tokens such as function names replaced)."""
    _, props = only(template, "AWS::CloudWatch::Dashboard")
    parts = props["DashboardBody"]["Fn::Join"][1]
    body = json.loads("".join(part if isinstance(part, str) else "TOKEN" for part in parts))
    return {w["properties"]["title"]: w["properties"]["metrics"] for w in body["widgets"]}


def metric_names(rows: list[list[Any]], namespace: str = METRICS_NAMESPACE) -> list[str]:
    return [row[1] for row in rows if row[0] == namespace]


# ---- dashboard (source stack) ------------------------------------------------------------------


@pytest.fixture(scope="module")
def widgets(scenario: Synthesized) -> dict[str, list[list[Any]]]:
    return dashboard_widgets(scenario.source)


def test_the_dashboard_has_a_name_operators_can_find(scenario: Synthesized) -> None:
    _, props = only(scenario.source, "AWS::CloudWatch::Dashboard")
    assert props["DashboardName"] == "ecr-promoter"


def test_promotions_by_outcome_shows_every_outcome_metric(widgets: dict[str, list[list[Any]]]) -> None:
    rows = widgets["Promotions by outcome"]
    assert metric_names(rows) == [metric.value for metric in OUTCOME_METRIC.values()]
    assert all(row[2:4] == ["service", "ecr-promoter"] and row[4]["stat"] == "Sum" for row in rows)


def test_latency_shows_p50_and_p95(widgets: dict[str, list[list[Any]]]) -> None:
    rows = widgets["Promotion latency (p50, p95)"]
    assert [(row[1], row[4]["stat"]) for row in rows] == [
        (Metric.PROMOTION_LATENCY, "p50"),
        (Metric.PROMOTION_LATENCY, "p95"),
    ]


def test_mounted_versus_copied(widgets: dict[str, list[list[Any]]]) -> None:
    rows = widgets["Zero-copy: blobs mounted vs bytes streamed"]
    assert metric_names(rows) == [Metric.BLOBS_MOUNTED, Metric.BYTES_COPIED]


def test_failures_queue_depth_and_unrecorded_images(scenario: Synthesized, widgets: dict[str, list[list[Any]]]) -> None:
    failures = widgets["Failures"]
    assert [row[1] for row in failures if row[0] == "AWS/Lambda"] == ["Errors", "Throttles"]
    assert set(metric_names(failures)) == {Metric.INVALID_INPUT, Metric.CONFLICT}
    depth = widgets["Waiting in failure / dead-letter queues"]
    assert len(depth) == len(resources(scenario.source, "AWS::SQS::Queue"))
    assert {row[1] for row in depth} == {"ApproximateNumberOfMessagesVisible"}
    unrecorded = widgets["Unrecorded images in target repositories (not promoted by ecr-promoter)"]
    assert metric_names(unrecorded) == [UNRECORDED_IMAGE]


def test_unrecorded_images_alarm(scenario: Synthesized) -> None:
    _, alarm = only(
        scenario.source, "AWS::CloudWatch::Alarm", lambda body: body["Properties"].get("MetricName") == UNRECORDED_IMAGE
    )
    assert alarm["Namespace"] == METRICS_NAMESPACE
    assert alarm["Threshold"] == 1
    topic, _ = only(scenario.source, "AWS::SNS::Topic")
    assert [ref_of(action) for action in alarm["AlarmActions"]] == [topic]


# ---- replication failures (destination stack) --------------------------------------------------


def test_replication_failures_are_caught_in_the_destination_registry(scenario: Synthesized) -> None:
    template = scenario.destination
    rule_id, rule = only(template, "AWS::Events::Rule")
    assert rule["EventPattern"] == {
        "source": ["aws.ecr"],
        "detail-type": ["ECR Replication Action"],
        "detail": {
            "result": [{"anything-but": ["SUCCESS"]}],
            "source-account": ["111122223333"],
            "repository-name": [{"prefix": "prod-"}],
        },
    }
    topic, _ = only(template, "AWS::SNS::Topic")
    (target,) = rule["Targets"]
    assert ref_of(target["Arn"]) == topic
    assert "$.detail.image-digest" in json.dumps(target["InputTransformer"])
    _, alarm = only(template, "AWS::CloudWatch::Alarm")
    assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/Events", "Invocations")
    assert alarm["Dimensions"] == [{"Name": "RuleName", "Value": {"Ref": rule_id}}]
    assert [ref_of(action) for action in alarm["AlarmActions"]] == [topic]


def test_the_topic_admits_eventbridge_and_its_key_lets_it_encrypt(scenario: Synthesized) -> None:
    template = scenario.destination
    _, policy = only(template, "AWS::SNS::TopicPolicy")
    statements = policy["PolicyDocument"]["Statement"]
    services = [s["Principal"].get("Service") for s in statements if isinstance(s.get("Principal"), dict)]
    assert "events.amazonaws.com" in services
    _, key = only(template, "AWS::KMS::Key")
    key_services = {
        service
        for statement in key["KeyPolicy"]["Statement"]
        for service in as_list(statement["Principal"].get("Service", []))
    }
    assert {"events.amazonaws.com", "cloudwatch.amazonaws.com"} <= key_services


# ---- notifications, merged source settings and the Powertools layer, in an app of their own -------


@pytest.fixture(scope="module")
def operate(tmp_path_factory: pytest.TempPathFactory) -> Template:
    from aws_cdk import App, CfnOutput, Environment, Stack, aws_cloudwatch, aws_lambda

    from infra.nag import check_with_nag
    from infra.notifications import AlarmNotifications
    from infra.powertools_layer import powertools_layer
    from infra.registry_settings import SourceRegistrySettings

    outdir: Path = tmp_path_factory.mktemp("operate")
    app = App(outdir=str(outdir))
    stack = Stack(app, "Operate", env=Environment(account="111122223333", region="us-west-2"))
    notifications = AlarmNotifications(stack, "Notifications", email="ops@example.com", topic_arns=[PAGER, CHAT])
    metric = aws_cloudwatch.Metric(namespace=METRICS_NAMESPACE, metric_name=Metric.CONFLICT)
    notifications.notify(aws_cloudwatch.Alarm(stack, "Alarm", metric=metric, threshold=1, evaluation_periods=1))
    SourceRegistrySettings(
        stack, "Registry", prefix="prod-", destination_account="444455556666", destination_region="us-west-2"
    )
    layer = powertools_layer(
        stack, "Powertools", architecture=aws_lambda.Architecture.ARM_64, runtime=aws_lambda.Runtime.PYTHON_3_14
    )
    CfnOutput(stack, "Layer", value=layer.layer_version_arn)
    check_with_nag(app)
    app.synth()  # raises ValidationFailed on any unacknowledged cdk-nag finding
    template: Template = json.loads((outdir / "Operate.template.json").read_text())
    return template


def test_alarm_email_is_subscribed_and_external_topics_are_notified(operate: Template) -> None:
    topic, _ = only(operate, "AWS::SNS::Topic")
    _, subscription = only(operate, "AWS::SNS::Subscription")
    assert subscription["Protocol"] == "email"
    assert subscription["Endpoint"] == "ops@example.com"
    assert ref_of(subscription["TopicArn"]) == topic
    _, alarm = only(operate, "AWS::CloudWatch::Alarm")
    assert [ref_of(alarm["AlarmActions"][0]), *alarm["AlarmActions"][1:]] == [topic, PAGER, CHAT]


def test_too_many_external_topics_are_refused() -> None:
    from aws_cdk import App, Stack

    from infra.notifications import AlarmNotifications

    with pytest.raises(ValueError, match="at most 4"):
        AlarmNotifications(Stack(App(), "S"), "N", topic_arns=[PAGER] * 5)


def test_source_registry_settings_are_merged_custom_resources(operate: Template) -> None:
    assert not resources(operate, "AWS::ECR::ReplicationConfiguration")
    _, rule = only(operate, "Custom::EcrReplicationRule")
    assert {k: rule[k] for k in ("Setting", "Prefix", "DestinationRegistryId", "DestinationRegion")} == {
        "Setting": "ReplicationRule",
        "Prefix": "prod-",
        "DestinationRegistryId": "444455556666",
        "DestinationRegion": "us-west-2",
    }
    _, blob = only(operate, "Custom::EcrBlobMounting")
    assert (blob["Setting"], blob["Value"]) == ("BlobMounting", "ENABLED")


def test_source_merge_handler_has_only_the_registry_actions_it_needs(operate: Template) -> None:
    from infra.registry_settings import HANDLER
    from tests.support.cdk import function_named, role_statements

    _, handler = function_named(operate, HANDLER)
    statements = role_statements(operate, str(ref_of(handler["Role"])))
    by_action = {action: s for s in statements for action in as_list(s["Action"])}
    assert set(by_action) == {
        "ecr:DescribeRegistry",
        "ecr:PutReplicationConfiguration",
        "ecr:GetAccountSetting",
        "ecr:PutAccountSetting",
        "iam:CreateServiceLinkedRole",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    }
    linked = by_action["iam:CreateServiceLinkedRole"]
    assert linked["Condition"] == {"StringEquals": {"iam:AWSServiceName": "replication.ecr.amazonaws.com"}}
    assert "AWSServiceRoleForECRReplication" in json.dumps(linked["Resource"])


# ---- settings from cdk.json reach both stacks ----------------------------------------------------


@pytest.mark.parametrize("stack", ["source", "destination"])
def test_configured_alarm_topics_are_notified_by_every_alarm_of_both_stacks(
    glob_scenario: Synthesized, stack: str
) -> None:
    from tests.support.cdk import GLOB_ALARM_TOPICS

    # Given cdk.json's `alarm_topic_arns` (the glob scenario names one topic of another account)
    template = glob_scenario.source if stack == "source" else glob_scenario.destination
    topic, _ = only(template, "AWS::SNS::Topic")
    alarms = [body["Properties"] for body in resources(template, "AWS::CloudWatch::Alarm").values()]
    # Then every alarm goes to the stack's own topic and to that topic, in that order
    assert alarms
    for alarm in alarms:
        assert [ref_of(alarm["AlarmActions"][0]), *alarm["AlarmActions"][1:]] == [topic, *GLOB_ALARM_TOPICS]
