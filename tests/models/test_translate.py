"""The bundled en<->pt models translate offline; other pairs are refused, not guessed."""

from __future__ import annotations

from copilot.models.translate import Translator, default_translator


def test_english_and_portuguese_translate_both_ways_offline() -> None:
    translator = default_translator()
    assert translator.supports("en", "pt")
    assert translator.supports("pt", "en")
    pt = translator.translate("Your card will arrive in five business days.", "en", "pt")
    assert pt is not None
    assert "cartão" in pt.lower()
    en = translator.translate("O cartão chega em cinco dias úteis.", "pt", "en")
    assert en is not None
    assert "card" in en.lower()


def test_pairs_without_a_bundled_model_give_none() -> None:
    translator = Translator()
    assert not translator.supports("es", "pt")
    assert not translator.supports(None, "en")
    assert translator.translate("La tarjeta llega en cinco días.", "es", "en") is None
    assert translator.translate("   ", "en", "pt") is None


def test_warm_loads_only_the_directions_from_the_given_languages() -> None:
    translator = Translator()
    translator.warm({"es", None})
    assert translator.loaded == frozenset()
    translator.warm({"en", "es"})
    assert translator.loaded == {"en-pt"}
    translator.warm({"pt"})
    assert translator.loaded == {"en-pt", "pt-en"}
