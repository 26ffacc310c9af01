"""The AWS SDK failures an operator can fix, each as one line naming the setting."""

from __future__ import annotations

import pytest
from botocore.exceptions import EndpointConnectionError, NoCredentialsError, NoRegionError, ParamValidationError

from promoter.cli.aws_errors import NO_CREDENTIALS, NO_CREDENTIALS_LOCAL, NO_REGION, explain_aws_error


@pytest.mark.parametrize("local", [True, False])
def test_no_region_names_the_flag_and_the_profile(local: bool) -> None:
    failure = explain_aws_error(NoRegionError(), local=local)

    assert failure is not None and str(failure) == NO_REGION == "no AWS region: pass --region or set AWS_PROFILE"
    assert failure.code == 1 and failure.kind == "no-region"


def test_no_credentials_says_how_to_get_them_deployed_and_locally() -> None:
    deployed = explain_aws_error(NoCredentialsError(), local=False)
    local = explain_aws_error(NoCredentialsError(), local=True)

    assert deployed is not None and str(deployed) == NO_CREDENTIALS and "AWS_PROFILE" in NO_CREDENTIALS
    assert local is not None and str(local) == NO_CREDENTIALS_LOCAL and "AWS_ACCESS_KEY_ID=test" in NO_CREDENTIALS_LOCAL


def test_an_unreachable_local_ledger_names_the_endpoint_setting() -> None:
    failure = explain_aws_error(EndpointConnectionError(endpoint_url="http://127.0.0.1:1"), local=True)

    assert failure is not None
    assert str(failure) == "cannot reach http://127.0.0.1:1: is the local ledger running? (AWS_ENDPOINT_URL)"


def test_other_errors_are_not_explained() -> None:
    assert explain_aws_error(ParamValidationError(report="bad"), local=False) is None
    assert explain_aws_error(RuntimeError("boom"), local=True) is None
