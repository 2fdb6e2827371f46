"""The moto S3 server of the store contract suite, reused: backups list objects in a real
S3 API over HTTP."""

from tests.evidence_store.conftest import aws_env, moto_server  # noqa: F401 (fixtures)
