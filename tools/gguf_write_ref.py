"""gguf_write_ref.py OUT: writes a small GGUF file with llama.cpp's gguf-py
(GGUFWriter), the reference for tests/engine/test_gguf_write.c, which feeds
the same content in the same order to our writer (engine/formats/gguf_write.h)
and expects the identical bytes. Not run by the tests: its output is kept as
tests/data/gguf_write/ggufpy_example.gguf (see the README.md beside it).

    PYTHONPATH=/work/llamacpp/gguf-py /usr/bin/python3 tools/gguf_write_ref.py OUT

Everything here is made up. If you change it, change the C test to match.
GGUFWriter adds general.architecture itself, as the first key.
"""
import sys

import numpy as np
from gguf import GGUFWriter, GGUFValueType, GGMLQuantizationType


def pattern(tensor_index, n):
    """The made-up bytes of a tensor; the C test computes the same."""
    return bytes((j * 37 + tensor_index * 101 + 11) & 0xFF for j in range(n))


def main(out):
    w = GGUFWriter(out, "llama")  # -> general.architecture = "llama"
    w.add_custom_alignment(64)  # -> general.alignment (u32)
    w.add_string("general.name", "tiny h\u00e9llo")
    w.add_uint8("test.u8", 250)
    w.add_int8("test.i8", -5)
    w.add_uint16("test.u16", 65000)
    w.add_int16("test.i16", -30000)
    w.add_uint32("test.u32", 4000000000)
    w.add_int32("test.i32", -2000000000)
    w.add_uint64("test.u64", 18000000000000000000)
    w.add_int64("test.i64", -9000000000000000000)
    w.add_float32("test.f32", -1.5)
    w.add_float64("test.f64", 0.1)
    w.add_bool("test.bool", True)
    w.add_array("test.arr_i32", [1, -2, 2147483647])
    w.add_key_value("test.arr_u32", [7, 4294967295], GGUFValueType.ARRAY,
                    sub_type=GGUFValueType.UINT32)
    w.add_array("test.arr_f32", [0.5, -2.25, 1024.0])
    w.add_array("test.arr_str", ["a", "", "h\u00e9", "<0x0A>"])
    w.add_array("test.arr_u8", b"\x00\x01\xff")
    w.add_array("test.arr_bool", [True, False])
    w.add_key_value("test.arr_i64", [-1, 1 << 40], GGUFValueType.ARRAY,
                    sub_type=GGUFValueType.INT64)

    # F32 3x5 (ne = [5, 3]), F16 7 (ne = [7]), Q8_0 2 rows of 64 (ne = [64, 2]).
    w.add_tensor("token_embd.weight",
                 np.frombuffer(pattern(0, 60), dtype=np.float32).reshape(3, 5))
    w.add_tensor("blk.0.attn_norm.weight",
                 np.frombuffer(pattern(1, 14), dtype=np.float16))
    w.add_tensor("blk.0.attn_q.weight",
                 np.frombuffer(pattern(2, 136), dtype=np.uint8).reshape(2, 68),
                 raw_dtype=GGMLQuantizationType.Q8_0)

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


if __name__ == "__main__":
    main(sys.argv[1])
