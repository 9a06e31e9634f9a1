"""llm_train's live progress line on stderr, seen from a real terminal.

Each test trains a tiny model in a child process (Debian's Python, or the
sqlite3 shell) whose stderr is either a pseudo-terminal (os.openpty, put in
raw mode so the bytes arrive exactly as written) or a pipe, and reads back
everything the child wrote there. The line is redrawn in place:

    \\r<name> [####....] step/total loss X.XXXX N tok/s ETA XmYYs\\033[K

and the last draw, when the run reaches its total, ends with a newline.
By default it is drawn only when stderr is a terminal; option "progress"
forces it on or off.

The assertions do not depend on timing: how many intermediate redraws
appear depends on the clock (at most one per 0.2 s), so those are only
checked for their form; the final one is always drawn and must show the
run's own last row (step, loss, tokens/s) and an ETA of 0m00s.
"""
import json
import os
import re
import select
import shutil
import subprocess
import sys
import tty

NAME = "t"
STEPS = 6
WIDTH = 24  # show_progress's bar width
CONFIG = '{"n_layer": 1, "n_head": 1, "n_embd": 16, "block_size": 8, "seed": 3}'
BASE_OPTS = {"steps": STEPS, "batch_size": 2, "log_every": 2, "eval_every": 0,
             "checkpoint_every": 100, "threads": 1, "warmup_steps": 2}
LINES = ["First Citizen: we are accounted poor citizens, the patricians good.",
         "What authority surfeits on would relieve us.",
         "The leanness that afflicts us, the object of our misery,",
         "is as an inventory to particularise their abundance."] * 8

# The child: builds a byte tokenizer and a tiny model, trains it, and prints
# the rows of llm_train (step, loss, tokens_per_s) as JSON on stdout.
CHILD = r"""
import json, sqlite3, sys
ext, path, config, opts, lines = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], json.loads(sys.argv[5])
db = sqlite3.connect(path, isolation_level=None)
db.enable_load_extension(True)
db.load_extension(ext)
db.execute("CREATE TABLE docs(body TEXT)")
db.executemany("INSERT INTO docs VALUES (?)", [(l,) for l in lines])
db.execute("SELECT llm_tokenizer_train('t', 'SELECT body FROM docs', 256)").fetchone()
db.execute("SELECT llm_model_create('t', ?)", (config,)).fetchone()
sql = "SELECT step, loss, tokens_per_s FROM llm_train('t', 'SELECT body FROM docs', ?)"
rows = db.execute(sql, (opts,)).fetchall()
print(json.dumps(rows), flush=True)
"""

# One draw of the line, after its leading "\r".
DRAW = re.compile(rb"(?P<name>[^\r\n\[]+) \[(?P<bar>[#.]{%d})\] (?P<step>\d+)/(?P<total>\d+) "
                  rb"loss (?P<loss>\d+\.\d{4}) (?P<tps>\d+) tok/s "
                  rb"ETA (?P<m>\d+)m(?P<s>\d\d)s\x1b\[K(?P<nl>\n?)" % WIDTH)
# Anything that would betray a progress line.
FRAGMENTS = (b"\r", b"tok/s", b"ETA", b"\x1b[K", b"[#", b"[.")


def _opts(**extra):
    o = dict(BASE_OPTS)
    o.update(extra)
    return json.dumps(o)


def _read_all(fd, timeout=300):
    """Everything written to the pty master until the last slave fd closes."""
    out = b""
    while True:
        r, _, _ = select.select([fd], [], [], timeout)
        assert r, f"no output nor end from the child within {timeout} s; so far {out!r}"
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the child (the last holder of the slave) exited
            break
        if not chunk:
            break
        out += chunk
    return out


def _spawn(argv, tty_stderr):
    """Runs argv with stdout a pipe and stderr a raw pty or a pipe; returns
    (exit status, stdout text, stderr bytes)."""
    if not tty_stderr:
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
        return p.returncode, p.stdout.decode(), p.stderr
    master, slave = os.openpty()
    try:
        tty.setraw(slave)  # no "\n" -> "\r\n" translation: the exact bytes
        assert os.isatty(slave)
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave,
                             start_new_session=True)
        os.close(slave)
        slave = -1
        err = _read_all(master)
        out = p.stdout.read().decode()
        p.stdout.close()
        status = p.wait(timeout=300)
    finally:
        if slave >= 0:
            os.close(slave)
        os.close(master)
    return status, out, err


def _train_python(ctx, opts, tty_stderr):
    """Trains in a Python child; returns (rows, stderr bytes)."""
    argv = [sys.executable, "-c", CHILD, ctx.ext, os.path.join(ctx.tmp, "child.db"), CONFIG, opts,
            json.dumps(LINES)]
    status, out, err = _spawn(argv, tty_stderr)
    assert status == 0, (status, out, err)
    rows = json.loads(out)
    return rows, err


