"""The per-term function of stage 3, under the original study's name.

from DetectGenderFunction import DetectGenderFunction
report = DetectGenderFunction("nurse", root=".")
"""

from pathlib import Path

from imagecensus.gender import DEFAULT_MODEL
from imagecensus.stages.classify import ClassifySettings, classify_term
from imagecensus.stages.common import TermReport


def DetectGenderFunction(  # noqa: N802 (the original study's name)
    term: str,
    root: str | Path = ".",
    model: str = DEFAULT_MODEL,
    force: bool = False,
) -> TermReport:
    """Estimate the female probability of every face crop of ``term``, in this process.

    Writes ``Datasets/<term>.csv``, one row per face.
    """
    settings = ClassifySettings(root=Path(root), model=model, force=force)
    return classify_term(term, settings)
