"""How the stand-ins reach the sandbox's Entra emulator: over HTTP, with a managed-identity token,
as the real providers reach Graph and ARM with theirs."""

from __future__ import annotations

import os
import threading
from typing import Any, Final

import httpx

from lkps import rules

ENTRA_URL_VARIABLE: Final = rules.SANDBOX_ENTRA_URL_VARIABLE


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
        self._token: str | None = None

    def _bearer(self) -> str:
        with self._lock:
            if self._token is None:
                answer = self._http.get(
                    os.environ["IDENTITY_ENDPOINT"],
                    params={"api-version": "2019-08-01", "resource": "https://graph.microsoft.com"},
                    headers={"X-IDENTITY-HEADER": os.environ["IDENTITY_HEADER"]},
                )
                answer.raise_for_status()
                self._token = str(answer.json()["access_token"])
            return self._token

    def call(
        self, operation: str, method: str, path: str, body: Any = None, missing_ok: bool = False
    ) -> Any:
        """The answer's JSON (None when empty); a 404 gives None when `missing_ok`."""
        answer = self._http.request(
            method,
            path,
            json=body,
            headers={"Authorization": f"Bearer {self._bearer()}"},
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
