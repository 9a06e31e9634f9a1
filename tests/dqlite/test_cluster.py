"""test_cluster.py EXTENSION: sqlite-llm inside a 3-node dqlite cluster on
loopback (run by tests/sql/test_dqlite.sh; prints "ok NAME" / "FAIL NAME").

Every result on the cluster is compared with the same work done on a plain
database file in this process (the reference): imported weights, generated
text, embeddings, a trained tokenizer, a model trained in short transactions
(each commits a checkpoint, replicated) with the leader killed between two
of them and in the middle of one, against the reference trained in one
uninterrupted run: the weights must be bitwise the same; then a killed node
restarted catches up, checkpoints of a few MB commit (a dqlite 1.11 flaw
the node works around) and the nodes stop cleanly. Also: a write outside a
transaction is refused on dqlite's VFS and accepted on SQLite's own ones.
Followers are read through dqlite's dump of their own copy. The first
failure ends the test (later steps build on earlier ones) and stops every
node.
"""
import hashlib
import json
import os
import sqlite3
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import Cluster, ClientError, poll  # noqa: E402

SHARED = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "..", "shared",
                      "data")
CKPT = os.path.abspath(os.path.join(SHARED, "llama2c", "stories260K.bin"))
TOK = os.path.abspath(os.path.join(SHARED, "llama2c", "tok512.bin"))
CORPUS = os.path.abspath(os.path.join(SHARED, "tinyshakespeare.txt"))

STEPS = 600
TRAIN = {"steps": STEPS, "batch_size": 8, "seq_len": 32, "threads": 1, "log_every": 20, "checkpoint_every": 20,
         "eval_every": 0, "seed": 5}
CHUNK_S = 0.25  # each training statement stops after this (a checkpoint), well inside Raft's 3 s election timeout
GREEDY = '{"temperature": 0, "max_tokens": 40}'


def q(s):
    return "'" + s.replace("'", "''") + "'"


def train_sql(time_limit):
    opts = q(json.dumps(dict(TRAIN, time_limit_s=time_limit)))
    return f"SELECT step FROM llm_train('small', 'SELECT body FROM docs', {opts})"


def digest(rows):
    return hashlib.sha256("\n".join("|".join(str(v) for v in r) for r in rows).encode()).hexdigest()


WEIGHTS = "SELECT role, name, hex(data) FROM llm_weights WHERE model = '{}' ORDER BY role, name"
STATE = "SELECT step FROM llm_train_state WHERE model = 'small'"


