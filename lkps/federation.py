"""Federated identity credentials: Graph's limits, and the subject forms of well-known issuers.

An application may sign in without a secret when a trusted issuer signs its workload's identity
(workload identity federation): Entra exchanges that token for one of the application's own when
the token's issuer, subject and audience match one of the application's federated identity
credentials (learn.microsoft.com/entra/workload-id/workload-identity-federation).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

# learn.microsoft.com/graph/api/resources/federatedidentitycredential: `audiences` "should be
# set to api://AzureADTokenExchange for Microsoft Entra ID ... can only accept a single value
# and has a limit of 600 characters"; `issuer` and `subject` have the same limit.
DEFAULT_AUDIENCE: Final = "api://AzureADTokenExchange"
MAX_VALUE_LENGTH: Final = 600
# learn.microsoft.com/entra/workload-id/workload-identity-federation-considerations: "A maximum
# of 20 federated identity credentials can be added to an application".
MAX_PER_APPLICATION: Final = 20
# The same page: a name is 3-120 characters of letters, digits, '-' or '_', starting with a
# letter or digit (Graph's resource page: unique per application, URL friendly, immutable).
NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{2,119}")
NAME_FORM: Final = "3 to 120 letters, digits, '-' or '_', starting with a letter or digit"


@dataclass(frozen=True)
class KnownIssuer:
    """An issuer whose subject claim has a documented form."""

    label: str
    issuer: re.Pattern[str]
    subject: re.Pattern[str]
    subject_form: str
    source: str


KNOWN_ISSUERS: Final = (
    KnownIssuer(
        "GitHub Actions",
        re.compile(r"https://token\.actions\.githubusercontent\.com/?"),
        re.compile(
            r"repo:[^/:\s]+/[^/:\s]+:(?:environment:[^\s]+|ref:refs/(?:heads|tags)/[^\s]+"
            r"|pull_request)"
        ),
        "repo:<owner>/<repo>:environment:<name>, repo:<owner>/<repo>:ref:refs/heads/<branch>, "
        "repo:<owner>/<repo>:ref:refs/tags/<tag> or repo:<owner>/<repo>:pull_request",
        "docs.github.com/actions/reference/security/oidc (example subject claims); "
        "learn.microsoft.com/entra/workload-id/workload-identity-federation-create-trust",
    ),
    KnownIssuer(
        "AKS workload identity",
        re.compile(r"https://[a-z0-9-]+\.oic\.prod-aks\.azure\.com/[0-9a-f-]{36}/[0-9a-f-]{36}/?"),
        re.compile(r"system:serviceaccount:[a-z0-9]([-a-z0-9]*[a-z0-9])?:[a-z0-9]([-a-z0-9.]*)?"),
        "system:serviceaccount:<namespace>:<service account name>",
        "learn.microsoft.com/azure/aks/workload-identity-deploy-cluster "
        "(az identity federated-credential create --subject system:serviceaccount:...)",
    ),
)


def known_issuer(issuer: str) -> KnownIssuer | None:
    """The well-known issuer `issuer` is, if any."""
    return next((known for known in KNOWN_ISSUERS if known.issuer.fullmatch(issuer)), None)


def subject_hint(issuer: str, subject: str) -> str | None:
    """What a subject that does not have its known issuer's documented form should look like.

    Entra compares the subject as an exact string, so a subject of the wrong form is accepted
    and never matches any token: a hint, not an error."""
    known = known_issuer(issuer)
    if known is None or known.subject.fullmatch(subject):
        return None
    return (
        f"'{subject}' does not have the form of a {known.label} subject ({known.subject_form}; "
        f"{known.source}): no token from {issuer} will match it"
    )


def issuer_allowed(issuer: str, allowed: Iterable[str]) -> bool:
    """Whether `issuer` is one of `allowed`: each an exact issuer URL (a trailing slash aside),
    or a regular expression when it starts with '^'."""
    wanted = issuer.rstrip("/")
    for pattern in allowed:
        if pattern.startswith("^"):
            if re.fullmatch(pattern, issuer):
                return True
        elif pattern.rstrip("/") == wanted:
            return True
    return False
