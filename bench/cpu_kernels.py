"""cpu_kernels.py: which OpenBLAS kernel family matches this CPU, the same
choice ext/blas.c makes when it loads OpenBLAS, so that the PyTorch
references of the benchmarks run the kernels the extension runs (Debian's
OpenBLAS 0.3.21 does not recognise recent CPUs and would fall back to slow
generic ones). SkylakeX needs AVX-512 and crashes without it."""


def kernels_for_cpu():
    """'SkylakeX' (AVX-512), 'Haswell' (AVX2 + FMA), or None."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((l.split(":", 1)[1].split() for l in f if l.startswith("flags")), [])
    except OSError:
        return None
    if all(x in flags for x in ("avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512cd")):
        return "SkylakeX"
    if "avx2" in flags and "fma" in flags:
        return "Haswell"
    return None