class Test:
    def __init__(self, ext, tmp):
        self.tmp = tmp
        self.ext = os.path.abspath(ext)
        self.ref = sqlite3.connect(os.path.join(tmp, "reference.db"), isolation_level=None)
        self.ref.enable_load_extension(True)
        self.ref.load_extension(os.path.abspath(ext))
        self.c = Cluster(ext, tmp)
        self.leader = self.c.wait_leader()

    def ref_one(self, sql):
        return self.ref.execute(sql).fetchone()[0]

    def both(self, sql):
        """sql on the reference and, in a transaction, on the cluster: the
        cluster's single value, checked equal to the reference's."""
        want = self.ref_one(sql)
        got = self.c.tx(sql)[0][0]
        if isinstance(want, bytes):
            want = want.hex()
        assert want == got, f"{sql}: cluster {got!r}, plain file {want!r}"
        return got

    def follower(self):
        return next(i for i in self.c.alive() if i != self.leader)

    def rows_on(self, i, sql):
        """Node i's own copy answers sql (its rows' digest)."""
        db = self.c.dump(i)
        try:
            return digest(db.execute(sql).fetchall())
        finally:
            db.close()

    def follower_has(self, what, sql, want, node=None):
        """Polls a follower (or node) until its copy answers sql with the
        rows whose digest is want: a follower applies an entry once it
        hears it is committed, after the leader has."""
        i = node or self.follower()
        poll(f"node {i} has {what}", lambda: self.rows_on(i, sql) == want, 60)

    def state_on(self, i):
        """(training step, weights digest) of model small in node i's copy."""
        db = self.c.dump(i)
        try:
            step = db.execute(STATE).fetchone()
            return step and step[0], digest(db.execute(WEIGHTS.format("small")).fetchall())
        finally:
            db.close()

    def leader_state(self):
        """The same on the leader."""
        step = self.c.tx(STATE)
        return step[0][0] if step else None, digest(self.c.tx(WEIGHTS.format("small")))

    # ---- the steps ----------------------------------------------------------------

    def test_sqlite_own_vfs_unchanged(self):
        # SQLite's other VFSes: writes in autocommit as on the default one;
        # llm_train leaves the journal mode alone off the default VFS
        db = sqlite3.connect(f"file:{self.tmp}/excl.db?vfs=unix-excl", uri=True, isolation_level=None)
        db.enable_load_extension(True)
        db.load_extension(self.ext)
        db.execute("SELECT llm_tokenizer_train('t', 'VALUES (''abc abd abe'')', 260)")
        db.execute("SELECT llm_model_create('m', '{\"tokenizer\": \"t\", \"n_layer\": 1, \"n_embd\": 16, \"n_head\": 2, \"block_size\": 8}')")
        corpus = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50) SELECT ''abc abd'' FROM n"
        rows = db.execute(f"SELECT step FROM llm_train('m', '{corpus}', "
                          "'{\"steps\": 3, \"batch_size\": 1, \"seq_len\": 4, \"log_every\": 1}')").fetchall()
        assert rows == [(1,), (2,), (3,)], rows
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        mem = sqlite3.connect(":memory:", isolation_level=None)
        mem.deserialize(db.serialize())  # now on the memdb VFS
        mem.enable_load_extension(True)
        mem.load_extension(self.ext)
        assert mem.execute("SELECT llm_tokenizer_drop('t')").fetchone()[0] == 1
        db.close()
        mem.close()

    def test_cluster_formed(self):
        assert self.c.alive() == [1, 2, 3], f"nodes alive: {self.c.alive()}"
        assert self.c.tx("SELECT json_extract(llm_version(), '$.version')")[0][0]

    def test_import_replicated(self):
        imp = f"SELECT llm_import('stories', 'llama2c', {q(CKPT)}, {q(TOK)})"
        got = json.loads(self.c.tx(imp)[0][0])
        assert got["n_params"] == 260032, got
        self.ref.execute(imp)
        want = digest(self.ref.execute(WEIGHTS.format("stories")).fetchall())
        assert digest(self.c.tx(WEIGHTS.format("stories"))) == want, "leader's weights differ from the file's"
        self.follower_has("the imported weights", WEIGHTS.format("stories"), want)

    def test_generate_and_embed(self):
        text = self.both(f"SELECT llm_generate('stories', 'Lily and Tom', {q(GREEDY)})")
        assert len(text) > 20, text
        self.both("SELECT llm_embed('stories', 'The cat sat on the mat.')")
        self.both("SELECT llm_perplexity('stories', 'Once upon a time, there was a little girl named Lily.')")

    def test_rows_functions_through_exec(self):
        # batched row functions run inside an INSERT that dqlite executes
        # (one statement, one commit, replicated)
        setup = ["CREATE TABLE prompts(id INTEGER PRIMARY KEY, p TEXT)",
                 "INSERT INTO prompts(p) VALUES ('Lily and Tom'), ('Once upon a time'), ('The dog'), (NULL)",
                 "CREATE TABLE outs(k, t, e)"]
        rows = ("INSERT INTO outs SELECT g.key, g.text, e.embedding FROM llm_generate_rows('stories', "
                "'SELECT id, p FROM prompts', '{\"temperature\": 0, \"max_tokens\": 12}') g "
                "JOIN llm_embed_rows('stories', 'SELECT id, p FROM prompts') e ON e.key = g.key")
        self.c.exec(*setup, rows)
        for s in setup + [rows]:
            self.ref.execute(s)
        assert self.ref_one("SELECT count(t) FROM outs") == 3
        sql = "SELECT k, t, hex(e) FROM outs ORDER BY k"
        self.follower_has("the generated rows", sql, digest(self.ref.execute(sql).fetchall()))

    def test_tokenizer_train(self):
        with open(CORPUS, encoding="utf-8") as f:
            paras = [p.strip() for p in f.read(6000).split("\n\n") if p.strip()]
        create = ["CREATE TABLE docs(id INTEGER PRIMARY KEY, body TEXT)",
                  "INSERT INTO docs(body) VALUES " + ", ".join(f"({q(p)})" for p in paras)]
        self.c.exec(*create)
        for s in create:
            self.ref.execute(s)
        train = "SELECT json_extract(llm_tokenizer_train('bpe', 'SELECT body FROM docs', 320), '$.n_vocab')"
        self.both(train)
        self.both("SELECT llm_tokenize('bpe', 'First Citizen: speak, speak.')")
        sql = "SELECT id, kind, hex(piece), rank FROM llm_vocab WHERE tokenizer = 'bpe' ORDER BY id"
        assert self.ref_one("SELECT count(*) FROM llm_vocab WHERE tokenizer = 'bpe'") > 256
        self.follower_has("the trained vocabulary", sql, digest(self.ref.execute(sql).fetchall()))

    def test_autocommit_write_refused(self):
        # outside a transaction a write would commit in the middle of
        # dqlite's statement, which it neither replicates (a query) nor
        # survives (several commits). Run through Exec: dqlite 1.11 sends a
        # query's error with the first column's name for its message.
        before = self.c.alive()
        try:
            self.c.exec("SELECT llm_model_create('loose', '{\"tokenizer\": \"bpe\"}')")
            raise AssertionError("a write outside a transaction was accepted")
        except ClientError as e:
            msg = str(e)
        for frag in ("llm_model_create", "dqlite-", "BEGIN"):
            assert frag in msg, f"error {msg!r} lacks {frag!r}"
        assert self.c.alive() == before and self.c.wait_leader() == self.leader, "the leader went away"
        assert self.c.tx("SELECT count(*) FROM llm_models WHERE name = 'loose'") == [[0]]

    def test_model_create(self):
        cfg = q('{"tokenizer": "bpe", "n_layer": 2, "n_head": 2, "n_embd": 64, "block_size": 32, "seed": 7}')
        self.both(f"SELECT llm_model_create('small', {cfg})")
        # the reference: one uninterrupted run on the file, then its weights
        self.ref.execute(f"SELECT * FROM llm_train('small', 'SELECT body FROM docs', {q(json.dumps(TRAIN))})").fetchall()
        self.final = digest(self.ref.execute(WEIGHTS.format("small")).fetchall())
        self.final_text = self.ref_one(f"SELECT llm_generate('small', 'First', {q(GREEDY)})")

    def chunk(self):
        """One training statement; the step the leader then reports."""
        self.c.tx(train_sql(CHUNK_S))
        return self.leader_state()

    def test_checkpoints_replicated(self):
        step, h = self.chunk()
        assert 0 < step < STEPS, f"the first statement ended at step {step} of {STEPS}: make it train longer"
        f = self.follower()
        poll("a follower has the checkpoint", lambda: self.state_on(f) == (step, h), 60)
        self.committed = step

    def test_leader_killed_between_statements(self):
        old = self.leader
        t0 = time.monotonic()
        self.c.kill(old)
        self.leader = self.c.wait_leader()
        assert self.leader != old
        assert self.leader_state()[0] == self.committed
        self.c.tx(f"SELECT llm_generate('small', 'First', {q(GREEDY)})")
        print(f"    failover: the new leader answered llm_generate {time.monotonic() - t0:.2f}s after the kill")
        self.killed = old

    def test_restarted_follower_catches_up(self):
        step, h = self.chunk()  # written while it was down
        self.c.start(self.killed)
        poll("the restarted node has the latest checkpoint",
             lambda: self.state_on(self.killed) == (step, h), 60)
        self.committed = step

    def test_leader_killed_during_training(self):
        old = self.leader
        busy = self.c.cpu_seconds(old)
        stmt = self.c.client_popen(["tx", train_sql(4 * CHUNK_S)])
        poll("the leader is training", lambda: self.c.cpu_seconds(old) - busy > 0.3 or stmt.poll() is not None, 30)
        self.c.kill(old)
        out, err = stmt.communicate(timeout=60)
        assert stmt.returncode != 0, f"the statement committed before the kill (output {out!r}): train longer"
        self.leader = self.c.wait_leader()
        assert self.leader_state()[0] == self.committed, "the new leader is not at the last committed checkpoint"
        self.c.start(old)
        self.killed = old

    def test_resumed_run_is_bitwise(self):
        n = 0
        while True:
            step, h = self.chunk()
            n += 1
            if step >= STEPS:
                break
            assert n < 200, f"training stalled at step {step}"
        assert step == STEPS
        assert h == self.final, "the weights differ from the uninterrupted run's"
        text = self.c.tx(f"SELECT llm_generate('small', 'First', {q(GREEDY)})")[0][0]
        assert text == self.final_text, f"generation differs: {text!r} vs {self.final_text!r}"
        for i in self.c.alive():
            poll(f"node {i} has the final weights", lambda: self.state_on(i) == (STEPS, h), 60)

    def test_fine_tune_imported_model(self):
        # several checkpoints of 3 MB (stories260K and its AdamW moments)
        # in each transaction, more than SQLite's page cache: dqlite 1.11
        # fails one that starts on an empty WAL (after a WAL checkpoint)
        # unless the node turns cache spilling off (node.c)
        opts = {"steps": 100000, "batch_size": 4, "seq_len": 64, "threads": 1, "eval_every": 0,
                "checkpoint_every": 5, "time_limit_s": CHUNK_S}
        sql = f"SELECT step FROM llm_train('stories', 'SELECT body FROM docs', {q(json.dumps(opts))})"
        for _ in range(3):
            step = self.c.tx(sql)[-1][0]
        h = digest(self.c.tx(WEIGHTS.format("stories")))
        self.follower_has("the fine-tuned checkpoint", WEIGHTS.format("stories"), h)
        assert step > 0 and self.c.tx("SELECT step FROM llm_models WHERE name = 'stories'") == [[step]]

    def test_clean_stop(self):
        status = self.c.stop()
        assert all(s == 0 for s in status.values()), f"exit status of the nodes: {status}"


def main():
    ext = sys.argv[1]
    preload = os.environ.get("LLM_TEST_PRELOAD")
    if preload and preload not in os.environ.get("LD_PRELOAD", ""):
        # under ASan: this process loads the extension (the reference) and
        # its nodes do; the Go client is static and unaffected
        os.environ["LD_PRELOAD"] = preload
        os.execv(sys.executable, [sys.executable] + sys.argv)
    steps = [n for n in vars(Test) if n.startswith("test_")]
    with tempfile.TemporaryDirectory() as tmp:
        t = None
        try:
            t = Test(ext, tmp)
            for name in steps:
                getattr(t, name)()
                print(f"ok {name[5:]}", flush=True)
            return 0
        except Exception as e:  # noqa: BLE001 (any failure is reported as one)
            name = locals().get("name", "cluster_start")
            print(f"FAIL {name[5:] if name.startswith('test_') else name}: {type(e).__name__}: {e}", flush=True)
            if t:
                for i in range(1, 4):
                    print(f"    node {i} log: " + t.c.log(i)[-600:].replace("\n", "\n    "))
            return 1
        finally:
            if t:
                t.c.stop(clean=False)


if __name__ == "__main__":
    sys.exit(main())
