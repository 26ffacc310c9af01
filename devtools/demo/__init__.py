"""`make demo`: the ECR replication scenario end to end on one machine, with no AWS account.

    python -m devtools.demo [--keep] [--verbose]

Two real CNCF registries on loopback play the dev account's and the production account's ECR registries;
a moto server on loopback plays DynamoDB (the ledger) and KMS (the key CI signs its test results with:
the demo's policy is cdk.json's plus a trust section naming that key; and the function's ATTESTATION_KEY,
which signs the VSA every promotion attaches, checked in production with `promoter verify`).
Every AWS-shaped event of the
reference scenario (pushes, ECR and Inspector scans, signed CI test results, forged ones, a duplicate
delivery, a multi-arch index and its platform images' scans) goes, in the order things happen, through
the function's one entry point (`promoter.entry.handle`) with the services
`promoter.wiring.build_services` builds for local mode. What qualifies is promoted from
`dev-microservice` into `prod-microservice` of the dev registry, and a local stand-in for ECR replication
applies the `PREFIX_MATCH` rule of cdk.json to ship `prod-…` repositories to the production registry.

The policy and the replication prefix come from cdk.json (one source of truth). Every outcome is checked
against what the scenario expects: exit 0 when all hold, 1 when one does not, 2 when the demo cannot run
(no registry binary, unreadable cdk.json, a policy that is not the scenario's). `--keep` leaves both
registries and the ledger running after the scenario, with one more image waiting for its tests, and
prints the environment and the `python -m promoter … --local` commands to drive it.

Modules: `scenario` (what cdk.json says, the function's local environment), `builds` (the images),
`story` (the scenario's steps and their narration), `scenes` (the later scenes: enhanced scanning,
multi-arch, forged results), `attestation` (the VSA's allowed uploads and tags, the verify scene),
`signing` (the CI's KMS key and its envelopes), `report` (the final table
and the --keep notes), `main` (processes, signals, exit codes).
"""
