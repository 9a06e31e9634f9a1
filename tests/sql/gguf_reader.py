"""gguf_reader.py: reads a GGUF file's metadata and tensors for tests (the
counterpart of gguf_writer.py): read_gguf(path) -> (kvs, tensors) with kvs
a dict key -> value (arrays as lists) and tensors a dict name -> (dims,
ggml_type, data_bytes)."""
import struct

_SCALARS = {0: '<B', 1: '<b', 2: '<H', 3: '<h', 4: '<I', 5: '<i', 6: '<f', 7: '<?', 10: '<Q', 11: '<q', 12: '<d'}


def read_gguf(path):
    data = open(path, 'rb').read()
    pos = 0

    def take(fmt):
        nonlocal pos
        v = struct.unpack_from(fmt, data, pos)[0]
        pos += struct.calcsize(fmt)
        return v

    def string():
        nonlocal pos
        n = take('<Q')
        s = data[pos:pos + n]
        pos += n
        return s.decode('utf-8', 'surrogateescape')

    def value(t):
        if t == 8:
            return string()
        if t == 9:
            et, n = take('<I'), take('<Q')
            return [value(et) for _ in range(n)]
        return take(_SCALARS[t])

    assert data[:4] == b'GGUF', path
    pos = 4
    _version, n_tensors, n_kv = take('<I'), take('<Q'), take('<Q')
    kvs = {}
    for _ in range(n_kv):
        key = string()
        kvs[key] = value(take('<I'))
    infos = []
    for _ in range(n_tensors):
        name, nd = string(), take('<I')
        dims = [take('<Q') for _ in range(nd)]
        infos.append((name, dims, take('<I'), take('<Q')))
    align = kvs.get('general.alignment', 32)
    start = (pos + align - 1) // align * align
    offsets = sorted(o for _, _, _, o in infos) + [len(data) - start]
    tensors = {}
    for name, dims, ty, off in infos:
        end = min(o for o in offsets if o > off)  # up to the next tensor (with its padding)
        tensors[name] = (dims, ty, data[start + off:start + end])
    return kvs, tensors
