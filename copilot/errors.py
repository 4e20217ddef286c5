"""Every exception of the package, under one root.

::

    CopilotError
    ├── ConfigError                   settings or manifest that cannot work
    ├── ModelNotFoundError            a model role resolves to nothing loadable
    ├── ModelChecksumError            an assembled model file has the wrong size or checksum
    ├── AudioFormatError              audio that cannot be decoded as declared
    ├── IngestError                   one source file could not be read or parsed
    ├── DocumentNotFoundError         no document with that id in the KB
    ├── IndexNotBuiltError            the KB has no passages to search
    ├── IndexManifestMismatchError    the stored index was built by another model or chunker
    ├── IndexCorruptError             the index files on disk cannot be read
    ├── EvalCasesError                an evaluation file is malformed
    ├── NotStartedError               a conversation message came before its start
    ├── UnknownSuggestionError        feedback for a suggestion that was never sent
    ├── UnknownConversationError      no conversation is logged under that id
    ├── InvalidMessageError           a message whose content is refused
    ├── FrameTooLargeError            a message over the size limit
    ├── StorageError                  the log database cannot be reached, migrated or written
    │   └── SharedStateError          Redis (shared conversation state) cannot be reached or locked
    ├── WriteRejectedError            the log database refused a write for good (dead-lettered)
    ├── UnauthenticatedError          no credentials, or credentials nobody issued
    ├── ForbiddenError                the caller's role or agent may not do this
    └── ServiceStartingError          models, index or database are still loading (or failed to)
"""

from __future__ import annotations


class CopilotError(Exception):
    """Root of every error raised by copilot."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"


class ConfigError(CopilotError):
    """Settings or the model manifest describe something that cannot work."""


class ModelNotFoundError(CopilotError):
    """A model role or name resolves to no loadable local model."""


class ModelChecksumError(CopilotError):
    """A model file assembled from package parts has the wrong size or sha256."""


class AudioFormatError(CopilotError):
    """Audio that cannot be decoded: unsupported format, odd frame size, unreadable file."""


class IngestError(CopilotError):
    """One source file could not be read or parsed; the message names the file."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class DocumentNotFoundError(CopilotError):
    """No document with the given id exists in the knowledge base."""


class IndexNotBuiltError(CopilotError):
    """The knowledge base holds no passages yet, so there is nothing to search."""


class IndexManifestMismatchError(CopilotError):
    """The stored vectors were made by another embedding model, dimension or chunker."""


class IndexCorruptError(CopilotError):
    """An index file on disk cannot be read."""


class NotStartedError(CopilotError):
    """A conversation message arrived before its ``start``."""


class UnknownSuggestionError(CopilotError):
    """Feedback names a suggestion this service never sent."""


class UnknownConversationError(CopilotError):
    """No conversation is logged under the requested id."""


class InvalidMessageError(CopilotError):
    """A well-formed message whose content is refused (e.g. a turn text over the limit)."""


class FrameTooLargeError(CopilotError):
    """A WebSocket frame or request body is over the configured size limit."""


class EvalCasesError(CopilotError):
    """An evaluation cases file is malformed; the message names the file and line."""


class StorageError(CopilotError):
    """The log database cannot be reached, migrated or written.

    The message names the database by host and name, and records by id: never a password or any
    conversation text.
    """


class SharedStateError(StorageError):
    """Redis, which holds conversation state shared by replicas, cannot be reached, or a
    conversation's lock there was not acquired in time (503, retried like a database outage)."""


class WriteRejectedError(CopilotError):
    """The log database refused a write for good (a constraint or a value it cannot store).

    Retrying cannot help: the write was kept in the dead-letter file and nothing was acknowledged.
    """


class UnauthenticatedError(CopilotError):
    """The request carries no API key, or one that is not configured."""


class ForbiddenError(CopilotError):
    """The caller is known but its role (or agent id) does not allow this."""


class ServiceStartingError(CopilotError):
    """The request needs the KB or pipeline, which are still loading (or failed to load).

    The port opens before the models and the KB are ready: a caller is told to retry instead of
    finding the port closed.
    """
