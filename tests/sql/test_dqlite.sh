#!/bin/sh
# test_dqlite.sh EXTENSION: the extension inside a replicated 3-node dqlite
# cluster on loopback (tests/dqlite/test_cluster.py, which prints the "ok
# NAME" / "FAIL NAME" lines). Its node and client programs are built by
# `make test` and `make asan` (build/dqlite/). Under `make asan`,
# LLM_TEST_PRELOAD names the ASan runtime: the test preloads it into itself
# and its nodes, which load the ASan build of the extension.
exec /usr/bin/python3 tests/dqlite/test_cluster.py "$1"
