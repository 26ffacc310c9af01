"""The promoter Lambda: code asset, Powertools layer, its own role and log group, async retries to a queue."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Duration, RemovalPolicy, aws_dynamodb, aws_iam, aws_lambda, aws_lambda_destinations, aws_logs
from constructs import Construct

from infra.config import DeployConfig
from infra.environment_limit import EnvironmentFits
from infra.permissions import grant_promotion
from infra.powertools_layer import powertools_layer
from infra.queues import holding_queue
from promoter.contract import DEFAULT_EVENT_BUS, METRICS_NAMESPACE, SERVICE_NAME, Env

# METRICS_NAMESPACE and SERVICE_NAME stay importable from here for modules that predate the contract module.
__all__ = ["ASSET_EXCLUDES", "HANDLER", "LAMBDA_SOURCE", "METRICS_NAMESPACE", "SERVICE_NAME", "PromoterFunction"]

LAMBDA_SOURCE = Path(__file__).resolve().parent.parent / "lambda_src"
HANDLER = "promoter.handler.lambda_handler"
RUNTIME = aws_lambda.Runtime.PYTHON_3_14
ARCHITECTURE = aws_lambda.Architecture.ARM_64
# The operator CLI (a package, formerly a module) and `python -m promoter` run from a checkout, never in
# Lambda: leaving them out keeps the asset to what the handler imports. Bytecode is rebuilt by the runtime.
ASSET_EXCLUDES = (
    "promoter/cli",
    "promoter/cli.py",
    "promoter/__main__.py",
    "**/__pycache__",
    "**/*.pyc",
)


class PromoterFunction(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: DeployConfig, ledger: aws_dynamodb.ITable
    ) -> None:
        super().__init__(scope, construct_id)
        self.role = aws_iam.Role(
            self,
            "Role",
            assumed_by=aws_iam.ServicePrincipal("lambda.amazonaws.com"),
            description="ecr-promoter: read source repositories, write target repositories, use the ledger",
        )
        log_group = aws_logs.LogGroup(
            self, "Logs", retention=aws_logs.RetentionDays.THREE_MONTHS, removal_policy=RemovalPolicy.DESTROY
        )
        # Own role, so no AWSLambdaBasicExecutionRole: logs go to this one group only.
        log_group.grant_write(self.role)
        grant_promotion(self.role, config, ledger)

        # Kept here as well: the function's own environment does not read back through jsii.
        self.environment: dict[str, str] = {
            Env.PROMOTION_POLICY: config.policy_json,
            Env.LEDGER_TABLE: ledger.table_name,
            Env.EVENT_BUS: DEFAULT_EVENT_BUS,
            Env.POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
            Env.POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
            Env.POWERTOOLS_LOG_LEVEL: config.log_level,
        }
        # What still fails after Lambda's own retries (transient faults raise on purpose) waits here.
        self.failure_queue = holding_queue(self, "Failures")
        self.function = aws_lambda.Function(
            self,
            "Function",
            description="ecr-promoter: gate and promote image digests into replicated repositories",
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=HANDLER,
            # No bundling: the layer brings Powertools + pydantic, the runtime brings boto3.
            code=aws_lambda.Code.from_asset(str(LAMBDA_SOURCE), exclude=list(ASSET_EXCLUDES)),
            # The layer published for the aws-lambda-powertools release requirements.txt pins (SSM, at deploy time).
            layers=[powertools_layer(self, "Powertools", architecture=ARCHITECTURE, runtime=RUNTIME)],
            role=self.role,
            log_group=log_group,
            # A promotion streams blobs that could not be mounted; large images need minutes, not seconds.
            timeout=Duration.minutes(5),
            memory_size=512,
            # Held at the ECR PutImage quota instead of thrashing it (cdk.json reserved_concurrency, measured).
            reserved_concurrent_executions=config.reserved_concurrency,
            tracing=aws_lambda.Tracing.ACTIVE,
            environment=self.environment,
            retry_attempts=2,
            # Events are best effort anyway; the scheduled reconcile picks up whatever expires here.
            max_event_age=Duration.hours(6),
            on_failure=aws_lambda_destinations.SqsDestination(self.failure_queue),
        )
        self.function.node.add_validation(
            EnvironmentFits(
                self, self.environment, what_grows="cdk.json context 'promotion_policy' (it travels in the environment)"
            )
        )

    def add_environment(self, name: str, value: str) -> None:
        """Set a variable on the function (after construction), counted by the size check."""
        self.environment[name] = value
        self.function.add_environment(name, value)
