"""The settings of persisted documents: the APQ cache's bounds, CERTS_TRUSTED_DOCUMENTS
(read and checked at start) and CERTS_ADHOC_DOCUMENT_ROLES."""

from __future__ import annotations

import json

import pytest

from certreissue.persisted_documents import sha256_hex
from certreissue.settings import Settings
from domain.model import Role

LISTED = "query Listed { certificates { totalCount } }"


def test_by_default_apq_keeps_a_thousand_documents_of_up_to_32_kib_and_every_document_may_run():
    settings = Settings.from_env({})
    assert (settings.apq_max_documents, settings.apq_max_document_bytes) == (1000, 32 * 1024)
    assert settings.trusted_documents is None
    assert settings.adhoc_document_roles == frozenset()


def test_the_apq_bounds_are_set_and_zero_documents_turns_apq_off():
    settings = Settings.from_env({"CERTS_APQ_MAX_DOCUMENTS": "0", "CERTS_APQ_MAX_DOCUMENT_BYTES": "4096"})
    assert (settings.apq_max_documents, settings.apq_max_document_bytes) == (0, 4096)


def test_trusted_documents_are_read_at_start(tmp_path):
    path = tmp_path / "persisted-documents.json"
    path.write_text(json.dumps({sha256_hex(LISTED): LISTED}))
    settings = Settings.from_env({"CERTS_TRUSTED_DOCUMENTS": str(path), "CERTS_ADHOC_DOCUMENT_ROLES": "reviewer, operator"})
    assert settings.trusted_documents.get(sha256_hex(LISTED)) == LISTED
    assert settings.adhoc_document_roles == frozenset({Role.REVIEWER, Role.OPERATOR})


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"CERTS_TRUSTED_DOCUMENTS": "/nonexistent/persisted-documents.json"}, "CERTS_TRUSTED_DOCUMENTS"),
        ({"CERTS_ADHOC_DOCUMENT_ROLES": "admin"}, "CERTS_ADHOC_DOCUMENT_ROLES"),
        ({"CERTS_APQ_MAX_DOCUMENTS": "-1"}, "CERTS_APQ_MAX_DOCUMENTS"),
        ({"CERTS_APQ_MAX_DOCUMENT_BYTES": "0"}, "CERTS_APQ_MAX_DOCUMENT_BYTES"),
    ],
)
def test_a_bad_document_setting_is_refused_naming_the_variable(env, says):
    with pytest.raises(ValueError, match=says):
        Settings.from_env(env)
