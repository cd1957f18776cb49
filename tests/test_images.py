"""Recognising, checking and normalising downloaded image bytes."""

from __future__ import annotations

import functools
import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image
from pillow_heif import register_heif_opener

from imagecensus.images import (
    ImageRejected,
    check_image,
    load_rgb,
    sniff_format,
    to_eight_bit,
)

# Pillow writes HEIC only through the pillow-heif plugin.
register_heif_opener()

EXIF_ORIENTATION = 0x0112
# EXIF orientation 6: the stored pixels must be turned 90 degrees clockwise
# to be displayed upright.
ROTATE_CLOCKWISE = 6

SVG = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
    b'<rect width="10" height="10" fill="red"/></svg>'
)
HTML = (
    b"<!DOCTYPE html>\n<html><head><title>403 Forbidden</title></head><body>Forbidden</body></html>"
)


def encode(image: Image.Image, image_format: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, image_format, **options)
    return buffer.getvalue()


def noise(width: int = 80, height: int = 60) -> Image.Image:
    """An RGB image of random pixels, so that no encoder can shrink it to a few bytes."""
    rng = np.random.default_rng(width * 1000 + height)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


def halves(width: int = 40, height: int = 20) -> Image.Image:
    """An image whose left half is red and right half is blue."""
    image = Image.new("RGB", (width, height), (255, 0, 0))
    image.paste((0, 0, 255), (width // 2, 0, width, height))
    return image


def rotated_exif() -> Image.Exif:
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = ROTATE_CLOCKWISE
    return exif


@functools.cache
def jpeg_bytes() -> bytes:
    return encode(noise(160, 120), "JPEG", quality=90)


def rejection(data: bytes, **options) -> ImageRejected:
    with pytest.raises(ImageRejected) as caught:
        check_image(data, **options)
    return caught.value


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


# sniff_format


@pytest.mark.parametrize(
    ("image_format", "expected"),
    [
        ("JPEG", "jpeg"),
        ("PNG", "png"),
        ("GIF", "gif"),
        ("WEBP", "webp"),
        ("BMP", "bmp"),
        ("TIFF", "tiff"),
        ("AVIF", "avif"),
        ("HEIF", "heic"),
        ("ICO", "ico"),
    ],
)
def test_sniff_format_names_encoded_format(image_format, expected):
    assert sniff_format(encode(noise(32, 32), image_format)) == expected


def test_sniff_format_names_svg():
    assert sniff_format(SVG) == "svg"


def test_sniff_format_names_html():
    assert sniff_format(HTML) == "html"


def test_sniff_format_unknown_bytes_is_none():
    assert sniff_format(b"plain text, not an image") is None


# check_image: formats kept and converted


def test_jpeg_is_kept_byte_for_byte():
    data = jpeg_bytes()
    checked = check_image(data)

    assert checked.data == data
    assert checked.extension == ".jpg"
    assert checked.converted is False
    assert (checked.width, checked.height) == (160, 120)


def test_webp_is_converted_to_jpeg():
    data = encode(noise(80, 60), "WEBP", quality=90)
    checked = check_image(data)

    assert checked.source_format == "webp"
    assert checked.extension == ".jpg"
    assert checked.converted is True
    assert decode(checked.data).format == "JPEG"
    assert decode(checked.data).size == (80, 60)


def test_rgba_png_is_kept_byte_for_byte():
    image = Image.new("RGBA", (10, 10), (0, 0, 0, 0))
    image.putpixel((5, 5), (10, 200, 30, 255))
    data = encode(image, "PNG")
    checked = check_image(data)

    assert checked.data == data
    assert checked.extension == ".png"
    assert checked.source_format == "png"
    assert checked.converted is False


@pytest.mark.parametrize(
    ("image_format", "source_format"),
    [("GIF", "gif"), ("BMP", "bmp"), ("TIFF", "tiff"), ("AVIF", "avif"), ("HEIF", "heic")],
)
def test_other_formats_become_jpeg(image_format, source_format):
    data = encode(noise(72, 48), image_format)
    checked = check_image(data)
    converted = decode(checked.data)

    assert checked.source_format == source_format
    assert checked.extension == ".jpg"
    assert checked.converted is True
    assert converted.format == "JPEG"
    assert converted.size == (72, 48)
    assert (checked.width, checked.height) == (72, 48)


def test_animated_gif_keeps_first_frame():
    red = Image.new("RGB", (20, 20), (255, 0, 0))
    blue = Image.new("RGB", (20, 20), (0, 0, 255))
    data = encode(red, "GIF", save_all=True, append_images=[blue], duration=100, loop=0)
    assert decode(data).n_frames == 2

    red_value, green_value, blue_value = (
        decode(check_image(data).data).convert("RGB").getpixel((10, 10))
    )

    assert red_value > 200
    assert green_value < 50
    assert blue_value < 50


def test_webp_exif_orientation_is_applied():
    data = encode(halves(40, 20), "WEBP", exif=rotated_exif(), lossless=True)
    checked = check_image(data)
    upright = np.asarray(decode(checked.data).convert("RGB"))

    assert (checked.width, checked.height) == (20, 40)
    assert upright.shape == (40, 20, 3)
    # Turned clockwise, the red left half becomes the top.
    assert upright[2, 10, 0] > 200
    assert upright[37, 10, 2] > 200


# check_image: rejections


@pytest.mark.parametrize("cut", ["header", "middle", "last_scan_bytes", "end_marker"])
def test_truncated_jpeg_is_truncated(cut):
    data = jpeg_bytes()
    length = {
        # Inside the second quantization table, before the frame header.
        "header": 100,
        "middle": len(data) // 2,
        "last_scan_bytes": len(data) - 100,
        "end_marker": len(data) - 2,
    }[cut]

    assert rejection(data[:length]).status == "truncated"


def test_png_without_iend_is_truncated():
    data = encode(noise(), "PNG")
    # The IEND chunk is its 4-byte length, the type "IEND" and a 4-byte CRC.
    without_iend = data[: data.rindex(b"IEND") - 4]

    assert rejection(without_iend).status == "truncated"


def test_gif_without_trailer_is_truncated():
    data = encode(noise(), "GIF")
    assert data.endswith(b";")

    assert rejection(data[:-1]).status == "truncated"


def test_html_page_is_not_an_image():
    assert rejection(HTML).status == "not_an_image"


def test_empty_body_is_not_an_image():
    error = rejection(b"")

    assert error.status == "not_an_image"
    assert "empty" in error.reason


def test_svg_is_unsupported_format():
    assert rejection(SVG).status == "unsupported_format"


def test_ico_is_unsupported_format():
    assert rejection(encode(noise(32, 32), "ICO")).status == "unsupported_format"


def test_too_many_pixels_is_rejected():
    data = encode(noise(100, 100), "PNG")

    assert rejection(data, max_pixels=100 * 100 - 1).status == "too_many_pixels"


def test_pixel_limit_itself_is_accepted():
    data = encode(noise(100, 100), "PNG")

    assert check_image(data, max_pixels=100 * 100).width == 100


def test_decompression_bomb_header_is_rejected():
    """A PNG whose header claims 20000x20000 pixels is refused before any decoding."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", 20000, 20000, 8, 2, 0, 0, 0)
    data = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 16))
        + chunk(b"IEND", b"")
    )

    assert rejection(data, max_pixels=10**12).status == "too_many_pixels"


# load_rgb and to_eight_bit


def test_load_rgb_flattens_transparency_onto_white(tmp_path):
    image = Image.new("RGBA", (10, 10), (0, 0, 0, 0))
    image.putpixel((5, 5), (10, 200, 30, 255))
    path = tmp_path / "transparent.png"
    image.save(path)

    pixels = load_rgb(path)

    assert pixels.shape == (10, 10, 3)
    assert pixels[0, 0].tolist() == [255, 255, 255]
    assert pixels[5, 5].tolist() == [10, 200, 30]


def test_load_rgb_applies_exif_orientation(tmp_path):
    path = tmp_path / "rotated.jpg"
    halves(40, 20).save(path, "JPEG", exif=rotated_exif(), quality=95)

    pixels = load_rgb(path)

    assert pixels.shape == (40, 20, 3)
    assert pixels[2, 10, 0] > 200
    assert pixels[37, 10, 2] > 200


def test_load_rgb_reads_16_bit_grayscale(tmp_path):
    samples = np.array([[0, 32768, 65535]] * 4, dtype=np.uint16)
    image = Image.fromarray(samples)
    path = tmp_path / "gray16.png"
    image.save(path)
    assert Image.open(path).mode == "I;16"

    pixels = load_rgb(path)
    expected = [round(value * 255 / 65535) for value in (0, 32768, 65535)]

    assert pixels.dtype == np.uint8
    assert pixels.shape == (4, 3, 3)
    assert pixels[0, :, 0].tolist() == expected
    assert pixels[0, :, 1].tolist() == expected


def test_load_rgb_reads_cmyk_jpeg(tmp_path):
    path = tmp_path / "cmyk.jpg"
    # Full magenta and yellow ink, no cyan or black: red.
    Image.new("CMYK", (30, 20), (0, 255, 255, 0)).save(path, "JPEG", quality=95)

    pixels = load_rgb(path)

    assert pixels.shape == (20, 30, 3)
    assert pixels[10, 15, 0] > 200
    assert pixels[10, 15, 1] < 50
    assert pixels[10, 15, 2] < 50


@pytest.mark.parametrize("mode", ["RGB", "L"])
def test_to_eight_bit_keeps_eight_bit_modes(mode):
    image = Image.new(mode, (4, 4))

    assert to_eight_bit(image) is image


def test_to_eight_bit_flattens_palette_transparency():
    image = Image.new("P", (4, 4), 0)
    image.putpalette([0, 0, 0, 200, 0, 0])
    image.info["transparency"] = 0
    image.putpixel((1, 1), 1)

    converted = to_eight_bit(image)

    assert converted.mode == "RGB"
    assert converted.getpixel((0, 0)) == (255, 255, 255)
    assert converted.getpixel((1, 1)) == (200, 0, 0)
