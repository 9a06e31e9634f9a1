/*
** node.c: a dqlite node with sqlite-llm on every connection, for the
** cluster tests and benchmark (tests/dqlite/cluster.sh).
**
**   node ID ADDRESS DATA_DIR EXTENSION
**
** Loads EXTENSION (llm.so) with dlopen, registers its entry point
** sqlite3_llm_init with sqlite3_auto_extension, so every connection dqlite
** opens (one per client connection on the leader, one per database on
** each follower) has the llm_* functions, then runs a dqlite node with that
** ID on ADDRESS (host:port) keeping its Raft log in DATA_DIR. Node 1 with
** an empty DATA_DIR starts a new cluster; the others are joined to it by a
** client (tests/dqlite/client). It runs until SIGTERM or SIGINT, then stops
** the node cleanly, or with the process that started it (a test harness
** killed before it could stop its nodes leaves none behind). The same
** thing in an application is three calls: sqlite3_auto_extension,
** dqlite_node_create, dqlite_node_start.
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
  int rc = sqlite3_auto_extension((void (*)(void))init);
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
