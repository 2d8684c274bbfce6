"""pulumi_copyai.stacks without the CLI: what a deployment records, busy-ness, backend directories."""

from __future__ import annotations

import json
from pathlib import Path

from pulumi_copyai.stacks import (
    SECRET_SIG,
    TYPES,
    Backend,
    Lock,
    Stack,
    file_backend_dir,
    recorded_in,
    redact,
)

STACK = "organization/p/s"


def secret(value: str | None) -> dict[str, str]:
    """A secret as `pulumi stack export` writes it: encrypted (None), or with --show-secrets."""
    if value is None:
        return {SECRET_SIG: "1b47061264138c4ac30d75fd1eb44270", "ciphertext": "v1:abc"}
    return {SECRET_SIG: "1b47061264138c4ac30d75fd1eb44270", "plaintext": json.dumps(value)}


def resource(name: str, type_: str, id_: str | None, url: object, **extra: object) -> dict[str, object]:
    inputs = {"url": url, "eventType" if type_ == TYPES[1] else "event_type": "workflowRun.failed"}
    res: dict[str, object] = {"urn": f"urn:pulumi:s::p::{type_}::{name}", "type": type_, "inputs": inputs,
                              "outputs": dict(inputs) if id_ else {}, **extra}
    if id_:
        res["id"] = id_
    return res


def test_recorded_in_reads_both_types_replaced_resources_and_pending_operations() -> None:
    deployment = {
        "resources": [
            resource("dyn", TYPES[0], "id-1", "https://h.example.com/1"),
            resource("pkg", TYPES[1], "id-2", secret(None)),
            resource("old", TYPES[1], "id-3", "https://h.example.com/3", delete=True),
            resource("other", "aws:s3/bucket:Bucket", "b-1", "https://h.example.com/x"),
        ],
        "pending_operations": [
            {"type": "creating", "resource": resource("new", TYPES[0], None, secret("https://h.example.com/s?t=1"))},
            {"type": "creating", "resource": resource("other2", "aws:s3/bucket:Bucket", None, "x")},
            {"type": "deleting", "resource": resource("dyn", TYPES[0], "id-1", "https://h.example.com/1")},
        ],
    }
    hooks, pending = recorded_in(STACK, deployment)
    by_name = {h.name: h for h in hooks}
    assert sorted(by_name) == ["dyn", "new", "old", "pkg"]
    assert by_name["dyn"].url == "https://h.example.com/1" and not by_name["dyn"].secret_url
    assert by_name["pkg"].secret_url and by_name["pkg"].url is None
    assert by_name["pkg"].event_type == "workflowRun.failed"
    assert by_name["old"].delete and by_name["old"].id == "id-3"
    assert by_name["new"].pending == "creating" and by_name["new"].id is None
    assert by_name["new"].url == "https://h.example.com/s?t=1" and by_name["new"].secret_url
    assert [(op.type, op.copyai) for op in pending] == [("creating", True), ("creating", False), ("deleting", True)]

    backend = Backend("file:///x", "file", (Stack(STACK, tuple(hooks), tuple(pending)),))
    assert backend.owned_ids() == {"id-1", "id-2", "id-3"}
    assert [o.name for o in backend.owners("id-3")] == ["old"] and len(backend.owners("id-1")) == 1
    assert backend.secret_urls() == {"https://h.example.com/s?t=1"}
    assert backend.busy() == {STACK: "3 pending operation(s) (creating new, creating other2, deleting dyn)"}


def test_busy_names_locked_stacks_of_the_whole_backend() -> None:
    lock = Lock("organization/q/other", ".pulumi/locks/organization/q/other/u.json", 7, "ci", "host", "2026-01-01")
    backend = Backend("file:///x", "file", (Stack(STACK),), {"organization/q/other": (lock,)})
    assert backend.busy() == {"organization/q/other": "locked by ci@host (pid 7) since 2026-01-01"}
    assert Backend("s3://b", "s3", (Stack(STACK),), locks_known=False).busy() == {}


def test_file_backend_dir_and_redact(tmp_path: Path) -> None:
    assert file_backend_dir("file:///abs/state?no_tmp_dir=true", tmp_path) == Path("/abs/state")
    assert file_backend_dir("file://rel%20dir", tmp_path) == tmp_path / "rel dir"
    assert file_backend_dir("file://~", tmp_path) == Path.home()
    assert redact("postgres://u:pw@h:5432/db?sslmode=require") == "postgres://u:****@h:5432/db?sslmode=require"
    assert redact("postgres://u@h/db") == "postgres://u@h/db"


def test_an_import_file_names_a_secret_url_orphan_by_its_event_only(tmp_path: Path) -> None:
    from pulumi_copyai.audit import Report, write_import_file
    from pulumi_copyai.model import Webhook

    hooks = [Webhook("id-secret", "https://hooks.example.com/payroll/alerts?token=t0k", "workflowRun.started", None),
             Webhook("id-plain", "https://hooks.example.com/team/done", "workflowRun.completed", None),
             Webhook("id-managed", "https://hooks.example.com/x", "workflowRun.failed", None)]
    report = Report(orphans=[{"id": "id-secret", "url": "[secret]"},
                             {"id": "id-plain", "url": "https://hooks.example.com/team/done"}])
    out = tmp_path / "import.json"
    assert write_import_file(out, hooks, report) == 2
    written = out.read_text()
    assert json.loads(written)["resources"] == [
        {"type": "copyai:index:Webhook", "name": "secret-started", "id": "id-secret"},
        {"type": "copyai:index:Webhook", "name": "team-done-completed", "id": "id-plain"},
    ]
    assert "payroll" not in written and "alerts" not in written
