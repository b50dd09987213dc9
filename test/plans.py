#!/usr/bin/python3
"""Plan independence: the same query gives the same answer under every plan.

A seeded generator (standard library only) writes a few hundred queries over foreign tables on the
mock (f_one: one checkpoint, 300 permissions over 12 projects, created_at ties in fours; f_big and
f_char: the same list with created_at as bigint, and as timestamp with a char(12) project_id;
f_multi: a table across three checkpoints), runs each one against the foreign table under several
planner settings, pushed and defeated, and against a local copy of the same list (CREATE TABLE
l_x AS SELECT * FROM f_x, checked against the ids the mock holds), then compares the answers.
The local tables of the joins hold valid ids, duplicates, NULLs, ids no permission has and values
that cannot be ids (outer_p, outer_s, outer_b only those; outer_c, outer_cs, outer_cb for checkpoints).

    pushed     p.project_id = x, p.created_at >= x, ORDER BY p.created_at: what the API can do
    defeated   p.project_id || '' = x, p.created_at + interval '0 s' >= x: filtered locally

Settings (each a plan shape to force; joins run under all of them, single-table queries under
default and one more drawn from the seed):

    default      the planner's choice
    nestloop     enable_hashjoin, enable_mergejoin, checkpoint_perms.batch_joins off
    nestloop-p   and enable_material, enable_memoize off (a parameterized scan per outer row)
    hash         enable_nestloop, enable_mergejoin off, and batch_joins off but on f_multi
    merge        enable_nestloop, enable_hashjoin off, likewise
    batched      enable_nestloop, enable_hashjoin, enable_mergejoin off: the batched join
                 where one applies

A join on checkpoint of f_multi cannot be a hash or merge join (the table cannot be read whole):
under hash and merge its batched join runs instead, so that every setting answers every query.

Queries with parameters run as PREPARE / EXECUTE under plan_cache_mode force_generic_plan and
force_custom_plan.

What is compared depends on what is deterministic (the API orders by created_at, with ties):

    set          the multiset of rows
    ordered      the rows in order (ORDER BY created_at, id: a total order)
    window       ORDER BY created_at alone: the sequence of created_at (column 1) exactly, and the
                 multiset of rows less those whose created_at is at a cut edge of the window
                 (LIMIT's last value, OFFSET's first; FETCH ... WITH TIES cuts no last value)
    count        LIMIT without ORDER BY: the number of rows, and each row among the answer of the
                 same query without LIMIT on the local copy

An error on the foreign side that the local copy does not raise is a mismatch.  A pushed query whose
conditions on project_id or checkpoint hold only values that cannot be ids (empty, white space at
either end, a control character, too long, NULL, an empty array) must send no request: the mock's
request log is read before and after.  Last, a few statements that grant through a CTE on a
checkpoint of their own check that a LIMIT counts the rows the scan returns.

Usage: plans.py --psql PSQL --db DB --mock-url URL --mock-key KEY --mock-log LOG
                [--seed 1] [--queries 300] [--dir DIR] [--show 30]
Exit status 1 on any mismatch.
"""

import argparse
import collections
import os
import random
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mock_openai import BASE_CREATED_AT, perm_id  # noqa: E402  (ids the snapshot must hold)

CK_ONE = "ft:plans:one:seed-300:proj-12:tie-4"
ONE = (300, 12, 4)                      # permissions, projects, tie
CK_MULTI = {"ft:plans:a:seed-60:proj-5:tie-3": (60, 5, 3),
            "ft:plans:b:seed-40:proj-8": (40, 8, 1),
            "ft:plans:c:seed-25:proj-3:tie-2": (25, 3, 2)}
CK_A, CK_B, CK_C = CK_MULTI
CK_NONE = "ft:plans:none"               # a checkpoint the API knows, with no permissions

SETTINGS = {
    "default": [],
    "nestloop": ["enable_hashjoin = off", "enable_mergejoin = off"],
    "nestloop-p": ["enable_hashjoin = off", "enable_mergejoin = off", "enable_material = off",
                   "enable_memoize = off"],
    "hash": ["enable_nestloop = off", "enable_mergejoin = off"],
    "merge": ["enable_nestloop = off", "enable_hashjoin = off"],
    "batched": ["enable_nestloop = off", "enable_hashjoin = off", "enable_mergejoin = off"],
}


def settings_for(setting, sql):
    """The SET lines of a setting: batched joins off where another join shape is forced, except
    for a hash or merge join over f_multi, which only a batched join can read then."""
    lines = list(SETTINGS[setting])
    if setting in ("nestloop", "nestloop-p") or (setting in ("hash", "merge") and "f_multi" not in sql):
        lines.append("checkpoint_perms.batch_joins = off")
    return lines
FORMS = {
    "pushed": {"@P@": "p.project_id", "@C@": "p.created_at", "@CB@": "p.created_at",
               "@MP@": "m.project_id", "@MC@": "m.created_at"},
    "defeated": {"@P@": "(p.project_id || '')", "@C@": "(p.created_at + interval '0 s')",
                 "@CB@": "(p.created_at + 0)",
                 "@MP@": "(m.project_id || '')", "@MC@": "(m.created_at + interval '0 s')"},
}
TABLES = {"foreign": {"@T@": "f_one", "@M@": "f_multi", "@B@": "f_big", "@K@": "f_char"},
          "local": {"@T@": "l_one", "@M@": "l_multi", "@B@": "l_big", "@K@": "l_char"}}


def lit(s):
    return "'" + s.replace("'", "''") + "'"


# Values for project_id conditions: (SQL expression, kind); kind "bad" cannot be an id, "null" is
# NULL, "missing" is an id no permission has.
P_VALID = [(lit("proj_%04d" % i), "valid") for i in range(1, 13)]
P_MISSING = [(lit("proj_0099"), "missing"), (lit("proj_13"), "missing"), (lit("PROJ_0001"), "missing"),
             ("repeat('q', 256)", "missing"), (lit("proj_\u00e9"), "missing")]
P_BAD = [(lit("proj_0002 "), "bad"), (lit(" proj_0004"), "bad"), ("''", "bad"), (r"E'proj\t1'", "bad"),
         (r"E'proj_0003\n'", "bad"), ("repeat('p', 300)", "bad"), ("repeat('q', 257)", "bad"),
         (r"E'proj_0005\x7f'", "bad"), (r"E'\tproj_0006'", "bad"), ("'  '", "bad")]
P_NULL = [("NULL", "null")]
C_VALID = [(lit(c), "valid") for c in CK_MULTI]
C_MISSING = [(lit(CK_NONE), "missing")]
C_BAD = [("''", "bad"), (lit(" " + CK_A), "bad"), (lit(CK_B + " "), "bad"), (r"E'ft:plans:b\t'", "bad"),
         ("repeat('c', 600)", "bad"), ("E'" + CK_C + r"\n'", "bad")]

