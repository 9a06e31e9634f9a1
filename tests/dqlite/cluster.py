"""cluster.py: a dqlite cluster of node processes on loopback, for the
cluster test (test_cluster.py) and benchmark (bench/dqlite_bench.py).

Cluster(ext, tmp, n) starts n nodes (build/dqlite/node, each with the
extension registered on every connection), node 1 first, then joins the
others as voters through the Go client (build/dqlite/client). Every node
runs in a process group of its own and is killed with it; stop() ends them
all, and so does the exit of this process (atexit, SIGTERM, SIGINT, SIGHUP);
a node also dies with the process that started it (node.c). Nothing waits a
fixed time: every wait polls a condition until a deadline.
"""
import atexit
import json
import os
import signal
import socket
import sqlite3
import subprocess
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NODE = os.path.join(ROOT, "build", "dqlite", "node")
CLIENT = os.path.join(ROOT, "build", "dqlite", "client")
DB = "llm.db"

_live = set()  # every Cluster not stopped yet


def _stop_all(*_):
    for c in list(_live):
        c.stop(clean=False)


def _on_signal(sig, _frame):
    _stop_all()
    raise SystemExit(128 + sig)


atexit.register(_stop_all)
for _s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(_s, _on_signal)


def free_ports(n):
    """n distinct loopback ports that nothing listens on now."""
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


class ClientError(Exception):
    pass


def poll(what, fn, deadline_s):
    """fn() until it returns a true value; that value, or AssertionError
    naming what was awaited when deadline_s passes first."""
    end = time.monotonic() + deadline_s
    last = None
    while True:
        try:
            got = fn()
            if got:
                return got
        except (AssertionError, ClientError, subprocess.SubprocessError, sqlite3.Error, OSError) as e:
            last = e
        if time.monotonic() > end:
            raise AssertionError(f"{what}: not within {deadline_s}s (last: {last})")
        time.sleep(0.02)


class Cluster:
    def __init__(self, ext, tmp, n=3, env=None):
        for path, what in ((NODE, "node"), (CLIENT, "client")):
            if not os.access(path, os.X_OK):
                raise AssertionError(f"no {what} program at {path}: build it with `make test`")
        self.ext = os.path.abspath(ext)
        self.tmp = tmp
        self.env = dict(os.environ, **(env or {}))
        self.addrs = [f"127.0.0.1:{p}" for p in free_ports(n)]
        self.procs = {}  # node id (1-based) -> Popen
        _live.add(self)
        self.start(1)
        self.wait_leader([1])
        for i in range(2, n + 1):
            self.start(i)
            self.client(["add", str(i), self.addrs[i - 1]], servers=[1])

    # ---- processes ----------------------------------------------------------

    def start(self, i):
        """Starts node i (again, after a kill: same id, same data)."""
        d = os.path.join(self.tmp, f"node{i}")
        os.makedirs(d, exist_ok=True)
        log = open(os.path.join(self.tmp, f"node{i}.log"), "ab")
        self.procs[i] = subprocess.Popen([NODE, str(i), self.addrs[i - 1], d, self.ext], stdout=log,
                                         stderr=subprocess.STDOUT, env=self.env, start_new_session=True)
        log.close()

    def kill(self, i):
        """SIGKILL to node i's process group; waits for it to be gone."""
        p = self.procs.pop(i)
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()

    def stop(self, clean=True):
        """Ends every node: SIGTERM and a wait for a clean exit when clean
        (returns {id: exit status}), else SIGKILL."""
        status = {}
        for i, p in list(self.procs.items()):
            try:
                os.killpg(p.pid, signal.SIGTERM if clean else signal.SIGKILL)
            except ProcessLookupError:
                pass
        for i, p in list(self.procs.items()):
            try:
                status[i] = p.wait(timeout=30 if clean else None)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                status[i] = p.wait()
        self.procs.clear()
        _live.discard(self)
        return status

    def alive(self):
        return [i for i, p in self.procs.items() if p.poll() is None]

    def log(self, i):
        with open(os.path.join(self.tmp, f"node{i}.log"), errors="replace") as f:
            return f.read()

    def cpu_seconds(self, i):
        """User + system CPU time node i has used."""
        with open(f"/proc/{self.procs[i].pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    # ---- the client -------------------------------------------------------------

    def client(self, args, servers=None, timeout=60, check=True):
        """Runs the Go client against the given nodes (default: the live
        ones); its stdout, or ClientError with its stderr."""
        servers = servers or self.alive()
        cmd = [CLIENT, "-s", ",".join(self.addrs[i - 1] for i in servers), "-db", DB,
               "-timeout", str(timeout)] + args
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout + 30)
        if r.returncode != 0 and check:
            raise ClientError(r.stderr.strip() or f"client exited with {r.returncode}")
        return r.stdout

    def client_popen(self, args):
        """The client started on the live nodes, not waited for."""
        cmd = [CLIENT, "-s", ",".join(self.addrs[i - 1] for i in self.alive()), "-db", DB] + args
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def tx(self, *stmts, **kw):
        """Each statement in a transaction of its own (BEGIN, it, COMMIT):
        its rows, as lists (BLOBs as hex strings)."""
        return [json.loads(line) for line in self.client(["tx", *stmts], **kw).splitlines()]

    def query(self, *stmts, **kw):
        return [json.loads(line) for line in self.client(["query", *stmts], **kw).splitlines()]

    def exec(self, *stmts, **kw):
        self.client(["exec", *stmts], **kw)

    def wait_leader(self, among=None, deadline_s=30):
        """The id of the node the live nodes (or among) agree leads."""
        among = among or self.alive()
        addr = self.client(["leader"], servers=among, timeout=deadline_s).strip()
        return self.addrs.index(addr) + 1

    def dump(self, i):
        """Node i's copy of the database (leader or follower), as a sqlite3
        connection to the files it sent."""
        d = os.path.join(self.tmp, f"dump{i}-{time.monotonic_ns()}")
        os.makedirs(d)
        self.client(["dump", self.addrs[i - 1], d], servers=[i])
        return sqlite3.connect(os.path.join(d, DB), isolation_level=None)
