"""What goes into an ingest (metadata and source) and what comes out of the API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from audit_portal.evidence.models import SOURCE_API, SOURCE_COLLECTOR, SOURCE_UPLOAD


class EvidenceMeta(BaseModel):
    """Metadata of one evidence file. In the API it is the JSON ``metadata`` part, sent before
    the ``file`` part so that wrong metadata is refused before a byte is stored."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str = Field(min_length=1, max_length=300)
    description: str | None = Field(default=None, max_length=20_000)
    collected_at: datetime | None = Field(
        default=None, description="When the evidence was produced; defaults to the upload time."
    )
    period_from: date | None = Field(default=None, description="First day the evidence covers.")
    period_to: date | None = Field(default=None, description="Last day the evidence covers.")
    valid_until: date | None = Field(default=None, description="Expiry of a certificate or other proof that lapses.")
    requirements: list[str] = Field(default_factory=list, description="Requirement keys, e.g. 'OPS-2/patches'.")
    controls: list[str] = Field(
        default_factory=list,
        description=(
            "Controls as 'framework:ref' ('iso27001-2022:8.8', 'iso27001-2013:A.12.6.1') or "
            "Annex 2 measures ('annex2:OPS-2' or just 'OPS-2')."
        ),
    )
    supersedes: int | None = Field(default=None, description="Id of the evidence this item corrects; both are kept.")
    collector_instance: str | None = Field(
        default=None, max_length=100, description="API pushes: the collector instance (token scope)."
    )
    collector_run_id: int | None = Field(default=None, description="API pushes: the run that produced it.")
    artifact_kind: str | None = Field(default=None, pattern="^(raw|normalised|report)$")

    @field_validator("requirements", "controls")
    @classmethod
    def _no_blank_names(cls, values: list[str]) -> list[str]:
        cleaned = [value.strip() for value in values if value and value.strip()]
        if len(cleaned) > 200:
            raise ValueError("at most 200 links per evidence item")
        return list(dict.fromkeys(cleaned))


@dataclass(frozen=True)
class EvidenceSource:
    """Who brought the evidence in: a signed-in user, a service token, or a collector run."""

    kind: str
    user_id: int | None = None
    token_id: int | None = None
    collector_instance: str | None = None
    collector_run_id: int | None = None

    @classmethod
    def upload(cls, user_id: int) -> EvidenceSource:
        return cls(kind=SOURCE_UPLOAD, user_id=user_id)

    @classmethod
    def api(cls, token_id: int, collector_instance: str, run_id: int | None = None) -> EvidenceSource:
        return cls(kind=SOURCE_API, token_id=token_id, collector_instance=collector_instance, collector_run_id=run_id)

    @classmethod
    def collector(cls, collector_instance: str, run_id: int) -> EvidenceSource:
        return cls(kind=SOURCE_COLLECTOR, collector_instance=collector_instance, collector_run_id=run_id)


class LinkPublic(BaseModel):
    kind: str  # "requirement" | "control"
    key: str
    title: str


class EvidencePublic(BaseModel):
    id: int
    title: str
    description: str | None
    source_kind: str
    uploaded_by: str | None
    collector_instance: str | None
    collector_run_id: int | None
    artifact_kind: str | None
    collected_at: datetime
    period_from: date | None
    period_to: date | None
    valid_until: date | None
    original_filename: str
    content_type: str
    size: int
    sha256: str
    retention_until: date | None
    legal_hold: bool
    supersedes_id: int | None
    superseded_by_id: int | None
    superseded_at: datetime | None
    created_at: datetime
    requirements: list[str]
    controls: list[str]
    download_url: str


class EvidencePage(BaseModel):
    items: list[EvidencePublic]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null at the end.")


SOURCE_FILTERS = (SOURCE_UPLOAD, SOURCE_API, SOURCE_COLLECTOR)
