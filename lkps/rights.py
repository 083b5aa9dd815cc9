"""The rights the pinned deployer needs, each with what needs it and where the fact comes from.

One list for the README's "Rights the deploying identity needs", the `scripts/stack rights`
check and the sandbox's model of a correctly set-up pipeline identity.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

Plane = Literal["graph", "management", "data"]

# Microsoft Graph's application ID and the IDs of its application permissions (app roles), from
# learn.microsoft.com/graph/permissions-reference.
MICROSOFT_GRAPH_APP_ID: Final = "00000003-0000-0000-c000-000000000000"
GRAPH_APP_ROLES: Final = {
    "Application.ReadWrite.OwnedBy": "18a4783c-866b-4cc7-a460-3d5e5662c884",
    "Application.ReadWrite.All": "1bfefb4e-e0b5-418b-a88f-73c46d2cc8e9",
    "Application.Read.All": "9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30",
    "User.Read.All": "df021288-bdef-4463-88db-98f22de89214",
}


@dataclass(frozen=True)
class Right:
    """One permission: a Graph app role, or an Azure RBAC action on the team's vault."""

    plane: Plane
    name: str
    needed_for: str
    source: str
    satisfied_by: tuple[str, ...] = ()
    optional_when: str = ""

    @property
    def accepted(self) -> tuple[str, ...]:
        return (self.name, *self.satisfied_by)


RIGHTS: Final[tuple[Right, ...]] = (
    Right(
        "graph",
        "Application.ReadWrite.OwnedBy",
        "deploy, rotation, removal: registrations, service principals, client secrets, the "
        "agent's scope and pre-authorizations of the apps the deployer owns",
        "pulumi-azuread application and application_password docs (API Permissions)",
        satisfied_by=("Application.ReadWrite.All",),
    ),
    Right(
        "graph",
        "User.Read.All",
        "deploy: owners that are users (people, as in applications[].owners)",
        "pulumi-azuread application docs: needed when owners include user principals",
    ),
    Right(
        "graph",
        "Application.Read.All",
        "adoption: looking up a registration made by hand (data sources getApplication and "
        "getServicePrincipal)",
        "pulumi-azuread getApplication docs (API Permissions)",
        satisfied_by=("Application.ReadWrite.All",),
        optional_when="only while an application has applications[].adopt",
    ),
    Right(
        "management",
        "Microsoft.KeyVault/vaults/secrets/write",
        "deploy, rotation: azure-native writes the vault secret with an ARM PUT",
        "azure-native keyvault Secret (ARM Microsoft.KeyVault/vaults/secrets); "
        "'Key Vault Secrets Officer' alone is data plane and gets 403",
    ),
    Right(
        "management",
        "Microsoft.KeyVault/vaults/secrets/read",
        "every run: refresh, and reading which secret the vault publishes (getSecret)",
        "azure-native keyvault getSecret (ARM GET)",
    ),
    Right(
        "data",
        "Microsoft.KeyVault/vaults/secrets/delete",
        "removal: azure-native deletes the vault secret through the data plane",
        "pulumi-azure-native custom_keyvault.go",
    ),
    Right(
        "data",
        "Microsoft.KeyVault/vaults/secrets/readMetadata/action",
        "adding an application again: VaultSecretName reads the soft-deleted secret",
        "Key Vault data plane Get Deleted Secret (unverified which action Azure checks)",
    ),
    Right(
        "data",
        "Microsoft.KeyVault/vaults/secrets/purge/action",
        "adding an application again within the retention period, and keyVault."
        "purgeDeletedSecrets: VaultSecretName purges the deleted secret",
        "Key Vault data plane Purge Deleted Secret",
    ),
    Right(
        "data",
        "Microsoft.KeyVault/vaults/secrets/getSecret/action",
        "scripts/stack verify only: reads the published value to test a sign-in",
        "Key Vault data plane Get Secret",
        optional_when="only for scripts/stack verify",
    ),
)
