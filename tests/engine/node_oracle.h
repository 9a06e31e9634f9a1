/*
** node_oracle.h: running a Node oracle script that writes its answers to a
** file, for the unit tests that compare with a reference (test_unicode.c,
** test_hf_pipeline.c). The test fails, never skips, when node or the
** oracle's packages are missing.
*/
#ifndef LLM_NODE_ORACLE_H
#define LLM_NODE_ORACLE_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* Runs `node script PATH` (from the repository root) with PATH a fresh
** temporary file, then opens PATH for reading; path (room for 64 bytes)
** receives it, for the caller to unlink. NULL (with a message, path
** already unlinked) when that fails. */
static FILE *node_oracle_run(const char *script, char path[64]) {
  snprintf(path, 64, "/tmp/llm_oracle_XXXXXX");
  int fd = mkstemp(path);
  if (fd < 0) {
    printf("  cannot make a temporary file for %s\n", script);
    return NULL;
  }
  close(fd);
  char cmd[256];
  snprintf(cmd, sizeof cmd, "node %s %s", script, path);
  int status = system(cmd);
  FILE *f = status == 0 ? fopen(path, "r") : NULL;
  if (!f) {
    printf("  `%s` failed (status %d): is node on PATH, are the packages installed (npm ci in "
           "tests/oracle), and are we in the repository root?\n", cmd, status);
    unlink(path);
  }
  return f;
}

#endif
