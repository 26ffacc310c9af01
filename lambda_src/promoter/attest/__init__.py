"""Signed evidence for the gates and the promotion attestation: DSSE, in-toto, KMS, OCI layout.

One small library that the function, the CLI and later features share, so a signature made by
any of them (or by a CI with only the AWS CLI) verifies in all of them. Modules:

- `dsse`: the DSSE v1 pre-authentication encoding (PAE) and strict envelope parsing;
- `intoto`: in-toto Statement v1 and the three predicates (test result, approval, SLSA VSA);
- `kms`: sign with / verify through AWS KMS (`ECDSA_SHA_256`, ECC_NIST_P256) with boto3 only;
- `pubkey`: offline verification with a PEM public key (imports `cryptography` lazily; CLI only);
- `evidence`: "does this signed test result / approval count for this digest?";
- `layout`: the OCI 1.1 referrer manifest and cosign's `sha256-<hex>.att` manifest around an envelope.

Nothing here reads the environment or has import-time side effects.

Signing a test result from a CI without Python (AWS CLI v2 and coreutils only). The statement is
the in-toto Statement v1 JSON (`STATEMENT` below is its file); the envelope's `payloadType` is
`application/vnd.in-toto+json` (28 bytes):

    TYPE=application/vnd.in-toto+json
    printf 'DSSEv1 %d %s %d ' "${#TYPE}" "$TYPE" "$(wc -c < statement.json)" > pae.bin
    cat statement.json >> pae.bin
    aws kms sign --key-id "$KEY_ARN" --message-type RAW --signing-algorithm ECDSA_SHA_256 \\
        --message fileb://pae.bin --query Signature --output text > sig.b64
    jq -n --arg p "$(base64 -w0 statement.json)" --arg s "$(cat sig.b64)" --arg k "$KEY_ARN" \\
        '{payloadType: "application/vnd.in-toto+json", payload: $p, signatures: [{keyid: $k, sig: $s}]}'

`${#TYPE}` counts characters, which equals bytes for this ASCII type; `wc -c` counts bytes. The
AWS CLI prints the DER signature base64-encoded, which is what `sig` holds. RAW messages are
limited to 4096 bytes; for a larger PAE sign its SHA-256 instead (`openssl dgst -sha256 -binary
pae.bin > pae.sha256` and `--message-type DIGEST --message fileb://pae.sha256`): the signature is
the same ECDSA signature and verifies the same way. tests/integration/test_attest_kms.py replays
exactly these bytes.
"""
