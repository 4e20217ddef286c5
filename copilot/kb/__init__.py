"""The knowledge base: ingest, chunk, embed, index (FAISS + BM25), search, evaluate."""

from copilot.kb.knowledge_base import KnowledgeBase

__all__ = ["KnowledgeBase"]
