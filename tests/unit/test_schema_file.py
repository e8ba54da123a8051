"""`schema.graphql` at the repository root is the schema the service serves (`certreissue
schema` prints it): front ends generate their types from the file."""

from __future__ import annotations

from pathlib import Path

from certreissue.cli import schema_sdl

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schema.graphql"


def test_the_checked_in_schema_is_the_served_one():
    assert SCHEMA_FILE.read_text() == schema_sdl(), (
        "schema.graphql differs from the served schema: run `.venv/bin/certreissue schema > schema.graphql`"
    )
