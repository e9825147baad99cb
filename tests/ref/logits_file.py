"""Reader and writer of the `*.logits` format (see shared/golden/FORMAT.md).

Little-endian: u32 magic 0x5354474C ("LGTS"), u32 n_tokens, u32 n_vocab, u32 n_kept, i32 ids[n_tokens],
f32 logits[n_kept][n_vocab] for the last n_kept positions.
"""

import struct

import numpy as np

MAGIC = 0x5354474C


class LogitsError(Exception):
    pass


class Logits:
    def __init__(self, ids, logits):
        self.ids = np.asarray(ids, dtype=np.int32)
        self.logits = np.asarray(logits, dtype=np.float32)
        if self.logits.ndim != 2:
            raise LogitsError("logits must be 2-D (n_kept, n_vocab)")
        if self.logits.shape[0] > len(self.ids):
            raise LogitsError("more kept positions than tokens")

    @property
    def n_tokens(self):
        return len(self.ids)

    @property
    def n_kept(self):
        return self.logits.shape[0]

    @property
    def n_vocab(self):
        return self.logits.shape[1]


def read(path):
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 16:
        raise LogitsError(f"{path}: too short for a logits header ({len(data)} bytes)")
    magic, n_tokens, n_vocab, n_kept = struct.unpack_from("<4I", data, 0)
    if magic != MAGIC:
        raise LogitsError(f"{path}: bad magic 0x{magic:08X} (expected 0x{MAGIC:08X})")
    if n_kept > n_tokens:
        raise LogitsError(f"{path}: n_kept {n_kept} > n_tokens {n_tokens}")
    want = 16 + 4 * n_tokens + 4 * n_kept * n_vocab
    if len(data) != want:
        raise LogitsError(f"{path}: size {len(data)} bytes, header implies {want}")
    ids = np.frombuffer(data, dtype="<i4", count=n_tokens, offset=16)
    logits = np.frombuffer(data, dtype="<f4", count=n_kept * n_vocab, offset=16 + 4 * n_tokens)
    return Logits(ids, logits.reshape(n_kept, n_vocab))


def write(path, ids, logits):
    lg = Logits(ids, logits)
    with open(path, "wb") as f:
        f.write(struct.pack("<4I", MAGIC, lg.n_tokens, lg.n_vocab, lg.n_kept))
        f.write(lg.ids.astype("<i4").tobytes())
        f.write(lg.logits.astype("<f4").tobytes())
