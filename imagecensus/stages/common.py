"""The outcome of a stage for each term."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)


@dataclass
class TermReport:
    """The outcome of one stage for one term.

    ``status`` is ``done``, ``skipped`` (finished by an earlier run),
    ``no_results``, ``partial`` (done, but part of the input was missing),
    or a failure status, in which case ``reason`` gives the cause.
    ``counts`` contains the stage's tallies, such as images saved or faces found.
    """

    term: str
    stage: str
    status: str
    reason: str = ""
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return self.status not in ("done", "skipped", "no_results", "partial")


def failure_report(term: str, stage: str, error: BaseException) -> TermReport:
    """Record an unexpected error that ended one term's stage, and log it."""
    logger.error(
        "%s: %s stage failed: %s: %s", term, stage, type(error).__name__, error, exc_info=error
    )
    return TermReport(term, stage, "error", f"{type(error).__name__}: {error}")


def log_report(report: TermReport) -> None:
    counts = ", ".join(f"{name} {value}" for name, value in report.counts.items())
    details = "; ".join(part for part in (counts, report.reason) if part)
    level = logging.ERROR if report.failed else logging.INFO
    logger.log(
        level,
        "%s: %s %s%s",
        report.term,
        report.stage,
        report.status,
        f" ({details})" if details else "",
    )
