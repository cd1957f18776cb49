"""imagecensus: how often image search shows women, compared with census figures."""

__version__ = "0.1.0"
