"""Interrupting a long call stops llm_tokenizer_train inside its merge loop,
and nothing is stored.

The trainer notices an interrupt by running a trivial probe statement every
few merges: SQLite fails it with SQLITE_INTERRUPT both after
sqlite3_interrupt() (Ctrl-C in the shell) and when a progress handler asks
to stop. The test uses the progress handler, which makes it deterministic
without timers: the corpus query calls mark() on each row; once the last row
is read, the handler lets a fixed number of VM steps pass (the end of the
corpus query) and then says stop. From then on only the trainer's probes
run statements, so the interrupt must be noticed by the merge loop.
"""
import random


def _corpus(ctx, n_rows=400):
    r = random.Random(7)
    words = ["".join(r.choice("abcdefghij") for _ in range(r.randint(2, 9))) for _ in range(3000)]
    ctx.db.execute("CREATE TABLE c(t TEXT)")
    ctx.db.executemany("INSERT INTO c VALUES (?)",
                       [(" ".join(r.choice(words) for _ in range(200)),) for _ in range(n_rows)])
    return n_rows


def test_interrupt_stops_training_and_stores_nothing(ctx):
    n_rows = _corpus(ctx)
    state = {"rows": 0, "steps_after": 0}

    def mark(t):
        state["rows"] += 1
        return t

    def progress():
        if state["rows"] < n_rows:
            return 0
        state["steps_after"] += 1
        return 1 if state["steps_after"] > 200 else 0

    ctx.db.create_function("mark", 1, mark)
    ctx.db.set_progress_handler(progress, 1)
    msg = ctx.error("SELECT llm_tokenizer_train('t', 'SELECT mark(t) FROM c', 20000)", (),
                    "llm_tokenizer_train:", "interrupted after", "merges", "nothing was stored")
    ctx.db.set_progress_handler(None, 0)
    assert state["rows"] == n_rows, state
    merges_done = int(msg.split("interrupted after ")[1].split(" ")[0])
    assert 0 < merges_done < 20000 - 256, msg
    tables = [r[0] for r in ctx.db.execute("SELECT name FROM sqlite_master WHERE name LIKE 'llm_%'")]
    assert tables == [], tables
    # the connection is usable afterwards and the same call now succeeds
    out = ctx.one("SELECT llm_tokenizer_train('t', 'SELECT t FROM c', 400)")
    assert '"merges":144' in out, out


def test_interrupt_while_reading_corpus(ctx):
    _corpus(ctx, 50)
    state = {"rows": 0}

    def mark(t):
        state["rows"] += 1
        return t

    ctx.db.create_function("mark", 1, mark)
    ctx.db.set_progress_handler(lambda: 1 if state["rows"] >= 10 else 0, 1)
    ctx.error("SELECT llm_tokenizer_train('t', 'SELECT mark(t) FROM c', 1000)", (),
              "llm_tokenizer_train:", "interrupted")
    ctx.db.set_progress_handler(None, 0)
    assert state["rows"] < 50
    assert ctx.one("SELECT count(*) FROM sqlite_master WHERE name LIKE 'llm_%'") == 0
