"""`RemovedClientSecret`: a client secret made by hand, revoked once the vault publishes the
stack's own (adoption: `applications[].adopt.removeSecrets`).

The stack never managed such a secret, so there is no resource to delete; this one records the
revocation: its create calls Graph's `removePassword` for the key ID (an answer of 404 means it is
gone already), and its delete does nothing. It depends on the vault secret, so the revocation
happens after consumers can read the new secret.
"""

from __future__ import annotations

from typing import Any, Final

import httpx
import pulumi
from pulumi.dynamic import CreateResult, DiffResult, Resource, ResourceProvider

from components.dynamic_resources import pickle_guard
from components.entra_auth import entra_token

TYPE_NAME: Final = "RemovedClientSecret"


class RemovedClientSecretError(Exception):
    """Graph refused to remove the client secret."""


def remove_password(object_id: str, key_id: str) -> bool:
    """Graph's removePassword for one credential of a registration, as the deploying identity;
    False when it is gone already (404). `azure_reads` (msal, the Key Vault client) is imported
    here, by the provider's delete alone."""
    from components.azure_reads import GRAPH_SCOPE, endpoints_from_environment

    graph = endpoints_from_environment().graph
    answer = httpx.post(
        f"{graph}/applications/{object_id}/removePassword",
        json={"keyId": key_id},
        headers={"Authorization": f"Bearer {entra_token(GRAPH_SCOPE)}"},
        timeout=30.0,
    )
    if answer.status_code == httpx.codes.NOT_FOUND:
        return False
    if answer.status_code not in (httpx.codes.NO_CONTENT, httpx.codes.OK):
        raise RemovedClientSecretError(
            f"removePassword {key_id} of application {object_id}: {answer.status_code}"
        )
    return True


class RemovedClientSecretProvider(ResourceProvider):
    """The dynamic provider behind `RemovedClientSecret`."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        object_id, key_id = props["application_object_id"], props["key_id"]
        remove_password(object_id, key_id)
        return CreateResult(f"{object_id}/removed/{key_id}", props)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        keys = ("application_object_id", "key_id")
        replaces = [key for key in keys if olds.get(key) != news.get(key)]
        return DiffResult(changes=bool(replaces), replaces=replaces)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Nothing to undo: a revoked secret stays revoked."""


class RemovedClientSecret(Resource, module="entra", name=TYPE_NAME):
    """Revokes the hand-made client secret `key_id` of an adopted application."""

    application_object_id: pulumi.Output[str]
    key_id: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        application_object_id: pulumi.Input[str],
        key_id: str,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {"application_object_id": application_object_id, "key_id": key_id.lower()}
        with pickle_guard():
            super().__init__(RemovedClientSecretProvider(), name, props, opts)
