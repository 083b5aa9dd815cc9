"""App registrations: one per app and environment, with a BEAT ID and enough owners."""

from __future__ import annotations

from collections import Counter

from pulumi_policy import ReportViolation, ResourceValidationArgs, StackValidationArgs

from lkps import rules
from lkps.resource_types import AGENT_IDENTITY
from policies.context import (
    APPLICATION,
    APPLICATION_REGISTRATION,
    ROUTE_ACCESS,
    SERVICE_PRINCIPAL,
    Unknowns,
    canonical_type,
    resource_rule,
)

REGISTRATIONS = (APPLICATION, APPLICATION_REGISTRATION)


def one_registration_per_app(args: StackValidationArgs, report: ReportViolation) -> None:
    """No two applications share a display name; Ocelot entries use this stack's client IDs."""
    unknowns = Unknowns()
    applications = [r for r in args.resources if canonical_type(r.resource_type) in REGISTRATIONS]
    names = Counter(unknowns.get(r.props, "displayName") for r in applications)
    for name, count in names.items():
        if name is not None and count > 1:
            report(f"{count} applications share the display name '{name}'", None)
    for resource in args.resources:
        if resource.resource_type != ROUTE_ACCESS:
            continue
        sources = resource.property_dependencies.get("client_id", [])
        if not any(s.resource_type in (APPLICATION, AGENT_IDENTITY) for s in sources):
            report(
                f"Ocelot route access '{resource.name}': client_id must come from an Application "
                "or agent identity of this stack, not a literal",
                resource.urn,
            )
    unknowns.raise_if_any()


@resource_rule(*REGISTRATIONS)
def beat_id(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """The registration carries its BEAT ID as service management reference."""
    reference = args.props.get("serviceManagementReference")
    if not isinstance(reference, str) or not rules.BEAT_ID.fullmatch(reference):
        report(
            f"application '{args.name}': serviceManagementReference {reference!r} must be a "
            f"BEAT ID ({rules.BEAT_ID_FORM})",
            None,
        )


@resource_rule(*REGISTRATIONS, SERVICE_PRINCIPAL)
def app_owners(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """The pinned deployer (`deployerObjectId`) and `minimumOwners` other owners, as in the
    stack config; GUIDs compare case-insensitively."""
    config = args.get_config()
    minimum = int(config.get("minimumOwners", rules.DEFAULT_MINIMUM_OWNERS))
    deployer = str(config.get("deployerObjectId") or "").lower()
    owners = {str(owner).lower() for owner in args.props.get("owners") or []}
    kind = "service principal" if args.resource_type == SERVICE_PRINCIPAL else "application"
    if deployer and deployer not in owners:
        report(
            f"{kind} '{args.name}' is not owned by the pinned deployer {deployer} "
            "(deployerObjectId): the pipeline could no longer manage it",
            None,
        )
    others = owners - {deployer} if deployer else owners
    needed = minimum if deployer else minimum + 1
    if len(others) < needed:
        besides = "besides the pinned deployer" if deployer else "with the deploying principal"
        report(
            f"{kind} '{args.name}' has {len(others)} owner(s) {besides}, needs at least "
            f"{needed} (minimumOwners: {minimum})",
            None,
        )


@resource_rule(*REGISTRATIONS)
def single_tenant(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """Only accounts of the company's tenant sign in (`AzureADMyOrg`, the provider's default)."""
    audience = args.props.get("signInAudience")
    if audience not in (None, rules.SIGN_IN_AUDIENCE):
        report(
            f"application '{args.name}': signInAudience {audience!r} lets other tenants sign "
            f"in; LKPS apps are '{rules.SIGN_IN_AUDIENCE}'",
            None,
        )
