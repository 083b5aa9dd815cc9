"""The floor the stack is measured against: an inline program registering the stack's raw
resources (the same types, names and inputs, per application: Application, ServicePrincipal,
two ApplicationPasswords, a Key Vault secret, an Ocelot entry per region and the vault name's
record) through the same engine and stand-ins, with no components, no invokes, no config
validation and no policy pack. What the engine and the providers cost whatever the project does.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pulumi
import pulumi_azure_native as azure_native
import pulumi_azuread as azuread
from pulumi.dynamic import CreateResult, Resource, ResourceProvider

from lkps import rules


class _Recorded(ResourceProvider):
    """A dynamic resource that keeps its inputs: the cost of a dynamic resource, no API call."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(f"{props['kind']}/{props['key']}", props)


class _Record(Resource):
    def __init__(self, name: str, kind: str, key: str, **props: Any) -> None:
        super().__init__(_Recorded(), name, {"kind": kind, "key": key, **props})


def floor_program(config: dict[str, Any]) -> None:
    """The floor of a stack whose (namespace-less) config is `config`."""
    tenant = config["tenantId"]
    vault = config["keyVault"]
    entra = azuread.Provider("lkps-entra", tenant_id=tenant)
    arm = azure_native.Provider(
        "lkps-arm", tenant_id=tenant, subscription_id=vault["subscriptionId"]
    )
    on_entra = pulumi.ResourceOptions(provider=entra)
    # A whole day, as the stack's own end dates: a value that moved each run would replace the
    # passwords in a no-change preview.
    expires = (datetime.now(UTC).date() + timedelta(days=90)).isoformat() + "T00:00:00Z"
    for app in config["applications"]:
        display = rules.display_name(app["name"], "np")
        name = f"lkps-{display.lower()}"
        application = azuread.Application(
            f"{name}-app",
            display_name=display,
            description=app.get("description"),
            owners=app["owners"],
            service_management_reference=app["beatId"],
            sign_in_audience="AzureADMyOrg",
            prevent_duplicate_names=True,
            opts=on_entra,
        )
        azuread.ServicePrincipal(
            f"{name}-sp",
            client_id=application.client_id,
            owners=app["owners"],
            app_role_assignment_required=False,
            opts=on_entra,
        )
        passwords = [
            azuread.ApplicationPassword(
                f"{name}-secret-{slot}",
                application_id=application.id,
                display_name=f"{rules.CLIENT_SECRET_DISPLAY_NAME}-{slot}",
                end_date=expires,
                opts=on_entra,
            )
            for slot in ("a", "b")
        ]
        secret_name = rules.vault_secret_name(display)
        _Record(f"{name}-secret-vault-name", "vault", secret_name, vault_name=vault["vaultName"])
        azure_native.keyvault.Secret(
            f"{name}-secret-vault",
            resource_group_name=vault["resourceGroupName"],
            vault_name=vault["vaultName"],
            secret_name=secret_name,
            properties=azure_native.keyvault.SecretPropertiesArgs(
                value=passwords[0].value, content_type=rules.CLIENT_SECRET_CONTENT_TYPE
            ),
            opts=pulumi.ResourceOptions(provider=arm),
        )
        for region in app["regions"]:
            _Record(
                f"{name}-ocelot-{region}",
                "ocelot",
                f"{rules.lkps_host(region, 'np')}/{display}",
                client_id=application.client_id,
                beat_id=app["beatId"],
            )
