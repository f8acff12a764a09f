"""Errors the pipeline raises, each carrying what was wrong and what to do next."""

from __future__ import annotations


class PipelineError(Exception):
    """Base class: a message for people plus a machine-readable reason code."""

    reason_code = "pipeline_error"

    def __init__(self, message: str, *, source: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.source = source

    def __str__(self) -> str:
        return f"{self.source}: {self.message}" if self.source else self.message

    def __reduce__(self):  # keep picklable across process boundaries
        return (self.__class__, (self.message,), {"source": self.source})


class ReferenceFileError(PipelineError):
    """A CMS reference file is missing, unreadable or not in the expected layout."""

    reason_code = "reference_file"


class ReleaseNotFound(ReferenceFileError):
    """No fee-schedule release could be found at a path."""

    reason_code = "release_not_found"


class ReleaseRefused(ReferenceFileError):
    """A release given by path failed its validation suite and was not used."""

    reason_code = "release_refused"


class ClaimBatchError(PipelineError):
    """A claim batch cannot be read at all (as opposed to single bad rows)."""

    reason_code = "claim_batch"


class BatchRejected(ClaimBatchError):
    """A batch failed validation as a whole (too many rejected lines, no lines, no required
    columns): nothing of it is published."""

    reason_code = "batch_rejected"


class ConfigError(PipelineError):
    """A setting (environment variable or option) has a value the pipeline cannot use."""

    reason_code = "config"


class StorageError(PipelineError):
    """Reports could not be written to the chosen destination."""

    reason_code = "storage"


def short_error(exc: BaseException, limit: int = 300) -> str:
    """`Type: message` of an unexpected exception, cut to `limit` characters (a message may
    quote a whole input value)."""
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= limit else text[: limit - 1] + "…"
