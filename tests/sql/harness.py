"""harness.py EXTENSION TEST_FILE: runs the test_* functions of a SQL-level
test file, each with a fresh connection that has the extension loaded, and
prints "ok NAME" or "FAIL NAME" (with the reason) for each.

Test functions take one argument, a Ctx: ctx.db (a sqlite3 connection with
the extension loaded), ctx.connect(path) for more connections, ctx.tmp (a
fresh directory), ctx.ext (the extension's path), ctx.shared (../shared/data),
and ctx.error(sql, params, *fragments), which asserts that the statement
fails with a message containing every fragment.
"""
import importlib.util
import os
import sqlite3
import sys
import tempfile
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "data")


class Ctx:
    def __init__(self, ext, tmp):
        self.ext = os.path.abspath(ext)
        self.tmp = tmp
        self.shared = SHARED
        self.root = ROOT
        self.db = self.connect(os.path.join(tmp, "test.db"))

    def connect(self, path, uri=False):
        db = sqlite3.connect(path, uri=uri, isolation_level=None)
        db.enable_load_extension(True)
        db.load_extension(self.ext)
        return db

    def one(self, sql, params=()):
        return self.db.execute(sql, params).fetchone()[0]

    def error(self, sql, params=(), *fragments, db=None):
        db = db or self.db
        try:
            rows = db.execute(sql, params).fetchall()
        except sqlite3.Error as e:
            msg = str(e)
            for f in fragments:
                assert f in msg, f"error {msg!r} lacks {f!r} (sql: {sql})"
            return msg
        raise AssertionError(f"expected an error from {sql!r}, got {rows!r}")


def main():
    ext, path = sys.argv[1], sys.argv[2]
    spec = importlib.util.spec_from_file_location("t", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    tests = [(n, f) for n, f in vars(mod).items() if n.startswith("test_") and callable(f)]
    failed = 0
    for name, fn in tests:
        with tempfile.TemporaryDirectory() as tmp:
            ctx = Ctx(ext, tmp)
            try:
                fn(ctx)
                print(f"ok {name}", flush=True)
            except Exception:
                failed += 1
                print(f"FAIL {name}", flush=True)
                traceback.print_exc(file=sys.stdout)
            finally:
                ctx.db.close()
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
