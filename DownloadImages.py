"""Stage 1: search each term and download its first images.

    python DownloadImages.py Professions.txt [--engine bing|urls:FILE|folder:DIR] [--limit 500]

Run ``python DownloadImages.py --help`` for every option. The code lives in
the imagecensus package; this script is its entry point under the original
study's name.
"""

import sys

from imagecensus.cli import run_script

if __name__ == "__main__":
    sys.exit(run_script("download", "DownloadImages.py"))