def _check_rows(rows):
    steps = [r[0] for r in rows]
    assert steps == list(range(2, STEPS + 1, 2)), rows


def _check_progress(err, rows):
    """err must be nothing but redraws of the line, the last one final."""
    assert err.startswith(b"\r"), err
    draws = err.split(b"\r")[1:]
    assert len(draws) >= 1, err
    matches = []
    for d in draws:
        m = DRAW.fullmatch(d)
        assert m, f"not a progress draw: {d!r} (all: {err!r})"
        matches.append(m)
    last_step = 0
    for i, m in enumerate(matches):
        step, total = int(m["step"]), int(m["total"])
        assert m["name"] == NAME.encode(), m.group(0)
        assert total == STEPS, m.group(0)
        assert 1 <= step <= total and step >= last_step, (m.group(0), last_step)
        last_step = step
        filled = WIDTH * step // total
        assert m["bar"] == b"#" * filled + b"." * (WIDTH - filled), m.group(0)
        assert int(m["s"]) < 60, m.group(0)
        assert 0 < float(m["loss"]) < 20, m.group(0)
        # only the last draw ends the line
        assert m["nl"] == (b"\n" if i == len(matches) - 1 else b""), (i, m.group(0), err)
    final = matches[-1]
    assert int(final["step"]) == STEPS and final["bar"] == b"#" * WIDTH, final.group(0)
    assert (final["m"], final["s"]) == (b"0", b"00"), final.group(0)
    assert err.endswith(b"\x1b[K\n") and err.count(b"\n") == 1, err
    # the final draw shows the run's last row: the mean loss of its interval
    # (printed from a float, hence the tolerance) and its tokens/s
    step, loss, tps = rows[-1]
    assert step == STEPS, rows
    assert abs(float(final["loss"]) - loss) <= 6e-5, (final.group(0), loss)
    assert tps > 0 and final["tps"] == b"%.0f" % tps, (final.group(0), tps)


def _check_silent(err):
    for f in FRAGMENTS:
        assert f not in err, f"progress fragment {f!r} on stderr: {err!r}"


def test_progress_on_a_terminal_by_default(ctx):
    rows, err = _train_python(ctx, _opts(), tty_stderr=True)
    _check_rows(rows)
    _check_progress(err, rows)


def test_no_progress_on_a_pipe_by_default(ctx):
    rows, err = _train_python(ctx, _opts(), tty_stderr=False)
    _check_rows(rows)
    _check_silent(err)


def test_progress_false_on_a_terminal(ctx):
    rows, err = _train_python(ctx, _opts(progress=False), tty_stderr=True)
    _check_rows(rows)
    _check_silent(err)


def test_progress_true_on_a_pipe(ctx):
    rows, err = _train_python(ctx, _opts(progress=True), tty_stderr=False)
    _check_rows(rows)
    _check_progress(err, rows)


def test_progress_never_on_stdout(ctx):
    # forced on with stdout and stderr both pipes: stdout holds only the rows
    argv = [sys.executable, "-c", CHILD, ctx.ext, os.path.join(ctx.tmp, "child.db"), CONFIG,
            _opts(progress=True), json.dumps(LINES)]
    status, out, err = _spawn(argv, tty_stderr=False)
    assert status == 0, (status, out, err)
    _check_silent(out.encode())
    rows = json.loads(out)
    _check_rows(rows)
    _check_progress(err, rows)


def test_progress_in_the_sqlite3_shell_on_a_terminal(ctx):
    shell = shutil.which("sqlite3")
    assert shell, "the sqlite3 shell is needed (apt-get install sqlite3)"
    db = os.path.join(ctx.tmp, "shell.db")
    c = ctx.connect(db)
    c.execute("CREATE TABLE docs(body TEXT)")
    c.executemany("INSERT INTO docs VALUES (?)", [(l,) for l in LINES])
    c.execute("SELECT llm_tokenizer_train('t', 'SELECT body FROM docs', 256)").fetchone()
    c.execute("SELECT llm_model_create('t', ?)", (CONFIG,)).fetchone()
    c.close()
    sql = ("SELECT step, loss, tokens_per_s FROM llm_train('t', 'SELECT body FROM docs', '%s');"
           % _opts().replace("'", "''"))
    status, out, err = _spawn([shell, "-bail", "-json", "-cmd", ".load " + ctx.ext, db, sql], tty_stderr=True)
    assert status == 0, (status, out, err)
    rows = [[r["step"], r["loss"], r["tokens_per_s"]] for r in json.loads(out)]
    _check_rows(rows)
    _check_progress(err, rows)
