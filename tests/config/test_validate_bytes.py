"""Limits Google Cloud counts in bytes, and files that are not UTF-8, reported where they are written."""

from __future__ import annotations

import pathlib

from helpers import MINIMAL, diagnostics

SCHEMA_TABLE = """\
data:
  datasets:
    events:
      tables:
        log: {schemaFile: schemas/log.json}
"""
ACCOUNT = "security:\n  serviceAccounts:\n    ops:\n      description: '{}'\n"


def test_schema_file_not_utf8_says_which_byte(tmp_path: pathlib.Path) -> None:
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "log.json").write_bytes(b'[{"name": "caf\xe9", "type": "STRING"}]')
    [(text, _)] = diagnostics(tmp_path, MINIMAL + SCHEMA_TABLE)
    assert "error E311" in text and "is not UTF-8 text (byte 15 is not): save it as UTF-8" in text
    assert "codec" not in text


def test_service_account_description_is_limited_in_bytes_as_iam_counts(tmp_path: pathlib.Path) -> None:
    assert diagnostics(tmp_path, MINIMAL + ACCOUNT.format("é" * 128)) == []  # 256 bytes
    [(text, _)] = diagnostics(tmp_path, MINIMAL + ACCOUNT.format("é" * 129))
    line = MINIMAL.count("\n") + 4
    assert text.startswith(f"{line}:")
    assert "error E205" in text and "258 bytes of UTF-8, over the 256 that IAM takes" in text
