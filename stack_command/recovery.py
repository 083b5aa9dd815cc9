"""The next run after an interrupted one: what it finds pending, and what it settles.

Before a preview or an up, `inspect` reads the last checkpoint (without secrets) and, for each
create the engine left pending, whether its object exists: the program then imports an
Application, ServicePrincipal or vault Secret that does (`recovered`). After an up that
succeeded, and so after the vault publishes a live secret, `settle` revokes the client secrets
the interrupted creates made (`pending.stray_credentials`) and clears the pending creates, so
that no later run warns about them again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from pulumi import automation as auto

from components.azure_reads import LiveSources, endpoints_from_environment
from stack_command.pending import (
    Lookups,
    PendingCreate,
    StrayCredential,
    existing_ids,
    export_without_secrets,
    held_key_ids,
    pending_creates,
    stray_credentials,
)


@contextmanager
def _live_sources() -> Iterator[LiveSources]:
    from azure.identity import DefaultAzureCredential

    credential = DefaultAzureCredential(exclude_interactive_browser_credential=True)
    sources = LiveSources(credential, endpoints_from_environment())
    try:
        yield sources
    finally:
        sources.close()
        credential.close()


def _describe(stray: StrayCredential) -> str:
    return (
        f"client secret {stray.key_id} ('{stray.display_name}', ends {stray.end_date_time}) "
        f"of /applications/{stray.application_object_id}"
    )


@dataclass
class Recovery:
    """What one command does about the run before it, if that run was interrupted."""

    stack: auto.Stack
    subscription_id: str
    say: Callable[[str], None]
    pending: list[PendingCreate] = field(default_factory=list)
    recovered: dict[str, str] = field(default_factory=dict)

    def inspect(self, up: bool) -> dict[str, str]:
        """The pending creates of the last run; the IDs (by resource name) of the objects they
        made, which this run imports. `up`: this run is an up (else a preview)."""
        deployment = export_without_secrets(self.stack)
        self.pending = pending_creates(deployment)
        if not self.pending:
            return {}
        names = ", ".join(create.name for create in self.pending)
        self.say(
            f"stack: the last run of {self.stack.name} was interrupted with "
            f"{len(self.pending)} create(s) unfinished: {names}"
        )
        with _live_sources() as sources:
            found = existing_ids(
                self.pending,
                Lookups(
                    application_named=sources.application_named,
                    application=sources.application,
                    service_principal=sources.service_principal,
                    vault_secret_exists=lambda vault, name: (
                        sources.vault_secret(vault, name, with_value=False) is not None
                    ),
                    subscription_id=self.subscription_id,
                    federated_credentials=sources.federated_credentials,
                ),
            )
            strays = stray_credentials(self.pending, held_key_ids(deployment), sources.application)
        for urn, id_ in found.items():
            self.say(
                f"stack: {urn.rsplit('::', 1)[-1]} exists ({id_}): "
                f"{'this' if up else 'the next'} up imports it"
            )
        for stray in strays:
            self.say(
                f"stack: {_describe(stray)} was made by the interrupted run and no resource "
                f"holds it: {'this' if up else 'the next'} up revokes it once the vault "
                "publishes a live secret"
            )
        self.recovered = {urn.rsplit("::", 1)[-1]: id_ for urn, id_ in found.items()}
        return self.recovered

    def settle(self, output: Callable[[str], Any]) -> None:
        """After a successful up: revoke what the interrupted creates made and no resource
        holds, then drop the pending creates from the state."""
        from components.removed_client_secret import remove_password

        if not self.pending:
            return
        held = held_key_ids(export_without_secrets(self.stack))
        with _live_sources() as sources:
            strays = stray_credentials(self.pending, held, sources.application)
        for stray in strays:
            gone = not remove_password(stray.application_object_id, stray.key_id)
            self.say(
                f"stack: revoked {_describe(stray)}, made by the interrupted run"
                + (" (it was gone already)" if gone else "")
            )
        self.stack.refresh(clear_pending_creates=True, on_output=output, show_secrets=False)
        self.say(f"stack: cleared the interrupted run's pending creates from {self.stack.name}")
        self.pending = []
