"""The floor the stack is measured against: an inline program registering the stack's raw
resources (the same types, names and inputs, per application: Application, ServicePrincipal,
two ApplicationPasswords, a Key Vault secret, an Ocelot entry per region and the vault name's
record; the agent's identifier URI, scope and pre-authorizations of its clients) through the same
engine and stand-ins, with no components, no invokes, no config validation and no policy pack.
What the engine and the providers cost whatever the project does.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pulumi
import pulumi_azure_native as azure_native
import pulumi_azuread as azuread
from pulumi.dynamic import CreateResult, Resource, ResourceProvider

from components.client_authorization import scope_id
from lkps import rules
from sandbox.session import SandboxFolder, running, stack_config
from stack_command.engine import ROOT, open_stack, policy_options, workspace_env


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
    registered: dict[str, azuread.Application] = {}
    for app in config["applications"]:
        display = rules.display_name(app["name"], "np")
        name = f"lkps-{display.lower()}"
        application = registered[app["name"]] = azuread.Application(
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

    for app in config["applications"]:
        if app.get("clients"):
            _client_access(app, registered, on_entra)


def _client_access(
    agent: dict[str, Any],
    registered: dict[str, azuread.Application],
    opts: pulumi.ResourceOptions,
) -> None:
    """An agent's identifier URI, its scope and one pre-authorization per client."""
    display = rules.display_name(agent["name"], "np")
    name = f"lkps-{display.lower()}-client-access"
    application = registered[agent["name"]]
    azuread.ApplicationIdentifierUri(
        f"{name}-uri",
        application_id=application.id,
        identifier_uri=application.client_id.apply(rules.agent_identifier_uri),
        opts=opts,
    )
    scope = azuread.ApplicationPermissionScope(
        f"{name}-scope",
        application_id=application.id,
        scope_id=scope_id(display),
        value=rules.CLIENT_SCOPE_VALUE,
        type="User",
        admin_consent_display_name=f"Start LKPS sessions with {display}",
        admin_consent_description="Lets a pre-authorized client app start LKPS sessions.",
        opts=opts,
    )
    for client in agent["clients"]:
        azuread.ApplicationPreAuthorized(
            f"{name}-{client.lower()}",
            application_id=application.id,
            authorized_client_id=registered[client].client_id,
            permission_ids=[scope.scope_id],
            opts=opts,
        )


def main(argv: list[str] | None = None) -> int:
    """The floor of the committed np stack as a whole command, to time beside
    `scripts/stack preview np --sandbox --expect-no-changes`:

        .venv/bin/python -m benchmarks.floor up --root DIR
        .venv/bin/python -m benchmarks.floor preview --root DIR [--policy-pack]

    It runs as `scripts/stack` does (a process, the sandbox started inside it, the inline program
    through the Automation API); `--policy-pack` adds the project's pack and its np config."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.floor")
    parser.add_argument("verb", choices=("up", "preview"))
    parser.add_argument("--root", type=Path, required=True, help="the floor's sandbox folder")
    parser.add_argument("--policy-pack", action="store_true")
    args = parser.parse_args(argv)
    config = stack_config(ROOT, "np")
    folder = SandboxFolder(args.root / "np", "np")
    with running(folder, ROOT) as sandbox:
        stack = open_stack(
            "np",
            lambda: floor_program(config),
            folder.work_dir,
            {**workspace_env(), **sandbox.env},
            pulumi_home=folder.pulumi_home,
            secrets_provider="passphrase",
        )
        packs = policy_options("np") if args.policy_pack else {}
        options: dict[str, Any] = {
            "on_output": print,
            "policy_packs": packs.get("policy_packs"),
            "policy_pack_configs": packs.get("policy_pack_configs"),
        }
        if args.verb == "up":
            stack.up(**options)
            return 0
        changes = stack.preview(**options).change_summary
        return 0 if {str(op) for op in changes} == {"same"} else 1


if __name__ == "__main__":
    raise SystemExit(main())
