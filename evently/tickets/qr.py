"""QR images of ticket codes, drawn by segno (no hand-written encoder)."""
import io

import segno

# Level M, the QR standard's middle error correction, survives a scuffed screen or a creased
# printout and keeps codes small; the versions a code needs at this level are in docs/tickets.md.
ERROR_LEVEL = "M"
SVG, PNG = "svg", "png"
MEDIA_TYPES = {SVG: "image/svg+xml", PNG: "image/png"}


def symbol(code):
    return segno.make_qr(code, error=ERROR_LEVEL)


def render(code, kind, *, scale=None):
    """The code as an SVG or PNG image (bytes), with the quiet zone the standard asks for."""
    buffer = io.BytesIO()
    if kind == SVG:
        symbol(code).save(buffer, kind="svg", scale=scale or 4, xmldecl=False, svgns=True, title="Evently ticket")
    else:
        symbol(code).save(buffer, kind="png", scale=scale or 6)
    return buffer.getvalue()
