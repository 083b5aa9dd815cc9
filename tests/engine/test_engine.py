"""preview, up, refresh and destroy through the real engine, with the real OcelotRouteAccess."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pulumi
import pytest
from pulumi import automation as auto

from components.ocelot.route_access import OcelotRouteAccess
from lkps import rules
from program import run
from tests.engine.conftest import ROOT, EngineStack
from tests.support.harness import stack_config
from tests.support.ocelot_fixtures import (
    CANARY_TOKEN,
    CLIENT,
    FOREIGN_CLIENT,
    NP_EU,
    NP_US,
    OTHER_CLIENT,
)

ROUTE_ACCESS = rules.ROUTE_ACCESS_TYPE
pytestmark = pytest.mark.engine


def program() -> None:
    """Route access for each entry of the `clients` config, plus the outputs policies read."""
    config = pulumi.Config()
    for name, spec in config.require_object("clients").items():
        OcelotRouteAccess(
            name,
            route_id=spec["route"],
            client_id=spec["clientId"],
            beat_id="BEAT12345678",
            description=spec["description"],
        )
    pulumi.export("environment", "np")
    pulumi.export("lkpsScope", rules.lkps_scope("np"))
    pulumi.export(
        "ocelotApiUrl", config.get("exportedApiUrl") or config.require_object("ocelot")["apiUrl"]
    )
    pulumi.export("ocelotTokenScope", config.require_object("ocelot")["tokenScope"])


def full_program() -> None:
    """The stack's own program, as `pulumi up` runs it."""
    run()


def _clients(engine: EngineStack, **specs: dict[str, str]) -> None:
    engine.set_config("clients", json.dumps(specs))


def _spec(route: str, client: str, description: str = "MY-AGENT-NP (LKPS agent)") -> dict[str, str]:
    return {"route": route, "clientId": client, "description": description}


@pytest.fixture
def engine(engine_stack: Callable[[Callable[[], None]], EngineStack]) -> EngineStack:
    stack = engine_stack(program)
    _clients(stack, eu=_spec(NP_EU, CLIENT), us=_spec(NP_US, CLIENT))
    return stack


def _changes(summary: auto.UpdateSummary | None) -> dict[str, int]:
    assert summary is not None
    assert summary.resource_changes is not None
    return {str(op): count for op, count in summary.resource_changes.items()}


def test_up_adds_entries_and_a_second_up_changes_nothing(engine: EngineStack) -> None:
    preview = engine.stack.preview()
    created = {str(op): count for op, count in preview.change_summary.items()}
    assert created.get("create") == 3  # the stack and two entries
    assert engine.emulator.store.writes["put"] == 0

    up = engine.stack.up()
    assert _changes(up.summary).get("create") == 3
    assert (
        "the client ID waits for approval by the route's owners in the Ocelot UI: "
        f"https://devtools-np.bayer.com/ocelot?route={NP_US}" in up.stdout
    )
    assert f"route={NP_EU}" not in up.stdout
    assert set(engine.emulator.store.entries(NP_EU)) == {CLIENT, FOREIGN_CLIENT}
    assert set(engine.emulator.store.entries(NP_US)) == {CLIENT, FOREIGN_CLIENT}
    writes = dict(engine.emulator.store.writes)

    again = engine.stack.up()
    assert _changes(again.summary) == {"same": 3}
    assert dict(engine.emulator.store.writes) == writes
    assert again.outputs["ocelotApiUrl"].value == engine.emulator.base_url


def test_refresh_sees_an_entry_removed_by_hand_and_up_adds_it_back(engine: EngineStack) -> None:
    engine.stack.up()
    engine.emulator.store.remove_out_of_band(NP_EU, CLIENT)
    refresh = engine.stack.refresh()
    assert _changes(refresh.summary).get("delete") == 1
    deployment = engine.stack.export_stack().deployment
    assert deployment is not None
    state = deployment["resources"]
    assert [r["urn"].split("::")[-1] for r in state if r["type"] == ROUTE_ACCESS] == ["us"]

    up = engine.stack.up()
    assert _changes(up.summary).get("create") == 1
    assert CLIENT in engine.emulator.store.entries(NP_EU)


