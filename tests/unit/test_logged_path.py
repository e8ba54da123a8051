"""Download URL tokens are bearer secrets: never in a log line, whatever path carried them."""

from __future__ import annotations

import pytest

from certreissue.app import logged_path




@pytest.mark.parametrize("path", [
    "/downloads/dl1_AbC-_9", "/Downloads/dl1_AbC-_9", "//downloads/dl1_AbC-_9", "/DOWNLOADS/DL1_AbC-_9",
    "/downloadsX/dl1_AbC-_9", "/ca/crl/dl1_AbC-_9", "/graphql/dl1_AbC-_9", "/console/x/dl1_AbC-_9/y",
])
def test_a_download_token_is_never_logged_whatever_path_it_was_sent_to(path):
    # A token sent to a wrong path is not used up: logged, it would stay downloadable.
    assert "AbC" not in logged_path(path) and "<token>" in logged_path(path)


def test_other_paths_are_logged_as_they_are():
    assert logged_path("/graphql") == "/graphql" and logged_path("/console/certificates/crt_1") == "/console/certificates/crt_1"
