"""Infra tier: the synthesized CDK app (tests need no AWS account and no network)."""

import os

# jsii starts Node at the first `aws_cdk` import; silence its Node 20 end-of-life banner first.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
