#!/usr/bin/env python3
"""CDK entry point: `make synth` (offline) and `make deploy`; every setting lives in cdk.json context."""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
# The policy validator is the promoter's own (promoter.policy): a policy the Lambda would reject never deploys.
sys.path.insert(0, str(ROOT / "lambda_src"))

from aws_cdk import App  # noqa: E402

from infra.application import build  # noqa: E402
from infra.config import CDK_JSON, ConfigError, context_from_file  # noqa: E402
from promoter.policy import PolicyError  # noqa: E402


def main(cdk_json: Path = CDK_JSON) -> int:
    """Synthesize; a mistake in cdk.json is one line naming the file, the key or the position, exit 1."""
    try:
        # The CDK CLI passes cdk.json context itself (and it wins); plain `python app.py` needs it read here.
        app = App(context=dict(context_from_file(cdk_json)))
        deployment = build(app)
    except json.JSONDecodeError as error:
        print(f"error: {cdk_json}:{error.lineno}:{error.colno}: {error.msg}: fix the JSON", file=sys.stderr)
        return 1
    except (ConfigError, PolicyError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for warning in deployment.config.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
