"""The whole study: download, crop, classify and analyze, for every term.

    python Pipeline.py Professions.txt [--engine bing|urls:FILE|folder:DIR]

Writes Downloaded_Images/, Datasets/ and Results/ (summary.csv,
statistics.json, scatter.png) below --root, the current folder by default.
A second run skips the work the first one finished. Run
``python Pipeline.py --help`` for every option.
"""

import sys

from imagecensus.cli import run_script

if __name__ == "__main__":
    sys.exit(run_script("run", "Pipeline.py"))
