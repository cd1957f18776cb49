"""Spread the items of many terms over worker processes and reassemble them per term.

Stages 2 and 3 work on many small items (images, faces) that belong to
terms. They cut each term's pending items into batches and run all batches of
all terms on one process pool, so that a large term does not leave cores
idle. A term's table is written as soon as its last batch has come back. Every
finished item is first appended to the term's journal, so that an
interrupted run resumes where it stopped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from tqdm import tqdm

from ..files import Journal
from ..parallel import run_items
from .common import TermReport, failure_report, log_report

logger = logging.getLogger(__name__)


@dataclass
class TermWork:
    """The pending items of one term and what to do when they are all done.

    ``key`` names an item in the journal (for example its image file), so
    that a resumed run can skip the finished items. ``finish`` receives
    every item's record, from earlier runs and this one, and returns the
    term's report. ``failed_record`` turns an item whose batch raised into a
    record with an error status, so that the item is not lost.
    """

    term: str
    items: list[dict]
    journal: Journal
    key: Callable[[dict], str]
    finish: Callable[[list[dict]], TermReport]
    failed_record: Callable[[dict, BaseException], dict]
    done: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.done = self.journal.load()
        finished = {self.key(record) for record in self.done}
        self.items = [item for item in self.items if self.key(item) not in finished]
        if self.done:
            logger.info(
                "%s: resuming, %d items already done, %d to go",
                self.term,
                len(self.done),
                len(self.items),
            )


@dataclass(frozen=True)
class Batch:
    """Items of one term that one worker call handles together."""

    term: str
    items: list[dict]


def run_stage(
    terms: Sequence[str],
    prepare: Callable[[str], TermReport | TermWork],
    process_batch: Callable[[Batch], list[dict]],
    batch_size: int,
    workers: int,
    stage: str,
    unit: str,
) -> list[TermReport]:
    """Run a stage for every term and return the reports in the order of ``terms``.

    ``prepare`` returns a report for a term that needs no work or cannot be
    done, and the term's pending work otherwise.
    """
    reports: list[TermReport] = []
    works: list[TermWork] = []
    for term in terms:
        prepared = prepare(term)
        if isinstance(prepared, TermWork):
            works.append(prepared)
        else:
            reports.append(prepared)

    reports.extend(run_term_batches(works, process_batch, batch_size, workers, stage, unit))
    order = {term: index for index, term in enumerate(terms)}
    return sorted(reports, key=lambda report: order[report.term])


def run_term_batches(
    works: Sequence[TermWork],
    process_batch: Callable[[Batch], list[dict]],
    batch_size: int,
    workers: int,
    stage: str,
    unit: str,
) -> Iterator[TermReport]:
    """Run every term's items in batches and yield each term's report when it is complete."""
    remaining = {work.term: len(work.items) for work in works}
    by_term = {work.term: work for work in works}

    for work in works:
        if not work.items:
            yield _finish(work, stage)

    batches = [
        Batch(work.term, work.items[start : start + batch_size])
        for work in works
        for start in range(0, len(work.items), batch_size)
    ]
    total = sum(len(batch.items) for batch in batches)
    with tqdm(total=total, desc=stage, unit=unit, disable=None) as progress:
        for batch, records, error in run_items(process_batch, batches, workers):
            work = by_term[batch.term]
            if error is not None:
                logger.error(
                    "%s: a batch of %d %ss failed: %s: %s",
                    batch.term,
                    len(batch.items),
                    unit,
                    type(error).__name__,
                    error,
                    exc_info=error,
                )
                records = [work.failed_record(item, error) for item in batch.items]
            for record in records:
                work.journal.append(record)
                work.done.append(record)
            remaining[batch.term] -= len(batch.items)
            progress.update(len(batch.items))
            if remaining[batch.term] == 0:
                yield _finish(work, stage)


def _finish(work: TermWork, stage: str) -> TermReport:
    try:
        report = work.finish(work.done)
    except Exception as error:  # one term's failure must not stop the others
        report = failure_report(work.term, stage, error)
    else:
        work.journal.remove()
    finally:
        work.journal.close()
    log_report(report)
    return report


def record_error(record: dict[str, Any], error: BaseException) -> dict[str, Any]:
    """Return ``record`` with status ``error`` and the exception as its reason."""
    return {**record, "status": "error", "reason": f"{type(error).__name__}: {error}"}
