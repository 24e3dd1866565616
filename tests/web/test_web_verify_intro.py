"""The verifier page names what it verifies with: sm-crypto for SM2/SM3, in Chinese by default and
in English with ?lang=en, from the one message catalogue."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(("lang", "needle"), [("", "国密 SM2/SM3 库 sm-crypto"),
                                               ("?lang=en", "the SM2/SM3 library sm-crypto")])
def test_verify_page_names_sm_crypto(client, lang: str, needle: str) -> None:
    page = client.get("/verify" + lang).get_data(as_text=True)
    assert needle in page
    assert ("SM2/SM3 library" in page) == bool(lang)  # one language at a time
