"""Every supported format parses into documents with metadata; bad rows and files are named."""

from __future__ import annotations

from pathlib import Path

import pytest

from copilot.domain import SourceFile
from copilot.errors import IngestError
from copilot.kb.formats import PARSERS
from copilot.kb.ingest import expand, read_all, read_file
from tests.conftest import make_pdf


def _parse(path: Path):  # type: ignore[no-untyped-def]  # helper returning the parser's own type
    return PARSERS[path.suffix](path, path.read_bytes())


def test_markdown_front_matter_gives_id_title_and_metadata(kb_sources: Path) -> None:
    doc = _parse(kb_sources / "tel-en-roaming-viajero.md").documents[0]
    assert doc.doc_id == "tel-en-roaming-viajero"
    assert doc.title == "Plan Viajero: roaming abroad"
    assert (doc.language, doc.client) == ("en", "telecom")
    assert doc.tags == ("roaming", "plan-viajero")
    assert doc.entities == ("Plan Viajero", "Viajero")
    assert "## Extra data" in doc.text


def test_plain_text_takes_its_first_line_as_title(kb_sources: Path) -> None:
    doc = _parse(kb_sources / "tel-en-outage.txt").documents[0]
    assert doc.doc_id == "tel-en-outage"
    assert doc.title == "Network outage in the north region"
    assert doc.language is None


def test_html_keeps_content_and_drops_navigation(kb_sources: Path) -> None:
    doc = _parse(kb_sources / "bank-es-contracargo.html").documents[0]
    assert doc.doc_id == "bank-es-contracargo"
    assert (doc.language, doc.client) == ("es", "bank")
    assert doc.tags == ("disputas", "contracargo")
    assert "## Plazo para disputar" in doc.text
    assert "- Copia del estado de cuenta." in doc.text
    assert "Menú de navegación" not in doc.text
    assert "derechos reservados" not in doc.text


def test_pdf_reads_text_and_copilot_metadata(tmp_path: Path) -> None:
    doc = _parse(make_pdf(tmp_path / "x.pdf")).documents[0]
    assert doc.doc_id == "ret-pt-troca-defeito"
    assert (doc.language, doc.client) == ("pt", "retail")
    assert doc.title == "Troca de produtos com defeito"
    assert "90 dias" in doc.text


def test_encrypted_pdf_is_refused_by_name(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "locked.pdf", encrypt=True)
    with pytest.raises(IngestError, match=r"locked\.pdf: encrypted PDF"):
        _parse(path)


def test_csv_rows_become_documents_and_malformed_row_is_reported(kb_sources: Path) -> None:
    parsed = _parse(kb_sources / "faq.csv")
    assert [d.doc_id for d in parsed.documents] == ["tel-faq-puk", "tel-faq-esim"]
    assert parsed.documents[0].tags == ("sim", "puk")
    assert parsed.documents[0].title == "¿Dónde encuentro mi código PUK?"
    assert len(parsed.problems) == 1
    assert parsed.problems[0].path.endswith("faq.csv:4")


def test_jsonl_keeps_given_ids_and_reports_bad_lines(kb_sources: Path) -> None:
    parsed = _parse(kb_sources / "extra.jsonl")
    assert [d.doc_id for d in parsed.documents] == ["ret-jsonl-gift", "ret-jsonl-pix"]
    assert parsed.documents[0].source == "https://help.example/gift"
    assert parsed.problems[0].path.endswith("extra.jsonl:2")


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.md", b"", "empty file"),
        ("binary.txt", b"\x00\x01\x02PK\x03\x04", "binary content"),
        ("latin1.md", "canción".encode("latin-1"), "not UTF-8"),
        ("broken.pdf", b"%PDF-1.4 not really a pdf", "unreadable PDF"),
        ("image.png", b"\x89PNG\r\n", "unsupported format"),
        ("bad.csv", b"a,b\n1,2\n", "needs 'question' and 'answer'"),
    ],
)
def test_bad_file_raises_with_file_name_and_reason(
    tmp_path: Path, name: str, content: bytes, reason: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(IngestError, match=reason) as info:
        read_file(SourceFile(path), max_bytes=1_000_000, guess_language=lambda _t: None)
    assert info.value.path == str(path)


def test_oversized_file_is_refused(kb_sources: Path) -> None:
    with pytest.raises(IngestError, match="over the limit of 10"):
        read_file(SourceFile(kb_sources / "ret-pt-devolucao.md"), 10, lambda _t: None)


def test_defaults_fill_missing_metadata_and_language_is_detected(kb_sources: Path) -> None:
    src = SourceFile(kb_sources / "tel-en-outage.txt", client="telecom", tags=("outage",))
    docs, problems = read_all([src], 1_000_000, lambda text: "en" if "signal" in text else None)
    assert problems == []
    assert (docs[0].client, docs[0].language, docs[0].tags) == ("telecom", "en", ("outage",))


def test_duplicate_id_in_one_batch_keeps_the_first(kb_sources: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy.md"
    copy.write_bytes((kb_sources / "ret-pt-devolucao.md").read_bytes())
    docs, problems = read_all(
        [SourceFile(kb_sources / "ret-pt-devolucao.md"), SourceFile(copy)], 10**6, lambda _t: None
    )
    assert [d.doc_id for d in docs] == ["ret-pt-devolucao"]
    assert "duplicate id ret-pt-devolucao" in problems[0].reason


def test_folder_defaults_fill_what_files_leave_open(tmp_path: Path) -> None:
    sub = tmp_path / "telecom" / "pt"
    sub.mkdir(parents=True)
    (tmp_path / "telecom" / "_defaults.yaml").write_text("client: telecom\ntags: [rede]\n")
    (sub / "_defaults.yaml").write_text("language: pt\n")
    (sub / "aviso.txt").write_text("Aviso de manutenção\n\nA rede estará fora do ar.")
    (tmp_path / "root.txt").write_text("Root\n\nText at the root.")
    files, problems = expand([SourceFile(tmp_path)])
    assert problems == []
    by_name = {f.path.name: f for f in files}
    assert set(by_name) == {"aviso.txt", "root.txt"}
    assert (by_name["aviso.txt"].client, by_name["aviso.txt"].language) == ("telecom", "pt")
    assert by_name["aviso.txt"].tags == ("rede",)
    assert by_name["root.txt"].client is None
    explicit = expand([SourceFile(tmp_path, client="bank")])[0]
    assert {f.client for f in explicit} == {"bank"}
