#!/usr/bin/python3
"""A small, independent GGUF reader (v2 and v3, little-endian) for the numpy reference.

Written from the public format description (ggml docs/gguf.md), deliberately sharing nothing with the C++
reader so that the two check each other. Decodes F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL and
Q6_K tensors to numpy arrays.

Run as a script it prints the metadata (and tensor table) of a file as JSON:
    gguf_reader.py MODEL.gguf [--tensors] [--key KEY]
"""

import json
import struct
import sys

import numpy as np

GGUF_MAGIC = b"GGUF"

# metadata value types
U8, I8, U16, I16, U32, I32, F32, BOOL, STR, ARR, U64, I64, F64 = range(13)
_SCALAR = {
    U8: ("<B", 1), I8: ("<b", 1), U16: ("<H", 2), I16: ("<h", 2), U32: ("<I", 4), I32: ("<i", 4),
    F32: ("<f", 4), U64: ("<Q", 8), I64: ("<q", 8), F64: ("<d", 8),
}
_NUMPY_SCALAR = {U8: "<u1", I8: "<i1", U16: "<u2", I16: "<i2", U32: "<u4", I32: "<i4", F32: "<f4",
                 U64: "<u8", I64: "<i8", F64: "<f8"}

# tensor types: name, block size (elements), bytes per block
TYPES = {
    0: ("F32", 1, 4),
    1: ("F16", 1, 2),
    2: ("Q4_0", 32, 18),
    3: ("Q4_1", 32, 20),
    6: ("Q5_0", 32, 22),
    7: ("Q5_1", 32, 24),
    8: ("Q8_0", 32, 34),
    9: ("Q8_1", 32, 36),
    10: ("Q2_K", 256, 84),
    11: ("Q3_K", 256, 110),
    12: ("Q4_K", 256, 144),
    13: ("Q5_K", 256, 176),
    14: ("Q6_K", 256, 210),
    15: ("Q8_K", 256, 292),
    20: ("IQ4_NL", 32, 18),
    30: ("BF16", 1, 2),
}


class GgufError(Exception):
    pass


class _Cursor:
    def __init__(self, buf, name):
        self.buf = buf
        self.pos = 0
        self.name = name

    def take(self, n):
        if n < 0 or self.pos + n > len(self.buf):
            raise GgufError(f"{self.name}: truncated at offset {self.pos} (need {n} bytes, file is {len(self.buf)})")
        b = self.buf[self.pos:self.pos + n]
        self.pos += n
        return b

    def unpack(self, fmt, size):
        return struct.unpack(fmt, self.take(size))[0]

    def u32(self):
        return self.unpack("<I", 4)

    def u64(self):
        return self.unpack("<Q", 8)

    def string(self):
        n = self.u64()
        return bytes(self.take(n)).decode("utf-8", errors="surrogateescape")


class TensorInfo:
    def __init__(self, name, ne, ttype, offset):
        self.name = name
        self.ne = ne  # ne[0] is the contiguous dimension
        self.type = ttype
        self.offset = offset  # relative to the data section

    @property
    def type_name(self):
        return TYPES[self.type][0] if self.type in TYPES else f"type{self.type}"

    def n_elements(self):
        n = 1
        for d in self.ne:
            n *= d
        return n

    def n_bytes(self):
        if self.type not in TYPES:
            raise GgufError(f"tensor {self.name}: unknown type {self.type}")
        _, bs, ts = TYPES[self.type]
        if self.ne[0] % bs:
            raise GgufError(f"tensor {self.name}: row of {self.ne[0]} not a multiple of block {bs}")
        return self.n_elements() // bs * ts


