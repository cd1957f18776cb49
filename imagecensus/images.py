"""Recognise images by their bytes, decode them fully, and normalise them.

A downloaded file is judged by its content, never by its name or its
Content-Type header: search results often serve WebP under a ``.jpg`` name,
or an HTML error page as ``image/jpeg``. :func:`check_image` decodes every
pixel, so a truncated download is rejected instead of being saved with a grey
bottom half.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

# Formats saved as downloaded, byte for byte, so that the sha256 in the
# manifest identifies the file the server sent.
KEPT_FORMATS = {"jpeg": ".jpg", "png": ".png"}
# Formats converted to JPEG because the later stages and most tools that
# researchers use read JPEG and PNG only.
CONVERTED_FORMATS = {"webp", "gif", "bmp", "tiff", "avif", "heic"}
# Pillow's name for each format this module recognises.
_PILLOW_FORMATS = {
    "jpeg": {"JPEG", "MPO"},
    "png": {"PNG"},
    "webp": {"WEBP"},
    "gif": {"GIF"},
    "bmp": {"BMP", "DIB"},
    "tiff": {"TIFF"},
    "avif": {"AVIF"},
    "heic": {"HEIF"},
}
DEFAULT_MAX_PIXELS = 50_000_000
JPEG_QUALITY = 95

_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}
_AVIF_BRANDS = {b"avif", b"avis"}
_BMP_HEADER_SIZES = {12, 16, 40, 52, 56, 64, 108, 124}


class ImageRejected(Exception):
    """Downloaded bytes that are not a usable image.

    ``status`` is the manifest status (``not_an_image``, ``unsupported_format``,
    ``truncated``, ``too_many_pixels`` or ``decode_error``) and the message
    gives the reason.
    """

    def __init__(self, status: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class CheckedImage:
    """A fully decoded image, ready to be saved.

    ``data`` contains the bytes to write: the downloaded bytes for JPEG and PNG,
    a JPEG conversion for every other format. ``width`` and ``height`` are
    those of the stored pixels, before EXIF orientation is applied.
    """

    data: bytes
    source_format: str
    extension: str
    width: int
    height: int
    converted: bool


def sniff_format(data: bytes) -> str | None:
    """Name the image format of ``data`` from its leading bytes.

    Returns one of ``jpeg``, ``png``, ``gif``, ``webp``, ``bmp``, ``tiff``,
    ``avif``, ``heic``, ``ico``, ``svg``, ``html``, or ``None`` when the bytes
    match none of them. ``ico`` and ``svg`` are recognised so that they can be
    reported as unsupported rather than as unknown. ``html`` marks an error or
    landing page served in place of an image.
    """
    head = data[:64]
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if (
        head[:2] == b"BM"
        and len(head) >= 18
        and struct.unpack("<I", head[14:18])[0] in _BMP_HEADER_SIZES
    ):
        return "bmp"
    if head[4:8] == b"ftyp":
        return _sniff_iso_media(data)
    if head[:4] == b"\x00\x00\x01\x00":
        return "ico"
    return _sniff_text(data[:4096])


def _sniff_iso_media(data: bytes) -> str | None:
    box_size = struct.unpack(">I", data[:4])[0]
    brands = {data[8:12]}
    end = min(max(box_size, 16), len(data), 256)
    brands.update(data[offset : offset + 4] for offset in range(16, end - 3, 4))
    if brands & _AVIF_BRANDS:
        return "avif"
    if brands & _HEIF_BRANDS:
        return "heic"
    return None


def _sniff_text(head: bytes) -> str | None:
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<!doctype html", b"<html", b"<head", b"<body")) or b"<html" in text:
        return "html"
    if b"<svg" in text:
        return "svg"
    return None


def check_image(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> CheckedImage:
    """Decode ``data`` fully and return the bytes to save.

    JPEG and PNG are returned unchanged. WebP, GIF, BMP, TIFF, AVIF and HEIC
    are converted to JPEG (first frame of an animation, EXIF orientation
    applied, transparency flattened onto white).

    Raises
    ------
    ImageRejected
        If the bytes are not an image (``not_an_image``), an image in a format
        this tool does not read (``unsupported_format``), cut short
        (``truncated``), larger than ``max_pixels`` (``too_many_pixels``), or
        fail to decode (``decode_error``).
    """
    detected = sniff_format(data)
    if detected is None or detected == "html":
        content = "an HTML page" if detected == "html" else "no known image signature"
        raise ImageRejected("not_an_image", f"content is {content}: {_describe_head(data)}")
    if detected not in KEPT_FORMATS and detected not in CONVERTED_FORMATS:
        raise ImageRejected("unsupported_format", f"{detected.upper()} images are not supported")
    if detected == "heic":
        _register_heif_opener()

    try:
        image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError as error:
        # A JPEG cut exactly between two header segments ends here too. The
        # missing end-of-image marker distinguishes it from a corrupt file.
        cut_short = detected == "jpeg" and b"\xff\xd9" not in data
        raise ImageRejected(
            "truncated" if cut_short else "decode_error",
            f"{detected} signature but unreadable: {error}",
        ) from None
    except Image.DecompressionBombError as error:
        # Pillow refuses at open an image more than twice its own pixel limit.
        raise ImageRejected("too_many_pixels", str(error)) from None
    except OSError as error:
        # Pillow reads the header while opening, so a file cut inside its
        # header fails here with "Truncated File Read".
        raise ImageRejected(
            _read_failure_status(error), f"{detected} header could not be read: {error}"
        ) from None

    with image:
        if image.format not in _PILLOW_FORMATS[detected]:
            raise ImageRejected(
                "decode_error", f"bytes start like {detected} but decode as {image.format}"
            )
        width, height = image.size
        if width * height > max_pixels:
            raise ImageRejected(
                "too_many_pixels", f"{width}x{height} exceeds the limit of {max_pixels} pixels"
            )
        _decode_all_pixels(image, detected)
        _check_end_marker(data, detected)

        if detected in KEPT_FORMATS:
            return CheckedImage(data, detected, KEPT_FORMATS[detected], width, height, False)
        converted = to_jpeg_bytes(image)
        # The conversion applied EXIF orientation, which may swap the sides.
        with Image.open(io.BytesIO(converted)) as result:
            width, height = result.size
        return CheckedImage(converted, detected, ".jpg", width, height, True)


def _decode_all_pixels(image: Image.Image, detected: str) -> None:
    try:
        image.load()
    except Image.DecompressionBombError as error:
        raise ImageRejected("too_many_pixels", str(error)) from None
    except OSError as error:
        raise ImageRejected(
            _read_failure_status(error), f"{detected} data could not be decoded: {error}"
        ) from None
    except (ValueError, SyntaxError, struct.error, EOFError) as error:
        raise ImageRejected("decode_error", f"{detected} data is invalid: {error}") from None


def _read_failure_status(error: OSError) -> str:
    message = str(error).lower()
    return "truncated" if "truncated" in message or "broken" in message else "decode_error"


def _check_end_marker(data: bytes, detected: str) -> None:
    """Reject PNG and GIF files whose closing marker is missing.

    Pillow decodes the pixels of a PNG without its IEND chunk, or of a GIF
    without its trailer byte, but such a file was cut short in transfer.
    """
    if detected == "png" and data.rfind(b"IEND") < data.rfind(b"IDAT"):
        raise ImageRejected("truncated", "png data ends before the IEND chunk")
    if detected == "gif" and not data.rstrip(b"\x00").endswith(b";"):
        raise ImageRejected("truncated", "gif data ends before the trailer byte")


def to_jpeg_bytes(image: Image.Image) -> bytes:
    """Encode the first frame of ``image`` as an upright RGB or grayscale JPEG."""
    image.seek(0)
    upright = ImageOps.exif_transpose(image)
    pixels = to_eight_bit(upright)
    buffer = io.BytesIO()
    pixels.save(buffer, "JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()


def to_eight_bit(image: Image.Image) -> Image.Image:
    """Convert any Pillow mode to 8-bit RGB, or L for grayscale.

    Transparent pixels are flattened onto white, the background a web page
    shows behind them; 16-bit and floating-point samples are scaled to 0-255.
    """
    mode = image.mode
    if mode in ("RGB", "L"):
        return image
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        samples = np.asarray(image, dtype=np.float64)
        low, high = float(samples.min()), float(samples.max())
        if mode.startswith("I;16"):
            low, high = 0.0, 65535.0
        scaled = (samples - low) * (255.0 / max(high - low, 1e-12))
        return Image.fromarray(np.clip(scaled + 0.5, 0, 255).astype(np.uint8), mode="L")
    if mode == "P" and "transparency" in image.info or mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def load_rgb(path) -> np.ndarray:
    """Read an image file as an upright ``[height, width, 3]`` uint8 RGB array.

    EXIF orientation is applied, so boxes found in the array are in the
    coordinates of the photograph as it is displayed.
    """
    with Image.open(path) as image:
        image.load()
        upright = ImageOps.exif_transpose(image)
        return np.ascontiguousarray(np.asarray(to_eight_bit(upright).convert("RGB")))


def _describe_head(data: bytes) -> str:
    if not data:
        return "the body is empty"
    snippet = data[:40].decode("latin-1").encode("unicode_escape").decode("ascii")
    return f"starts with {snippet!r}"


_heif_registered = False


def _register_heif_opener() -> None:
    """Teach Pillow to read HEIC, on first need, through pillow-heif."""
    global _heif_registered
    if not _heif_registered:
        from pillow_heif import register_heif_opener

        register_heif_opener()
        _heif_registered = True
