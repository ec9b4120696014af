# Makefile for the durable extension (PGXS)

EXTENSION  = durable
MODULE_big = durable
OBJS       = $(patsubst %.c,%.o,$(wildcard src/*.c src/*/*.c))
DATA       = $(wildcard sql/durable--*.sql)
PGFILEDESC = "durable - durable executions inside PostgreSQL"

PG_CPPFLAGS = -I$(srcdir)/src $(shell curl-config --cflags)
PG_CFLAGS   = -Wall -Wextra -Werror -Wno-unused-parameter -Wno-sign-compare \
              -Wno-missing-field-initializers -Wno-cast-function-type \
              -Wno-clobbered
SHLIB_LINK  = $(shell curl-config --libs) -lcrypto

REGRESS      = start steps replay control cron observe waits children http secrets versioning upgrade hostile privileges graph bi roles sessions quotas isolation_http scheduling monitoring defects activity fanout secrets_at_rest any tasks limiters queues
REGRESS_OPTS = --temp-instance=./tmp_check_regress --temp-config=$(srcdir)/test/regress.conf

TAP_TESTS   = 1
PROVE_TESTS = $(wildcard test/t/*.pl)
PROVE_FLAGS = -I $(srcdir)/test/perl

EXTRA_CLEAN = tmp_check_regress results regression.diffs regression.out \
              src/*.o src/*.bc src/*/*.o src/*/*.bc

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PGXS tracks no header dependencies: every object depends on the headers
$(OBJS): $(wildcard src/*.h src/*/*.h)
