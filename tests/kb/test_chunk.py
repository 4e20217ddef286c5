"""Chunking follows headings and sentences, bounds passage size and overlaps neighbours."""

from __future__ import annotations

import itertools

from copilot.domain import Document
from copilot.kb.chunk import chunk_document

SENTENCES = " ".join(f"Sentence number {i} explains one step of the process." for i in range(30))
TEXT = f"""# Guide

Intro line.

## Part A
{SENTENCES}

### Detail
Detail text.

## Part B
- first step
- second step
"""


def _doc() -> Document:
    return Document(doc_id="d", title="Guide", text=TEXT, source="s")


def test_passages_are_bounded_and_keep_their_section_path() -> None:
    chunks = chunk_document(_doc(), max_chars=200, overlap_chars=60)
    assert all(len(c.text) <= 200 for c in chunks)
    sections = [c.section for c in chunks]
    assert sections[0] == ""
    assert "Part A" in sections
    assert "Part A > Detail" in sections
    assert sections[-1] == "Part B"
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))


def test_passages_never_cross_a_section() -> None:
    chunks = chunk_document(_doc(), max_chars=200, overlap_chars=60)
    detail = [c for c in chunks if c.section == "Part A > Detail"]
    assert [c.text for c in detail] == ["Detail text."]


def test_consecutive_passages_overlap_by_whole_sentences() -> None:
    chunks = [c for c in chunk_document(_doc(), 200, 60) if c.section == "Part A"]
    assert len(chunks) > 3
    for prev, nxt in itertools.pairwise(chunks):
        last_sentence = prev.text.rsplit(". ", 1)[-1]
        assert nxt.text.startswith(last_sentence)


def test_no_overlap_when_disabled_and_every_sentence_kept_once() -> None:
    chunks = [c for c in chunk_document(_doc(), 200, 0) if c.section == "Part A"]
    joined = " ".join(c.text for c in chunks)
    assert joined == SENTENCES


def test_list_items_stay_separate_units() -> None:
    chunks = chunk_document(_doc(), 200, 0)
    assert chunks[-1].text == "- first step - second step"


def test_overlong_sentence_is_split_at_word_boundaries() -> None:
    doc = Document(doc_id="d", title="T", text="word " * 100, source="s")
    chunks = chunk_document(doc, max_chars=120, overlap_chars=0)
    assert len(chunks) > 1
    assert all(len(c.text) <= 120 for c in chunks)
    assert all(not c.text.startswith(" ") and "wor d" not in c.text for c in chunks)
