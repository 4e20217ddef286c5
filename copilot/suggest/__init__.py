"""Suggestion building blocks: reply drafts and PII redaction."""
