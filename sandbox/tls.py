"""The sandbox's TLS: a certificate authority and a server certificate for 127.0.0.1, made once
per sandbox folder with trustme, and trusted only by the processes of a sandbox command.

Microsoft's clients insist on https (azure-core's bearer-token policy refuses plain http;
msal requires an https authority), so the Entra, Graph, Key Vault and ARM emulator serves TLS.
Trust goes through the environment the sandbox gives its own processes and the engine's plugins:
`SSL_CERT_FILE` (OpenSSL's default verify path, which Python's `ssl` and httpx read) and
`REQUESTS_CA_BUNDLE` (requests, under azure-core and msal). The machine's store is never touched,
and the CA file holds only the sandbox's CA, so a sandbox process trusts nothing else.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import trustme

HOST: Final = "127.0.0.1"


@dataclass(frozen=True)
class SandboxCertificate:
    """Where the sandbox's CA certificate and its server's key and chain are kept."""

    ca_file: Path
    server_file: Path

    @classmethod
    def ensure(cls, folder: Path) -> SandboxCertificate:
        """The certificate kept in `folder`, made there on first use."""
        made = cls(folder / "sandbox-ca.pem", folder / "sandbox-server.pem")
        if not (made.ca_file.exists() and made.server_file.exists()):
            folder.mkdir(parents=True, exist_ok=True)
            ca = trustme.CA(organization_name="lkps-onboarding sandbox")
            server = ca.issue_cert(HOST)
            partial = made.server_file.with_suffix(".partial")
            server.private_key_and_cert_chain_pem.write_to_path(str(partial))
            partial.chmod(0o600)
            ca.cert_pem.write_to_path(str(made.ca_file))
            partial.replace(made.server_file)
        return made

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.server_file)
        return context

    @property
    def trust(self) -> dict[str, str]:
        """The environment that makes a process trust the sandbox, and only the sandbox."""
        return {"SSL_CERT_FILE": str(self.ca_file), "REQUESTS_CA_BUNDLE": str(self.ca_file)}
