"""The pulumi target plans the metadata store that Vertex AI made already as an import, refuses one it
cannot adopt, and says what to configure when it cannot look. A fake ``pulumi`` CLI holds the stacks;
a fake Vertex AI on 127.0.0.1 answers google-cloud-aiplatform's REST calls."""

from __future__ import annotations

import json
import pathlib
import tempfile
from collections.abc import Iterator
from importlib.metadata import version

import pytest
from fake_pulumi import FakePulumi, FakeStack, install
from helpers import DEV_ONLY, applied, plan_text, planned, write
from vertex_fake import FakeVertex, serving

from mlopsctl import api
from mlopsctl.config.target import Target
from mlopsctl.output import pulumi as target
from mlopsctl.plan import Action, ResourceChange
from mlopsctl.pulumi.program import STATE_OUTPUT
from mlopsctl.pulumi.vertex.client import ENDPOINT_ENV
from mlopsctl.state import AppliedResource, State, dump_state
from mlopsctl.views.plan_views import render

DEV = Target("dev", "us-central1")
STORE = "gcp:vertex/aiMetadataStore:AiMetadataStore"
ADDRESS = f"{DEV}/{STORE}/default"
STORE_ID = "projects/acme-demo-dev/locations/us-central1/metadataStores/default"
TRACKED = DEV_ONLY + "tracking:\n  experiments: true\n"
KEYED = TRACKED + "security:\n  kms:\n    main: {}\n  defaultKmsKey: main\n"
KEY = "projects/acme-demo-dev/locations/us-central1/keyRings/demo-dev/cryptoKeys/main"
PULUMI = api.TargetSpec(api.TargetKind.pulumi)
SERVICE_DISABLED = ("PERMISSION_DENIED", "Vertex AI API has not been used in project acme-demo-dev")


@pytest.fixture
def fake(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeVertex]:
    """A fake Vertex AI, and a fake ``pulumi`` whose backend has no stack yet."""
    for name in ("PULUMI_BACKEND_URL", "GOOGLE_APPLICATION_CREDENTIALS", "CLOUDSDK_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    _pulumi(tmp_path, monkeypatch, {})
    with serving() as found:
        monkeypatch.setenv(ENDPOINT_ENV, found.url)
        yield found


def _pulumi(
    folder: pathlib.Path, monkeypatch: pytest.MonkeyPatch, stacks: dict[str, FakeStack]
) -> FakePulumi:
    cli = install(folder / "pulumi", f"v{version('pulumi')}", stacks, {"import": 1, "create": 18})
    monkeypatch.setenv("PATH", str(cli.folder))
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "secret")
    monkeypatch.setenv("GOOGLE_CREDENTIALS", "{}")
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return cli


def _store(changes: list[ResourceChange]) -> ResourceChange:
    (found,) = [c for c in changes if c.address == ADDRESS]
    return found


def test_the_plan_imports_the_store_vertex_ai_made(tmp_path: pathlib.Path, fake: FakeVertex) -> None:
    fake.add_metadata_store(STORE_ID)
    plan = planned(write(tmp_path, TRACKED), PULUMI).plan
    store = _store(plan.changes)
    inputs = {"name": "default", "project": "acme-demo-dev", "region": "us-central1"}
    assert (store.actions, store.importing, store.before, store.after) == (
        (Action.NO_OP,),
        STORE_ID,
        inputs,
        inputs,
    )
    text = plan_text(plan)
    assert (
        f"  # {ADDRESS} will be imported\n"
        "  # (from tracking.experiments in mlops.yaml)\n"
        f'  # (imported from "{STORE_ID}")\n'
        f'  = resource "{STORE}" "default" {{\n'
        "        # (3 unchanged attributes hidden)\n"
        "    }\n"
    ) in text
    assert text.endswith("\nPlan: 1 to import, 18 to add, 0 to change, 0 to destroy.\n")
    document = json.loads(render(plan, "json"))
    (change,) = [c["change"] for c in document["resource_changes"] if c["address"] == ADDRESS]
    assert change["actions"] == ["no-op"]
    assert change["importing"] == {"id": STORE_ID}
    assert document["summary"] == {"import": 1, "add": 18, "change": 0, "destroy": 0}
    assert f"  = {ADDRESS}  (import)\n" in render(plan, "text", compact=True, no_color=True)
    markdown = render(plan, "markdown")
    assert (
        "| Environment | Region | Import | Add | Change | Destroy |\n|---|---|--:|--:|--:|--:|\n" in markdown
    )
    assert "| dev | us-central1 | 1 | 18 | 0 | 0 |" in markdown
    assert f"<code>{ADDRESS}</code> will be imported</summary>" in markdown


def test_without_the_store_the_plan_creates_it_as_before(tmp_path: pathlib.Path, fake: FakeVertex) -> None:
    plan = planned(write(tmp_path, TRACKED), PULUMI).plan
    assert (_store(plan.changes).actions, _store(plan.changes).importing) == ((Action.CREATE,), None)
    assert plan_text(plan).endswith("\nPlan: 19 to add, 0 to change, 0 to destroy.\n")
    document = json.loads(render(plan, "json"))
    assert "importing" not in json.dumps(document)
    assert document["summary"] == {"add": 19, "change": 0, "destroy": 0}
    assert fake.routes() == ["get_metadata_store"]


