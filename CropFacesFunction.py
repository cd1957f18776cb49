"""The per-term function of stage 2, under the original study's name.

from CropFacesFunction import CropFacesFunction
report = CropFacesFunction("nurse", root=".")
"""

from pathlib import Path

from imagecensus.faces import DetectionSettings
from imagecensus.stages.common import TermReport
from imagecensus.stages.crop import CropSettings, crop_term


def CropFacesFunction(  # noqa: N802 (the original study's name)
    term: str,
    root: str | Path = ".",
    detection: DetectionSettings | None = None,
    force: bool = False,
) -> TermReport:
    """Detect and crop the faces of ``term``'s downloaded images, in this process.

    Writes ``Downloaded_Images/<term>/Cropped_faces/`` with the crops, their
    landmarks, faces.csv and images.csv.
    """
    settings = CropSettings(
        root=Path(root), detection=detection or DetectionSettings(), force=force
    )
    return crop_term(term, settings)
