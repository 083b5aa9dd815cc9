"""Secretless sign-in: which issuers an application may trust, and prod apps without secrets."""

from __future__ import annotations

from pulumi_policy import ReportViolation, ResourceValidationArgs

from lkps import federation
from policies.context import (
    APPLICATION_PASSWORD,
    FEDERATED_CREDENTIAL,
    environment_of,
    resource_rule,
)


@resource_rule(FEDERATED_CREDENTIAL)
def federated_credential_issuer(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """A federated credential trusts only an issuer of the environment's `allowedIssuers`
    (exact URLs, or regular expressions starting with '^'): whoever controls the issuer can
    sign in as the application."""
    issuer = args.props.get("issuer")
    allowed = list(args.get_config().get("allowedIssuers") or [])
    if not isinstance(issuer, str):
        report(f"federated credential '{args.name}' names no issuer", None)
    elif not federation.issuer_allowed(issuer, allowed):
        shown = ", ".join(allowed) or "none"
        report(
            f"federated credential '{args.name}' trusts issuer '{issuer}', which is not "
            f"allowed in {environment_of(args.urn) or 'this stack'} (allowedIssuers: {shown})",
            None,
        )


@resource_rule(APPLICATION_PASSWORD)
def prod_secretless(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """In prod, applications sign in with federated credentials rather than client secrets."""
    if environment_of(args.urn) != "prod":
        return
    report(
        f"client secret '{args.name}' in prod: an application whose workload runs where a "
        "trusted issuer signs its identity can sign in without a secret "
        "(applications[].federatedCredentials, then clientSecret: false)",
        None,
    )
