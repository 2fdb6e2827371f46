"""The evidence store the portal uses, built from settings, and its request dependency."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from audit_portal.config import Settings
from evidence_store import ObjectStore, open_store


def build_store(settings: Settings) -> ObjectStore:
    return open_store(
        settings.store_url,
        endpoint_url=settings.s3_endpoint_url,
        region=settings.s3_region,
        sse=settings.s3_sse,
        kms_key_id=settings.s3_kms_key_id,
        object_lock_mode=settings.s3_object_lock_mode,
        default_retention_days=settings.s3_object_lock_days,
    )


def get_store(request: Request) -> ObjectStore:
    return request.app.state.store


StoreDep = Annotated[ObjectStore, Depends(get_store)]
