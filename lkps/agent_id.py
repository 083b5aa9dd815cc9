"""Microsoft Entra Agent ID in the stack: the blueprint's names, Graph's limits, and what LKPS
and Ocelot are assumed to accept from an agent identity.

**Assumed, not documented** (LKPS and Ocelot publish nothing about Agent ID; change it here):
- Ocelot's Client Access List names an agent identity by its object ID. Entra's tokens for an
  agent identity carry that ID as the client (`appid`/`azp`; learn.microsoft.com/entra/agent-id/
  agent-identities: an agent identity "doesn't have credentials on its own" and no application
  of its own, so its own ID is the only one it has), and Ocelot matches the client ID claim.
- LKPS authorizes a client to start sessions with an agent on Agent ID through the app role
  `access_as_client` of the agent's blueprint, assigned to the client's service principal,
  instead of the registration's delegated scope and pre-authorization (pre-authorized clients
  are not documented for blueprints). One role on the blueprint: a client assigned it may reach
  every agent of the blueprint, that is every agent on Agent ID of the stack.
"""

from __future__ import annotations

import uuid
from typing import Final

from lkps import rules
from lkps.rules import Environment

# "A single blueprint may have up to 100 sponsors" (agentidentityblueprint-post-sponsors).
MAX_SPONSORS: Final = 100
# "each of those blueprints is limited to 250 active agent identities" for app-only callers
# (learn.microsoft.com/entra/agent-id/faq), as the 250 blueprints per tenant.
MAX_AGENT_IDENTITIES_PER_BLUEPRINT: Final = 250
# The key of the blueprint's client secret in the stack's `secretRotation` output (application
# names are uppercase, so it names no application).
ROTATION_KEY: Final = "agentIdBlueprint"
# Ends the resource name of an agent identity's Client Access List entry, after the name a
# registration's entry on that route has (`<application>-ocelot-<region>`): no registration's
# entry ends so, whatever the application's name.
ROUTE_ACCESS_SUFFIX: Final = "-agent-identity"
_APP_ROLE_NAMESPACE: Final = uuid.UUID("0b6f3c1e-8a2d-4f7b-9e5c-2d4a6b8c0e1f")


def blueprint_display_name(stack: str, environment: Environment) -> str:
    """`LKPS-AGENTS[-<TEAM>]`, with `-NP` in np: the stack's blueprint, named after the stack."""
    team = stack.removeprefix(environment).strip("-").upper()
    return rules.display_name("-".join(["LKPS-AGENTS", *([team] if team else [])]), environment)


def blueprint_unique_name(stack: str, environment: Environment) -> str:
    """The blueprint's uniqueName (tenant-wide, immutable): its display name in lowercase."""
    return blueprint_display_name(stack, environment).lower()


def app_role_id(unique_name: str) -> str:
    """The stable ID of the blueprint's `access_as_client` app role."""
    return str(uuid.uuid5(_APP_ROLE_NAMESPACE, f"{unique_name}/{rules.CLIENT_SCOPE_VALUE}"))


def ocelot_client_id(agent_identity_object_id: str) -> str:
    """The client ID Ocelot's Client Access List holds for an agent identity (assumed above)."""
    return agent_identity_object_id.lower()
