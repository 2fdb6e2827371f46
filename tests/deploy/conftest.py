"""The moto S3 server of the store contract suite, reused by the deployment tests."""

from tests.evidence_store.conftest import aws_env, moto_server  # noqa: F401 (fixtures)
