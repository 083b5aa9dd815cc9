"""How the stand-ins reach the sandbox's Entra emulator: over HTTPS, with a managed-identity token
for each resource (Graph, Key Vault, ARM), as the real providers reach them with theirs."""

from __future__ import annotations

import os
import threading
from typing import Any, Final
from urllib.parse import urlsplit

import httpx

from lkps import switches

ENTRA_URL_VARIABLE: Final = switches.SANDBOX_ENTRA_URL
# The resource each of the emulator's areas serves, by path prefix.
_RESOURCES: Final = {
    "/graph/": "https://graph.microsoft.com",
    "/keyvault/": "https://vault.azure.net",
    "/arm/": "https://management.azure.com",
}


class ApiCallError(Exception):
    """A call the emulator answered with an error; `status` and `code` as it sent them."""

    def __init__(self, operation: str, status: int, code: str, message: str) -> None:
        super().__init__(f"{operation}: {status} {code}: {message}")
        self.status, self.code = status, code


class EntraClient:
    """A keep-alive HTTP client for the emulator, shared by the plugin's gRPC threads."""

    def __init__(self) -> None:
        self._http = httpx.Client(base_url=os.environ[ENTRA_URL_VARIABLE], timeout=30.0)
        self._lock = threading.Lock()
        self._tokens: dict[str, str] = {}

    def _bearer(self, resource: str) -> str:
        with self._lock:
            if resource not in self._tokens:
                answer = self._http.get(
                    os.environ["IDENTITY_ENDPOINT"],
                    params={"api-version": "2019-08-01", "resource": resource},
                    headers={"X-IDENTITY-HEADER": os.environ["IDENTITY_HEADER"]},
                )
                answer.raise_for_status()
                self._tokens[resource] = str(answer.json()["access_token"])
            return self._tokens[resource]

    def claims(self) -> dict[str, Any]:
        """The claims of the running identity's Graph token (oid, appid, tid), which the real
        providers read from their token (`azuread_client_config`)."""
        import jwt  # here: PyJWT loads cryptography, for the azuread stand-in's one call

        token = self._bearer(_RESOURCES["/graph/"])
        claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
        return claims

    def call(
        self, operation: str, method: str, path: str, body: Any = None, missing_ok: bool = False
    ) -> Any:
        """The answer's JSON (None when empty); a 404 gives None when `missing_ok`."""
        answer = self._http.request(
            method,
            path,
            json=body,
            headers={"Authorization": f"Bearer {self._bearer(_resource(path))}"},
        )
        if answer.status_code == httpx.codes.NOT_FOUND and missing_ok:
            return None
        if answer.is_error:
            try:
                error = answer.json().get("error", {})
            except ValueError:
                error = {}
            raise ApiCallError(
                operation,
                answer.status_code,
                str(error.get("code", "")),
                str(error.get("message", answer.text[:200])),
            )
        return answer.json() if answer.content else None


def _resource(url: str) -> str:
    path = urlsplit(url).path
    for prefix, resource in _RESOURCES.items():
        if path.startswith(prefix):
            return resource
    raise ValueError(f"no emulator area serves {path}")