OUTER_P = [lit("proj_0001"), lit("proj_0003"), lit("proj_0003"), "NULL", lit("proj_0002 "),
           lit(" proj_0004"), "''", r"E'proj\t1'", "repeat('p', 300)", lit("proj_0099"),
           lit("proj_0012"), lit("proj_9999"), lit("proj_0007"), "NULL", lit("proj_0001")]
OUTER_S = [lit("proj_0002"), lit("proj_0005"), lit("proj_0011")]
OUTER_B = ["''", lit("proj_0002 "), "NULL", r"E'proj\t1'", "repeat('p', 300)", lit(" proj_0004")]
OUTER_C = [lit(CK_A), lit(CK_B), lit(CK_A), "NULL", "''", lit(" " + CK_A), lit(CK_A + " "),
           r"E'ft:plans:b\t'", "repeat('c', 600)", lit(CK_NONE), lit(CK_C)]
OUTER_CS = [lit(CK_B), lit(CK_C)]
OUTER_CB = ["''", "NULL", lit(CK_A + " "), "repeat('c', 600)"]
OUTERS_P = {"outer_p": False, "outer_s": False, "outer_b": True}     # True: only impossible values
OUTERS_C = {"outer_c": False, "outer_cs": False, "outer_cb": True}


def setup_sql(mock_url, mock_key, mock_log, write_ck):
    def rows(vals):
        return ", ".join("(%d, %s)" % (i + 1, v) for i, v in enumerate(vals))
    multi = ", ".join(lit(c) for c in CK_MULTI)
    return r"""
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
CREATE EXTENSION checkpoint_perms;
CREATE SERVER plans FOREIGN DATA WRAPPER checkpoint_perms OPTIONS (base_url %(url)s);
CREATE USER MAPPING FOR CURRENT_USER SERVER plans OPTIONS (api_key %(key)s);
-- 300 permissions over 12 projects, created_at ties in fours, 8 pages
CREATE FOREIGN TABLE f_one (id text, created_at timestamptz, project_id text, object text)
  SERVER plans OPTIONS (checkpoint %(one)s, page_size '40');
-- across checkpoints: every query names its checkpoints
CREATE FOREIGN TABLE f_multi (checkpoint text, id text, created_at timestamptz, project_id text, object text)
  SERVER plans OPTIONS (page_size '25');
CREATE FOREIGN TABLE f_write (id text, created_at timestamptz, project_id text, object text)
  SERVER plans OPTIONS (checkpoint %(write)s);
-- the same list with created_at as bigint, and as timestamp with a char(12) project_id
-- (a char(n) column is compared without its padding: nothing about it is sent)
CREATE FOREIGN TABLE f_big (id text, created_at bigint, project_id varchar(40))
  SERVER plans OPTIONS (checkpoint %(one)s, page_size '40');
CREATE FOREIGN TABLE f_char (id text, created_at timestamp, project_id char(12))
  SERVER plans OPTIONS (checkpoint %(one)s, page_size '40');
CREATE TABLE l_one AS SELECT * FROM f_one;
CREATE TABLE l_big AS SELECT * FROM f_big;
CREATE TABLE l_char AS SELECT * FROM f_char;
CREATE TABLE l_multi AS SELECT * FROM f_multi WHERE checkpoint IN (%(multi)s);
CREATE TABLE outer_p (k int, v text);
INSERT INTO outer_p VALUES %(op)s;
CREATE TABLE outer_s (k int, v text);
INSERT INTO outer_s VALUES %(os)s;
CREATE TABLE outer_b (k int, v text);
INSERT INTO outer_b VALUES %(ob)s;
CREATE TABLE outer_c (k int, c text);
INSERT INTO outer_c VALUES %(oc)s;
CREATE TABLE outer_cs (k int, c text);
INSERT INTO outer_cs VALUES %(ocs)s;
CREATE TABLE outer_cb (k int, c text);
INSERT INTO outer_cb VALUES %(ocb)s;
ANALYZE l_one, l_big, l_char, l_multi, outer_p, outer_s, outer_b, outer_c, outer_cs, outer_cb;
-- the mock's request log: its size now, and the requests since a size
CREATE FUNCTION plans_log_size() RETURNS bigint LANGUAGE sql
  AS $$ SELECT (pg_stat_file(%(log)s)).size $$;
CREATE FUNCTION plans_requests_since(mark bigint) RETURNS bigint LANGUAGE sql
  AS $$ SELECT count(*) FROM regexp_split_to_table(
          pg_read_file(%(log)s, mark, plans_log_size() - mark), E'\n') l WHERE l <> '' $$;
\pset format unaligned
\pset tuples_only on
-- the copies of the typed tables hold the rows of l_one
SELECT count(*) FILTER (WHERE b.created_at = extract(epoch FROM o.created_at)
    AND b.project_id = o.project_id AND c.created_at = o.created_at AT TIME ZONE 'UTC'
    AND c.project_id = o.project_id::char(12)) AS same
  FROM l_one o JOIN l_big b USING (id) JOIN l_char c USING (id) \gset
\echo @@SNAP
SELECT 'typed', :'same', (SELECT count(*) FROM l_big), (SELECT count(*) FROM l_char)::text,
  (SELECT count(*) FROM l_one)::text
UNION ALL SELECT 'one', id, extract(epoch FROM created_at)::bigint, project_id, object FROM l_one
UNION ALL SELECT checkpoint, id, extract(epoch FROM created_at)::bigint, project_id, object FROM l_multi;
""" % {"url": lit(mock_url), "key": lit(mock_key), "one": lit(CK_ONE), "write": lit(write_ck),
       "multi": multi, "log": lit(mock_log), "op": rows(OUTER_P), "os": rows(OUTER_S),
       "ob": rows(OUTER_B), "oc": rows(OUTER_C), "ocs": rows(OUTER_CS), "ocb": rows(OUTER_CB)}


