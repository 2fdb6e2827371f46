"""The organisation's OpenID provider as the portal sees it: discovery, the code exchange with
PKCE (Authlib's PKCE and URL helpers, httpx for the calls), and id token validation (joserfc, Authlib's JOSE library).

Nothing here trusts the browser: the code is exchanged server to server, and the id token is
checked for signature (the provider's published keys), issuer, audience, expiry, issue time and
the nonce of this very sign-in.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from fastapi import Request
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from audit_portal.config import Settings

DISCOVERY_TTL_SECONDS = 3600.0
CLOCK_LEEWAY_SECONDS = 60
SIGNING_ALGORITHMS = ["RS256", "PS256", "ES256", "EdDSA"]
TIMEOUT = httpx.Timeout(15.0, connect=5.0)


class ProviderError(Exception):
    """The provider cannot be used or its answer is not acceptable; the message says why."""


@dataclass(frozen=True)
class ProviderMetadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None
    end_session_endpoint: str | None


class OpenIdProvider:
    """One per portal process (``app.state``): discovery and keys are cached, and fetched again
    when the provider signs with a key not seen before (key rotation)."""

    def __init__(self, settings: Settings, transport: httpx.BaseTransport | None = None) -> None:
        self.settings = settings
        self._transport = transport
        self._lock = threading.Lock()
        self._metadata: ProviderMetadata | None = None
        self._fetched_at = 0.0
        self._keys: KeySet | None = None

    @property
    def redirect_uri(self) -> str:
        return self.settings.base_url.rstrip("/") + "/login/sso/callback"

    def _http(self) -> httpx.Client:
        return httpx.Client(timeout=TIMEOUT, transport=self._transport, follow_redirects=False)

    def _get_json(self, url: str) -> dict[str, Any]:
        try:
            with self._http() as client:
                response = client.get(url)
                response.raise_for_status()
                document = response.json()
        except (httpx.HTTPError, ValueError) as error:
            raise ProviderError(f"the identity provider did not answer at {url}: {error}") from None
        if not isinstance(document, dict):
            raise ProviderError(f"{url} did not return a JSON object")
        return document

    def metadata(self) -> ProviderMetadata:
        with self._lock:
            if self._metadata is None or time.monotonic() - self._fetched_at > DISCOVERY_TTL_SECONDS:
                self._metadata = self._discover()
                self._keys = None
                self._fetched_at = time.monotonic()
            return self._metadata

    def _discover(self) -> ProviderMetadata:
        issuer = self.settings.oidc_issuer
        document = self._get_json(issuer + "/.well-known/openid-configuration")
        # OpenID Connect Discovery 1.0, section 4.3: the issuer in the document must be the one
        # configured, else another provider could be speaking for it.
        if str(document.get("issuer", "")).rstrip("/") != issuer:
            raise ProviderError(
                f"the discovery document names issuer {document.get('issuer')!r}, not the configured {issuer!r}"
            )
        try:
            return ProviderMetadata(
                issuer=str(document["issuer"]),
                authorization_endpoint=str(document["authorization_endpoint"]),
                token_endpoint=str(document["token_endpoint"]),
                jwks_uri=str(document["jwks_uri"]),
                userinfo_endpoint=document.get("userinfo_endpoint"),
                end_session_endpoint=document.get("end_session_endpoint"),
            )
        except KeyError as missing:
            raise ProviderError(f"the discovery document lacks {missing}") from None

    def _key_set(self, refresh: bool = False) -> KeySet:
        metadata = self.metadata()
        with self._lock:
            if self._keys is None or refresh:
                keys = self._get_json(metadata.jwks_uri).get("keys")
                if not isinstance(keys, list):
                    raise ProviderError("the provider's keys cannot be read: the key set has no 'keys' list")
                try:
                    self._keys = KeySet.import_key_set({"keys": keys})
                except (JoseError, ValueError, TypeError) as error:
                    raise ProviderError(f"the provider's keys cannot be read: {error}") from None
            return self._keys

    def authorization_url(self, *, state: str, nonce: str, code_verifier: str) -> str:
        """Where to send the browser: the code flow with PKCE (S256), state and nonce."""
        params = [
            ("response_type", "code"),
            ("client_id", self.settings.oidc_client_id),
            ("redirect_uri", self.redirect_uri),
            ("scope", self.settings.oidc_scopes),
            ("state", state),
            ("nonce", nonce),
            ("code_challenge", create_s256_code_challenge(code_verifier)),
            ("code_challenge_method", "S256"),
        ]
        return str(add_params_to_uri(self.metadata().authorization_endpoint, params))

    def exchange_code(self, *, code: str, code_verifier: str) -> dict[str, Any]:
        """The code for tokens, server to server, with the client's credentials (HTTP Basic, as
        RFC 6749 2.3.1 prefers) and the PKCE verifier."""
        secret = self.settings.oidc_client_secret.get_secret_value()
        data = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.redirect_uri,
            "code_verifier": code_verifier,
        }
        auth: httpx.Auth | None = None
        if secret:
            auth = httpx.BasicAuth(quote(self.settings.oidc_client_id, safe=""), quote(secret, safe=""))
        else:
            data["client_id"] = self.settings.oidc_client_id
        try:
            with self._http() as client:
                response = client.post(
                    self.metadata().token_endpoint,
                    data=data,
                    auth=auth or httpx.USE_CLIENT_DEFAULT,
                    headers={"Accept": "application/json"},
                )
                token = response.json()
        except (httpx.HTTPError, ValueError) as error:
            raise ProviderError(f"the provider's token endpoint failed: {error}") from None
        if response.status_code != 200 or not isinstance(token, dict):
            reason = token.get("error_description") or token.get("error") if isinstance(token, dict) else None
            raise ProviderError(f"the provider did not exchange the code: {reason or response.status_code}")
        if "id_token" not in token:
            raise ProviderError("the provider's answer holds no id token (is 'openid' among the scopes?)")
        return token

    def validate_id_token(self, id_token: str, *, nonce: str) -> dict[str, Any]:
        """The id token's claims, after every check OpenID Connect Core 3.1.3.7 asks of a
        confidential client; :class:`ProviderError` naming the first that fails."""
        try:
            decoded = self._decode(id_token)
        except ProviderError:
            decoded = self._decode(id_token, refresh=True)  # the provider may have rotated keys
        claims = decoded.claims
        registry = jwt.JWTClaimsRegistry(
            leeway=CLOCK_LEEWAY_SECONDS,
            iss={"essential": True, "value": self.metadata().issuer},
            aud={"essential": True, "value": self.settings.oidc_client_id},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
            nonce={"essential": True, "value": nonce},
        )
        try:
            registry.validate(claims)
        except JoseError as error:
            raise ProviderError(
                f"the id token is not acceptable: {error.error}: {error.description or ''}".rstrip(": ")
            ) from None
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if len(audiences) > 1 and claims.get("azp") != self.settings.oidc_client_id:
            raise ProviderError("the id token has several audiences and another authorized party")
        return dict(claims)

    def _decode(self, id_token: str, refresh: bool = False) -> jwt.Token:
        try:
            return jwt.decode(id_token, self._key_set(refresh), algorithms=SIGNING_ALGORITHMS)
        except (JoseError, ValueError) as error:
            raise ProviderError(f"the id token's signature does not verify: {error}") from None

    def userinfo(self, access_token: str) -> dict[str, Any]:
        endpoint = self.metadata().userinfo_endpoint
        if not endpoint:
            return {}
        try:
            with self._http() as client:
                response = client.get(endpoint, headers={"Authorization": f"Bearer {access_token}"})
                response.raise_for_status()
                return dict(response.json())
        except (httpx.HTTPError, ValueError) as error:
            raise ProviderError(f"the provider's userinfo endpoint failed: {error}") from None

    def logout_url(self, *, id_token: str, post_logout_redirect_uri: str) -> str | None:
        """RP-initiated logout, where the provider offers it."""
        try:
            endpoint = self.metadata().end_session_endpoint
        except ProviderError:
            return None
        if not endpoint:
            return None
        query = httpx.QueryParams(
            {
                "id_token_hint": id_token,
                "post_logout_redirect_uri": post_logout_redirect_uri,
                "client_id": self.settings.oidc_client_id,
            }
        )
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"


def provider_of(request: Request) -> OpenIdProvider | None:
    """The app's provider client (one per process, caching discovery and keys), or None when
    single sign-on is not configured."""
    settings = request.app.state.settings
    if not settings.sso_enabled:
        return None
    provider = getattr(request.app.state, "oidc_provider", None)
    if provider is None:
        provider = request.app.state.oidc_provider = OpenIdProvider(settings)
    return provider
