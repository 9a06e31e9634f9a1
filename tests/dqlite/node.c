/*
** node.c: a dqlite node with sqlite-llm on every connection, for the
** cluster test and benchmark (tests/dqlite/cluster.py).
**
**   node ID ADDRESS DATA_DIR EXTENSION
**
** Loads EXTENSION (llm.so) with dlopen and registers its entry point
** sqlite3_llm_init with sqlite3_auto_extension, so every connection dqlite
** opens (one per client connection on the leader, one per database on each
** follower) has the llm_* functions; then runs a dqlite node with that ID
** on ADDRESS (host:port), keeping its Raft log in DATA_DIR. Node 1 with an
** empty DATA_DIR starts a new cluster; a client joins the others to it
** (tests/dqlite/client). It runs until SIGTERM or SIGINT, then stops the
** node cleanly; it also dies with the process that started it, so a test
** killed before it could stop its nodes leaves none behind. Besides the
** extension, what an application embedding dqlite 1.11 needs is here:
** SIGPIPE ignored, cache spilling off (no_cache_spill), and SQLite's error
** log somewhere (log_sqlite).
*/
#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <dqlite.h>
#include <sqlite3.h>

typedef int (*entry_fn)(sqlite3 *, char **, const sqlite3_api_routines *);

/* SQLite's error log, to the node's stderr: dqlite 1.11 sends a client the
** message of an error raised while a query steps garbled (a column's name),
** so the node's log is where it can be read. */
static void log_sqlite(void *unused, int code, const char *msg) {
  (void)unused;
  fprintf(stderr, "sqlite (%d): %s\n", code, msg);
}

/* Registered for every connection before the extension: keeps a large
** transaction's pages in memory until it commits. dqlite 1.11's VFS fails
** to read back pages SQLite spills to the WAL while it is empty (right
** after a checkpoint): the transaction then ends in "disk I/O error"
** (SQLITE_IOERR_SHORT_READ), as a model's checkpoint of a few MB did.
** Fixed in dqlite 1.13. */
static int no_cache_spill(sqlite3 *db, char **err, const sqlite3_api_routines *api) {
  (void)api;
  return sqlite3_exec(db, "PRAGMA cache_spill=OFF", NULL, NULL, err);
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: %s ID ADDRESS DATA_DIR EXTENSION\n", argv[0]);
    return 2;
  }
  char *end;
  unsigned long long id = strtoull(argv[1], &end, 10);
  if (*end || id == 0) {
    fprintf(stderr, "node: ID must be a positive integer, got '%s'\n", argv[1]);
    return 2;
  }
  /* SIGKILL when the parent goes; it may have gone already */
  pid_t parent = getppid();
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) return 1;
  sqlite3_config(SQLITE_CONFIG_LOG, log_sqlite, NULL);
  void *lib = dlopen(argv[4], RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    fprintf(stderr, "node: cannot load the extension: %s\n", dlerror());
    return 1;
  }
  entry_fn init = (entry_fn)dlsym(lib, "sqlite3_llm_init");
  if (!init) {
    fprintf(stderr, "node: %s has no sqlite3_llm_init: %s\n", argv[4], dlerror());
    return 1;
  }
  int rc = sqlite3_auto_extension((void (*)(void))no_cache_spill);
  if (rc == SQLITE_OK) rc = sqlite3_auto_extension((void (*)(void))init);
  if (rc != SQLITE_OK) {
    fprintf(stderr, "node: sqlite3_auto_extension: %s\n", sqlite3_errstr(rc));
    return 1;
  }
  /* A peer that dies closes its sockets, and a write to one raises
  ** SIGPIPE, whose default is to end the process: dqlite leaves it to the
  ** application (without this, killing the leader kills a follower). */
  signal(SIGPIPE, SIG_IGN);
  /* wait for the stop signal with sigwait: blocked before the node's
  ** threads start, so they inherit the mask and none of them takes it */
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, NULL);

  dqlite_node *node;
  if ((rc = dqlite_node_create(id, argv[2], argv[3], &node)) != 0) {
    fprintf(stderr, "node %llu: dqlite_node_create failed (%d)\n", id, rc);
    return 1;
  }
  if (dqlite_node_set_bind_address(node, argv[2]) || dqlite_node_start(node)) {
    fprintf(stderr, "node %llu: cannot start on %s: %s\n", id, argv[2], dqlite_node_errmsg(node));
    dqlite_node_destroy(node);
    return 1;
  }
  fprintf(stderr, "node %llu: serving on %s\n", id, argv[2]);
  int sig;
  sigwait(&stop, &sig);
  fprintf(stderr, "node %llu: stopping\n", id);
  rc = dqlite_node_stop(node);
  dqlite_node_destroy(node);
  return rc ? 1 : 0;
}
