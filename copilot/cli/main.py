"""The ``copilot`` command: knowledge-base management (``copilot kb ...``)."""

from __future__ import annotations

import functools
import json
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any, ParamSpec

import typer
from rich.console import Console
from rich.table import Table

from copilot import __version__
from copilot.cli import evaluation, voice
from copilot.cli.progress import progress_bar
from copilot.domain import DialogueTurn, SearchFilters, SearchHit, SourceFile
from copilot.errors import CopilotError
from copilot.kb import KnowledgeBase
from copilot.kb.evaluate import EvalReport, evaluate, load_cases
from copilot.kb.retrieve import RetrievalMode
from copilot.logconfig import configure_logging
from copilot.models.loader import force_offline
from copilot.settings import Settings

logger = logging.getLogger(__name__)

app = typer.Typer(help="Copilot: offline agent-assist for contact centers.", no_args_is_help=True)
kb_app = typer.Typer(help="Manage, search and evaluate the knowledge base.", no_args_is_help=True)
app.add_typer(kb_app, name="kb")

out = Console()
err = Console(stderr=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of tables.")]
ClientOpt = Annotated[str | None, typer.Option(help="Only documents of this client.")]
LanguageOpt = Annotated[
    str | None, typer.Option(help="Only documents in this language (es, en, pt).")
]


P = ParamSpec("P")


def kb_command(name: str) -> Callable[[Callable[P, None]], Callable[P, None]]:
    """Register a ``kb`` command whose named errors become one red line and exit code 1."""

    def register(func: Callable[P, None]) -> Callable[P, None]:
        @functools.wraps(func)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> None:
            try:
                func(*args, **kwargs)
            except CopilotError as exc:
                err.print(f"[red]error:[/] {exc}")
                raise typer.Exit(1) from exc

        kb_app.command(name)(wrapper)
        return wrapper

    return register


def _print_version(requested: bool) -> None:
    # Eager: answers before the settings are built, so it works with no config at all.
    if requested:
        out.print(f"copilot {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    data_dir: Annotated[
        Path | None, typer.Option(help="Data folder (default: $COPILOT_DATA_DIR or ./data).")
    ] = None,
    kb_name: Annotated[str | None, typer.Option("--kb", help="Which knowledge base.")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log to stderr.")] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Build the settings once; every command receives them through the context."""
    force_offline()
    overrides: dict[str, Any] = {}
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    if kb_name is not None:
        overrides["kb_name"] = kb_name
    serving = ctx.invoked_subcommand == "serve"
    level = logging.INFO if verbose or serving else logging.WARNING
    # Before the settings are read, so a refused setting is logged scrubbed too.
    configure_logging(level)
    settings = Settings(**overrides)
    if settings.log_format != "json":
        configure_logging(level, settings.log_format)
    ctx.obj = settings


def _open(ctx: typer.Context) -> KnowledgeBase:
    settings: Settings = ctx.obj
    return KnowledgeBase.open(settings)


def _print_json(data: object) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


@kb_command("add")
def kb_add(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="Files or folders to ingest.")],
    client: Annotated[
        str | None, typer.Option(help="Client for files that do not name one.")
    ] = None,
    language: Annotated[
        str | None, typer.Option(help="Language for files that do not name one (else detected).")
    ] = None,
    tag: Annotated[
        list[str] | None, typer.Option(help="Tag for files without tags (repeatable).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Add or update documents. Unchanged documents are skipped; bad files are reported, the rest
    lands.

    Exits non-zero only when nothing could be ingested.
    """
    sources = [SourceFile(p, client, language, tuple(tag or ())) for p in paths]
    with _open(ctx) as kb, progress_bar(err, enabled=not as_json) as progress:
        report = kb.add(sources, progress)
    if as_json:
        _print_json(asdict(report))
    else:
        out.print(
            f"added {len(report.added)}, updated {len(report.updated)}, "
            f"unchanged {len(report.unchanged)} documents ({report.n_chunks} passages indexed)"
        )
        for problem in report.problems:
            err.print(f"[yellow]skipped[/] {problem.path}: {problem.reason}")
    if not report.ingested_any:
        raise typer.Exit(1)


@kb_command("remove")
def kb_remove(
    ctx: typer.Context, doc_id: Annotated[str, typer.Argument(help="Document id to delete.")]
) -> None:
    """Remove a document and all its passages from the index."""
    with _open(ctx) as kb:
        kb.remove(doc_id)
    out.print(f"removed {doc_id}")


@kb_command("list")
def kb_list(ctx: typer.Context, client: ClientOpt = None, as_json: JsonOpt = False) -> None:
    """List the documents with their language, client, version and passage count."""
    with _open(ctx) as kb:
        docs = [d for d in kb.list_documents() if client is None or d.client == client]
    if as_json:
        _print_json([asdict(d) for d in docs])
        return
    table = Table("id", "title", "lang", "client", "ver", "passages", "source")
    for d in docs:
        table.add_row(
            d.doc_id,
            d.title,
            d.language or "",
            d.client or "",
            str(d.version),
            str(d.n_chunks),
            d.source,
        )
    out.print(table)
    out.print(f"{len(docs)} documents")


@kb_command("search")
def kb_search(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help="What the customer asked.")],
    k: Annotated[int, typer.Option("--k", min=1, max=100, help="How many documents.")] = 5,
    client: ClientOpt = None,
    language: LanguageOpt = None,
    tag: Annotated[list[str] | None, typer.Option(help="Only documents with this tag.")] = None,
    mode: Annotated[RetrievalMode, typer.Option(help="Retrieval stages.")] = RetrievalMode.RERANK,
    as_json: JsonOpt = False,
) -> None:
    """Search the knowledge base; one passage per document, best first."""
    filters = SearchFilters(client=client, language=language, tags=tuple(tag or ()))
    with _open(ctx) as kb:
        hits = kb.search(query, k=k, filters=filters, mode=mode)
    if as_json:
        _print_json([asdict(h) for h in hits])
        return
    if not hits:
        out.print("no passage found")
    for rank, h in enumerate(hits, start=1):
        where = f"{h.title} > {h.section}" if h.section else h.title
        out.print(f"[bold]{rank}. {h.doc_id}[/]  score {h.score:.4f}  ({h.language}, {h.client})")
        out.print(f"   [cyan]{where}[/]  {h.source}")
        out.print(f"   {h.text}\n")


@kb_command("rebuild")
def kb_rebuild(ctx: typer.Context) -> None:
    """Re-chunk and re-embed every document with the configured model and write a fresh index.

    Use it after changing the embedding model or the chunking settings.
    """
    settings: Settings = ctx.obj
    # A model change is exactly when opening normally fails, so the stored manifest is not checked
    # here.
    with KnowledgeBase.open(settings, allow_rebuild=True) as kb, progress_bar(err) as progress:
        n = kb.rebuild(progress)
    out.print(f"rebuilt: {n} passages indexed")


def _report_table(reports: list[EvalReport]) -> Table:
    table = Table(
        "mode", "recall@1", "recall@5", "recall@10", "MRR@10", "nDCG@10", "p50 ms", "p95 ms"
    )
    for r in reports:
        m = r.metrics
        table.add_row(
            r.mode,
            *(
                f"{m[key]:.3f}"
                for key in ("recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10")
            ),
            f"{r.latency_ms['p50']:.1f}",
            f"{r.latency_ms['p95']:.1f}",
        )
    return table


@kb_command("eval")
def kb_eval(
    ctx: typer.Context,
    cases: Annotated[
        Path | None, typer.Option(help="JSONL cases (default: the bundled evaluation set).")
    ] = None,
    mode: Annotated[RetrievalMode, typer.Option(help="Retrieval stages.")] = RetrievalMode.RERANK,
    compare: Annotated[bool, typer.Option(help="Evaluate every mode and compare them.")] = False,
    suite: Annotated[
        Path | None,
        typer.Option(
            help="A folder of sets (each with kb.jsonl and cases.jsonl): evaluate the bundled set "
            "and every set there, each in its own cached KB."
        ),
    ] = None,
    baselines: Annotated[
        bool, typer.Option(help="With --suite: also run the simple baselines on every set.")
    ] = False,
    calibrate: Annotated[
        Path | None,
        typer.Option(help="With --suite: fit the confidence model on the public sets, write it."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Measure retrieval: recall@1/5/10, MRR@10 and nDCG@10, overall and per language, plus latency.

    With the bundled set and an empty KB, the bundled demo KB is ingested first. With --suite,
    also abstention precision / recall, calibration error and the macro average over public sets.
    """
    settings: Settings = ctx.obj
    if suite is not None:
        with progress_bar(err, enabled=not as_json) as progress:
            results = evaluation.evaluate_suite(
                settings, suite, mode, baselines, calibrate, progress, err
            )
        if as_json:
            _print_json(evaluation.suite_json(results))
        else:
            out.print(evaluation.suite_table(results))
        return
    loaded = load_cases(cases or settings.eval_cases_path)
    model = evaluation.confidence_model(settings, err)
    judge = evaluation.judge_of(model) if model is not None else None
    with _open(ctx) as kb:
        if cases is None and kb.n_passages == 0:
            err.print(f"KB is empty: ingesting the demo KB from {settings.kb_source_dir}")
            with progress_bar(err, enabled=not as_json) as progress:
                kb.add([settings.kb_source_dir], progress)
        modes = list(RetrievalMode) if compare else [mode]
        reports = []
        for each in modes:

            def search(
                turns: Sequence[DialogueTurn], filters: SearchFilters, m: RetrievalMode = each
            ) -> list[SearchHit]:
                return kb.search(turns, 10, filters, m)

            with progress_bar(err, enabled=not as_json) as progress:
                reports.append(evaluate(loaded, search, each.value, progress, judge))
    if as_json:
        _print_json(reports[0].to_json() if not compare else [r.to_json() for r in reports])
        return
    out.print(_report_table(reports))
    for r in reports:
        for label, groups in (("language", r.by_language), ("kind", r.by_kind)):
            table = Table(label, "cases", "recall@5", "MRR@10", title=f"{r.mode} by {label}")
            for name, m in groups.items():
                table.add_row(name, str(int(m["n"])), f"{m['recall@5']:.3f}", f"{m['mrr@10']:.3f}")
            out.print(table)


@app.command("serve")
def serve(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="Address to bind (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8000).")] = None,
    open_access: Annotated[
        bool,
        typer.Option(
            "--open-access",
            help="No API keys: every caller is admin (a local demo; COPILOT_OPEN_ACCESS=true).",
        ),
    ] = False,
    demo: Annotated[
        bool,
        typer.Option(
            "--demo",
            help="Fill an empty KB from the bundled demo KB (fictional articles; "
            "COPILOT_INGEST_DEMO_ON_START=true).",
        ),
    ] = False,
) -> None:
    """Run the live assist service (HTTP + WebSocket) on the configured KB and database.

    The port opens at once; models, KB and database load behind it (``/readyz`` answers 503 with
    the stage until ready). With ``--demo`` an empty KB is filled from the bundled demo KB; without
    it an empty KB stays empty (a warning). The database schema is created or upgraded with
    Alembic. Callers need an API key from COPILOT_API_KEYS unless open access is on.
    """
    import uvicorn

    from copilot.api.app import create_app

    settings: Settings = ctx.obj
    update: dict[str, bool] = {"background_start": True}
    if open_access:
        update["open_access"] = True
    if demo:
        update["ingest_demo_on_start"] = True
    settings = settings.model_copy(update=update)
    try:
        application = create_app(settings)
    except CopilotError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from exc
    uvicorn.run(
        application,
        host=host or settings.host,
        port=port or settings.port,
        log_config=None,  # keep the JSON logging configured above
        ws_max_size=settings.max_frame_bytes * 4,
    )


app.command("transcribe")(voice.transcribe)
app.add_typer(voice.demo_app, name="demo")


def run() -> None:
    """Console-script entry point: an unexpected crash is logged and exits 1."""
    try:
        app()
    except Exception:
        logger.exception("cli_failed")
        sys.exit(1)