class GgufFile:
    def __init__(self, path):
        self.path = path
        with open(path, "rb") as f:
            self.buf = memoryview(f.read())
        c = _Cursor(self.buf, path)
        if bytes(c.take(4)) != GGUF_MAGIC:
            raise GgufError(f"{path}: not a GGUF file (bad magic)")
        self.version = c.u32()
        if self.version not in (2, 3):
            raise GgufError(f"{path}: unsupported GGUF version {self.version}")
        n_tensors = c.u64()
        n_kv = c.u64()
        self.metadata = {}
        self.metadata_types = {}
        for _ in range(n_kv):
            key = c.string()
            vtype = c.u32()
            self.metadata_types[key] = vtype
            self.metadata[key] = self._read_value(c, vtype)
        self.tensors = {}
        self.tensor_order = []
        for _ in range(n_tensors):
            name = c.string()
            n_dims = c.u32()
            if n_dims > 4:
                raise GgufError(f"{path}: tensor {name} has {n_dims} dimensions")
            ne = [c.u64() for _ in range(n_dims)]
            ttype = c.u32()
            offset = c.u64()
            self.tensors[name] = TensorInfo(name, ne, ttype, offset)
            self.tensor_order.append(name)
        self.alignment = int(self.metadata.get("general.alignment", 32))
        pos = c.pos
        self.data_offset = pos + (self.alignment - pos % self.alignment) % self.alignment
        for t in self.tensors.values():
            if t.offset % self.alignment:
                raise GgufError(f"{path}: tensor {t.name} offset {t.offset} not aligned to {self.alignment}")
            if t.type in TYPES and self.data_offset + t.offset + t.n_bytes() > len(self.buf):
                raise GgufError(f"{path}: tensor {t.name} runs past the end of the file")

    def _read_value(self, c, vtype):
        if vtype in _SCALAR:
            fmt, size = _SCALAR[vtype]
            return c.unpack(fmt, size)
        if vtype == BOOL:
            b = c.take(1)[0]
            if b > 1:
                raise GgufError(f"{self.path}: bool value {b} at offset {c.pos - 1}")
            return bool(b)
        if vtype == STR:
            return c.string()
        if vtype == ARR:
            etype = c.u32()
            n = c.u64()
            if etype in _NUMPY_SCALAR:  # fast path for numeric arrays
                size = _SCALAR[etype][1]
                raw = c.take(n * size)
                return np.frombuffer(raw, dtype=_NUMPY_SCALAR[etype]).tolist()
            return [self._read_value(c, etype) for _ in range(n)]
        raise GgufError(f"{self.path}: unknown metadata value type {vtype} at offset {c.pos}")

    def get(self, key, default=None):
        return self.metadata.get(key, default)

    def raw(self, name):
        t = self.tensors[name]
        start = self.data_offset + t.offset
        return np.frombuffer(self.buf[start:start + t.n_bytes()], dtype=np.uint8)

    def tensor(self, name, dtype=np.float64):
        """The tensor as a numpy array of shape reversed(ne): a GGUF weight with ne=[n_in, n_out] comes back
        as (n_out, n_in)."""
        t = self.tensors[name]
        flat = dequantize(t.type, self.raw(name), t.n_elements())
        return flat.astype(dtype, copy=False).reshape(list(reversed(t.ne)))


_IQ4NL_VALUES = np.array([-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113], dtype=np.float32)


def _f16(raw_u8):
    return raw_u8.view("<f2").astype(np.float32)


