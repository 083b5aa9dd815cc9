"""Microsoft Entra Agent ID objects: named as applications are, and each with a sponsor."""

from __future__ import annotations

from pulumi_policy import ReportViolation, ResourceValidationArgs

from lkps import rules
from lkps.resource_types import AGENT_BLUEPRINT, AGENT_IDENTITY
from policies.context import require_environment, resource_rule


@resource_rule(AGENT_BLUEPRINT, AGENT_IDENTITY)
def agent_id_objects(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """A blueprint or agent identity has a display name of the environment (`-NP` in np, never
    in prod), at least one sponsor (a person accountable for it), and a blueprint carries its
    BEAT ID."""
    environment = require_environment(args.urn, report)
    kind = "blueprint" if args.resource_type == AGENT_BLUEPRINT else "agent identity"
    name = args.props.get("display_name")
    if not isinstance(name, str) or not name:
        report(f"{kind} '{args.name}' has no display name", None)
    elif environment == "np" and not name.endswith(rules.NON_PROD_SUFFIX):
        report(f"{kind} '{args.name}': display name '{name}' must end with '-NP' in np", None)
    elif environment == "prod" and name.endswith(rules.NON_PROD_SUFFIX):
        report(f"{kind} '{args.name}': display name '{name}' is a non-prod name in prod", None)
    if not args.props.get("sponsors"):
        report(
            f"{kind} '{args.name}' has no sponsor: set "
            + ("agentId.sponsors" if kind == "blueprint" else "applications[].sponsors"),
            None,
        )
    reference = args.props.get("service_management_reference")
    if kind == "blueprint" and not (
        isinstance(reference, str) and rules.BEAT_ID.fullmatch(reference)
    ):
        report(
            f"blueprint '{args.name}': BEAT ID {reference!r} must be {rules.BEAT_ID_FORM} "
            "(agentId.beatId)",
            None,
        )
