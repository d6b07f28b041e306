"""The keyed block scramble: permute and invert the blocks of a page raster.

>>> s = scramble(raster, key, page=1)     # raster: (RASTER_H, RASTER_W) uint8
>>> unscramble(s, key, page=1) == raster  # doctest: +SKIP

Block ``j`` of the scrambled image holds block ``perm[j]`` of the page,
inverted when ``flip[j]``. The plan is drawn from a ChaCha20 keystream under
the certificate's key (kofu.antiforgery.keys.ScrambleKeyring.key_for) with
the page number in the nonce: a byte-exact, library-version-independent
stream, unlike numpy's generators whose streams may change between releases.
Without the key the arrangement of ~8,600 blocks is one of 8,580! x 2^8,580.
"""

from __future__ import annotations

import functools

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms
from numpy.typing import NDArray

from kofu.antiforgery.layout import GRID_H, GRID_W

N_BLOCKS = GRID_W * GRID_H


@functools.lru_cache(maxsize=8)
def plan(key: bytes, page: int) -> tuple[NDArray[np.intp], NDArray[np.bool_]]:
    """(perm, flip) for one page: position j shows block perm[j], inverted if flip[j].

    Read-only arrays, kept for the few pages being verified at a time: a
    verification asks for the same plan several times."""
    nonce = b"kofu-scr" + page.to_bytes(8, "big")
    enc = Cipher(algorithms.ChaCha20(key, nonce), mode=None).encryptor()
    stream = enc.update(b"\0" * (N_BLOCKS * 9))
    sort_keys = np.frombuffer(stream[: N_BLOCKS * 8], dtype=">u8")
    perm = np.argsort(sort_keys, kind="stable").astype(np.intp)
    flip = (np.frombuffer(stream[N_BLOCKS * 8 :], dtype=np.uint8) & 1).astype(bool)
    perm.setflags(write=False)
    flip.setflags(write=False)
    return perm, flip


def _blocks(img: NDArray[np.generic]) -> NDArray[np.generic]:
    """(GRID_H*GRID_W, b, b) of a (GRID_H*b, GRID_W*b) image: b is BLOCK, or less
    for a smaller copy of the raster."""
    b = img.shape[0] // GRID_H
    return img.reshape(GRID_H, b, GRID_W, b).swapaxes(1, 2).reshape(N_BLOCKS, b, b)


def _image(blocks: NDArray[np.generic]) -> NDArray[np.generic]:
    b = blocks.shape[1]
    return blocks.reshape(GRID_H, GRID_W, b, b).swapaxes(1, 2).reshape(GRID_H * b, GRID_W * b)


def scramble(raster: NDArray[np.uint8], key: bytes, page: int) -> NDArray[np.uint8]:
    perm, flip = plan(key, page)
    b = _blocks(raster)[perm].copy()
    b[flip] = 255 - b[flip]
    return np.ascontiguousarray(_image(b))


def unscramble(scrambled: NDArray[np.uint8], key: bytes, page: int) -> NDArray[np.uint8]:
    """The inverse of scramble (also of a raster scaled down by a whole factor)."""
    perm, flip = plan(key, page)
    b = _blocks(scrambled)
    out = np.empty_like(b)
    out[perm] = b
    flipped = perm[flip]
    out[flipped] = 255 - out[flipped]
    return np.ascontiguousarray(_image(out))


def flip_map(key: bytes, page: int) -> NDArray[np.bool_]:
    """(GRID_H, GRID_W): which positions of the printed scrambled image are inverted."""
    _, flip = plan(key, page)
    return flip.reshape(GRID_H, GRID_W)
