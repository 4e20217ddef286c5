"""The bundled en<->pt models translate offline; other pairs are refused, not guessed."""

from __future__ import annotations

import logging
import os
import signal

import pytest

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


def test_a_crashed_engine_costs_at_most_one_sentence_and_restarts(
    caplog: pytest.LogCaptureFixture,
) -> None:
    translator = Translator()
    assert translator.translate("Hello friend.", "en", "pt") is not None
    crashed = translator.engine_pid
    assert crashed is not None
    assert crashed != os.getpid()
    os.kill(crashed, signal.SIGSEGV)  # what the native engine did under a fuzz run
    with caplog.at_level(logging.ERROR, logger="copilot.models.translate"):
        answers = [translator.translate("Hello friend.", "en", "pt") for _ in range(2)]
    assert answers[-1] is not None
    assert "amigo" in answers[-1].lower()
    assert translator.engine_pid not in (None, crashed)
    assert "translation_engine_crashed" in caplog.text


def test_text_the_engine_refuses_gets_no_translation_and_the_engine_stays_up() -> None:
    translator = Translator()
    assert translator.translate("t-\ud800 lone surrogate", "en", "pt") is None
    pid = translator.engine_pid
    assert translator.translate("Hello friend.", "en", "pt") is not None
    assert translator.engine_pid == pid