def expected_snapshot():
    """The rows the mock holds, as the snapshot query prints them."""
    out = []
    for name, ck, (n, k, tie) in [("one", CK_ONE, ONE)] + [(c, c, v) for c, v in CK_MULTI.items()]:
        for s in range(n):
            out.append("|".join([name, perm_id(ck, s), str(BASE_CREATED_AT + s // tie),
                                 "proj_%04d" % (s % k + 1), "checkpoint.permission"]))
    return sorted(out)


class Query:
    __slots__ = ("n", "family", "sql", "mode", "cuts", "limit", "params", "nr", "nr_outer", "joins",
                 "local_sql")

    def __init__(self, family, sql, mode="set", cuts=(False, False), limit=None, params=None, nr=False,
                 nr_outer=False, joins=False):
        self.n = None
        self.family = family
        self.sql = sql              # with @T@ @M@ @P@ @C@ @MP@ @MC@ and, for count, @LIMIT@
        self.mode = mode
        self.cuts = cuts
        self.limit = limit          # (n, offset) for mode count
        self.params = params        # ([types], [args]) for PREPARE / EXECUTE
        self.nr = nr                # pushed: must send no request
        self.nr_outer = nr_outer    # pushed: no request when every scan is parameterized
        self.joins = joins
        self.local_sql = None


class Gen:
    """The queries, drawn from one seed."""

    def __init__(self, seed):
        self.rng = random.Random("plans:%d" % seed)

    def choice(self, seq):
        return self.rng.choice(seq)

    def pval(self, weights=(50, 15, 30, 5)):
        pool = self.rng.choices([P_VALID, P_MISSING, P_BAD, P_NULL], weights)[0]
        return self.choice(pool)

    def cval(self, weights=(55, 10, 30, 5)):
        pool = self.rng.choices([C_VALID, C_MISSING, C_BAD, P_NULL], weights)[0]
        return self.choice(pool)

    def values(self, draw, lo, hi):
        vals = [draw() for _ in range(self.rng.randint(lo, hi))]
        if self.rng.random() < 0.3:
            vals.append(vals[0])            # a duplicate
        return vals

    # -- conditions on one table; each returns (sql, impossible): impossible when the condition on an
    #    id column holds no value that can be an id, so the pushed query needs no request
    def p_cond(self, col="@P@", draw=None, kinds=("eq", "in", "in_long", "any", "any_sub", "any_empty")):
        draw = draw or self.pval
        kind = self.choice(kinds)
        if kind == "eq":
            v, k = draw()
            return (("%s = %s" % (col, v)) if self.rng.random() < 0.8 else ("%s = %s" % (v, col))), \
                k in ("bad", "null")
        if kind in ("in", "in_long"):
            vals = self.values(draw, 1, 4) if kind == "in" else self.values(draw, 18, 40)
            imp = all(k in ("bad", "null") for _, k in vals)
            return "%s IN (%s)" % (col, ", ".join(v for v, _ in vals)), imp
        if kind == "any":
            vals = self.values(draw, 1, 5)
            imp = all(k in ("bad", "null") for _, k in vals)
            return "%s = ANY (ARRAY[%s]::text[])" % (col, ", ".join(v for v, _ in vals)), imp
        if kind == "any_sub":
            o = self.choice(list(OUTERS_P) if col in ("@P@", "@MP@") else list(OUTERS_C))
            c = "v" if o in OUTERS_P else "c"
            imp = OUTERS_P.get(o, OUTERS_C.get(o))
            return "%s = ANY (ARRAY(SELECT %s FROM %s))" % (col, c, o), imp
        arr = self.choice(["'{}'::text[]", "NULL::text[]", "ARRAY[NULL]::text[]", "'{\"\"}'::text[]"])
        return "%s = ANY (%s)" % (col, arr), True

    def ts(self, span):
        off = self.rng.randint(-2, span + 2)
        return "to_timestamp(%d)" % (BASE_CREATED_AT + off)

    def c_cond(self, col="@C@", span=75):
        kind = self.choice([">=", ">", "<", "<=", "both", "both", "stable"])
        if kind == "both":
            a, b = sorted(self.rng.sample(range(-2, span + 3), 2))
            lo, hi = self.choice([">=", ">"]), self.choice(["<", "<="])
            return "%s %s to_timestamp(%d) AND %s %s to_timestamp(%d)" % (
                col, lo, BASE_CREATED_AT + a, col, hi, BASE_CREATED_AT + b)
        if kind == "stable":
            return self.choice(["%s < now()", "%s >= now() - interval '100 years'", "%s >= now()"]) % col
        return "%s %s %s" % (col, kind, self.ts(span))

    def where(self, allow_none=True, span=75):
        """A WHERE clause for f_one: project and/or created_at conditions."""
        parts, imp = [], False
        r = self.rng.random()
        if r < 0.65 or not allow_none:
            s, i = self.p_cond()
            parts.append(s)
            imp = imp or i
        if self.rng.random() < 0.35 or (not parts and not allow_none):
            parts.append(self.c_cond(span=span))
        if self.rng.random() < 0.08:
            parts.append("p.object = 'checkpoint.permission'")
        return (" WHERE " + " AND ".join(parts)) if parts else "", imp

    def cols(self):
        return self.choice(["p.id, p.project_id, p.created_at", "p.*", "p.id", "p.project_id, p.created_at"])

    def window(self, q_sql, key, tiebreak, imp, family, order_dir=None):
        """ORDER BY key [, tiebreak] [LIMIT / OFFSET / FETCH ... WITH TIES]."""
        d = order_dir or self.choice(["ASC", "DESC", ""])
        total = self.rng.random() < 0.4
        order = " ORDER BY %s %s" % (key, d) + ((", " + tiebreak) if total else "")
        kind = self.choice(["none", "limit", "limit", "offset", "limit_offset", "ties", "ties_offset",
                            "fetch"])
        n, m = self.rng.randint(0, 30), self.rng.randint(1, 60)
        tail, start_cut, end_cut = "", False, False
        if kind == "limit":
            tail, end_cut = " LIMIT %d" % n, True
        elif kind == "offset":
            tail, start_cut = " OFFSET %d" % m, True
        elif kind == "limit_offset":
            tail, start_cut, end_cut = " LIMIT %d OFFSET %d" % (n, m), True, True
        elif kind == "ties":
            tail = " FETCH FIRST %d ROWS WITH TIES" % max(n, 1)
        elif kind == "ties_offset":
            tail, start_cut = " OFFSET %d ROWS FETCH FIRST %d ROWS WITH TIES" % (m, max(n, 1)), True
        elif kind == "fetch":
            tail, end_cut = " FETCH FIRST %d ROWS ONLY" % n, True
        mode = "ordered" if total else "window"
        return Query(family, q_sql + order + tail, mode, (start_cut, end_cut), nr=imp)

    # -- families on f_one
    def f_filter(self):
        w, imp = self.where(allow_none=False)
        if self.rng.random() < 0.15:
            return Query("filter", "SELECT @P@ AS project_id, count(*) FROM @T@ p%s GROUP BY 1" % w, nr=imp)
        if self.rng.random() < 0.1:
            return Query("filter", "SELECT count(*), min(p.created_at), max(p.created_at) FROM @T@ p%s" % w,
                         nr=imp)
        return Query("filter", "SELECT %s FROM @T@ p%s" % (self.cols(), w), nr=imp)

    def f_not_in(self):
        vals = self.values(self.pval, 1, 4)
        return Query("filter", "SELECT p.id FROM @T@ p WHERE @P@ NOT IN (%s)" % ", ".join(v for v, _ in vals))

    def f_order(self):
        w, imp = self.where()
        cols = self.choice(["p.created_at, p.id, p.project_id", "p.created_at, p.project_id", "p.created_at"])
        return self.window("SELECT %s FROM @T@ p%s" % (cols, w), "@C@", "p.id", imp, "order")

    def f_limit(self):
        w, imp = self.where()
        n, m = self.rng.randint(0, 40), self.choice([0, 0, 0, 3, 20])
        lim = " LIMIT %d" % n + (" OFFSET %d" % m if m else "")
        return Query("limit", "SELECT p.id, p.project_id FROM @T@ p%s@LIMIT@" % w, "count",
                     limit=(n, m, lim), nr=imp)

    def f_prepared(self):
        kind = self.choice(["eq", "eq", "in", "any", "bound", "both", "limit", "order_limit"])
        if kind == "eq":
            v, k = self.pval()
            return Query("prepared", "SELECT p.id, p.created_at FROM @T@ p WHERE @P@ = $1",
                         params=(["text"], [v]), nr=k in ("bad", "null"))
        if kind == "in":
            a, b = self.pval(), self.pval()
            return Query("prepared", "SELECT p.id FROM @T@ p WHERE @P@ IN ($1, $2)",
                         params=(["text", "text"], [a[0], b[0]]),
                         nr=all(k in ("bad", "null") for _, k in (a, b)))
        if kind == "any":
            r = self.rng.random()
            if r < 0.3:
                arr, imp = self.choice(["'{}'", "NULL", "ARRAY[NULL]::text[]"]), True
            else:
                vals = self.values(self.pval, 1, 6)
                arr = "ARRAY[%s]::text[]" % ", ".join(v for v, _ in vals)
                imp = all(k in ("bad", "null") for _, k in vals)
            return Query("prepared", "SELECT p.id, p.project_id FROM @T@ p WHERE @P@ = ANY ($1)",
                         params=(["text[]"], [arr]), nr=imp)
        if kind == "bound":
            op = self.choice([">=", ">", "<", "<="])
            return Query("prepared", "SELECT p.id FROM @T@ p WHERE @C@ %s $1" % op,
                         params=(["timestamptz"], [self.ts(75)]))
        if kind == "both":
            v, k = self.pval()
            return Query("prepared", "SELECT p.id FROM @T@ p WHERE @P@ = $1 AND @C@ >= $2 AND @C@ < $3",
                         params=(["text", "timestamptz", "timestamptz"], [v, self.ts(75), self.ts(75)]),
                         nr=k in ("bad", "null"))
        if kind == "limit":
            v, k = self.pval((70, 10, 15, 5))
            n = self.rng.randint(0, 30)
            return Query("prepared", "SELECT p.id, p.project_id FROM @T@ p WHERE @P@ = $1@LIMIT@", "count",
                         limit=(n, 0, " LIMIT $2"), params=(["text", "bigint"], [v, str(n)]),
                         nr=k in ("bad", "null"))
        v, k = self.pval((70, 10, 15, 5))
        n = self.rng.randint(1, 12)
        d = self.choice(["ASC", "DESC"])
        return Query("prepared", "SELECT p.created_at, p.project_id FROM @T@ p WHERE @P@ = $1 "
                     "ORDER BY @C@ %s LIMIT $2" % d, "window", (False, True),
                     params=(["text", "bigint"], [v, str(n)]), nr=k in ("bad", "null"))

    # -- the same list as bigint created_at (bounds of integers) or char(12) project_id and timestamp
    def f_typed(self):
        big = self.rng.random() < 0.5
        table, col = ("@B@", "@CB@") if big else ("@K@", "@C@")
        parts, imp = [], False
        if self.rng.random() < 0.6:
            s, i = self.p_cond(kinds=("eq", "in", "any"))
            parts.append(s)
            imp = big and i             # a char(n) condition is not sent, so it sends its list
        if self.rng.random() < 0.6 or not parts:
            op = self.choice([">=", ">", "<", "<="])
            off = self.rng.randint(-2, 77)
            v = (str(BASE_CREATED_AT + off) if big else
                 "(to_timestamp(%d) AT TIME ZONE 'UTC')" % (BASE_CREATED_AT + off))
            parts.append("%s %s %s" % (col, op, v))
        w = " WHERE " + " AND ".join(parts)
        if self.rng.random() < 0.4:
            q = self.window("SELECT p.created_at, p.id, p.project_id FROM %s p%s" % (table, w), col, "p.id",
                            imp, "typed")
        else:
            q = Query("typed", "SELECT p.id, p.project_id, p.created_at FROM %s p%s" % (table, w), nr=imp)
        return q

    # -- joins of f_one with the local tables
    def outer_p(self):
        o = self.rng.choices(list(OUTERS_P), (50, 30, 20))[0]
        return o, OUTERS_P[o]

    def extra_p(self):
        r = self.rng.random()
        if r < 0.2:
            return " AND " + self.c_cond()
        if r < 0.3:
            return " AND o.k < %d" % self.rng.randint(2, 12)
        return ""

    def j_inner(self):
        o, bad = self.outer_p()
        ex = self.extra_p()
        form = self.choice(["JOIN @T@ p ON @P@ = o.v", "JOIN @T@ p ON o.v = @P@", ", @T@ p WHERE @P@ = o.v"])
        sql = "SELECT o.k, p.id, p.created_at FROM %s o %s%s" % (o, form, ex)
        if self.rng.random() < 0.15:
            sql = "SELECT o.k, count(p.id) FROM %s o JOIN @T@ p ON @P@ = o.v%s GROUP BY o.k" % (o, ex)
        if self.rng.random() < 0.1:
            n = self.rng.randint(1, 20)
            return Query("join", "SELECT o.k, p.id FROM %s o JOIN @T@ p ON @P@ = o.v@LIMIT@" % o, "count",
                         limit=(n, 0, " LIMIT %d" % n), joins=True, nr_outer=bad)
        return Query("join", sql, joins=True, nr_outer=bad)

    def j_left(self):
        o, bad = self.outer_p()
        r = self.rng.random()
        if r < 0.55:
            sql = "SELECT o.k, p.id FROM %s o LEFT JOIN @T@ p ON @P@ = o.v%s" % (o, self.extra_p())
        elif r < 0.8:
            w, _ = self.where()
            sql = "SELECT p.id, o.k FROM @T@ p LEFT JOIN %s o ON o.v = @P@%s" % (o, w)
            bad = False
        else:
            sql = "SELECT o.k, p.id FROM %s o FULL JOIN @T@ p ON @P@ = o.v" % o
            bad = False
        return Query("left join", sql, joins=True, nr_outer=bad)

    def j_semi(self):
        o, bad = self.outer_p()
        ex = self.extra_p()
        sqls = [
            ("SELECT p.id, p.project_id FROM @T@ p WHERE EXISTS (SELECT 1 FROM %s o WHERE o.v = @P@)" % o, bad),
            ("SELECT p.id FROM @T@ p WHERE @P@ IN (SELECT v FROM %s)" % o, bad),
            ("SELECT o.k FROM %s o WHERE EXISTS (SELECT 1 FROM @T@ p WHERE @P@ = o.v%s)" % (o, ex), bad),
            ("SELECT o.k FROM %s o WHERE o.v IN (SELECT @P@ FROM @T@ p)" % o, bad),
        ]
        sql, b = self.choice(sqls)
        return Query("semi join", sql, joins=True, nr_outer=b)

    def j_anti(self):
        o, bad = self.outer_p()
        sqls = [
            ("SELECT o.k FROM %s o WHERE NOT EXISTS (SELECT 1 FROM @T@ p WHERE @P@ = o.v)" % o, bad),
            ("SELECT p.id FROM @T@ p WHERE NOT EXISTS (SELECT 1 FROM %s o WHERE o.v = @P@)" % o, False),
            ("SELECT o.k FROM %s o WHERE o.v NOT IN (SELECT @P@ FROM @T@ p WHERE @P@ IS NOT NULL)" % o, False),
        ]
        sql, b = self.choice(sqls)
        return Query("anti join", sql, joins=True, nr_outer=b)

    def j_lateral(self):
        o, bad = self.outer_p()
        n = self.rng.randint(1, 6)
        d = self.choice(["ASC", "DESC"])
        kind = self.choice(["key", "total", "count", "left"])
        if kind == "key":        # created_at alone is deterministic under ties
            sql = ("SELECT o.k, x.created_at FROM %s o CROSS JOIN LATERAL (SELECT p.created_at FROM @T@ p "
                   "WHERE @P@ = o.v ORDER BY @C@ %s LIMIT %d) x" % (o, d, n))
        elif kind == "total":
            sql = ("SELECT o.k, x.id FROM %s o, LATERAL (SELECT p.id FROM @T@ p WHERE @P@ = o.v "
                   "ORDER BY @C@ %s, p.id LIMIT %d) x" % (o, d, n))
        elif kind == "count":
            sql = "SELECT o.k, (SELECT count(*) FROM @T@ p WHERE @P@ = o.v) FROM %s o" % o
        else:
            sql = ("SELECT o.k, x.created_at FROM %s o LEFT JOIN LATERAL (SELECT p.created_at FROM @T@ p "
                   "WHERE @P@ = o.v AND %s ORDER BY @C@ %s FETCH FIRST %d ROWS WITH TIES) x ON true"
                   % (o, self.c_cond(), d, n))
        return Query("lateral", sql, joins=True, nr_outer=bad)

    def j_prepared(self):
        o, bad = self.outer_p()
        v, k = self.pval()
        kind = self.choice(["outer", "inner", "both"])
        if kind == "outer":
            sql = "SELECT o.k, p.id FROM %s o JOIN @T@ p ON @P@ = o.v WHERE o.k <> $1" % o
            params = (["int"], [str(self.rng.randint(1, 15))])
        elif kind == "inner":
            sql = "SELECT o.k, p.id FROM %s o JOIN @T@ p ON @P@ = o.v WHERE @P@ <> $1" % o
            params = (["text"], [v])
        else:
            sql = "SELECT p.id FROM @T@ p WHERE @P@ = $1 AND EXISTS (SELECT 1 FROM %s o WHERE o.v = @P@)" % o
            params = (["text"], [v])
            bad = False
        return Query("join prepared", sql, params=params, joins=True, nr_outer=bad)

    # -- the table across checkpoints
    def m_cond(self):
        kind = self.choice(["eq", "eq", "in", "in", "any", "any_empty", "sub", "any_sub"])
        if kind in ("sub", "any_sub"):
            o = self.choice(list(OUTERS_C))
            return ("m.checkpoint IN (SELECT c FROM %s)" if kind == "sub" else
                    "m.checkpoint = ANY (ARRAY(SELECT c FROM %s))") % o, OUTERS_C[o]
        return self.p_cond("m.checkpoint", self.cval, (kind,))

    def m_filter(self):
        c, imp = self.m_cond()
        w = " WHERE " + c
        if self.rng.random() < 0.5:
            s, i = self.p_cond("@MP@", kinds=("eq", "in", "any"))
            w += " AND " + s
            imp = imp or i
        if self.rng.random() < 0.25:
            w += " AND " + self.c_cond("@MC@", 40)
        r = self.rng.random()
        if r < 0.2:
            return Query("multi", "SELECT m.checkpoint, count(*) FROM @M@ m%s GROUP BY 1" % w, nr=imp)
        if r < 0.45:
            q = self.window("SELECT m.created_at, m.checkpoint, m.id FROM @M@ m%s" % w, "@MC@",
                            "m.checkpoint, m.id", imp, "multi order")
            return q
        if r < 0.55:
            n = self.rng.randint(0, 30)
            return Query("multi", "SELECT m.checkpoint, m.id FROM @M@ m%s@LIMIT@" % w, "count",
                         limit=(n, 0, " LIMIT %d" % n), nr=imp)
        return Query("multi", "SELECT m.checkpoint, m.id, m.project_id, m.created_at FROM @M@ m%s" % w, nr=imp)

    def m_join(self):
        o = self.rng.choices(list(OUTERS_C), (55, 25, 20))[0]
        bad = OUTERS_C[o]
        pc = ""
        if self.rng.random() < 0.4:
            s, _ = self.p_cond("@MP@", kinds=("eq", "in"))
            pc = " AND " + s
        kind = self.choice(["inner", "inner", "left", "exists", "not exists", "lateral", "three"])
        if kind == "inner":
            sql = "SELECT oc.k, m.id, m.project_id FROM %s oc JOIN @M@ m ON m.checkpoint = oc.c%s" % (o, pc)
        elif kind == "left":
            sql = "SELECT oc.k, m.id FROM %s oc LEFT JOIN @M@ m ON m.checkpoint = oc.c%s" % (o, pc)
        elif kind == "exists":
            sql = "SELECT oc.k FROM %s oc WHERE EXISTS (SELECT 1 FROM @M@ m WHERE m.checkpoint = oc.c%s)" % (o, pc)
        elif kind == "not exists":
            sql = ("SELECT oc.k FROM %s oc WHERE NOT EXISTS (SELECT 1 FROM @M@ m WHERE m.checkpoint = oc.c%s)"
                   % (o, pc))
        elif kind == "lateral":
            sql = ("SELECT oc.k, x.created_at FROM %s oc CROSS JOIN LATERAL (SELECT m.created_at FROM @M@ m "
                   "WHERE m.checkpoint = oc.c%s ORDER BY @MC@ DESC LIMIT %d) x" % (o, pc, self.rng.randint(1, 5)))
        else:
            op, _ = self.outer_p()
            sql = ("SELECT oc.k, o.k, m.id FROM %s oc JOIN @M@ m ON m.checkpoint = oc.c "
                   "JOIN %s o ON @MP@ = o.v" % (o, op))
        return Query("multi join", sql, joins=True, nr_outer=bad)

    def m_prepared(self):
        kind = self.choice(["eq", "any", "eq_project"])
        if kind == "eq":
            v, k = self.cval()
            return Query("multi prepared", "SELECT m.id, m.project_id FROM @M@ m WHERE m.checkpoint = $1",
                         params=(["text"], [v]), nr=k in ("bad", "null"))
        if kind == "any":
            if self.rng.random() < 0.3:
                arr, imp = self.choice(["'{}'", "NULL"]), True
            else:
                vals = self.values(self.cval, 1, 4)
                arr = "ARRAY[%s]::text[]" % ", ".join(v for v, _ in vals)
                imp = all(k in ("bad", "null") for _, k in vals)
            return Query("multi prepared", "SELECT m.checkpoint, count(*) FROM @M@ m WHERE m.checkpoint = ANY ($1)"
                         " GROUP BY 1", params=(["text[]"], [arr]), nr=imp)
        c, ck = self.cval((80, 10, 10, 0))
        v, k = self.pval()
        return Query("multi prepared", "SELECT m.checkpoint, m.id FROM @M@ m WHERE m.checkpoint = $1 AND @MP@ = $2",
                     params=(["text", "text"], [c, v]), nr=k in ("bad", "null") or ck in ("bad", "null"))

    def anchors(self):
        """The same few queries under every seed: each rule at its plainest."""
        sel = "SELECT p.id, p.project_id FROM @T@ p WHERE "
        msel = "SELECT m.checkpoint, m.id FROM @M@ m WHERE "
        a = [Query("anchor", sel + "@P@ = %s" % v, nr=True)
             for v in ("''", "'proj_0002 '", "' proj_0004'", r"E'proj\t1'", "repeat('p', 300)", "NULL")]
        a += [Query("anchor", sel + c, nr=True) for c in (
            "@P@ IN ('', NULL, 'proj_0002 ')", "@P@ = ANY ('{}'::text[])", "@P@ = ANY (NULL::text[])")]
        a += [Query("anchor", sel + "@P@ = $1", params=(["text"], [v]), nr=True)
              for v in ("''", "'proj_0002 '", "NULL")]
        a += [Query("anchor", sel + "@P@ = ANY ($1)", params=(["text[]"], [v]), nr=True)
              for v in ("'{}'", "NULL")]
        a.append(Query("anchor", sel + "@P@ IN ('proj_0001', '', 'proj_0002 ', repeat('p', 300), NULL)"))
        a += [Query("anchor", msel + c, nr=True) for c in (
            "m.checkpoint = ''", "m.checkpoint = NULL", "m.checkpoint = %s" % lit(CK_A + " "),
            r"m.checkpoint = E'ft:plans:b\t'", "m.checkpoint = repeat('c', 600)",
            "m.checkpoint IN ('', NULL)", "m.checkpoint = ANY ('{}'::text[])",
            "m.checkpoint = %s AND @MP@ = ''" % lit(CK_A))]
        a.append(Query("anchor", msel + "m.checkpoint = $1", params=(["text"], ["''"]), nr=True))
        a.append(Query("anchor", "SELECT p.id FROM @K@ p WHERE @P@ = 'proj_0002 '"))
        a.append(Query("anchor", "SELECT o.k, p.id FROM outer_p o JOIN @T@ p ON @P@ = o.v", joins=True))
        a.append(Query("anchor", "SELECT o.k, p.id FROM outer_b o JOIN @T@ p ON @P@ = o.v", joins=True,
                       nr_outer=True))
        a.append(Query("anchor", "SELECT oc.k, m.id FROM outer_c oc JOIN @M@ m ON m.checkpoint = oc.c",
                       joins=True))
        a.append(Query("anchor", "SELECT oc.k, m.id FROM outer_cs oc JOIN @M@ m ON m.checkpoint = oc.c",
                       joins=True))
        a.append(Query("anchor", "SELECT p.created_at, p.id FROM @T@ p ORDER BY @C@ DESC "
                       "FETCH FIRST 5 ROWS WITH TIES", "window"))
        a.append(Query("anchor", "SELECT p.created_at, p.id FROM @T@ p ORDER BY @C@ LIMIT 7", "window",
                       (False, True)))
        return a

    FAMILIES = [("f_filter", 16), ("f_not_in", 2), ("f_order", 12), ("f_limit", 6), ("f_prepared", 10), ("f_typed", 6),
                ("j_inner", 10), ("j_left", 5), ("j_semi", 6), ("j_anti", 4), ("j_lateral", 6),
                ("j_prepared", 4), ("m_filter", 10), ("m_join", 8), ("m_prepared", 4)]

    def queries(self, n):
        names, weights = zip(*self.FAMILIES)
        out = self.anchors()
        while len(out) < n:
            out.append(getattr(self, self.rng.choices(names, weights)[0])())
        for i, q in enumerate(out):
            q.n = i + 1
        return out


def subst(sql, *maps):
    for m in maps:
        for k, v in m.items():
            sql = sql.replace(k, v)
    return sql


class Exec:
    __slots__ = ("eid", "q", "side", "form", "setting", "plan", "explain", "state", "msg", "rows", "requests")

    def __init__(self, eid, q, side, form, setting, plan):
        self.eid, self.q, self.side, self.form, self.setting, self.plan = eid, q, side, form, setting, plan
        self.explain, self.state, self.msg, self.rows, self.requests = [], None, "", [], None

    def sql(self):
        s = subst(self.q.sql, TABLES[self.side], FORMS[self.form])
        if self.q.mode == "count":
            s = s.replace("@LIMIT@", self.q.limit[2] if self.side == "foreign" else "")
        return s

    def describe(self):
        return "%s/%s%s" % (self.form, self.setting, ("/" + self.plan) if self.plan else "")


def exec_script(execs):
    """psql input running every execution; each prints @@B, its plan, @@X, its rows, @@E, @@M, @@R."""
    out = ["\\set ON_ERROR_STOP 0", "\\pset format unaligned", "\\pset tuples_only on",
           "\\pset null '<NULL>'", "\\pset fieldsep '|'", "SET client_min_messages = error;"]
    for e in execs:
        sql = e.sql()
        out.append("\\echo @@B %d" % e.eid)
        for s in settings_for(e.setting, sql):
            out.append("SET %s;" % s)
        if e.plan:
            out.append("SET plan_cache_mode = force_%s_plan;" % e.plan)
        stmt = sql
        if e.q.params:
            types, args = e.q.params
            name = "q%d" % e.eid
            out.append("PREPARE %s(%s) AS %s;" % (name, ", ".join(types), sql))
            stmt = "EXECUTE %s(%s)" % (name, ", ".join(args))
        if e.side == "foreign":
            out.append("EXPLAIN (COSTS OFF) %s;" % stmt)
        out.append("\\echo @@X")
        if e.side == "foreign":
            out.append("SELECT plans_log_size() AS mark \\gset")
        out.append(stmt + ";")
        out.append("\\echo @@E :SQLSTATE")
        out.append("\\echo @@M :LAST_ERROR_MESSAGE")
        if e.side == "foreign":
            out.append("SELECT plans_requests_since(:mark) AS req \\gset")
            out.append("\\echo @@R :req")
        if e.q.params:
            out.append("DEALLOCATE q%d;" % e.eid)
        out.append("RESET ALL;")
    return "\n".join(out) + "\n"


def parse(output, by_id):
    cur, where = None, None
    for line in output.split("\n"):
        if line.startswith("@@B "):
            cur, where = by_id[int(line[4:])], "explain"
        elif cur is None:
            continue
        elif line == "@@X":
            where = "rows"
        elif line.startswith("@@E "):
            cur.state, where = line[4:], "msg"
        elif line.startswith("@@M") and where == "msg":
            cur.msg, where = (line[4:] if cur.state != "00000" else ""), None
        elif line.startswith("@@R "):
            cur.requests = int(line[4:]) if line[4:].isdigit() else None
        elif where == "explain":
            cur.explain.append(line)
        elif where == "rows":
            cur.rows.append(line)


def keyed(rows):
    return [r.split("|", 1)[0] for r in rows]


def compare(f, l):
    """None if the foreign answer f agrees with the local one l, else why not."""
    q = f.q
    if f.state is None:
        return "no answer (psql stopped?)"
    if l.state != "00000":
        return None                             # the local copy errs too: nothing to compare
    if f.state != "00000":
        return "error %s: %s" % (f.state, f.msg)
    if q.mode == "set":
        return None if sorted(f.rows) == sorted(l.rows) else "wrong rows"
    if q.mode == "ordered":
        if f.rows == l.rows:
            return None
        return "wrong order" if sorted(f.rows) == sorted(l.rows) else "wrong rows"
    if q.mode == "window":
        fk, lk = keyed(f.rows), keyed(l.rows)
        if fk != lk:
            return "wrong rows" if len(fk) != len(lk) or sorted(fk) != sorted(lk) else "wrong order"

        def inner(rows, keys):
            drop = set()
            if keys and q.cuts[0]:
                drop.add(keys[0])
            if keys and q.cuts[1]:
                drop.add(keys[-1])
            return sorted(r for r in rows if r.split("|", 1)[0] not in drop)
        return None if inner(f.rows, fk) == inner(l.rows, lk) else "wrong rows"
    # count: l is the answer without LIMIT
    n, m, _ = q.limit
    want = max(0, min(n, len(l.rows) - m))
    if len(f.rows) != want:
        return "LIMIT %d%s: %d rows, not %d" % (n, " OFFSET %d" % m if m else "", len(f.rows), want)
    pool = collections.Counter(l.rows)
    pool.subtract(collections.Counter(f.rows))
    return None if min(pool.values(), default=0) >= 0 else "rows not in the answer without LIMIT"


def param_only(e):
    """Every request line of the plan takes its id from an outer row or parameter."""
    lines = [x for x in e.explain if "OpenAI Request:" in x]
    return bool(lines) and all(re.search(r"(project_id=|checkpoints/)\{", x) for x in lines)


def plan_tags(e):
    """The plan nodes of a foreign execution, joins by method, and what its requests take."""
    tags = set()
    for line in e.explain:
        node = re.sub(r"^\s*(->\s+)?", "", line)
        m = re.match(r"(Nested Loop|Hash|Merge)\b.*Join|Nested Loop|Memoize|Materialize|SubPlan|InitPlan"
                     r"|Custom Scan \(CheckpointPermsJoin\)", node)
        if m and m.group(0).startswith("Custom Scan"):
            tags.add("Batched Join")
        elif m:
            t = m.group(0)
            tags.add(t.split()[0] + " Join" if t.startswith(("Hash", "Merge")) else t)
        if "OpenAI Request:" in line:
            if "project_id={" in line:
                tags.add("param project_id")
            if "checkpoints/{" in line:
                tags.add("param checkpoint")
            if "order=" in line:
                tags.add("order sent")
    return tags


def short(e):
    if e.state != "00000":
        return "ERROR %s %s" % (e.state, e.msg[:100])
    rows = e.rows
    s = "%d rows" % len(rows)
    if rows:
        s += ": " + "; ".join(r[:60] for r in rows[:3]) + (" ..." if len(rows) > 3 else "")
    return s


def dml():
    """Grants through a CTE on a checkpoint of their own (seed-5), each with the answer it must give:
    the statement reads the list as it was before its grant, and a LIMIT sent to the API counts the
    rows the scan returns, not the grant it drops.  (SELECT count(*) FROM g) first makes the grant
    happen before the list is read."""
    stmts, n = [], 5
    for i, (sel, want) in enumerate([
        ("(SELECT count(*) FROM g), (SELECT count(*) FROM (SELECT id FROM f_write LIMIT 3) s)", "1|3"),
        ("(SELECT count(*) FROM (SELECT id FROM f_write LIMIT 3) s)", "3"),
        ("(SELECT count(*) FROM g), (SELECT count(*) FROM (SELECT id FROM f_write LIMIT %(n)d) s)", "1|%(n)d"),
        ("(SELECT count(*) FROM g), (SELECT count(*) FROM f_write)", "1|%(n)d"),
        ("(SELECT count(*) FROM g), (SELECT count(*) FROM (SELECT id FROM f_write "
         "ORDER BY created_at DESC LIMIT 2) s)", "1|2"),
        ("(SELECT count(*) FROM g), (SELECT count(*) FROM (SELECT id FROM f_write "
         "WHERE project_id = 'proj_0002' LIMIT 1) s)", "1|1"),
    ]):
        proj = "proj_0002" if "proj_0002" in sel else "proj_new%d" % (i + 1)
        stmts.append(("WITH g AS (INSERT INTO f_write (project_id) VALUES ('%s') RETURNING id) SELECT %s"
                      % (proj, sel % {"n": n}), want % {"n": n}))
        n += 1
    stmts.append(("SELECT count(*) FROM f_write", str(n)))
    out = []
    for j, (sql, _) in enumerate(stmts):
        out += ["\\echo @@W %d" % j, sql + ";", "\\echo @@E :SQLSTATE", "\\echo @@M :LAST_ERROR_MESSAGE"]
    return "\n".join(out) + "\n", stmts


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--psql", required=True)
    ap.add_argument("--db", required=True)
    ap.add_argument("--mock-url", required=True)
    ap.add_argument("--mock-key", required=True)
    ap.add_argument("--mock-log", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--dir", default=".")
    ap.add_argument("--show", type=int, default=30)
    a = ap.parse_args()
    t0 = time.time()
    env = dict(os.environ, PGCLIENTENCODING="UTF8", PGOPTIONS="-c statement_timeout=20000")
    psql = [a.psql, "-X", "-q", "-d", a.db]
    write_ck = "ft:plans:write-%d-%d:seed-5:proj-5" % (os.getpid(), int(t0))

    r = subprocess.run(psql, input=setup_sql(a.mock_url, a.mock_key, a.mock_log, write_ck), env=env,
                       capture_output=True, text=True, timeout=300)
    snap = r.stdout.split("@@SNAP\n", 1)
    if r.returncode != 0 or len(snap) != 2:
        print("setup failed:\n" + r.stdout[-2000:] + r.stderr[-2000:])
        return 1
    got = sorted(x for x in snap[1].split("\n") if x)
    want = sorted(expected_snapshot() + ["typed|%d|%d|%d|%d" % ((ONE[0],) * 4)])
    if got != want:
        print("the local copies differ from what the mock holds (%d rows, %d expected): "
              "nothing to compare with" % (len(got), len(want)))
        print("  first difference: %s" % next((g, w) for g, w in zip(got + [""], want + [""]) if g != w).__repr__())
        return 1

    gen = Gen(a.seed)
    queries = gen.queries(a.queries)
    execs, pairs = [], []           # pairs: (foreign exec, local exec)
    for q in queries:
        settings = list(SETTINGS) if q.joins else ["default", gen.choice(list(SETTINGS)[1:])]
        plans = ["generic", "custom"] if q.params else [None]
        for form in FORMS:
            # the local answer of each form: on a char(n) column, x || '' is not x
            loc = Exec(len(execs), q, "local", form, "default", None)
            execs.append(loc)
            for s in settings:
                for p in plans:
                    e = Exec(len(execs), q, "foreign", form, s, p)
                    execs.append(e)
                    pairs.append((e, loc))
    by_id = {e.eid: e for e in execs}
    script = exec_script(execs)
    dml_sql, dml_stmts = dml()
    with open(os.path.join(a.dir, "plans.sql"), "w") as f:
        f.write(script + dml_sql)
    r = subprocess.run(psql, input=script + dml_sql, env=env, capture_output=True, text=True, timeout=900)
    with open(os.path.join(a.dir, "plans.out"), "w") as f:
        f.write(r.stdout)
    with open(os.path.join(a.dir, "plans.err"), "w") as f:
        f.write(r.stderr)
    main_out, _, dml_out = r.stdout.partition("@@W 0\n")
    parse(main_out, by_id)

    mismatches = []
    tags = collections.Counter()
    requests = 0
    for e, loc in pairs:
        why = compare(e, loc)
        tags.update(plan_tags(e))
        requests += e.requests or 0
        if why is None and e.form == "pushed" and e.state == "00000" and e.requests:
            if e.q.nr:
                why = "%d requests for a query naming only values that cannot be ids" % e.requests
            elif e.q.nr_outer and param_only(e):
                why = "%d requests for outer rows whose values cannot be ids" % e.requests
        if why:
            mismatches.append((e, loc, why))

    # the grants through a CTE
    dml_bad = []
    blocks = ("@@W 0\n" + dml_out).split("@@W ")[1:]
    for j, (sql, want) in enumerate(dml_stmts):
        if j >= len(blocks):
            dml_bad.append((sql, want, "no answer"))
            continue
        body = blocks[j].split("\n")[1:]
        rows = [x for x in body if x and not x.startswith("@@")]
        state = next((x[4:] for x in body if x.startswith("@@E ")), None)
        msg = next((x[4:] for x in body if x.startswith("@@M")), "")
        got = ("ERROR %s %s" % (state, msg)) if state != "00000" else "|".join(rows)
        if got != want:
            dml_bad.append((sql, want, got))

    elapsed = time.time() - t0
    print("seed %d: %d queries, %d foreign executions (%d pushed, %d defeated) against %d local answers, "
          "%d requests, %d grants through a CTE; %.1f s"
          % (a.seed, len(queries), len(pairs), sum(e.form == "pushed" for e, _ in pairs),
             sum(e.form == "defeated" for e, _ in pairs), len({l.eid for _, l in pairs}), requests,
             len(dml_stmts), elapsed))
    fams = collections.Counter(q.family for q in queries)
    print("families: " + ", ".join("%s %d" % kv for kv in sorted(fams.items())))
    print("plans seen (foreign executions): " + ", ".join("%s %d" % kv for kv in sorted(tags.items())))
    print("mismatches: %d of %d executions, %d of %d grant statements"
          % (len(mismatches), len(pairs), len(dml_bad), len(dml_stmts)))

    def cause(why):
        why = re.sub(r"\d+ requests", "N requests", why)
        why = re.sub(r"\d+ rows, not \d+", "N rows, not M", why)
        return re.sub(r"LIMIT \d+( OFFSET \d+)?", "LIMIT n", why)
    groups = collections.OrderedDict()
    for m in mismatches:
        groups.setdefault(cause(m[2]), []).append(m)

    def size(m):        # the plainest query of a cause: one table before a join, a literal before a parameter
        e = m[0]
        return (len(e.sql()) + (40 if e.q.joins else 0)
                + (200 + len(", ".join(e.q.params[1])) if e.q.params else 0))
    for c, ms in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        fam = collections.Counter(e.q.family for e, _, _ in ms)
        st = collections.Counter("%s/%s" % (e.form, e.setting) for e, _, _ in ms)
        e, loc, why = min(ms, key=size)
        print("\n== %s: %d executions of %d queries" % (c, len(ms), len({e.q.n for e, _, _ in ms})))
        print("   families: " + ", ".join("%s %d" % kv for kv in fam.most_common()))
        print("   under: " + ", ".join("%s %d" % kv for kv in st.most_common(6)))
        print("   plainest: [%s] %s" % (e.describe(), e.sql()))
        if e.q.params:
            print("             EXECUTE (%s)" % ", ".join(e.q.params[1]))
        print("   foreign: %s" % short(e))
        print("   local:   %s" % short(loc))

    # every mismatch, one entry per query and cause with the settings it failed under
    byq = collections.OrderedDict()
    for e, loc, why in mismatches:
        byq.setdefault((e.q.n, why), []).append((e, loc))
    lines = []
    for (n, why), es in byq.items():
        e, loc = es[0]
        lines.append("-- query %d (%s): %s" % (n, e.q.family, why))
        lines.append("   under: " + ", ".join(x.describe() for x, _ in es))
        lines.append("   " + e.sql() + (";  EXECUTE (%s)" % ", ".join(e.q.params[1]) if e.q.params else ""))
        lines.append("   foreign: %s  (%s requests)" % (short(e), e.requests))
        lines.append("   local:   %s" % short(loc))
    with open(os.path.join(a.dir, "mismatches.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    if byq:
        show = len(byq) if a.show == 0 else min(a.show, len(byq))
        print("\nmismatching queries: %d; the first %d (all in mismatches.txt):" % (len(byq), show))
        print("\n".join(lines[:5 * show]))
    for sql, want, got in dml_bad:
        print("\n== grant through a CTE: %s\n   want %s, got %s" % (sql, want, got))
    if mismatches or dml_bad:
        print("\nin %s: plans.sql (the statements), plans.out (psql's output), mismatches.txt"
              % os.path.abspath(a.dir))
    return 1 if mismatches or dml_bad else 0


if __name__ == "__main__":
    sys.exit(main())
