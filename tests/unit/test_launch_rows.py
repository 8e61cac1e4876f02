"""The values launch writes itself instead of going through SQLAlchemy's converters are the same."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import JSON
from sqlalchemy.dialects import sqlite
from sqlalchemy.dialects.postgresql import asyncpg

from probe.store.campaigns import fields_json

FIELDS = [
    {},
    {"email": "a@example.com", "prenom": "Élodie", "nom": "Dupont-Œuf", "societe": "Société \"X\" & fils"},
    {"email": "b@example.com", "note": "back\\slash, tab\t, nul\x00, line\u2028sep, émoji 😀, lone \ud800"},
    {"email": "c@example.com", "{": "}", "": "", "x" * 300: "y" * 1000},
]


@pytest.mark.parametrize("dialect", [sqlite.dialect(), asyncpg.dialect()], ids=["sqlite", "postgresql"])
@pytest.mark.parametrize("fields", FIELDS)
def test_fields_json_is_what_the_json_column_stores(dialect, fields) -> None:
    stored = JSON().dialect_impl(dialect).bind_processor(dialect)
    assert stored is not None
    assert fields_json(fields) == stored(fields) == json.dumps(fields)
    assert json.loads(fields_json(fields)) == fields
