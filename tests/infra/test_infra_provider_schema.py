"""Every resource and data block of infra/terraform checked against the google provider schema.

No terraform binary or provider download is possible offline, so `terraform validate` cannot
run here (CI runs it). The google provider 6.50.0 schema ships in the jsii assembly of
cdktf-cdktf-provider-google 16.12.1 (requirements-tfschema.txt, `make tfschema-venv`); this test
reads it and checks unknown arguments, missing required ones and blocks vs attributes, and shows
that a deliberately wrong argument fails. The two small helper providers (archive, time) are
described by hand from their docs.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from tests.infra.infra_helpers import TF_DIR, Terraform
from tests.infra.provider_schema import (
    PROVIDER_VERSION,
    Block,
    ProviderSchema,
    check_references,
    check_terraform,
    find_assembly,
    load_schema,
)

ASSEMBLY = find_assembly()

# hashicorp/archive 2.7 data "archive_file" and hashicorp/time 0.13 resource "time_sleep"
# (registry docs): the arguments infra/terraform may use.
HAND_SCHEMAS: dict[str, dict[str, Block]] = {
    "archive_": {
        "data.archive_file": Block(
            attributes={
                "type": True,
                "output_path": True,
                "source_dir": False,
                "source_file": False,
                "source_content": False,
                "source_content_filename": False,
                "excludes": False,
                "exclude_symlink_directories": False,
                "output_file_mode": False,
            },
            blocks={"source": (Block(attributes={"content": True, "filename": True}), False)},
        )
    },
    "time_": {
        "resource.time_sleep": Block(
            attributes={"create_duration": False, "destroy_duration": False, "triggers": False}
        )
    },
}

pytestmark = pytest.mark.skipif(
    ASSEMBLY is None,
    reason=(
        "provider schema venv missing: make tfschema-venv "
        "(pip install --no-deps -r requirements-tfschema.txt into .venv-tfschema); CI installs it"
    ),
)


@pytest.fixture(scope="module")
def google_schema() -> ProviderSchema:
    assert ASSEMBLY is not None
    return load_schema(ASSEMBLY)


def _schemas(google: ProviderSchema) -> dict[str, ProviderSchema | dict[str, Block]]:
    return {"google_": google, **HAND_SCHEMAS}


def test_assembly_is_the_pinned_provider_version(
    google_schema: ProviderSchema, terraform: Terraform
) -> None:
    assert google_schema.version == PROVIDER_VERSION
    assert len(google_schema.resources) > 1000
    assert len(google_schema.data_sources) > 300
    # versions.tf admits exactly the 6.50.x line the schema describes, and the lock file pins it.
    versions = terraform.texts["versions.tf"]
    assert re.search(r'version = ">= 6\.50\.0, < 6\.51\.0"', versions), versions
    lock = (TF_DIR / ".terraform.lock.hcl").read_text(encoding="utf-8")
    assert 'provider "registry.terraform.io/hashicorp/google" {\n  version     = "6.50.0"' in lock


def test_every_block_matches_the_provider_schema(
    google_schema: ProviderSchema, terraform: Terraform
) -> None:
    problems, checked = check_terraform(terraform.files, _schemas(google_schema))
    assert not problems, "\n".join(problems)
    declared = sum(
        len(named)
        for parsed in terraform.files.values()
        for section in ("resource", "data")
        for entry in parsed.get(section, [])
        for named in entry.values()
    )
    assert checked == declared
    assert checked >= 40, checked


def _mutated(terraform: Terraform, rtype: str, edit: Any) -> dict[str, dict[str, Any]]:
    files = copy.deepcopy(terraform.files)
    for parsed in files.values():
        for entry in parsed.get("resource", []):
            for key, named in entry.items():
                if key.strip('"') == rtype:
                    edit(next(iter(named.values())))
                    return files
    raise AssertionError(f"no {rtype} in infra/terraform")


@pytest.mark.parametrize(
    ("rtype", "edit", "expected"),
    [
        (
            "google_pubsub_subscription",
            lambda body: body.__setitem__(
                "max_delivery_attempts", 5
            ),  # belongs in dead_letter_policy
            "unknown argument or block 'max_delivery_attempts'",
        ),
        (
            "google_cloud_scheduler_job",
            lambda body: body.pop("schedule"),
            None,  # schedule is optional in the schema: removing it must NOT be reported
        ),
        (
            "google_bigquery_table_iam_member",
            lambda body: body.pop("role"),
            "required argument 'role' is missing",
        ),
        (
            "google_cloudfunctions2_function",
            lambda body: body.__setitem__("service_config", {"available_memory": "1Gi"}),
            "'service_config' is a block",
        ),
        (
            "google_storage_bucket",
            lambda body: body["versioning"][0].__setitem__("enable", True),  # typo of "enabled"
            "google_storage_bucket.source.versioning: unknown argument or block 'enable'",
        ),
    ],
)
def test_a_wrong_argument_fails(
    google_schema: ProviderSchema,
    terraform: Terraform,
    rtype: str,
    edit: Any,
    expected: str | None,
) -> None:
    problems, _ = check_terraform(_mutated(terraform, rtype, edit), _schemas(google_schema))
    if expected is None:
        assert not problems, problems
    else:
        assert any(expected in p for p in problems), problems


def test_every_attribute_read_exists(google_schema: ProviderSchema, terraform: Terraform) -> None:
    """`resource.name[key].attr[0].nested` reads only attributes the provider exposes."""
    problems, checked = check_references(terraform.texts, google_schema)
    assert not problems, "\n".join(problems)
    assert checked >= 40, checked


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        ("service_config[0].uri", "service_config[0].url", "has no attribute 'url'"),
        (
            "google_service_account.invoker[each.key].email",
            "google_service_account.invoker[each.key].mail",
            "has no attribute 'mail'",
        ),
    ],
)
def test_a_wrong_attribute_read_fails(
    google_schema: ProviderSchema, terraform: Terraform, before: str, after: str, expected: str
) -> None:
    texts = {name: text.replace(before, after) for name, text in terraform.texts.items()}
    assert texts != terraform.texts, f"{before!r} not found in infra/terraform"
    problems, _ = check_references(texts, google_schema)
    assert any(expected in p for p in problems), problems
