# checkpoint_perms: build with PGXS.  `make`, `make install`; the tests run
# through test/run-tests.sh, which starts PostgreSQL and the mock API first.

EXTENSION = checkpoint_perms
EXTVERSION = $(shell sed -n "s/^default_version = '\(.*\)'/\1/p" checkpoint_perms.control)

MODULE_big = checkpoint_perms
OBJS = src/checkpoint_perms.o src/paths.o src/joinpath.o src/scan.o src/join.o src/modify.o src/revoke.o src/grant.o src/analyze.o src/import.o \
	src/statement.o src/strset.o src/journal.o src/revocation.o src/queue.o src/commit.o src/snapshot.o src/snapshot_read.o \
	src/option.o src/address.o src/ids.o src/columns.o src/request.o \
	src/pushdown.o src/plan.o src/list.o src/api.o src/http.o src/reply.o src/connection.o src/stats.o src/version.o
# the full script of every version (CREATE EXTENSION ... VERSION '1.0' still
# works) and the update scripts between them (ALTER EXTENSION ... UPDATE)
DATA = $(wildcard src/checkpoint_perms--*.sql)

PG_CPPFLAGS = -DCHECKPOINT_PERMS_VERSION='"$(EXTVERSION)"'
# -lssl: only to ask OpenSSL whether a connection resumed its TLS session
SHLIB_LINK = -lcurl -lcjson -lssl

REGRESS = $(patsubst sql/%.sql,%,$(sort $(wildcard sql/*.sql)))
REGRESS_OPTS = --load-extension=$(EXTENSION)

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# every object depends on the headers (PGXS does not track them)
$(OBJS): $(wildcard src/*.h)
# and these on the version in the control file (CHECKPOINT_PERMS_VERSION)
src/http.o src/version.o: checkpoint_perms.control
