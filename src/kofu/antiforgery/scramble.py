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

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms
from numpy.typing import NDArray

from kofu.antiforgery.layout import BLOCK, GRID_H, GRID_W

N_BLOCKS = GRID_W * GRID_H


def plan(key: bytes, page: int) -> tuple[NDArray[np.intp], NDArray[np.bool_]]:
    """(perm, flip) for one page: position j shows block perm[j], inverted if flip[j]."""
    nonce = b"kofu-scr" + page.to_bytes(8, "big")
    enc = Cipher(algorithms.ChaCha20(key, nonce), mode=None).encryptor()
    stream = enc.update(b"\0" * (N_BLOCKS * 9))
    sort_keys = np.frombuffer(stream[: N_BLOCKS * 8], dtype=">u8")
    perm = np.argsort(sort_keys, kind="stable").astype(np.intp)
    flip = (np.frombuffer(stream[N_BLOCKS * 8 :], dtype=np.uint8) & 1).astype(bool)
    return perm, flip


def _blocks(img: NDArray[np.generic]) -> NDArray[np.generic]:
    """(GRID_H*GRID_W, BLOCK, BLOCK) view of a (GRID_H*BLOCK, GRID_W*BLOCK) image."""
    return img.reshape(GRID_H, BLOCK, GRID_W, BLOCK).swapaxes(1, 2).reshape(N_BLOCKS, BLOCK, BLOCK)


def _image(blocks: NDArray[np.generic]) -> NDArray[np.generic]:
    return (
        blocks.reshape(GRID_H, GRID_W, BLOCK, BLOCK)
        .swapaxes(1, 2)
        .reshape(GRID_H * BLOCK, GRID_W * BLOCK)
    )


def scramble(raster: NDArray[np.uint8], key: bytes, page: int) -> NDArray[np.uint8]:
    perm, flip = plan(key, page)
    b = _blocks(raster)[perm].copy()
    b[flip] = 255 - b[flip]
    return np.ascontiguousarray(_image(b))


def unscramble(scrambled: NDArray[np.uint8], key: bytes, page: int) -> NDArray[np.uint8]:
    """The inverse of scramble."""
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
