/*
** shared_weights.c: one read-only copy of each loaded model per process.
**
** Every connection of the process that runs a model stored in the same
** database file, at the same checkpoint, shares one llm_loaded: its
** weights (decompressed once) and their views. Only the KV caches and
** scratch are per connection. The key is the database's (llm_db_key: its
** VFS's name and its file's, so that equal names on two VFSes, such as
** two dqlite nodes' in one process, stay apart), the model's name and its
** uid (new at every checkpoint, so a retrained model is a new entry while
** readers of the old one finish with it). In-memory and temporary
** databases have no file and share nothing. The registry is a list
** guarded by a static SQLite mutex; the reference count is changed under
** it too, since connections may live on different threads. Loading happens outside the lock: two
** connections that load the same model at once both load, and the second
** to publish drops its copy for the first's.
*/
#include <string.h>

#include "ext.h"

static llm_loaded *registry; /* guarded by lock() */

static sqlite3_mutex *lock(void) {
  sqlite3_mutex *m = sqlite3_mutex_alloc(SQLITE_MUTEX_STATIC_APP1);
  sqlite3_mutex_enter(m);
  return m;
}

static int same(const llm_loaded *w, const char *key, const char *name, sqlite3_int64 uid) {
  return w->uid == uid && !strcmp(w->key, key) && !strcmp(w->name, name);
}

llm_loaded *llm_loaded_find(const char *key, const char *name, sqlite3_int64 uid) {
  if (!key) return NULL;
  sqlite3_mutex *m = lock();
  llm_loaded *w = registry;
  while (w && !same(w, key, name, uid)) w = w->next;
  if (w) w->refs++;
  sqlite3_mutex_leave(m);
  return w;
}

llm_loaded *llm_loaded_publish(llm_loaded *w, const char *key, const char *name, sqlite3_int64 uid) {
  if (!key) return w;
  char *k = sqlite3_mprintf("%s", key), *n = sqlite3_mprintf("%s", name);
  if (!k || !n) { /* unshared, then: still correct */
    sqlite3_free(k);
    sqlite3_free(n);
    return w;
  }
  sqlite3_mutex *m = lock();
  llm_loaded *have = registry;
  while (have && !same(have, key, name, uid)) have = have->next;
  if (have) {
    have->refs++;
  } else {
    w->key = k;
    w->name = n;
    w->uid = uid;
    w->next = registry;
    registry = w;
  }
  sqlite3_mutex_leave(m);
  if (have) {
    sqlite3_free(k);
    sqlite3_free(n);
    llm_loaded_unref(w);
    return have;
  }
  return w;
}

void llm_loaded_ref(llm_loaded *w) {
  sqlite3_mutex *m = lock();
  w->refs++;
  sqlite3_mutex_leave(m);
}

void llm_loaded_unref(llm_loaded *w) {
  if (!w) return;
  sqlite3_mutex *m = lock();
  int last = --w->refs == 0;
  if (last && w->key) { /* out of the registry before anyone can find it */
    llm_loaded **pp = &registry;
    while (*pp != w) pp = &(*pp)->next;
    *pp = w->next;
  }
  sqlite3_mutex_leave(m);
  if (!last) return;
  llm_model_free(w->model);
  llm_net_free(&w->net);
  for (int a = 0; a < w->n_arenas; a++) llm_free(w->arenas[a]);
  llm_free(w->arenas);
  sqlite3_free(w->key);
  sqlite3_free(w->name);
  sqlite3_free(w);
}
