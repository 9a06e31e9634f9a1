#!/bin/sh
# sql2c.sh FILE: prints FILE as a C string literal named LLM_SCHEMA_SQL, so
# the schema has one source (sql/schema.sql) that the extension compiles in.
echo "/* Generated from $1 by tools/sql2c.sh: edit the .sql file, not this. */"
echo "static const char LLM_SCHEMA_SQL[] ="
sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/  "/' -e 's/$/\\n"/' "$1"
echo "  ;"
