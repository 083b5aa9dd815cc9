"""Azurite's blob service on 127.0.0.1, for the `azblob://` state backend, with its container."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Final

import httpx
from azure.storage.blob import BlobServiceClient

from stack_command.engine import ROOT

AZURITE: Final = ROOT / "tools" / "azurite" / "node_modules" / ".bin" / "azurite-blob"
# Azurite's documented development account (learn.microsoft.com/azure/storage/common/
# storage-use-azurite#well-known-storage-account-and-key): public, for the emulator only.
ACCOUNT: Final = "devstoreaccount1"
ACCOUNT_KEY: Final = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
CONTAINER: Final = "pulumi-state"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Azurite:
    """One Azurite blob service over a folder, which a restart keeps."""

    def __init__(self, folder: Path) -> None:
        if not AZURITE.exists():
            raise RuntimeError(
                f"{AZURITE} is missing: scripts/test installs it from tools/azurite/"
                "package-lock.json (cd tools/azurite && npm ci)"
            )
        self.folder = folder
        self.port = _free_port()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def blob_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/{ACCOUNT}"

    @property
    def env(self) -> dict[str, str]:
        """What the engine needs to keep state in the container: backend URL and shared key."""
        return {
            "PULUMI_BACKEND_URL": (
                f"azblob://{CONTAINER}?domain=127.0.0.1:{self.port}&protocol=http&localemu=true"
            ),
            "AZURE_STORAGE_ACCOUNT": ACCOUNT,
            "AZURE_STORAGE_KEY": ACCOUNT_KEY,
        }

    def client(self) -> BlobServiceClient:
        return BlobServiceClient(self.blob_endpoint, credential=ACCOUNT_KEY)

    def start(self) -> None:
        self._process = subprocess.Popen(  # noqa: S603 - the locked Azurite of tools/azurite
            [
                str(AZURITE),
                "--blobHost",
                "127.0.0.1",
                "--blobPort",
                str(self.port),
                "--location",
                str(self.folder),
                "--silent",
                "--skipApiVersionCheck",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{self.blob_endpoint}?comp=list", timeout=1)
                return
            except httpx.TransportError:
                time.sleep(0.2)
        raise RuntimeError("Azurite did not start within 60 s")

    def create_container(self) -> None:
        """The container a team creates once; Pulumi does not create it."""
        with self.client() as client:
            client.create_container(CONTAINER)

    def blobs(self) -> list[str]:
        with self.client() as client:
            return [b.name for b in client.get_container_client(CONTAINER).list_blobs()]

    def stop(self) -> None:
        """Stops it as Ctrl-C does (Azurite closes its stores on SIGINT), else kills it."""
        if self._process is not None:
            self._process.send_signal(signal.SIGINT)
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=10)
            self._process = None
