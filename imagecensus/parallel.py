"""Run work items on a local process pool.

Workers are started with the ``spawn`` method, so that no thread pool of the
parent (onnxruntime's, aiohttp's) is copied into a child half-initialised.
An optional initializer runs once in each worker, which is where models are
loaded, so that a model is read once per process rather than once per item.
Workers send their log records to the parent, which writes them to the
console and the log file in order.

A worker process that dies (a crash inside a native library, for example)
does not end the run. The items that were running when it died are run
again one at a time in a fresh pool. The item that kills its worker again is
reported as failed with :class:`WorkerCrashed`, and the items that only
shared the pool with it finish normally.
"""

from __future__ import annotations

import logging
import logging.handlers
import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

logger = logging.getLogger(__name__)

Item = TypeVar("Item")


class WorkerCrashed(RuntimeError):
    """A worker process died while it was running an item."""


def default_workers() -> int:
    """Return the number of CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def in_main_process() -> bool:
    """Return True unless this code runs in a worker process of the pool."""
    return multiprocessing.parent_process() is None


def run_items(
    function: Callable[[Item], Any],
    items: Iterable[Item],
    workers: int,
    initializer: Callable[..., None] | None = None,
    initargs: tuple = (),
) -> Iterator[tuple[Item, Any, BaseException | None]]:
    """Run ``function`` on every item and yield ``(item, result, error)`` as each ends.

    Results arrive in the order items finish, not the order they were given.
    An exception raised by ``function`` is yielded as ``error`` with
    ``result`` set to ``None``; it does not stop the other items.

    With ``workers == 1`` the items run in this process, one after another,
    which keeps tracebacks and debuggers simple.
    """
    items = list(items)
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    if not items:
        return
    if workers == 1:
        if initializer is not None:
            initializer(*initargs)
        for item in items:
            try:
                yield item, function(item), None
            except Exception as error:  # reported to the caller, as from a worker
                yield item, None, error
        return

    yield from _run_in_pool(function, items, min(workers, len(items)), initializer, initargs)


def _run_in_pool(
    function: Callable[[Item], Any],
    items: list[Item],
    workers: int,
    initializer: Callable[..., None] | None,
    initargs: tuple,
) -> Iterator[tuple[Item, Any, BaseException | None]]:
    context = multiprocessing.get_context("spawn")
    log_queue = context.Queue()
    listener = logging.handlers.QueueListener(log_queue, _ForwardToLogger())
    listener.start()
    worker_args = (log_queue, logging.getLogger().getEffectiveLevel(), initializer, initargs)
    queued = deque(range(len(items)))
    suspects: deque[int] = deque()
    try:
        while queued or suspects:
            # Suspects of an earlier crash run alone, so a crash names its item.
            alone = bool(suspects)
            executor = ProcessPoolExecutor(
                max_workers=1 if alone else workers,
                mp_context=context,
                initializer=_initialize_worker,
                initargs=worker_args,
            )
            try:
                if alone:
                    yield from _drain(executor, function, items, 1, suspects, None)
                else:
                    yield from _drain(executor, function, items, workers, queued, suspects)
            finally:
                executor.shutdown(wait=True, cancel_futures=True)
            if suspects and not alone:
                logger.warning(
                    "a worker process died; running the %d items it may have been running "
                    "one at a time",
                    len(suspects),
                )
    finally:
        listener.stop()
        log_queue.close()


def _drain(
    executor: ProcessPoolExecutor,
    function: Callable[[Item], Any],
    items: list[Item],
    limit: int,
    queued: deque[int],
    suspects: deque[int] | None,
) -> Iterator[tuple[Item, Any, BaseException | None]]:
    """Run queued items on ``executor`` until all are done or the pool breaks.

    At most ``limit`` items are submitted at a time. When the pool breaks,
    the items that were running go to ``suspects``. With ``suspects`` set to
    None, items run one at a time, so the item that was running killed its
    worker and is reported as failed.
    """
    running: dict[Future, int] = {}
    broken = False
    while running or (queued and not broken):
        while queued and not broken and len(running) < limit:
            index = queued.popleft()
            running[executor.submit(function, items[index])] = index
        done, _ = wait(running, return_when=FIRST_COMPLETED)
        for future in done:
            index = running.pop(future)
            try:
                result = future.result()
            except BrokenProcessPool:
                broken = True
                if suspects is not None:
                    suspects.append(index)
                else:
                    error = WorkerCrashed("a worker process died while running this item")
                    yield items[index], None, error
            except Exception as error:
                yield items[index], None, error
            else:
                yield items[index], result, None


def _initialize_worker(
    log_queue: Any, level: int, initializer: Callable[..., None] | None, initargs: tuple
) -> None:
    root = logging.getLogger()
    root.handlers[:] = [logging.handlers.QueueHandler(log_queue)]
    root.setLevel(level)
    if initializer is not None:
        initializer(*initargs)


class _ForwardToLogger(logging.Handler):
    """Hand a worker's log record to the parent's own handlers."""

    def emit(self, record: logging.LogRecord) -> None:
        logger_of_record = logging.getLogger(record.name)
        if logger_of_record.isEnabledFor(record.levelno):
            logger_of_record.handle(record)
