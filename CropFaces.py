"""Stage 2: detect the faces in the downloaded images and crop them.

    python CropFaces.py Professions.txt [--upsample 1] [--max-side 1600]

Run ``python CropFaces.py --help`` for every option. The code lives in the
imagecensus package; this script is its entry point under the original
study's name.
"""

import sys

from imagecensus.cli import run_script

if __name__ == "__main__":
    sys.exit(run_script("crop", "CropFaces.py"))
