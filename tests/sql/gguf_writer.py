"""gguf_writer.py: writes small GGUF files (version 3) for tests, from a
list of (key, type, value) metadata entries and optional tensors.

Types are GGUF's value type names: 'u8', 'i8', 'u16', 'i16', 'u32', 'i32',
'f32', 'bool', 'str', 'u64', 'i64', 'f64', or ('arr', element_type) for an
array. Tensors are (name, dims, ggml_type, data_bytes); their data is laid
out in order, each aligned to 32 bytes (or `align`: the caller then adds a
general.alignment key saying so). header_only=True returns the bytes
before the data section (for writers that stream big tensors themselves).
"""
import struct

TYPES = {'u8': (0, '<B'), 'i8': (1, '<b'), 'u16': (2, '<H'), 'i16': (3, '<h'),
         'u32': (4, '<I'), 'i32': (5, '<i'), 'f32': (6, '<f'), 'bool': (7, '<?'),
         'str': (8, None), 'u64': (10, '<Q'), 'i64': (11, '<q'), 'f64': (12, '<d')}
ARRAY = 9
ALIGN = 32


def _string(s):
    b = s if isinstance(s, bytes) else s.encode('utf-8')
    return struct.pack('<Q', len(b)) + b


def _scalar(t, v):
    code, fmt = TYPES[t]
    return _string(v) if fmt is None else struct.pack(fmt, v)


def _value(t, v):
    if isinstance(t, tuple):
        et = t[1]
        return (struct.pack('<I', TYPES[et][0]) + struct.pack('<Q', len(v)) +
                b''.join(_scalar(et, x) for x in v))
    return _scalar(t, v)


def _type_code(t):
    return ARRAY if isinstance(t, tuple) else TYPES[t][0]


def gguf_bytes(kvs, tensors=(), version=3, header_only=False, align=ALIGN):
    out = bytearray(b'GGUF' + struct.pack('<IQQ', version, len(tensors), len(kvs)))
    for key, t, v in kvs:
        out += _string(key) + struct.pack('<I', _type_code(t)) + _value(t, v)
    offset = 0
    for name, dims, ggml_type, data in tensors:
        out += _string(name) + struct.pack('<I', len(dims))
        out += b''.join(struct.pack('<Q', d) for d in dims)
        out += struct.pack('<IQ', ggml_type, offset)
        offset += (len(data) + align - 1) // align * align
    out += b'\0' * (-len(out) % align)
    if header_only:  # the caller writes the data (only len() of each was used)
        return bytes(out)
    for _, _, _, data in tensors:
        out += data + b'\0' * (-len(data) % align)
    return bytes(out)


def write_gguf(path, kvs, tensors=(), version=3):
    with open(path, 'wb') as f:
        f.write(gguf_bytes(kvs, tensors, version))
    return path
