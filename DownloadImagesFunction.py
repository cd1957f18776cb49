"""The per-term function of stage 1, under the original study's name.

from DownloadImagesFunction import DownloadImagesFunction
report = DownloadImagesFunction("nurse", root=".", engine="bing", limit=500)
"""

from pathlib import Path

from imagecensus.fetch import FetchLimits
from imagecensus.stages.common import TermReport
from imagecensus.stages.download import DownloadSettings, download_term


def DownloadImagesFunction(  # noqa: N802 (the original study's name)
    term: str,
    root: str | Path = ".",
    engine: str = "bing",
    limit: int = 500,
    engine_url: str | None = None,
    force: bool = False,
    fetch: FetchLimits | None = None,
) -> TermReport:
    """Search ``term`` and download up to ``limit`` images below ``root``.

    Writes ``Downloaded_Images/<term>/`` with the images and manifest.csv,
    and returns how the stage ended (``report.status``, ``report.counts``).
    """
    settings = DownloadSettings(
        root=Path(root),
        engine=engine,
        engine_url=engine_url,
        limit=limit,
        fetch=fetch or FetchLimits(),
        force=force,
    )
    return download_term(term, settings)
