"""A typst compiler per template, kept warm for the life of the process.

Loading typst, scanning the font and parsing a template cost tens of
milliseconds; a warm compiler then lays out a page in about a millisecond,
because typst memoises whatever did not change between two documents. So each
template gets one compiler, created on first use and reused; calls are
serialised by a lock because the compiler is one mutable object.

Data reaches the template only as JSON in ``sys.inputs.data``: the template
reads it with ``json(bytes(sys.inputs.data))`` and places the strings as text.
User data is never spliced into typst source, so a name holding ``#``, ``*``,
``$`` or ``]`` prints as those characters and cannot inject markup.

System fonts are ignored and typst's embedded fonts left out: the only font is
IPAmj明朝, so the output is the same on every machine.
"""

from __future__ import annotations

import json
import re
import threading
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any, Final

from kofu.render.errors import LayoutError
from kofu.render.fonts import mj_font_dir
from kofu.render.model import RenderedPdf

_PAGE_RE: Final = re.compile(rb"/Type\s*/Page(?![A-Za-z])")


def template_dir() -> Path:
    """The folder of the packaged ``.typ`` templates (the typst project root)."""
    return Path(str(resources.files("kofu.render") / "templates"))


class TypstEngine:
    """Compiles the packaged templates with the MJ font only."""

    def __init__(self) -> None:
        import typst

        self._typst = typst
        self._fonts = typst.Fonts(
            include_system_fonts=False,
            include_embedded_fonts=False,
            font_paths=[str(mj_font_dir())],
        )
        self._compilers: dict[str, Any] = {}
        self._lock = threading.Lock()

    def _compiler(self, template: str) -> Any:
        compiler = self._compilers.get(template)
        if compiler is None:
            root = template_dir()
            path = root / template
            if not path.is_file():
                raise LayoutError(f"no template {template} in {root}")
            # A path, not bytes: typst-py cannot recompile a document given as bytes.
            compiler = self._typst.Compiler(
                str(path), root=str(root), font_paths=self._fonts, ignore_system_fonts=True
            )
            self._compilers[template] = compiler
        return compiler

    def compile(self, template: str, data: dict[str, Any], timestamp: datetime) -> RenderedPdf:
        """Lay out ``data`` with ``template``; ``timestamp`` becomes the PDF's date."""
        payload = json.dumps(data, ensure_ascii=False)
        with self._lock:
            compiler = self._compiler(template)
            try:
                pdf, warnings = compiler.compile_with_warnings(
                    format="pdf", sys_inputs={"data": payload}, timestamp=timestamp
                )
            except self._typst.TypstError as e:
                raise LayoutError(f"{template}: {e.message} {e.diagnostic}".strip()) from e
        if not isinstance(pdf, bytes):
            raise LayoutError(f"{template}: typst returned no PDF")
        # Warnings mean a template bug (e.g. an unknown font would fall back silently).
        if warnings:
            raise LayoutError(f"{template}: " + "; ".join(w.message for w in warnings))
        return RenderedPdf(pdf=pdf, pages=len(_PAGE_RE.findall(pdf)))


_engine: TypstEngine | None = None
_engine_lock = threading.Lock()


def engine() -> TypstEngine:
    """The process-wide engine, created on first use."""
    global _engine
    if _engine is None:
        with _engine_lock:
            if _engine is None:
                _engine = TypstEngine()
    return _engine
