#!/usr/bin/env python3
"""Build the demo PDF document for the `retail` client (Tienda Cóndor).

Generates knowledge_base/demo/retail/ret-pt-politica-trocas.pdf: a two-page
Portuguese exchange policy with headings, paragraphs and a real text layer.
The PDF carries the standard /Title and /Keywords metadata plus the custom
keys /CopilotId, /CopilotClient and /CopilotLanguage used by ingestion.

Usage:
    .venv/bin/python scripts/build_demo_pdf.py [--out PATH]
"""

from __future__ import annotations

import argparse
import io
from datetime import UTC, datetime
from pathlib import Path

from fpdf import FPDF
from pypdf import PdfReader, PdfWriter

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "knowledge_base" / "demo" / "retail" / "ret-pt-politica-trocas.pdf"

DOC_ID = "ret-pt-politica-trocas"
TITLE = "Política de Trocas da Tienda Cóndor"
KEYWORDS = "trocas, troca de tamanho, arrependimento, defeito, vale-troca"

INTRO = (
    "Esta política vale para produtos vendidos e entregues pela Tienda Cóndor no Brasil, "
    "comprados no site, no app ou nas lojas físicas. Produtos de vendedores do Marketplace "
    "seguem a política de cada vendedor. Trocar significa receber outro produto no lugar do "
    "original; para receber o dinheiro de volta, o cliente usa o direito de arrependimento."
)

# Each page is a list of (heading, [paragraphs]); paragraphs starting with "- " are list items.
PAGES: list[list[tuple[str, list[str]]]] = [
    [
        (
            "1. Direito de arrependimento (7 dias)",
            [
                "Em compras feitas pelo site ou pelo app, o cliente pode desistir em até 7 dias "
                "corridos após o recebimento, sem precisar explicar o motivo, conforme o Código de "
                "Defesa do Consumidor. O reembolso é integral, incluindo o frete, e a postagem de "
                "devolução é gratuita. Compras feitas na loja física não têm direito de arrependimento.",
            ],
        ),
        (
            "2. Troca por tamanho, cor ou voltagem",
            [
                "Roupas, calçados e eletroportáteis podem ser trocados por outro tamanho, cor ou "
                "voltagem em até 30 dias corridos após a entrega. O produto deve estar sem uso, com "
                "etiquetas e na embalagem original.",
                "- A primeira troca de cada pedido tem frete grátis; a partir da segunda, o frete é "
                "de R$ 14,90 (grátis para assinantes Cóndor Prime).",
                "- Se o tamanho ou a cor desejada não tiver estoque, o cliente recebe um vale-troca "
                "com o valor pago, válido por 180 dias no site e nas lojas.",
                "- Produtos comprados na loja física podem ser trocados em qualquer loja da rede, "
                "com a nota fiscal ou o CPF informado na compra.",
            ],
        ),
    ],
    [
        (
            "3. Troca de produto com defeito",
            [
                "Produtos com defeito de fabricação podem ser trocados em até 30 dias (não duráveis, "
                "como cosméticos e alimentos) ou 90 dias (duráveis, como eletrônicos e móveis) após a "
                "entrega. A Tienda Cóndor analisa o produto em até 5 dias úteis; confirmado o defeito, "
                "envia um novo sem custo ou, sem estoque, oferece vale-troca ou reembolso.",
            ],
        ),
        (
            "4. Como solicitar a troca",
            [
                "- No app ou no site: Meus pedidos > selecionar o produto > Trocar produto.",
                "- Escolher o novo tamanho, cor ou voltagem e o motivo da troca.",
                "- Postar o produto em uma agência dos Correios com o código de postagem, válido por "
                "10 dias, ou entregá-lo em um Ponto Cóndor.",
                "- O novo produto é enviado em até 2 dias úteis após a chegada do item devolvido ao "
                "centro de distribuição.",
            ],
        ),
        (
            "5. Itens que não podem ser trocados",
            [
                "Roupas íntimas, moda praia sem lacre de higiene, produtos personalizados, cartões-"
                "presente, alimentos perecíveis abertos e software ou jogos com o lacre rompido. "
                "Produtos com sinais de uso ou sem acessórios também podem ter a troca recusada.",
            ],
        ),
    ],
]


class PolicyPDF(FPDF):
    """FPDF with a page footer drawn inside the bottom margin."""

    def footer(self) -> None:
        self.set_y(-15)
        self.set_font("Helvetica", "I", 8)
        self.cell(
            0,
            5,
            f"Tienda Cóndor - Política de Trocas - página {self.page_no()} de {{nb}}",
            align="C",
        )


def _write_section(pdf: FPDF, heading: str, paragraphs: list[str]) -> None:
    pdf.set_font("Helvetica", "B", 13)
    pdf.multi_cell(0, 7, heading, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(1)
    pdf.set_font("Helvetica", "", 11)
    for para in paragraphs:
        if para.startswith("- "):
            pdf.set_x(pdf.l_margin + 4)
            pdf.multi_cell(0, 6, "- " + para[2:], new_x="LMARGIN", new_y="NEXT")
        else:
            pdf.multi_cell(0, 6, para, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(2)
    pdf.ln(3)


def build_pdf_bytes() -> bytes:
    pdf = PolicyPDF(format="A4")
    pdf.set_margins(20, 20, 20)
    pdf.set_auto_page_break(auto=True, margin=20)
    pdf.set_title(TITLE)
    pdf.set_keywords(KEYWORDS)
    pdf.set_author("Tienda Cóndor - Atendimento ao Cliente")
    pdf.set_subject("Política de trocas (Brasil)")
    pdf.set_lang("pt-BR")
    pdf.set_creation_date(datetime(2024, 3, 1, tzinfo=UTC))

    for page_no, sections in enumerate(PAGES, start=1):
        pdf.add_page()
        if page_no == 1:
            pdf.set_font("Helvetica", "B", 18)
            pdf.multi_cell(0, 10, TITLE, new_x="LMARGIN", new_y="NEXT")
            pdf.set_font("Helvetica", "I", 9)
            pdf.multi_cell(
                0,
                5,
                "Documento interno de atendimento - versão de março de 2024",
                new_x="LMARGIN",
                new_y="NEXT",
            )
            pdf.ln(4)
            pdf.set_font("Helvetica", "", 11)
            pdf.multi_cell(0, 6, INTRO, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(5)
        for heading, paragraphs in sections:
            _write_section(pdf, heading, paragraphs)
    return bytes(pdf.output())


def add_copilot_metadata(raw: bytes) -> bytes:
    reader = PdfReader(io.BytesIO(raw))
    writer = PdfWriter(clone_from=reader)
    writer.add_metadata(
        {
            "/Title": TITLE,
            "/Keywords": KEYWORDS,
            "/CopilotId": DOC_ID,
            "/CopilotClient": "retail",
            "/CopilotLanguage": "pt",
        }
    )
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output PDF path")
    args = parser.parse_args()
    data = add_copilot_metadata(build_pdf_bytes())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(data)
    reader = PdfReader(args.out)
    print(f"wrote {args.out} ({len(data)} bytes, {len(reader.pages)} pages)")


if __name__ == "__main__":
    main()