def test_a_client_id_change_replaces_and_a_description_change_updates(
    engine: EngineStack,
) -> None:
    engine.stack.up()
    _clients(engine, eu=_spec(NP_EU, OTHER_CLIENT), us=_spec(NP_US, CLIENT))
    replaced = engine.stack.up()
    assert _changes(replaced.summary).get("replace") == 1
    assert set(engine.emulator.store.entries(NP_EU)) == {OTHER_CLIENT, FOREIGN_CLIENT}
    assert set(engine.emulator.store.entries(NP_US)) == {CLIENT, FOREIGN_CLIENT}

    _clients(engine, eu=_spec(NP_EU, OTHER_CLIENT), us=_spec(NP_US, CLIENT, "renamed"))
    updated = engine.stack.up()
    assert _changes(updated.summary) == {"same": 2, "update": 1}
    assert engine.emulator.store.entries(NP_US)[CLIENT].description == "renamed"


def test_destroy_removes_only_the_programs_entries(engine: EngineStack) -> None:
    engine.stack.up()
    destroy = engine.stack.destroy()
    assert _changes(destroy.summary).get("delete") == 3
    assert set(engine.emulator.store.entries(NP_EU)) == {FOREIGN_CLIENT}
    assert set(engine.emulator.store.entries(NP_US)) == {FOREIGN_CLIENT}


def test_the_token_never_appears_in_state_output_or_verbose_logs(engine: EngineStack) -> None:
    preview = engine.stack.preview(diff=True)
    up = engine.stack.up(log_verbosity=9, log_to_std_err=True, log_flow=True)
    refresh = engine.stack.refresh(log_verbosity=9, log_to_std_err=True)
    texts = {
        "preview": preview.stdout + preview.stderr,
        "up": up.stdout,
        "verbose log": up.stderr + refresh.stderr,
        "state": engine.state_text(),
        "stack config": (engine.backend.parent / "Pulumi.np.yaml").read_text(),
    }
    assert "RegisterResource" in texts["verbose log"] or len(texts["verbose log"]) > 10_000
    for where, text in texts.items():
        assert CANARY_TOKEN not in text, f"the token appears in the {where}"
    (state_file,) = engine.backend.rglob("stacks/*/np.json")
    deployment = json.loads(state_file.read_text())["checkpoint"]["latest"]
    assert deployment["secrets_providers"]["type"] == "passphrase"
    providers = [r for r in deployment["resources"] if r["type"] == ROUTE_ACCESS]
    assert providers
    for resource in providers:
        provider = resource["inputs"]["__provider"]
        assert provider["4dabf18193072939515e22adb298388d"] == "1b47061264138c4ac30d75fd1eb44270"
        assert set(provider) == {"4dabf18193072939515e22adb298388d", "ciphertext"}


def test_the_policy_pack_blocks_a_violation_and_passes_a_compliant_stack(
    engine: EngineStack, tmp_path: Path
) -> None:
    pack = str(ROOT / "policies" / "pack")
    config = tmp_path / "policy-config.json"
    # This program has no Application resources (no Azure plugin here), so its client IDs are
    # literals: the rule requiring them to come from an Application is off for this test only.
    config.write_text(json.dumps({"all": "mandatory", "one-registration-per-app": "disabled"}))

    compliant = engine.stack.preview(policy_packs=[pack], policy_pack_configs=[str(config)])
    assert "stack-outputs-environment" not in compliant.stdout
    assert "Policies:" in compliant.stdout or "lkps-onboarding" in compliant.stdout

    engine.set_config("exportedApiUrl", "https://devtools.bayer.com/ocelot/api/v1")
    with pytest.raises(auto.errors.CommandError) as caught:
        engine.stack.preview(policy_packs=[pack], policy_pack_configs=[str(config)])
    output = str(caught.value)
    assert "stack-outputs-environment" in output
    assert (
        "stack output ocelotApiUrl 'https://devtools.bayer.com/ocelot/api/v1' is not marked "
        "non-prod" in output
    )
    assert "mandatory" in output


def test_bad_config_fails_preview_with_one_line_per_problem_and_no_traceback(
    engine_stack: Callable[[Callable[[], None]], EngineStack],
) -> None:
    engine = engine_stack(full_program)
    raw = stack_config("np")
    raw["applications"][0]["beatId"] = "BEAT1"
    raw["applications"][1]["regions"] = ["eu", "mars"]
    for key, value in raw.items():
        engine.set_config(key, value if isinstance(value, str) else json.dumps(value))
    with pytest.raises(auto.errors.CommandError) as caught:
        engine.stack.preview()
    output = str(caught.value)
    assert "stack 'np' has 2 config problem(s):" in output
    assert "applications[0].beatId: 'BEAT1' must be 'BEAT' followed by 8 digits" in output
    assert "applications[1].regions[1]: 'mars' must be one of 'eu' or 'us'" in output
    assert "Traceback" not in output
    assert engine.emulator.store.writes["put"] == 0
