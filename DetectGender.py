"""Stage 3: estimate the probability that each cropped face is a woman's.

    python DetectGender.py Professions.txt [--model cydral]

Run ``python DetectGender.py --help`` for every option. The code lives in the
imagecensus package; this script is its entry point under the original
study's name.
"""

import sys

from imagecensus.cli import run_script

if __name__ == "__main__":
    sys.exit(run_script("classify", "DetectGender.py"))
