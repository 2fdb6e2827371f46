"""Reading availability evidence from Prometheus' HTTP API: the samples of ``probe_success``
(blackbox exporter) or ``up`` over the period, and the alerting rules. Every request and its
answer is kept, so the raw artifact is exactly what the judgement was made on, and a recorded
exchange can be read back instead of asking a live server."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from collectors.base import CollectorError

_MATCHER = re.compile(r'(?P<label>[A-Za-z_][A-Za-z0-9_]*)\s*(?P<op>=~|!~|!=|=)\s*"(?P<value>(?:[^"\\]|\\.)*)"')


def promql_string(value: str) -> str:
    """A PromQL string literal (double-quoted, backslash and quote escaped)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def selector(metric: str, labels: Mapping[str, str]) -> str:
    matchers = ",".join(f"{name}={promql_string(value)}" for name, value in sorted(labels.items()))
    return f"{metric}{{{matchers}}}"


@dataclass
class Exchange:
    """The API conversation of one run: ``queries`` maps a PromQL expression to the API's
    answer, ``rules`` is the answer of /api/v1/rules."""

    url: str
    evaluated_at: float
    queries: dict[str, Any] = field(default_factory=dict)
    rules: Any = None

    def to_json(self) -> bytes:
        return json.dumps(
            {"url": self.url, "evaluated_at": self.evaluated_at, "queries": self.queries, "rules": self.rules},
            indent=1,
            sort_keys=True,
        ).encode()

    @classmethod
    def from_json(cls, data: bytes, origin: str) -> Exchange:
        try:
            document = json.loads(data)
            return cls(
                str(document["url"]), float(document["evaluated_at"]), dict(document["queries"]), document["rules"]
            )
        except (ValueError, KeyError, TypeError) as error:
            raise CollectorError(f"{origin}: not a recorded Prometheus exchange ({error})") from None


class LivePrometheus:
    def __init__(self, url: str, at: datetime, timeout: float, client: httpx.Client | None = None) -> None:
        self.exchange = Exchange(url.rstrip("/"), at.timestamp())
        self._http = client or httpx.Client(base_url=self.exchange.url, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def query(self, expression: str) -> list[dict[str, Any]]:
        answer = self._get("/api/v1/query", {"query": expression, "time": f"{self.exchange.evaluated_at:.3f}"})
        self.exchange.queries[expression] = answer
        return result_of(answer, expression)

    def rules(self) -> list[dict[str, Any]]:
        answer = self._get("/api/v1/rules", {"type": "alert"})
        self.exchange.rules = answer
        return alert_rules(answer)

    def _get(self, path: str, params: Mapping[str, str]) -> Any:
        try:
            response = self._http.get(path, params=params)
        except httpx.HTTPError as error:
            raise CollectorError(f"cannot reach Prometheus at {self.exchange.url}: {error}") from None
        try:
            answer = response.json()
        except ValueError:
            raise CollectorError(
                f"Prometheus at {self.exchange.url}{path} answered {response.status_code} without JSON"
            ) from None
        if response.status_code >= 400 or answer.get("status") != "success":
            raise CollectorError(
                f"Prometheus refused {params.get('query', path)!r}: "
                f"{answer.get('errorType', response.status_code)}: {answer.get('error', '')}"
            )
        return answer


class RecordedPrometheus:
    def __init__(self, exchange: Exchange, origin: str) -> None:
        self.exchange = exchange
        self._origin = origin

    def query(self, expression: str) -> list[dict[str, Any]]:
        if expression not in self.exchange.queries:
            raise CollectorError(f"{self._origin}: the recording holds no answer to {expression!r}")
        return result_of(self.exchange.queries[expression], expression)

    def rules(self) -> list[dict[str, Any]]:
        return alert_rules(self.exchange.rules)


def result_of(answer: Any, expression: str) -> list[dict[str, Any]]:
    try:
        data = answer["data"]
        if data["resultType"] not in ("vector", "matrix"):
            raise CollectorError(f"{expression!r}: unexpected result type {data['resultType']}")
        return list(data["result"])
    except (KeyError, TypeError):
        raise CollectorError(f"{expression!r}: not a Prometheus query answer") from None


def alert_rules(answer: Any) -> list[dict[str, Any]]:
    try:
        return [rule for group in answer["data"]["groups"] for rule in group["rules"] if rule.get("type") == "alerting"]
    except (KeyError, TypeError):
        raise CollectorError("not a Prometheus /api/v1/rules answer") from None


def rule_covers(expression: str, metric: str, labels: Mapping[str, str]) -> bool:
    """Whether an alerting rule's expression watches the service's series: it reads the metric,
    and none of its label matchers on the service's labels excludes the service's values."""
    if not re.search(rf"(?<![A-Za-z0-9_:]){re.escape(metric)}(?![A-Za-z0-9_:])", expression):
        return False
    for match in _MATCHER.finditer(expression):
        label, op, value = match["label"], match["op"], re.sub(r"\\(.)", r"\1", match["value"])
        if label not in labels:
            continue
        actual = labels[label]
        if op in ("=", "!="):
            matched = (actual == value) == (op == "=")
        else:
            try:
                matched = (re.fullmatch(value, actual) is not None) == (op == "=~")
            except re.error:
                matched = False  # a pattern Python cannot read: do not claim coverage
        if not matched:
            return False
    return True
