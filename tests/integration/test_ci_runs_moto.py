"""PipelineRuns and BuildRuns against GetPipelineExecution / BatchGetBuilds as AWS documents them.

The Stubber-pinned documented shapes are in the unit test of the same name; these cases use moto where it
models the call correctly.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from promoter.adapters.ci_runs import PipelineRuns, RunNotFound


@pytest.fixture
def moto_pipeline() -> Iterator[Any]:
    with mock_aws():
        trust = {"Statement": [{"Effect": "Allow", "Principal": {"Service": "codepipeline.amazonaws.com"}}]}
        role = boto3.client("iam", region_name="us-east-1").create_role(
            RoleName="pipeline", AssumeRolePolicyDocument=json.dumps(trust)
        )["Role"]["Arn"]
        client = boto3.client("codepipeline", region_name="us-west-2")
        action = {"category": "Source", "owner": "AWS", "provider": "S3", "version": "1"}
        stages = [
            {"name": name, "actions": [{"name": name, "actionTypeId": action, "outputArtifacts": [{"name": name}]}]}
            for name in ("Source", "Test")
        ]
        store = {"type": "S3", "location": "bucket"}
        client.create_pipeline(
            pipeline={"name": "myPipeline", "roleArn": role, "artifactStore": store, "stages": stages}
        )
        yield client


def test_moto_missing_pipeline_and_missing_execution_are_run_not_found(moto_pipeline: Any) -> None:
    runs = PipelineRuns(moto_pipeline)
    with pytest.raises(RunNotFound) as no_pipeline:
        runs.confirm("noSuchPipeline", str(uuid.uuid4()))
    with pytest.raises(RunNotFound) as no_execution:
        runs.confirm("myPipeline", str(uuid.uuid4()))
    assert (no_pipeline.value.code, no_execution.value.code) == (
        "PipelineNotFoundException",
        "PipelineExecutionNotFoundException",
    )


def test_moto_a_started_execution_is_confirmed(moto_pipeline: Any) -> None:
    execution_id = moto_pipeline.start_pipeline_execution(name="myPipeline")["pipelineExecutionId"]
    confirmation = PipelineRuns(moto_pipeline).confirm("myPipeline", execution_id)
    assert (confirmation.succeeded, confirmation.revisions) == (True, ())
