"""Credential hygiene: secrets expire, vault copies say what they are, outputs hold none."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs, StackValidationArgs

from lkps import rules
from lkps.rotation import today_utc
from policies.context import (
    APPLICATION,
    APPLICATION_PASSWORD,
    APPLICATION_REGISTRATION,
    SERVICE_PRINCIPAL_PASSWORD,
    STACK,
    VAULT_SECRET,
    Unknowns,
    canonical_type,
    resource_rule,
    strings,
)

SECRET_LOOKING_KEY = re.compile(
    r"(?i)(?:client_?secret|secret_?value|password|credentials?|(?:access_?|bearer_?)?token)"
)
# Inside a longer value: a connection string's or URL's credential part, and Entra's client
# secret format (3 characters, '8Q~', 34 more; learn.microsoft.com "client secret" samples).
EMBEDDED_CREDENTIAL = re.compile(
    r"(?i)(?:client_?secret|password|pwd|accountkey|sharedaccesskey|sig)=[^;&\s]{4,}"
    r"|[A-Za-z0-9_~.-]{3}8Q~[A-Za-z0-9_~.-]{34}"
)
MIN_SECRET_LENGTH = 8


@resource_rule(APPLICATION, APPLICATION_REGISTRATION)
def no_inline_password(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """No password inside an app registration: it would never rotate nor reach Key Vault."""
    if args.props.get("password") or args.props.get("passwords"):
        report(
            f"application '{args.name}' carries an inline password; client secrets are "
            "ApplicationPassword resources made by RotatingClientSecret",
            None,
        )


def client_secrets(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """Client secrets are resources of their own, each with a bounded lifetime."""
    no_inline_password(args, report)
    client_secret_lifetime(args, report)


@resource_rule(APPLICATION_PASSWORD, SERVICE_PRINCIPAL_PASSWORD)
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
    days = (expires - _now()).days
    if days > maximum:
        report(
            f"client secret '{args.name}' expires in {days} days ({end}); at most "
            f"{maximum} days are allowed (maximumSecretLifetimeDays): lower secretLifetimeDays",
            None,
        )


@resource_rule(VAULT_SECRET)
def vault_secret_expiry(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """A vault secret holding a client secret has a content type and an expiry no further than
    `maximumSecretLifetimeDays` away. Reads only what is known in a preview that adds an app
    (tag names, never the tag values or the secret, which are not)."""
    tag_names = set(args.props.get("tags") or {})
    name = args.props.get("secretName")
    properties = args.props.get("properties") or {}
    content_type = properties.get("contentType")
    holds_client_secret = (
        "clientId" in tag_names
        or (isinstance(name, str) and name.endswith("-client-secret"))
        or content_type == rules.CLIENT_SECRET_CONTENT_TYPE
    )
    if not holds_client_secret:
        return
    attributes = properties.get("attributes") or {}
    expires = attributes.get("expires")
    if not expires:
        report(f"vault secret '{args.name}' holds a client secret but has no expiry", None)
    elif isinstance(expires, int | float):
        maximum = int(
            args.get_config().get("maximumSecretLifetimeDays", rules.MAXIMUM_SECRET_LIFETIME_DAYS)
        )
        days = (datetime.fromtimestamp(expires, UTC) - _now()).days
        if days > maximum:
            report(
                f"vault secret '{args.name}' expires in {days} days; at most {maximum} days are "
                "allowed (maximumSecretLifetimeDays), as for the client secret it holds",
                None,
            )
    if not content_type:
        report(f"vault secret '{args.name}' holds a client secret but has no content type", None)


def _now() -> datetime:
    """Now, on the simulated day of `scripts/stack --today` if there is one."""
    return datetime.combine(today_utc(), datetime.now(UTC).timetz())


def no_plaintext_secret_outputs(args: StackValidationArgs, report: ReportViolation) -> None:
    """No stack output holds a client secret, whole or inside a longer value, nor anything
    named or shaped like a credential. Judges every value known at the time: in a preview that
    adds an app, the new app's IDs are unknown and cannot hold a secret that does not exist yet;
    at `up` every value is known and judged."""
    secrets: set[str] = set()
    for resource in args.resources:
        if canonical_type(resource.resource_type) in (
            APPLICATION_PASSWORD,
            SERVICE_PRINCIPAL_PASSWORD,
        ):
            value = Unknowns().get(resource.props, "value")
            if isinstance(value, str) and len(value) >= MIN_SECRET_LENGTH:
                secrets.add(value)
    for resource in args.resources:
        if resource.resource_type != STACK:
            continue
        for path in key_paths(resource.props):
            if SECRET_LOOKING_KEY.fullmatch(re.split(r"[.\[]", path)[-1]):
                report(f"stack output {path} is named like a credential", resource.urn)
        for path, value in strings(resource.props, Unknowns()):
            if any(secret in value for secret in secrets):
                report(f"stack output {path} holds a client secret", resource.urn)
            elif EMBEDDED_CREDENTIAL.search(value):
                report(f"stack output {path} holds what looks like a credential", resource.urn)


def key_paths(value: Any, path: str = "") -> Iterator[str]:
    """The path of every key in a value, also of keys whose value is unknown at preview."""
    if isinstance(value, Mapping):
        for key in list(value):
            here = f"{path}.{key}" if path else str(key)
            yield here
            yield from key_paths(Unknowns().get(value, key), here)
    elif isinstance(value, Sequence) and not isinstance(value, str):
        for index in range(len(value)):
            yield from key_paths(Unknowns().get(value, index), f"{path}[{index}]")
