"""The federated identity credentials of one app: sign-ins by a trusted workload, no secret."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

import pulumi
import pulumi_azuread as azuread

TYPE_TOKEN: Final = "lkps:credentials:FederatedCredentials"


@dataclass(frozen=True)
class FederatedCredentialSpec:
    """One trusted issuer and subject; the name is unique in the application and immutable."""

    name: str
    issuer: str
    subject: str
    audiences: Sequence[str]
    description: str = ""


@dataclass(frozen=True)
class FederatedCredentialsArgs:
    """The application (resource ID `/applications/<objectId>`) and its credentials;
    `recovered` as in `AppRegistrationArgs`."""

    application_id: pulumi.Input[str]
    credentials: Sequence[FederatedCredentialSpec]
    recovered: Mapping[str, str] = field(default_factory=dict)


class FederatedCredentials(pulumi.ComponentResource):
    """One ApplicationFederatedIdentityCredential per trusted issuer and subject.

    A credential's name and application cannot change in place (the provider replaces it);
    its issuer, subject, audience and description are updated in place. `credential_ids` maps
    each name to Entra's ID of the credential."""

    credential_ids: dict[str, pulumi.Output[str]]

    def __init__(
        self,
        name: str,
        args: FederatedCredentialsArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        self.credential_ids = {}
        for credential in args.credentials:
            resource_name = f"{name}-{credential.name.lower()}"
            made = azuread.ApplicationFederatedIdentityCredential(
                resource_name,
                application_id=args.application_id,
                display_name=credential.name,
                issuer=credential.issuer,
                subject=credential.subject,
                audiences=list(credential.audiences),
                description=credential.description or None,
                # Graph refuses a second credential with the same issuer and subject, so a
                # renamed one is deleted before its successor is made.
                opts=pulumi.ResourceOptions(
                    parent=self,
                    delete_before_replace=True,
                    import_=args.recovered.get(resource_name),
                ),
            )
            self.credential_ids[credential.name] = made.credential_id
        self.register_outputs({"credential_ids": self.credential_ids})
