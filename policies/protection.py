"""Prod protection: prod registrations and vault secrets cannot be deleted by accident."""

from __future__ import annotations

from pulumi_policy import ReportViolation, ResourceValidationArgs

from lkps import rules
from policies.context import (
    APPLICATION,
    APPLICATION_REGISTRATION,
    SERVICE_PRINCIPAL,
    VAULT_SECRET,
    canonical_type,
    environment_of,
)

PROTECTED_IN_PROD = (APPLICATION, APPLICATION_REGISTRATION, SERVICE_PRINCIPAL, VAULT_SECRET)


def prod_protection(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """In prod, app registrations, service principals and vault secrets are protected, except
    those of an application being retired (`applications[].retired`, marked on the resource)
    the vault secret of one that also signs in with federated credentials (marked so: the
    change that removes its client secret deletes it), and that of the Agent ID blueprint while
    no agent relies on it alone (marked so: going back deletes it)."""
    in_prod = environment_of(args.urn) == "prod"
    kind = canonical_type(args.resource_type)
    if kind not in PROTECTED_IN_PROD or not in_prod or args.opts.protect:
        return
    if _retiring(args) or (
        kind == VAULT_SECRET
        and (_marked(args, rules.FEDERATED_TAG) or _marked(args, rules.PARALLEL_TAG))
    ):
        return
    report(f"'{args.name}' ({args.resource_type}) is not protected in prod", None)


def _retiring(args: ResourceValidationArgs) -> bool:
    return _marked(args, rules.RETIRING_TAG)


def _marked(args: ResourceValidationArgs, tag: str) -> bool:
    tags = args.props.get("tags") or []
    if isinstance(tags, list):
        return tag in tags
    return tag in set(tags)
