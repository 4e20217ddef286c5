"""The suggestion policy: sources (KB, team memory, moves), drafts, confidence and abstention."""
