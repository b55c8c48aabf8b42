from __future__ import annotations

import json

import jsonschema
import pytest
from conftest import EXAMPLES, ROOT
from ruamel.yaml import YAML

from mlopsctl.config.diagnostics import CODES, codes_markdown
from mlopsctl.config.schema import schema, schema_text


def test_committed_schema_matches_the_models() -> None:
    committed = (ROOT / "schemas" / "mlops.schema.json").read_text(encoding="utf-8")
    assert committed == schema_text(), (
        "schemas/mlops.schema.json is stale: run 'mlopsctl schema > schemas/mlops.schema.json'"
    )


def test_schema_is_a_valid_json_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(schema())


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.parent.name)
def test_examples_point_editors_at_the_schema_and_satisfy_it(example: object) -> None:
    text = example.read_text(encoding="utf-8")  # type: ignore[attr-defined]
    first = text.splitlines()[0]
    assert first == "# yaml-language-server: $schema=../../../schemas/mlops.schema.json"
    data = YAML(typ="safe", pure=True).load(text)
    jsonschema.Draft202012Validator(schema()).validate(data)


def test_diagnostic_table_is_current() -> None:
    committed = (ROOT / "docs" / "diagnostics.md").read_text(encoding="utf-8")
    assert committed == codes_markdown(), (
        "docs/diagnostics.md is stale: run 'mlopsctl codes > docs/diagnostics.md'"
    )


def test_every_code_is_documented_in_its_range() -> None:
    for code in CODES:
        assert code[0] in "EW" and code[1] in "1234" and len(code) == 4


def test_json_schema_catches_an_unknown_key() -> None:
    validator = jsonschema.Draft202012Validator(schema())
    bad = {
        "apiVersion": "mlopsctl.dev/v1alpha1",
        "kind": "MLOpsProject",
        "project": {"name": "x"},
        "environments": {"dev": {"gcpProject": "acme-x-dev", "regions": ["us-central1"]}},
        "dta": {},
    }
    assert any("dta" in e.message for e in validator.iter_errors(bad))
    assert json.dumps(schema())  # serialisable
