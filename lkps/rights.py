"""The rights the pinned deployer needs, each with what needs it and where the fact comes from.

One list for the README's "Rights the deploying identity needs", the `scripts/stack rights`
check and the sandbox's model of a correctly set-up pipeline identity.

Microsoft Entra Agent ID's rights are needed only while an agent is on `identity: agentId`.
Each Graph API page names its "least privileged" application permission; where the stack's
calls need more than one operation's least privileged permission, the one that covers them all
is listed (quoted per right below, from learn.microsoft.com/graph/api/<page>, v1.0). Two facts
of those pages are not in `RIGHTS`:
- Adding or removing a sponsor of a blueprint after it was made (the provider reconciles the
  sponsors when `agentId.sponsors` changes) names `Application.ReadWrite.All` as its least
  privileged application permission, "Higher privileged permissions: Not available"
  (agentidentityblueprint-post-sponsors, agentidentityblueprint-delete-sponsors): more than the
  `Application.ReadWrite.OwnedBy` the registrations need. Listing it here would also make the
  sandbox grant it, which satisfies `Application.ReadWrite.OwnedBy` and hides that right's
  absence from the rights check. A stack whose blueprint sponsors change needs it granted.
- The Agent ID Administrator role (`AGENT_ID_ROLES`) is a person's directory role, not the
  deployer's: every Agent ID page says "For nonowners to call this API in delegated scenarios
  using work or school accounts, the admin must be assigned a supported Microsoft Entra role",
  and the deployer's calls are app-only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

Plane = Literal["graph", "management", "data", "role"]

# Microsoft Graph's application ID and the IDs of its application permissions (app roles), from
# learn.microsoft.com/graph/permissions-reference.
MICROSOFT_GRAPH_APP_ID: Final = "00000003-0000-0000-c000-000000000000"
GRAPH_APP_ROLES: Final = {
    "Application.ReadWrite.OwnedBy": "18a4783c-866b-4cc7-a460-3d5e5662c884",
    "Application.ReadWrite.All": "1bfefb4e-e0b5-418b-a88f-73c46d2cc8e9",
    "Application.Read.All": "9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30",
    "User.Read.All": "df021288-bdef-4463-88db-98f22de89214",
    # Microsoft Entra Agent ID (the "Identifier" of each, Application column, in the same
    # reference), and the assignment of app roles.
    "AgentIdentityBlueprint.Create": "ea4b2453-ad2d-4d94-9155-10d5d9493ce9",
    "AgentIdentityBlueprint.AddRemoveCreds.All": "0510736e-bdfb-4b37-9a1f-89b4a074763a",
    "AgentIdentityBlueprint.ReadWrite.All": "7fddd33b-d884-4ec0-8696-72cff90ff825",
    "AgentIdentityBlueprintPrincipal.Create": "8959696d-d07e-4916-9b1e-3ba9ce459161",
    "AgentIdentityBlueprintPrincipal.ReadWrite.All": "3bc933bc-8b4d-4cb6-ac49-b73774299250",
    "AgentIdentity.Create.All": "ad25cc1d-84d8-47df-a08e-b34c2e800819",
    "AgentIdentity.ReadWrite.All": "dcf7150a-88d4-4fe6-9be1-c2744c455397",
    "AgentIdentity.DeleteRestore.All": "5b016f9b-18eb-41d4-869a-66931914d1c8",
    "AppRoleAssignment.ReadWrite.All": "06b708a9-e830-4db3-a914-8e69da51d44f",
}
# What `Right.optional_when` says of the rights only an agent on Agent ID needs.
ONLY_ON_AGENT_ID: Final = "only while an application has identity: agentId"


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
        "getServicePrincipal); Agent ID: listing the blueprint's sponsors, and assigning its "
        "app role to a client",
        "pulumi-azuread getApplication docs (API Permissions); agentidentityblueprint-list-"
        "sponsors: Application 'Application.Read.All', higher 'Not available'; serviceprincipal-"
        "post-approleassignments: Application 'AppRoleAssignment.ReadWrite.All and "
        "Application.Read.All'",
        satisfied_by=("Application.ReadWrite.All",),
        optional_when="only while an application has applications[].adopt or identity: agentId",
    ),
    # Microsoft Entra Agent ID.
    Right(
        "graph",
        "AgentIdentityBlueprint.ReadWrite.All",
        "Agent ID: the blueprint's upsert by uniqueName (create and update), its owners, its "
        "client secret and federated credentials, its removal",
        "agentidentityblueprint-upsert: Application 'AgentIdentityBlueprint.ReadWrite.All', "
        "higher 'Not available' (agentidentityblueprint-post's 'AgentIdentityBlueprint.Create' "
        "creates but cannot upsert); agentidentityblueprint-post-owners: the same; "
        "agentidentityblueprint-addpassword: 'AgentIdentityBlueprint.AddRemoveCreds.All', higher "
        "'AgentIdentityBlueprint.ReadWrite.All'; agentidentityblueprint-delete: "
        "'AgentIdentityBlueprint.DeleteRestore.All', higher 'AgentIdentityBlueprint.ReadWrite.All'",
        optional_when=ONLY_ON_AGENT_ID,
    ),
    Right(
        "graph",
        "AgentIdentityBlueprintPrincipal.Create",
        "Agent ID: the blueprint's principal, without which Entra makes no agent identity",
        "agentidentityblueprintprincipal-post: Application "
        "'AgentIdentityBlueprintPrincipal.Create', higher "
        "'AgentIdentityBlueprintPrincipal.ReadWrite.All'",
        satisfied_by=("AgentIdentityBlueprintPrincipal.ReadWrite.All",),
        optional_when=ONLY_ON_AGENT_ID,
    ),
    Right(
        "graph",
        "AgentIdentity.ReadWrite.All",
        "Agent ID: each agent's agent identity (create, display name) and its sponsors (list, "
        "add, remove)",
        "agentidentity-post: Application 'AgentIdentity.Create.All', higher "
        "'AgentIdentity.CreateAsManager, AgentIdentity.ReadWrite.All'; agentidentity-list-"
        "sponsors, agentidentity-post-sponsors, agentidentity-delete-sponsors: Application "
        "'AgentIdentity.ReadWrite.All', higher 'Not supported' (so AgentIdentity.Create.All "
        "alone is not enough)",
        optional_when=ONLY_ON_AGENT_ID,
    ),
    Right(
        "graph",
        "AgentIdentity.DeleteRestore.All",
        "Agent ID: removing an agent's agent identity",
        "agentidentity-delete: Application 'AgentIdentity.DeleteRestore.All, "
        "AgentIdentity.CreateAsManager', higher 'Not available' (CreateAsManager is for agent "
        "identities linked to the caller itself)",
        optional_when=ONLY_ON_AGENT_ID,
    ),
    Right(
        "graph",
        "AppRoleAssignment.ReadWrite.All",
        "Agent ID: assigning the blueprint's access_as_client app role to each client's "
        "service principal, and removing it",
        "serviceprincipal-post-approleassignments and serviceprincipal-post-approleassignedto: "
        "Application 'AppRoleAssignment.ReadWrite.All and Application.Read.All'; "
        "serviceprincipal-delete-approleassignedto: 'AppRoleAssignment.ReadWrite.All', higher "
        "'Not available'",
        optional_when=ONLY_ON_AGENT_ID,
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

# Directory roles of people, not of the deployer (see the module's docstring): what someone who
# acts on the blueprint by hand needs.
AGENT_ID_ROLES: Final[tuple[Right, ...]] = (
    Right(
        "role",
        "Agent ID Administrator",
        "a person who adds or removes a client secret or certificate of the blueprint by hand "
        "(the deployer's app-only calls need the Graph permissions above instead)",
        "learn.microsoft.com/entra/agent-id/create-blueprint, Prerequisites: 'Both Agent ID "
        "Developer and Agent ID Administrator roles can create agent identity blueprints and "
        "agent identity blueprint principals. Agent ID Developer can configure federated "
        "identit[y credentials]...' (the page's own continuation was not read here; a public "
        "summary of it gives 'Agent ID Administrator is required to add a secret or "
        "certificate'); agentidentityblueprint-addpassword: roles apply 'For nonowners to call "
        "this API in delegated scenarios'",
        optional_when=ONLY_ON_AGENT_ID,
    ),
)
