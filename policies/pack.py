"""The policies of the pack, each with its level, severity, remediation and config schema."""

from __future__ import annotations

from typing import Final

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyConfigSchema,
    ResourceValidationPolicy,
    Severity,
    StackValidationPolicy,
)

from lkps import rules
from policies.agent_id import agent_id_objects
from policies.authorization import client_authorization
from policies.credentials import (
    client_secrets,
    no_plaintext_secret_outputs,
    vault_secret_expiry,
)
from policies.federation import federated_credential_issuer, prod_secretless
from policies.naming import entra_display_name, vault_secret_name
from policies.protection import prod_protection
from policies.registration import app_owners, beat_id, one_registration_per_app, single_tenant
from policies.separation import environment_separation, stack_outputs_environment

PACK_NAME: Final = rules.PROJECT
MANDATORY: Final = EnforcementLevel.MANDATORY
ADVISORY: Final = EnforcementLevel.ADVISORY
CONFIG_FILES: Final = "Stack configs live in Pulumi.<stack>.yaml under 'lkps-onboarding:'."

POLICIES: Final[list[Policy]] = [
    ResourceValidationPolicy(
        name="entra-display-name",
        description="Entra display names are uppercase words joined by hyphens, ending in -NP "
        "in np and not in prod.",
        validate=entra_display_name,
        enforcement_level=MANDATORY,
        severity=Severity.MEDIUM,
        remediation_steps="Set applications[].name to the base name (e.g. MY-LIVEKIT-AGENT) and "
        "let the program add -NP in np. " + CONFIG_FILES,
    ),
    ResourceValidationPolicy(
        name="vault-secret-name",
        description="Key Vault secret names are explicit and derived from the app's display name.",
        validate=vault_secret_name,
        enforcement_level=MANDATORY,
        severity=Severity.MEDIUM,
        remediation_steps="Create vault secrets through RotatingClientSecret, which names them "
        "'<display name in lowercase>-client-secret'.",
    ),
    ResourceValidationPolicy(
        name="environment-separation",
        description="Ocelot routes, Key Vaults, resource groups, LKPS scopes and environment tags "
        "belong to the stack's environment.",
        validate=environment_separation,
        enforcement_level=MANDATORY,
        severity=Severity.CRITICAL,
        config_schema=PolicyConfigSchema(
            properties={
                "vaultNamePattern": {
                    "type": "string",
                    "description": "Regular expression every vault name of the stack matches.",
                },
                "resourceGroupPattern": {
                    "type": "string",
                    "description": "Regular expression every vault's resource group matches.",
                },
                "tenantId": {
                    "type": "string",
                    "description": "The environment's Entra tenant, which every azuread and "
                    "azure-native provider of the stack names.",
                },
                "subscriptionId": {
                    "type": "string",
                    "description": "The environment's subscription, which every azure-native "
                    "provider of the stack names.",
                },
            }
        ),
        remediation_steps="Use the vault, resource group and regions of this environment in "
        "the stack's config; an np stack never points at prod, nor the reverse. " + CONFIG_FILES,
    ),
    StackValidationPolicy(
        name="stack-outputs-environment",
        description="The stack's environment, LKPS scope, Ocelot API and Ocelot scope match the "
        "stack name.",
        validate=stack_outputs_environment,
        enforcement_level=MANDATORY,
        severity=Severity.CRITICAL,
        remediation_steps="Set environment, ocelot.apiUrl and ocelot.tokenScope to this "
        "environment's values. " + CONFIG_FILES,
    ),
    StackValidationPolicy(
        name="one-registration-per-app",
        description="No two app registrations share a display name, and Ocelot entries take "
        "their client IDs from this stack's registrations.",
        validate=one_registration_per_app,
        enforcement_level=MANDATORY,
        severity=Severity.HIGH,
        remediation_steps="Give every application its own name; pass Application.client_id to "
        "OcelotRouteAccess instead of a copied GUID.",
    ),
    ResourceValidationPolicy(
        name="beat-id",
        description="Every app registration carries a BEAT ID ('BEAT' + 8 digits).",
        validate=beat_id,
        enforcement_level=MANDATORY,
        severity=Severity.MEDIUM,
        remediation_steps="Register the application in BEAT and set applications[].beatId.",
    ),
    ResourceValidationPolicy(
        name="single-tenant-sign-in",
        description="App registrations accept sign-ins from the company's tenant only "
        "(signInAudience AzureADMyOrg).",
        validate=single_tenant,
        enforcement_level=MANDATORY,
        severity=Severity.HIGH,
        remediation_steps="Create registrations through AppRegistration, which sets "
        "signInAudience to AzureADMyOrg.",
    ),
    ResourceValidationPolicy(
        name="app-owners",
        description="Every app registration and service principal is owned by the pinned "
        "deployer and minimumOwners others.",
        validate=app_owners,
        enforcement_level=MANDATORY,
        severity=Severity.MEDIUM,
        config_schema=PolicyConfigSchema(
            properties={
                "minimumOwners": {
                    "type": "integer",
                    "minimum": 1,
                    "default": rules.DEFAULT_MINIMUM_OWNERS,
                    "description": "Least number of owners besides the pinned deployer, "
                    "as minimumOwners in the stack config.",
                },
                "deployerObjectId": {
                    "type": "string",
                    "description": "The identity that deploys the stack, as deployerObjectId "
                    "in the stack config; it must own every registration it manages.",
                },
            }
        ),
        remediation_steps="Add team members' Entra object IDs to applications[].owners; keep "
        "deployerObjectId the pipeline's identity. " + CONFIG_FILES,
    ),
    ResourceValidationPolicy(
        name="client-secret-lifetime",
        description="Every client secret is its own resource (never inline in a registration) "
        "with an explicit end date within maximumSecretLifetimeDays.",
        validate=client_secrets,
        enforcement_level=MANDATORY,
        severity=Severity.HIGH,
        config_schema=PolicyConfigSchema(
            properties={
                "maximumSecretLifetimeDays": {
                    "type": "integer",
                    "minimum": 1,
                    "default": rules.MAXIMUM_SECRET_LIFETIME_DAYS,
                    "description": "The longest secretLifetimeDays allowed: the longest time "
                    "from today to a secret's end date.",
                }
            }
        ),
        remediation_steps="Lower secretLifetimeDays in the stack config. " + CONFIG_FILES,
    ),
    ResourceValidationPolicy(
        name="vault-secret-expiry",
        description="Every vault secret holding a client secret has a content type and an "
        "expiry within maximumSecretLifetimeDays.",
        validate=vault_secret_expiry,
        enforcement_level=MANDATORY,
        severity=Severity.HIGH,
        config_schema=PolicyConfigSchema(
            properties={
                "maximumSecretLifetimeDays": {
                    "type": "integer",
                    "minimum": 1,
                    "default": rules.MAXIMUM_SECRET_LIFETIME_DAYS,
                    "description": "The longest time from today to a vault secret's expiry, "
                    "as for client secrets.",
                }
            }
        ),
        remediation_steps="Create vault secrets through RotatingClientSecret, which sets both.",
    ),
    StackValidationPolicy(
        name="client-authorization",
        description="Agents expose access_as_client under their own identifier URI and "
        "pre-authorize only clients of the stack's environment.",
        validate=client_authorization,
        enforcement_level=MANDATORY,
        severity=Severity.CRITICAL,
        remediation_steps="Name clients of this stack in applications[].clients (or agents "
        "in applications[].agents), and other teams' clients of the same environment in "
        "applications[].externalClients. " + CONFIG_FILES,
    ),
    StackValidationPolicy(
        name="no-plaintext-secret-outputs",
        description="No stack output holds a client secret or a value named like a credential.",
        validate=no_plaintext_secret_outputs,
        enforcement_level=MANDATORY,
        severity=Severity.CRITICAL,
        remediation_steps="Remove the output; consumers read the secret from Key Vault.",
    ),
    ResourceValidationPolicy(
        name="agent-id-objects",
        description="Agent identity blueprints and agent identities are named for their "
        "environment, sponsored, and a blueprint carries its BEAT ID.",
        validate=agent_id_objects,
        enforcement_level=MANDATORY,
        severity=Severity.MEDIUM,
        remediation_steps="Set agentId.beatId and agentId.sponsors, and applications[].sponsors "
        "for each agent on identity: agentId; the program names both for the stack. "
        + CONFIG_FILES,
    ),
    ResourceValidationPolicy(
        name="federated-credential-issuer",
        description="Federated identity credentials trust only the environment's allowed issuers.",
        validate=federated_credential_issuer,
        enforcement_level=MANDATORY,
        severity=Severity.CRITICAL,
        config_schema=PolicyConfigSchema(
            properties={
                "allowedIssuers": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "Issuer URLs an application may trust, exact (a trailing "
                    "slash aside), or regular expressions starting with '^'.",
                }
            }
        ),
        remediation_steps="Use an issuer of this environment's workloads (its AKS clusters, "
        "GitHub Actions) in applications[].federatedCredentials[].issuer, or have the "
        "platform owners add it to allowedIssuers in policies/config.<environment>.json.",
    ),
    ResourceValidationPolicy(
        name="prod-secretless",
        description="Prod applications sign in with federated credentials, not client secrets "
        "(advisory; platform owners may make it mandatory in their pack config).",
        validate=prod_secretless,
        enforcement_level=ADVISORY,
        severity=Severity.LOW,
        remediation_steps="Add applications[].federatedCredentials for the workload's issuer "
        "and subject, move the workload to it, then set clientSecret: false (README: "
        "Secretless applications).",
    ),
    ResourceValidationPolicy(
        name="prod-protection",
        description="In prod, app registrations, service principals and vault secrets are "
        "protected from deletion.",
        validate=prod_protection,
        enforcement_level=MANDATORY,
        severity=Severity.HIGH,
        remediation_steps="Leave 'protect' unset in the prod stack config; to remove a prod "
        "app on purpose, set applications[].retired: true in one reviewed change, then remove "
        "it from the config in the next (README: Retiring an application).",
    ),
]
