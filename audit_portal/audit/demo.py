"""Demo: a signed checkpoint of the audit log as the demo load leaves it, so the evidence list
shows what the daily job keeps and ``audit-portal audit verify`` has a checkpoint to check."""

from __future__ import annotations

from audit_portal.demo_context import DemoContext
from audit_portal.principals import Actor


def demo_audit_checkpoint(context: DemoContext) -> None:
    """Audit log checkpoint (signed, kept as evidence)"""
    from audit_portal.audit.checkpoints import write_checkpoint

    write_checkpoint(context.session, context.store, context.settings, actor=Actor.system("demo"))
