/*
** host.c: what the database's host (its VFS) allows the extension.
**
** A database is usually a file of SQLite's default VFS, and then the
** extension may open a second connection to it by name (llm_train does, to
** write its checkpoints), switch it to WAL, and let each of its writes
** commit when it ends. A database on another VFS may belong to a host that
** keeps it elsewhere and decides itself how transactions commit: dqlite,
** Raft-replicated SQLite, holds it in memory, always in WAL mode, and
** replicates a transaction when its client commits it, on the connection
** dqlite opened. There a second connection's commits are never replicated,
** and so is a commit made in the middle of a statement that dqlite does not
** expect to write (its node aborts on the next write). So:
**
**   - on a VFS other than the default one, no second connection and no
**     journal-mode switch (train_vtab.c);
**   - on a VFS that is not one of SQLite's own either, a function that
**     writes needs a transaction opened by the caller (BEGIN ... COMMIT,
**     which dqlite's shell does for every statement): its writes join it
**     and commit, replicated, with it.
**
** Caches shared by the process's connections (shared_weights.c) are keyed by
** the VFS's name and the file's, since names of files on two VFSes can be
** equal (two dqlite nodes in one process both hold "app.db").
*/
#include <string.h>

#include "ext.h"

/* The VFS of the main database. */
static sqlite3_vfs *main_vfs(sqlite3 *db) {
  sqlite3_vfs *vfs = NULL;
  if (sqlite3_file_control(db, "main", SQLITE_FCNTL_VFS_POINTER, &vfs) != SQLITE_OK) return NULL;
  return vfs;
}

const char *llm_db_default_vfs(sqlite3 *db) {
  sqlite3_vfs *vfs = main_vfs(db);
  return vfs && vfs == sqlite3_vfs_find(NULL) ? vfs->zName : NULL;
}

/* SQLite's own VFSes (the unix and win32 families, memdb behind
** sqlite3_deserialize) commit every transaction as it ends. */
static int sqlite_own_vfs(const sqlite3_vfs *vfs) {
  return vfs && (!strncmp(vfs->zName, "unix", 4) || !strncmp(vfs->zName, "win32", 5) || !strcmp(vfs->zName, "memdb"));
}

int llm_check_host_commit(llm_conn *c, llm_err *err) {
  sqlite3_vfs *vfs = main_vfs(c->db);
  if (!vfs || !sqlite3_get_autocommit(c->db) || vfs == sqlite3_vfs_find(NULL) || sqlite_own_vfs(vfs))
    return LLM_OK;
  return llm_fail(err, LLM_EINVAL,
                  "this database is on the VFS '%s', not one of SQLite's, whose host decides how "
                  "writes commit (dqlite replicates them at COMMIT): run this statement inside a "
                  "transaction, BEGIN; ...; COMMIT",
                  vfs->zName);
}

char *llm_db_key(sqlite3 *db) {
  const char *file = sqlite3_db_filename(db, "main");
  sqlite3_vfs *vfs = main_vfs(db);
  if (!file || !*file || !vfs) return NULL;
  return sqlite3_mprintf("%s:%s", vfs->zName, file);
}