def dequantize(ttype, raw, n):
    """Decodes n elements of type ttype from the uint8 array raw into float32."""
    if ttype == 0:
        return raw.view("<f4").astype(np.float32)
    if ttype == 1:
        return raw.view("<f2").astype(np.float32)
    if ttype == 30:  # bf16: the upper half of an f32
        return (raw.view("<u2").astype(np.uint32) << 16).view("<f4")
    if ttype not in TYPES:
        raise GgufError(f"unknown tensor type {ttype}")
    name, bs, ts = TYPES[ttype]
    blocks = raw.reshape(-1, ts)
    nb = blocks.shape[0]
    if ttype == 8:  # Q8_0: f16 d, int8 q[32]; x = d * q
        d = _f16(blocks[:, 0:2].copy())
        q = blocks[:, 2:34].view(np.int8).astype(np.float32)
        return (d * q).reshape(-1)
    if ttype in (2, 3, 6, 7):
        # 4-bit nibbles: element j (j < 16) is the low nibble of byte j, element j + 16 its high nibble
        has_min = ttype in (3, 7)
        five = ttype in (6, 7)
        d = _f16(blocks[:, 0:2].copy())
        off = 2
        if has_min:
            m = _f16(blocks[:, 2:4].copy())
            off = 4
        if five:  # 32 high bits, one per element, in a little-endian u32
            qh = blocks[:, off:off + 4].copy().view("<u4")
            off += 4
        qs = blocks[:, off:off + 16]
        q = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.int32)
        if five:
            bits = (qh >> np.arange(32, dtype=np.uint32)) & 1
            q = q | (bits.astype(np.int32) << 4)
        q = q.astype(np.float32)
        if has_min:
            return (d * q + m).reshape(-1)
        return (d * (q - (16 if five else 8))).reshape(-1)
    if ttype == 20:  # IQ4_NL: Q4_0's layout, the nibble indexes a fixed non-uniform table
        d = _f16(blocks[:, 0:2].copy())
        qs = blocks[:, 2:18]
        q = np.concatenate([qs & 0x0F, qs >> 4], axis=1)
        return (d * _IQ4NL_VALUES[q]).reshape(-1)
    if ttype == 14:  # Q6_K: 256 values, 6 bits each (4 low in ql, 2 high in qh), 16 int8 scales of 16 values
        ql = blocks[:, 0:128].astype(np.int32)
        qh = blocks[:, 128:192].astype(np.int32)
        sc = blocks[:, 192:208].view(np.int8).astype(np.float32)
        d = _f16(blocks[:, 208:210].copy())
        halves = []
        for h in range(2):  # each half: 128 values from 64 ql bytes and 32 qh bytes
            lo = ql[:, 64 * h:64 * h + 64]
            hi = qh[:, 32 * h:32 * h + 32]
            halves += [(lo[:, 0:32] & 0xF) | ((hi >> 0) & 3) << 4, (lo[:, 32:64] & 0xF) | ((hi >> 2) & 3) << 4,
                       (lo[:, 0:32] >> 4) | ((hi >> 4) & 3) << 4, (lo[:, 32:64] >> 4) | ((hi >> 6) & 3) << 4]
        q = np.concatenate(halves, axis=1).astype(np.float32) - 32  # (nb, 256) in output order
        # consecutive groups of 16 outputs take scales 0..15 in order
        return (d * (q.reshape(nb, 16, 16) * sc[:, :, None]).reshape(nb, 256)).reshape(-1)
    raise GgufError(f"tensor type {name} is not supported by the numpy reference")


def _jsonable(v):
    if isinstance(v, float) and (v != v or v in (float("inf"), float("-inf"))):
        return str(v)
    return v


def main(argv):
    import argparse

    ap = argparse.ArgumentParser(description="Dump GGUF metadata as JSON")
    ap.add_argument("model")
    ap.add_argument("--tensors", action="store_true", help="include the tensor table")
    ap.add_argument("--key", help="print only this metadata value")
    args = ap.parse_args(argv)
    g = GgufFile(args.model)
    if args.key:
        if args.key not in g.metadata:
            print(f"missing key {args.key}", file=sys.stderr)
            return 1
        print(json.dumps(g.metadata[args.key], ensure_ascii=False))
        return 0
    out = {"version": g.version, "alignment": g.alignment, "metadata": {}}
    for k, v in g.metadata.items():
        if isinstance(v, list) and len(v) > 16:
            out["metadata"][k] = {"type": g.metadata_types[k], "len": len(v), "head": v[:8]}
        else:
            out["metadata"][k] = {"type": g.metadata_types[k], "value": _jsonable(v)}
    if args.tensors:
        out["tensors"] = [{"name": n, "ne": g.tensors[n].ne, "type": g.tensors[n].type_name,
                           "offset": g.tensors[n].offset} for n in g.tensor_order]
    print(json.dumps(out, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
