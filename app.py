#!/usr/bin/env python3
"""CDK entry point: `make synth` (offline) and `make deploy`; every setting lives in cdk.json context."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
# The policy validator is the promoter's own (promoter.policy): a policy the Lambda would reject never deploys.
sys.path.insert(0, str(ROOT / "lambda_src"))

from aws_cdk import App  # noqa: E402

from infra.application import build  # noqa: E402
from infra.config import context_from_file  # noqa: E402


def main() -> None:
    # The CDK CLI passes cdk.json context itself (and it wins); plain `python app.py` needs it read here.
    app = App(context=dict(context_from_file()))
    deployment = build(app)
    for warning in deployment.config.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    app.synth()


if __name__ == "__main__":
    main()