def test_an_api_not_enabled_yet_holds_no_store(tmp_path: pathlib.Path, fake: FakeVertex) -> None:
    fake.add_metadata_store(STORE_ID)
    fake.fail("get_metadata_store", *SERVICE_DISABLED, reason="SERVICE_DISABLED")
    plan = planned(write(tmp_path, TRACKED), PULUMI).plan
    assert _store(plan.changes).actions == (Action.CREATE,)


def test_a_config_without_a_store_looks_nothing_up(tmp_path: pathlib.Path, fake: FakeVertex) -> None:
    planned(write(tmp_path, DEV_ONLY), PULUMI)
    assert fake.routes() == []


REFUSED = (
    f"{ADDRESS}: the Vertex AI metadata store {STORE_ID} exists already (Vertex AI makes it when "
    "Pipelines or Experiments are first used in a region) with Google-managed encryption, but the config "
    f"(tracking.experiments) asks for the key {KEY} (security.defaultKmsKey), and a store cannot be "
    "changed. Either keep the store as it is: leave the key out (remove security.defaultKmsKey for this "
    "environment and region) or turn tracking.experiments off for this environment and region; or delete "
    "it, which loses every experiment and lineage record of the region (DELETE "
    f"https://us-central1-aiplatform.googleapis.com/v1/{STORE_ID}), and apply again to create it as "
    "configured"
)


@pytest.mark.parametrize("command", ["plan", "apply"])
def test_a_store_with_other_encryption_is_refused(
    tmp_path: pathlib.Path, fake: FakeVertex, command: str
) -> None:
    fake.add_metadata_store(STORE_ID)
    config = write(tmp_path, KEYED)
    with pytest.raises(api.UserError) as caught:
        planned(config, PULUMI) if command == "plan" else applied(config, PULUMI)
    assert str(caught.value) == REFUSED
    assert FakePulumi(tmp_path / "pulumi").log() == []  # nothing was applied, not even a stack made


def test_a_store_with_a_description_is_refused(tmp_path: pathlib.Path, fake: FakeVertex) -> None:
    fake.add_metadata_store(STORE_ID, description="made by hand")
    with pytest.raises(api.UserError) as caught:
        planned(write(tmp_path, TRACKED), PULUMI)
    assert "with the description 'made by hand', but the config (tracking.experiments) asks for no " in str(
        caught.value
    )
    assert "Either keep the store as it is: turn tracking.experiments off for this environment" in str(
        caught.value
    )


def test_a_store_with_the_configured_key_is_imported(tmp_path: pathlib.Path, fake: FakeVertex) -> None:
    fake.add_metadata_store(STORE_ID, kms_key=KEY)
    store = _store(planned(write(tmp_path, KEYED), PULUMI).plan.changes)
    assert (store.actions, store.importing) == ((Action.NO_OP,), STORE_ID)


def test_a_lookup_without_permission_says_what_to_grant(tmp_path: pathlib.Path, fake: FakeVertex) -> None:
    fake.fail("get_metadata_store", "PERMISSION_DENIED", "Permission 'aiplatform.metadataStores.get' denied")
    with pytest.raises(api.UserError) as caught:
        planned(write(tmp_path, TRACKED), PULUMI)
    assert str(caught.value) == (
        f"{ADDRESS}: cannot look up whether Vertex AI made the metadata store {STORE_ID} already (to adopt "
        "it rather than fail creating it): 403 PERMISSION_DENIED: Permission 'aiplatform.metadataStores.get' "
        "denied; grant the account that applies a role with aiplatform.metadataStores.get on project "
        "acme-demo-dev (roles/aiplatform.viewer has it)"
    )


def test_a_store_the_state_holds_is_planned_as_before(
    tmp_path: pathlib.Path, fake: FakeVertex, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Adopted or created by an earlier apply: the state decides, what Vertex AI has is not checked again
    (a changed key shows as the replacement it would be)."""
    fake.add_metadata_store(STORE_ID)  # no key, while the config now asks for one
    inputs = {"name": "default", "project": "acme-demo-dev", "region": "us-central1"}
    held = AppliedResource(ADDRESS, STORE, "default", inputs, (), True)
    state = State("demo", DEV, "acme-demo-dev", None, "sha256:0", {ADDRESS: held})
    _pulumi(
        tmp_path / "held",
        monkeypatch,
        {"dev-us-central1": FakeStack(outputs={STATE_OUTPUT: dump_state(state)})},
    )
    store = _store(planned(write(tmp_path, KEYED), PULUMI).plan.changes)
    assert (store.actions, store.importing, store.replace_paths) == (
        (Action.DELETE, Action.CREATE),
        None,
        ("encryptionSpec",),
    )


def test_apply_runs_the_update_that_adopts_it(tmp_path: pathlib.Path, fake: FakeVertex) -> None:
    fake.add_metadata_store(STORE_ID)
    result = applied(write(tmp_path, TRACKED), PULUMI)
    assert _store(result.plan.changes).importing == STORE_ID
    assert (
        result.outcome.detail
        == "Applied with Pulumi:\ndev/us-central1: 1 to import, 18 to create, 0 unchanged"
    )
    assert [entry[0] for entry in FakePulumi(tmp_path / "pulumi").log()] == ["init", "up"]


def test_pulumi_counts_imports_as_changes() -> None:
    assert target.change_summary({"import": 1, "same": 3}) == "1 to import, 3 unchanged"
    assert target.has_changes({"import": 1, "same": 3})
