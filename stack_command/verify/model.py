"""The checklist's vocabulary: one finding per item, grouped per application, with a verdict."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Final, Literal

Status = Literal["pass", "fail", "warn", "manual"]
SYMBOLS: Final[dict[Status, str]] = {"pass": "✅", "fail": "❌", "warn": "⚠️", "manual": "manual"}

# The onboarding page's checklist items, in its order and words.
BEAT: Final = "A valid BEAT entry"
REGISTRATION: Final = "An Entra ID app registration"
CLIENT_SECRET: Final = "Client secret (stored securely)"
FEDERATED: Final = "Federated credentials (no secret)"
TOKEN: Final = "It works: a token for LKPS"
SEPARATE: Final = "Separate registrations for non-prod and prod"
OCELOT_USERS: Final = "Membership in the Ocelot Users group"
ROUTE_ACCESS: Final = "Ocelot route access"
CLIENT_AUTHORIZATION: Final = "Client-to-agent authorization"

# An agent on Microsoft Entra Agent ID (`identity: agentId`) has these instead of the
# registration's items (beside them while its registration stays, `registration: parallel`):
# the stack's blueprint, the agent's identity of it, the blueprint's credentials, through which
# the agent identity signs in, and the blueprint's app role that authorizes its clients.
AGENT_ID_BLUEPRINT: Final = "An agent identity blueprint (Microsoft Entra Agent ID)"
AGENT_IDENTITY: Final = "An agent identity of the blueprint"
AGENT_ID_CLIENT_SECRET: Final = "Blueprint client secret (stored securely)"
AGENT_ID_FEDERATED: Final = "Blueprint federated credentials (no secret)"
AGENT_ID_TOKEN: Final = "It works: the agent identity's token for LKPS"
AGENT_ID_SEPARATE: Final = "Separate blueprints for non-prod and prod"
AGENT_ID_CLIENT_AUTHORIZATION: Final = "Client-to-agent authorization (blueprint app role)"
# Whose Client Access List entry an Ocelot route item is, when it is not the registration's.
AGENT_IDENTITY_ENTRY: Final = "agent identity"
RETIRED_REGISTRATION_ENTRY: Final = "retired registration"


def route_access(region: str, whose: str = "") -> str:
    """The Ocelot route item of one region: the registration's entry, or `whose`."""
    return f"{ROUTE_ACCESS} ({region}{f', {whose}' if whose else ''})"


@dataclass(frozen=True)
class Finding:
    """One checklist item for one application: what was found and what to do about it."""

    item: str
    status: Status
    detail: str
    remedy: str = ""


@dataclass
class AppReport:
    """Every finding for one application."""

    name: str
    display_name: str
    client_id: str | None
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(f.status != "fail" for f in self.findings)


@dataclass
class Report:
    """The checklist for every application of one stack."""

    stack: str
    environment: str
    applications: list[AppReport]
    sandbox: bool

    @property
    def ok(self) -> bool:
        return all(app.ok for app in self.applications)

    def counts(self) -> dict[Status, int]:
        counts: dict[Status, int] = {"pass": 0, "fail": 0, "warn": 0, "manual": 0}
        for app in self.applications:
            for finding in app.findings:
                counts[finding.status] += 1
        return counts

    def to_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "environment": self.environment,
            "sandbox": self.sandbox,
            "ok": self.ok,
            "counts": self.counts(),
            "applications": [
                {
                    "name": app.name,
                    "displayName": app.display_name,
                    "clientId": app.client_id,
                    "ok": app.ok,
                    "findings": [asdict(f) for f in app.findings],
                }
                for app in self.applications
            ],
        }
