"""App registrations: one per app and environment, with a BEAT ID and enough owners."""

from __future__ import annotations

from collections import Counter

from pulumi_policy import ReportViolation, ResourceValidationArgs, StackValidationArgs

from lkps import rules
from policies.context import APPLICATION, ROUTE_ACCESS, Unknowns, resource_rule


def one_registration_per_app(args: StackValidationArgs, report: ReportViolation) -> None:
    """No two applications share a display name; Ocelot entries use this stack's client IDs."""
    unknowns = Unknowns()
    applications = [r for r in args.resources if r.resource_type == APPLICATION]
    names = Counter(unknowns.get(r.props, "displayName") for r in applications)
    for name, count in names.items():
        if name is not None and count > 1:
            report(f"{count} applications share the display name '{name}'", None)
    for resource in args.resources:
        if resource.resource_type != ROUTE_ACCESS:
            continue
        sources = resource.property_dependencies.get("client_id", [])
        if not any(s.resource_type == APPLICATION for s in sources):
            report(
                f"Ocelot route access '{resource.name}': client_id must come from an Application "
                "of this stack, not a literal",
                resource.urn,
            )
    unknowns.raise_if_any()


@resource_rule(APPLICATION)
def beat_id(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """The registration carries its BEAT ID as service management reference."""
    reference = args.props.get("serviceManagementReference")
    if not isinstance(reference, str) or not rules.BEAT_ID.fullmatch(reference):
        report(
            f"application '{args.name}': serviceManagementReference {reference!r} must be a "
            f"BEAT ID ({rules.BEAT_ID_FORM})",
            None,
        )


@resource_rule(APPLICATION)
def app_owners(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """`minimumOwners` owners, as in the stack config, besides the deploying principal that the
    program adds to every app registration."""
    minimum = int(args.get_config().get("minimumOwners", rules.DEFAULT_MINIMUM_OWNERS))
    owners = {str(owner).lower() for owner in args.props.get("owners") or []}
    if len(owners) < minimum + 1:
        report(
            f"application '{args.name}' has {len(owners)} owner(s), needs at least "
            f"{minimum + 1}: minimumOwners ({minimum}) and the deploying principal",
            None,
        )
