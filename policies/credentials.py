"""Credential hygiene: secrets expire, vault copies say what they are, outputs hold none."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from pulumi_policy import ReportViolation, ResourceValidationArgs, StackValidationArgs

from lkps import rules
from lkps.rotation import today_utc
from policies.context import (
    APPLICATION_PASSWORD,
    STACK,
    VAULT_SECRET,
    Unknowns,
    resource_rule,
    strings,
)

SECRET_LOOKING_KEY = re.compile(
    r"(?i)(?:client_?secret|secret_?value|password|credentials?|(?:access_?|bearer_?)?token)"
)
MIN_SECRET_LENGTH = 8


@resource_rule(APPLICATION_PASSWORD)
def client_secret_lifetime(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """An explicit end date no further away than `maximumSecretLifetimeDays`, the longest
    `secretLifetimeDays` the platform allows."""
    maximum = int(
        args.get_config().get("maximumSecretLifetimeDays", rules.MAXIMUM_SECRET_LIFETIME_DAYS)
    )
    if args.props.get("endDateRelative"):
        report(
            f"client secret '{args.name}': use endDate, not the deprecated endDateRelative", None
        )
    end = args.props.get("endDate")
    if not isinstance(end, str) or not end:
        report(f"client secret '{args.name}' has no end date: it would never expire", None)
        return
    try:
        expires = datetime.fromisoformat(end.replace("Z", "+00:00"))
    except ValueError:
        report(f"client secret '{args.name}': end date '{end}' is not RFC 3339", None)
        return
    if expires.tzinfo is None:
        expires = expires.replace(tzinfo=UTC)
    now = datetime.combine(today_utc(), datetime.now(UTC).timetz())
    days = (expires - now).days
    if days > maximum:
        report(
            f"client secret '{args.name}' expires in {days} days ({end}); at most "
            f"{maximum} days are allowed (maximumSecretLifetimeDays): lower secretLifetimeDays",
            None,
        )


@resource_rule(VAULT_SECRET)
def vault_secret_expiry(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """A vault secret holding a client secret has an expiry and a content type."""
    tags = args.props.get("tags") or {}
    name = args.props.get("secretName")
    holds_client_secret = "clientId" in tags or (
        isinstance(name, str) and name.endswith("-client-secret")
    )
    if not holds_client_secret:
        return
    properties = args.props.get("properties") or {}
    attributes = properties.get("attributes") or {}
    if not attributes.get("expires"):
        report(f"vault secret '{args.name}' holds a client secret but has no expiry", None)
    if not properties.get("contentType"):
        report(f"vault secret '{args.name}' holds a client secret but has no content type", None)


def no_plaintext_secret_outputs(args: StackValidationArgs, report: ReportViolation) -> None:
    """No stack output holds a client secret, or anything named like one."""
    # A password created by this run has no value yet at preview; an output that would show it is
    # unknown too, and is reported below as a value this rule could not check.
    not_created_yet = Unknowns()
    secrets: set[str] = set()
    for resource in args.resources:
        if resource.resource_type == APPLICATION_PASSWORD:
            value = not_created_yet.get(resource.props, "value")
            if isinstance(value, str) and len(value) >= MIN_SECRET_LENGTH:
                secrets.add(value)
    unknowns = Unknowns()
    for resource in args.resources:
        if resource.resource_type != STACK:
            continue
        for path, value in strings(resource.props, unknowns):
            leaf = re.split(r"[.\[]", path)[-1]
            if value in secrets:
                report(f"stack output {path} holds a client secret", resource.urn)
            elif SECRET_LOOKING_KEY.fullmatch(leaf):
                report(f"stack output {path} is named like a credential", resource.urn)
    unknowns.raise_if_any()
