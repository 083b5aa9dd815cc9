"""Prod protection: prod registrations and vault secrets cannot be deleted by accident."""

from __future__ import annotations

from pulumi_policy import ReportViolation, ResourceValidationArgs

from policies.context import APPLICATION, SERVICE_PRINCIPAL, VAULT_SECRET, environment_of

PROTECTED_IN_PROD = (APPLICATION, SERVICE_PRINCIPAL, VAULT_SECRET)


def prod_protection(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """In prod, app registrations, service principals and vault secrets are protected."""
    in_prod = environment_of(args.urn) == "prod"
    if args.resource_type in PROTECTED_IN_PROD and in_prod and not args.opts.protect:
        report(f"'{args.name}' ({args.resource_type}) is not protected in prod", None)
