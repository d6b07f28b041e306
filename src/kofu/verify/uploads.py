"""Read a multipart/form-data upload into memory, never onto disk.

>>> files = await read_uploads(request, fields={"back", "front"}, max_file_bytes=20 * MiB)
>>> files["back"].data[:4]
b'\\x89PNG'

Why not ``request.form()``: Starlette puts every uploaded file in a
``SpooledTemporaryFile`` that moves to a temporary file on disk once it passes
1 MiB (``MultiPartParser.spool_max_size``), and it has no per-file size limit.
A scan of a certificate is personal data that must never be written anywhere,
and a 4 GB upload must be refused before it is held. So this module drives the
same streaming parser (python-multipart) directly and keeps each file in a
``bytearray``, counting bytes as they arrive:

1. The request must be ``multipart/form-data`` with a boundary.
2. A declared ``Content-Length`` above the whole-request cap is refused at
   once, before any byte of the body is read.
3. While the body streams in, each file part's bytes are counted; a part that
   passes ``max_file_bytes`` stops being kept (its bytes are dropped) and the
   upload is marked too large.
4. The rest of the body is still read and dropped, up to the whole-request
   cap, so that a browser that is still sending gets the 413 page instead of a
   reset connection. Past the cap reading stops and the connection is dropped.
5. Parts with an unknown name are dropped; a name given twice is refused; an
   empty file part (a file input left empty) counts as absent.

Errors::

    UploadError          the message is for the person who uploaded
    ├── BadUpload        400: not multipart, malformed, a field given twice
    └── UploadTooLarge   413: a file or the whole request is over the limit
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from starlette.requests import ClientDisconnect, Request

MiB = 1024 * 1024
# Headers, boundaries and the odd text field; generous, but bounded.
_ENVELOPE_BYTES = 1 * MiB


class UploadError(Exception):
    """The upload cannot be used; ``str(e)`` is shown to the person who sent it."""

    status_code = 400


class BadUpload(UploadError):
    status_code = 400


class UploadTooLarge(UploadError):
    status_code = 413


@dataclass(frozen=True)
class Upload:
    name: str
    """The form field (``back`` or ``front``)."""
    filename: str
    content_type: str
    data: bytes


@dataclass
class _Part:
    headers: dict[bytes, bytes] = field(default_factory=dict)
    name: str | None = None
    filename: str = ""
    content_type: str = ""
    data: bytearray = field(default_factory=bytearray)
    size: int = 0
    keep: bool = False


def _too_large_message(max_file_bytes: int) -> str:
    return (
        f"ファイルが大きすぎます（1ファイル {max_file_bytes / MiB:g} MiB まで）。"
        f" / The file is too large (at most {max_file_bytes / MiB:g} MiB per file)."
    )


async def read_uploads(
    request: Request, *, fields: Iterable[str], max_file_bytes: int
) -> dict[str, Upload]:
    """The non-empty file parts of ``request`` named in ``fields``, held in memory."""
    from python_multipart.exceptions import FormParserError
    from python_multipart.multipart import MultipartParser, parse_options_header

    wanted = frozenset(fields)
    cap = len(wanted) * max_file_bytes + _ENVELOPE_BYTES

    # 1. multipart/form-data with a boundary.
    ctype, params = parse_options_header(request.headers.get("content-type", ""))
    if ctype != b"multipart/form-data" or b"boundary" not in params:
        raise BadUpload(
            "ファイルを選んで送信してください（multipart/form-data）。"
            " / Please choose a file and send the form (multipart/form-data)."
        )

    # 2. A declared length over the cap is refused before reading anything.
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > cap:
                raise UploadTooLarge(_too_large_message(max_file_bytes))
        except ValueError as e:
            raise BadUpload("Content-Length is not a number") from e

    done: dict[str, Upload] = {}
    state: dict[str, object] = {"too_large": False, "duplicate": None}
    current = _Part()
    header_field = bytearray()
    header_value = bytearray()

    def on_part_begin() -> None:
        nonlocal current
        current = _Part()

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header_field.extend(data[start:end])

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header_value.extend(data[start:end])

    def on_header_end() -> None:
        current.headers[bytes(header_field).lower()] = bytes(header_value)
        header_field.clear()
        header_value.clear()

    def on_headers_finished() -> None:
        _, disp = parse_options_header(current.headers.get(b"content-disposition", b""))
        name = disp.get(b"name")
        current.name = name.decode("utf-8", "replace") if name is not None else None
        filename = disp.get(b"filename")
        current.filename = filename.decode("utf-8", "replace") if filename is not None else ""
        current.content_type = current.headers.get(b"content-type", b"").decode("latin-1")
        current.keep = current.name in wanted
        if current.keep and current.name in done:
            state["duplicate"] = current.name
            current.keep = False

    def on_part_data(data: bytes, start: int, end: int) -> None:
        # 3. Count every byte; keep only wanted parts, and only up to the limit.
        current.size += end - start
        if not current.keep:
            return
        if current.size > max_file_bytes:
            state["too_large"] = True
            current.keep = False
            current.data = bytearray()  # drop what was kept of the oversized file
            return
        current.data.extend(data[start:end])

    def on_part_end() -> None:
        # 5. An empty file input arrives as a part with no bytes: absent.
        if current.keep and current.name is not None and current.size > 0:
            done[current.name] = Upload(
                current.name, current.filename, current.content_type, bytes(current.data)
            )
        current.data = bytearray()

    parser = MultipartParser(
        params[b"boundary"],
        {
            "on_part_begin": on_part_begin,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
        },
    )
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > cap:
                # 4. Past the whole-request cap: stop reading; uvicorn drops the connection.
                raise UploadTooLarge(_too_large_message(max_file_bytes))
            parser.write(chunk)
        parser.finalize()
    except FormParserError as e:
        raise BadUpload("送信されたフォームが壊れています。 / The form data is malformed.") from e
    except ClientDisconnect as e:
        raise BadUpload("the upload was interrupted") from e
    if state["too_large"]:
        raise UploadTooLarge(_too_large_message(max_file_bytes))
    if state["duplicate"] is not None:
        raise BadUpload(f"the field {state['duplicate']!r} was sent twice")
    return done
