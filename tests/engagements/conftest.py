from tests.engagements.fixtures import add_evidence, catalogue, workspace  # noqa: F401
