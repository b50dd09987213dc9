#!/usr/bin/python3
"""Mock of the OpenAI fine-tuning checkpoint-permissions API, for the tests of checkpoint_perms.

Standard library only (Python 3.11).  It follows the contract checkpoint-permissions.openapi.yaml:

    GET    /v1/fine_tuning/checkpoints/{ckpt}/permissions?project_id=&after=&limit=&order=
    POST   /v1/fine_tuning/checkpoints/{ckpt}/permissions          {"project_ids": [...]}
    DELETE /v1/fine_tuning/checkpoints/{ckpt}/permissions/{permission_id}

State lives in memory, one list of permissions per checkpoint, and every behaviour a test needs is
selected by the ":"-separated segments ("tokens") of the checkpoint id, so each test file stays
self-contained: ft:gpt-4o-mini:org:demo:seed-250:proj-7:get-fail-2-503:retry-after-1 is a checkpoint
holding 250 permissions spread over 7 projects whose first two GETs answer 503 with Retry-After: 1.

A checkpoint exists iff its id starts with "ft:" and none of its segments is "missing".

Data tokens
    seed-N           the checkpoint starts with N permissions (created lazily on first access)
    proj-K           with seed-N: seeded projects cycle over proj_0001..proj_K (permission i gets
                     project (i % K) + 1); without it each seeded permission has its own project
    hostile-ids      the first 7 permission ids are cp_a/b, cp_q?x=1, cp_h#f, cp_p%41, "cp_s p", "..", "."
    lenient-cursor   a revoked permission's id stays a usable "after" cursor
    tie-K            created_at advances once every K permissions (ties, as for one grant request)

Fault tokens, optionally prefixed get-, post- or delete- to apply to that method only
    status-NNN       answer NNN (400..599) with an error envelope; nothing is done
    after-N-X        the first N requests in scope work, every later one answers X (as fail-N-X)
    fail-N-X         the first N requests in scope answer X, later ones work.  X is a status (400..599,
                     nothing is done) or one of hangup, cut, garbage, truncated, applied-hangup,
                     partial-hangup, stall (as below)
    retry-after-S    add "retry-after: S" (seconds) to status/fail replies
    retry-after-ms-M add "retry-after-ms: M" to status/fail replies
    retry-after-date-S  add "retry-after: <HTTP-date S seconds from now>" to status/fail replies
    no-retry         add "x-should-retry: false" to status/fail replies
    should-retry     add "x-should-retry: true" to status/fail replies
    slow-MS          sleep MS ms before replying (on top of --latency-ms)
    inflight-N       at most N requests of this checkpoint (of the scoped method) are handled at once:
                     one that arrives while N are, counted from their arrival until their reply is
                     written, gets 429 with "retry-after-ms: 50" and the rate-limit envelope at once
                     (after --latency-ms, without slow-MS) and is not counted; as a real API may
    project-P-NNN    requests about project P answer NNN (400..599) with an error envelope, every time;
                     nothing is done.  About P: a GET with ?project_id=P, a DELETE of a permission of
                     P, a POST whose project_ids hold P
    hangup           close the connection without any reply; nothing is done
    applied-hangup   do the work, then close the connection without any reply (a reply lost after
                     the API acted: the contract does not promise a reply for every applied request)
    partial-hangup   POST: create the permissions of the first half of the project ids (rounded up),
                     then close without any reply; other methods: as applied-hangup
    stall            do the work, then send nothing for 2 s and close (past a client's time-out)
    cut              do the work, send the headers with Content-Length 1000 and 20 bytes, then close
    garbage          do the work, answer 200 text/html "<html>upstream error</html>"
    truncated        do the work, answer 200 with the JSON reply cut in half
    wrongtypes       created_at as a string, project_id as a number (DELETE: deleted as a string)
    missingfields    items without project_id (DELETE: reply without "deleted")
    notarray         "data": {}
    nohasmore        no has_more key
    oversized[-B]    do the work, pad the JSON reply (top-level "padding") to B bytes (default 20 MiB)
    stuckcursor      every page: has_more true, 1 item, the same last_id
    endless          has_more true forever with fresh advancing ids
    redirect         302 to http://elsewhere.example/<same path and query>, empty body
    echo-key         401 whose message holds the bearer key that was sent, verbatim
    dropone          POST: create every permission but leave the last one out of the reply
    skiplast         POST: create the permissions of every project id but the last, and reply with
                     those: a short reply that tells the truth (one project id: nothing is made)
    notdeleted       DELETE: do nothing, and answer 200 {"id": <the id>, ..., "deleted": false}
    nofilter         GET: ignore ?project_id=, as an API that forgot the filter
    nonlatin1        each permission of a reply gets "object" ending in U+2603 (a snowman, which
                     LATIN1 lacks), and a DELETE reply an "id" ending in it; the work is done first
    overfull         GET: a page of twice the limit asked for (and past the page cap)
    dupids           GET: the last item of each page is a copy of its first
    dupnext          GET: every page after the first starts again with the last item of the one before
    nobody           do the work, answer 204 with no body and no content type
    ctrlid, nulid, longid, spaceid, badutf8
                     GET: the first item's id holds CR LF and a header line / \u0000 / is 300 bytes long /
                     begins with a space / holds the bytes FF FE (not UTF-8)
    echo-key-late    502 text/html whose body holds the bearer key from byte 190 on (across the
                     200 bytes an error quotes)
    echo-key-header  GET 200, other methods 502, whose x-request-id is "Bearer <key>" and whose
                     content type is "text/plain; key=<key>", with a body "not json <key>"; nothing is
                     done (a broken proxy that echoes the request's Authorization header)
    hostile-error    400 whose error envelope has control characters, the bearer key, bytes that are
                     not UTF-8 and a 5,000-byte param

When several reply-replacing faults apply, the first in the checkpoint id wins; fail-N counters of
every applicable fail token advance on every request in their scope that passed authentication.

Permission ids: "cp_" + 24 chars [A-Za-z0-9] from sha256(checkpoint + ":" + serial), where serial counts
the creations in the checkpoint (seeded ones first); created_at = 1721764867 + serial, or with the
token tie-K 1721764867 + serial // K (K permissions in a row share their second, as those of one
grant request may).

Request ids (x-request-id) are req_<8 hex of sha256(checkpoint)>_<n>, n counting that checkpoint's
requests, so a test's expected output does not depend on the tests before it.

A cursor ("after") must name a live permission: an id that was revoked answers 400 param "after",
as a strict API may (the contract does not promise that a revoked id stays a usable cursor), and so
does an id that was never issued.  The token lenient-cursor keeps revoked ids usable as cursors.

Usage: mock_openai.py --key KEY [--host 127.0.0.1] [--port 0] [--port-file FILE] [--page-cap 100]
                      [--latency-ms 0] [--log FILE]
It prints "mock listening on http://HOST:PORT/v1" once listening and exits 0 on SIGTERM or SIGINT.
With --log, each request appends one JSON line (written before the reply is sent) holding seq, ts,
conn, conn_seq, method, path, raw_query, checkpoint, permission_id, query, status, body, auth_ok,
user_agent, accept, content_type, organization, project, fault and header_names (the names of the
headers received, lower case); never the value of the Authorization header.
"""

import argparse
import bisect
import email.utils
import hashlib
import http.server
import itertools
import json
import os
import re
import signal
import socket
import string
import sys
import threading
import time
import urllib.parse

BASE_CREATED_AT = 1721764867
OVERSIZED_DEFAULT = 20 * 1024 * 1024
MAX_REQUEST_BODY = 8 * 1024 * 1024
HOSTILE_IDS = ("cp_a/b", "cp_q?x=1", "cp_h#f", "cp_p%41", "cp_s p", "..", ".")
_ALPHABET = (string.ascii_letters + string.digits).encode("ascii")
_ID_TABLE = bytes(_ALPHABET[i % 62] for i in range(256))
METHOD_SCOPES = {"get-": "GET", "post-": "POST", "delete-": "DELETE"}

_dumps = json.JSONEncoder(separators=(",", ":")).encode


def dumps(obj):
    return _dumps(obj).encode("utf-8")


def error_body(message, type_="invalid_request_error", param=None, code=None):
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def status_fault_body(status):
    if status == 429:
        return error_body("Rate limit reached for requests (mock fault).",
                          "rate_limit_exceeded", None, "rate_limit_exceeded")
    if status >= 500:
        return error_body("The server had an error while processing your request. Sorry about that! "
                          "(mock fault %d)" % status, "server_error")
    return error_body("Mock fault: HTTP %d." % status)


def mask_key(key):
    if not key:
        return ""
    if len(key) < 6:
        return "***"
    return key[:3] + "***" + key[-2:]


def perm_id(ckpt, serial):
    return "cp_" + hashlib.sha256(("%s:%d" % (ckpt, serial)).encode("utf-8")).digest()[:24] \
        .translate(_ID_TABLE).decode("ascii")


# ---------------------------------------------------------------------------------------------------
# Tokens


# The faults that fail-N-X and after-N-X can inject besides a status.
_FAULT_WORDS = "applied-hangup|partial-hangup|stall|hangup|cut|garbage|truncated"
# How long "stall" keeps a connection silent after doing the work.
STALL_SECONDS = 2.0

_FAULT_RES = [
    (re.compile(r"status-(\d{3})"), lambda m: ("status", int(m[1])) if 400 <= int(m[1]) <= 599 else None),
    (re.compile(r"fail-(\d+)-(\d{3}|%s)" % _FAULT_WORDS),
     lambda m: ("fail", (int(m[1]), int(m[2]) if m[2].isdigit() else m[2]))
     if not m[2].isdigit() or 400 <= int(m[2]) <= 599 else None),
    (re.compile(r"after-(\d+)-(\d{3}|%s)" % _FAULT_WORDS),
     lambda m: ("after", (int(m[1]), int(m[2]) if m[2].isdigit() else m[2]))
     if not m[2].isdigit() or 400 <= int(m[2]) <= 599 else None),
    (re.compile(r"retry-after-ms-(\d+)"), lambda m: ("retry_after_ms", m[1])),
    (re.compile(r"retry-after-date-(\d+)"), lambda m: ("retry_after_date", int(m[1]))),
    (re.compile(r"retry-after-(\d+(?:\.\d+)?)"), lambda m: ("retry_after", m[1])),
    (re.compile(r"slow-(\d+)"), lambda m: ("slow", int(m[1]))),
    (re.compile(r"inflight-(\d+)"), lambda m: ("inflight", int(m[1]))),
    (re.compile(r"project-(proj_[A-Za-z0-9_]+)-(\d{3})"),
     lambda m: ("project", (m[1], int(m[2]))) if 400 <= int(m[2]) <= 599 else None),
    (re.compile(r"oversized(?:-(\d+))?"), lambda m: ("oversized", int(m[1]) if m[1] else OVERSIZED_DEFAULT)),
    (re.compile(r"no-retry"), lambda m: ("should_retry", "false")),
    (re.compile(r"should-retry"), lambda m: ("should_retry", "true")),
    (re.compile(r"(applied-hangup|partial-hangup|stall|cut|hangup|garbage|truncated|wrongtypes|missingfields|notarray|nohasmore|stuckcursor"
                r"|endless|redirect|echo-key|dropone|overfull|dupids|dupnext|nobody|ctrlid|nulid|longid"
                r"|spaceid|badutf8|hostile-error|echo-key-late|echo-key-header|skiplast|notdeleted|nofilter|nonlatin1)"), lambda m: (m[1], None)),
]
# Faults that replace the normal reply (the first applicable one in the checkpoint id wins).
_REPLACING = {"status", "fail", "hangup", "applied-hangup", "partial-hangup", "stall", "echo-key", "redirect",
              "cut", "garbage", "truncated", "oversized",
              "nobody", "hostile-error", "echo-key-late", "echo-key-header"}
# Faults that change the data of a normal reply.
_MUTATING = ("wrongtypes", "missingfields", "notarray", "nohasmore", "stuckcursor", "endless", "dropone",
             "overfull", "dupids", "dupnext", "ctrlid", "nulid", "longid", "spaceid", "badutf8",
             "skiplast", "notdeleted", "nofilter", "nonlatin1")
# Appended by the token nonlatin1: a character that LATIN1 (and so a LATIN1 database) lacks.
NON_LATIN1 = "\u2603"
# Placeholder that the writer turns into bytes that are not UTF-8.
BAD_UTF8_MARK = "@@BAD-UTF8@@"


class Tokens:
    """What a checkpoint id asks of the mock."""

    __slots__ = ("exists", "seed", "proj", "hostile", "lenient_cursor", "tie", "faults")

    def __init__(self, ckpt):
        segs = ckpt.split(":")
        self.exists = ckpt.startswith("ft:") and "missing" not in segs
        self.seed = 0
        self.proj = None
        self.hostile = False
        self.lenient_cursor = False
        self.tie = 1
        self.faults = []            # (index, method or None, kind, arg)
        for i, seg in enumerate(segs):
            m = re.fullmatch(r"seed-(\d+)", seg)
            if m:
                self.seed = int(m[1])
                continue
            m = re.fullmatch(r"proj-(\d+)", seg)
            if m and int(m[1]) >= 1:
                self.proj = int(m[1])
                continue
            if seg == "hostile-ids":
                self.hostile = True
                continue
            m = re.fullmatch(r"tie-(\d+)", seg)
            if m and int(m[1]) >= 1:
                self.tie = int(m[1])
                continue
            if seg == "lenient-cursor":
                self.lenient_cursor = True
                continue
            method = None
            for prefix, meth in METHOD_SCOPES.items():
                if seg.startswith(prefix):
                    method, seg = meth, seg[len(prefix):]
                    break
            for rx, make in _FAULT_RES:
                m = rx.fullmatch(seg)
                if m:
                    f = make(m)
                    if f:
                        self.faults.append((i, method, f[0], f[1]))
                    break

    def applicable(self, method):
        return [f for f in self.faults if f[1] is None or f[1] == method]


# ---------------------------------------------------------------------------------------------------
# State


class Checkpoint:
    """Permissions of one checkpoint.  Serial i is the i-th creation; ids[i], alive[i] describe it.
    Seeded projects are computed from the serial, created ones are stored, so that a large seed
    costs only its ids."""

    def __init__(self, name, tokens):
        self.name = name
        self.tokens = tokens
        self.ids = []
        self.pos = {}                     # id -> serial (revoked ids stay, to tell them from unknown ones)
        self.alive = bytearray()
        self.seed_n = tokens.seed
        self.created_projects = []        # project of serial seed_n + j
        self.created_by_project = {}      # project -> ascending serials (created ones only)
        self.fail_counts = {}             # token index -> requests seen
        self.inflight = 0                 # requests being handled, with the token inflight-N
        for serial in range(self.seed_n):
            self._add_id(serial)

    def _new_id(self, serial):
        if self.tokens.hostile and serial < len(HOSTILE_IDS):
            return HOSTILE_IDS[serial]
        return perm_id(self.name, serial)

    def _add_id(self, serial):
        pid = self._new_id(serial)
        self.ids.append(pid)
        self.pos[pid] = serial
        self.alive.append(1)
        return pid

    def project_of(self, serial):
        if serial < self.seed_n:
            k = self.tokens.proj
            return "proj_%04d" % ((serial % k) + 1 if k else serial + 1)
        return self.created_projects[serial - self.seed_n]

    def seeded_serials(self, project):
        m = re.fullmatch(r"proj_(\d+)", project)
        if not m or self.seed_n == 0:
            return range(0)
        n = int(m[1])
        if "proj_%04d" % n != project or n < 1:
            return range(0)
        k = self.tokens.proj
        if k:
            return range(n - 1, self.seed_n, k) if n <= k else range(0)
        return range(n - 1, n) if n <= self.seed_n else range(0)

    def item(self, serial):
        return {"id": self.ids[serial], "object": "checkpoint.permission",
                "created_at": BASE_CREATED_AT + serial // self.tokens.tie, "project_id": self.project_of(serial)}

    def create(self, project):
        serial = len(self.ids)
        self._add_id(serial)
        self.created_projects.append(project)
        self.created_by_project.setdefault(project, []).append(serial)
        return serial

    def walk(self, project, after_serial, ascending):
        """Live serials in the chosen order, starting after after_serial (None: from the start)."""
        if project is None:
            parts = [range(len(self.ids))]
        else:   # every seeded serial precedes every created one
            parts = [self.seeded_serials(project), self.created_by_project.get(project, ())]
        alive = self.alive
        if ascending:
            for part in parts:
                i = 0 if after_serial is None else bisect.bisect_right(part, after_serial)
                for j in range(i, len(part)):
                    s = part[j]
                    if alive[s]:
                        yield s
        else:
            for part in reversed(parts):
                i = len(part) if after_serial is None else bisect.bisect_left(part, after_serial)
                for j in range(i - 1, -1, -1):
                    s = part[j]
                    if alive[s]:
                        yield s


class Reply:
    __slots__ = ("status", "headers", "body", "ctype", "mode", "fault", "pad_to", "admitted", "rid")

    def __init__(self, status, body=b"", ctype="application/json", headers=None, mode="normal", fault=None):
        self.status = status
        self.body = body
        self.ctype = ctype
        self.headers = headers or []
        self.mode = mode            # normal | hangup | cut | oversized
        self.fault = fault
        self.pad_to = 0
        self.admitted = None        # the Checkpoint whose inflight count this request holds
        self.rid = None             # an x-request-id of the fault's own


def json_reply(status, obj, **kw):
    return Reply(status, dumps(obj), **kw)


class BadRequest(Exception):
    def __init__(self, message, param=None, status=400, code=None):
        super().__init__(message)
        self.reply = json_reply(status, error_body(message, "invalid_request_error", param, code))


class Mock:
    def __init__(self, key, page_cap, latency_ms, log_path):
        self.key = key
        self.page_cap = page_cap
        self.latency = latency_ms / 1000.0
        self.lock = threading.Lock()
        self.seq = 0
        self.ckpt_requests = {}
        self.conns = 0
        self.checkpoints = {}
        self.tokens_cache = {}
        self.log_fd = None
        if log_path:
            self.log_fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.fchmod(self.log_fd, 0o644)
            except OSError:
                pass

    def tokens(self, ckpt):
        t = self.tokens_cache.get(ckpt)
        if t is None:
            if len(self.tokens_cache) > 10000:
                self.tokens_cache.clear()
            t = self.tokens_cache[ckpt] = Tokens(ckpt)
        return t

    def state(self, ckpt, tokens):
        st = self.checkpoints.get(ckpt)
        if st is None:
            st = self.checkpoints[ckpt] = Checkpoint(ckpt, tokens)
        return st

    def log(self, entry):
        if self.log_fd is not None:
            os.write(self.log_fd, dumps(entry) + b"\n")


# ---------------------------------------------------------------------------------------------------
# Request handling (called with mock.lock held; returns a Reply and never sleeps)


def list_page(mock, st, query, muts):
    limit = 10
    if "limit" in query:
        v = query["limit"]
        if not re.fullmatch(r"[0-9]{1,18}", v) or int(v) < 1:
            raise BadRequest("Invalid 'limit': expected an integer greater than or equal to 1, got %s."
                             % json.dumps(v), "limit")
        limit = int(v)
    order = query.get("order", "descending")
    if order not in ("ascending", "descending"):
        raise BadRequest("Invalid 'order': expected one of 'ascending' or 'descending', got %s."
                         % json.dumps(order), "order")
    ascending = order == "ascending"
    size = min(limit, mock.page_cap)
    if "overfull" in muts:
        size = 2 * limit
    project = None if "nofilter" in muts else query.get("project_id")
    after = query.get("after")

    if "endless" in muts:
        start = 0
        if after is not None:
            m = re.fullmatch(r"cp_endless(\d{17})", after)
            if not m:
                raise BadRequest("No permission found with id %s (endless)." % json.dumps(after), "after")
            start = int(m[1]) + 1
        data = [{"id": "cp_endless%017d" % i, "object": "checkpoint.permission",
                 "created_at": BASE_CREATED_AT + i, "project_id": project or "proj_0001"}
                for i in range(start, start + size)]
        return page_obj(data, True, muts)

    if "stuckcursor" in muts:   # ignores after on purpose
        s = next(st.walk(project, None, ascending), None)
        item = st.item(s) if s is not None else {
            "id": perm_id(st.name, -1), "object": "checkpoint.permission",
            "created_at": BASE_CREATED_AT, "project_id": project or "proj_0001"}
        return page_obj([item], True, muts)

    after_serial = None
    if after is not None:
        after_serial = st.pos.get(after)
        if after_serial is None:
            raise BadRequest("Invalid 'after': no permission with id %s on checkpoint %s."
                             % (json.dumps(after), st.name), "after")
        if not st.alive[after_serial] and not st.tokens.lenient_cursor:
            raise BadRequest("Invalid 'after': permission %s was deleted; it is no longer a cursor."
                             % json.dumps(after), "after")
    serials = list(itertools.islice(st.walk(project, after_serial, ascending), size + 1))
    has_more = len(serials) > size
    if "dupnext" in muts and after_serial is not None:
        serials = [after_serial] + serials
        has_more = len(serials) > size
    data = [st.item(s) for s in serials[:size]]
    if "dupids" in muts and len(data) > 1:
        data[-1] = dict(data[0])
    if data:
        first = data[0]
        if "ctrlid" in muts:
            first["id"] += "\r\nX-Smuggled: 1"
        if "nulid" in muts:
            first["id"] += "\u0000tail"
        if "longid" in muts:
            first["id"] = "cp_" + "x" * 297
        if "spaceid" in muts:
            first["id"] = " " + first["id"]
        if "badutf8" in muts:
            first["id"] += BAD_UTF8_MARK
    return page_obj(data, has_more, muts)


def page_obj(data, has_more, muts):
    for it in data:
        if "wrongtypes" in muts:
            it["created_at"] = str(it["created_at"])
            it["project_id"] = sum(it["project_id"].encode()) if isinstance(it.get("project_id"), str) else 7
        if "missingfields" in muts:
            it.pop("project_id", None)
        if "nonlatin1" in muts:
            it["object"] += NON_LATIN1
    page = {"object": "list", "data": {} if "notarray" in muts else data,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
            "has_more": has_more}
    if "nohasmore" in muts:
        del page["has_more"]
    return page


def _no_dup_keys(pairs):
    obj = {}
    for k, v in pairs:
        if k in obj:
            raise ValueError("duplicate key %r" % k)
        obj[k] = v
    return obj


def create(st, body, content_type, muts, half=False):
    media = (content_type or "").split(";")[0].strip().lower()
    if media != "application/json":
        raise BadRequest("Invalid Content-Type header (%s): expected application/json."
                         % json.dumps(content_type))
    try:
        doc = json.loads((body or b"").decode("utf-8"), object_pairs_hook=_no_dup_keys)
    except (ValueError, UnicodeDecodeError) as e:
        raise BadRequest("We could not parse the JSON body of your request (%s). The OpenAI API expects "
                         "a JSON payload." % e)
    if not isinstance(doc, dict):
        raise BadRequest("The request body must be a JSON object, got %s." % type(doc).__name__,
                         "project_ids")
    extra = sorted(k for k in doc if k != "project_ids")
    if extra:
        raise BadRequest("Additional properties are not allowed (%s unexpected); the body must be "
                         "{\"project_ids\": [...]}." % ", ".join(json.dumps(k) for k in extra), "project_ids")
    if "project_ids" not in doc:
        raise BadRequest("Missing required parameter: 'project_ids'.", "project_ids")
    pids = doc["project_ids"]
    if not isinstance(pids, list) or not pids:
        raise BadRequest("Invalid 'project_ids': expected a non-empty array of strings.", "project_ids")
    for i, p in enumerate(pids):
        if not isinstance(p, str) or not p:
            raise BadRequest("Invalid 'project_ids[%d]': expected a non-empty string, got %s."
                             % (i, json.dumps(p)), "project_ids")
    if half:                    # partial-hangup: only the first half is applied
        pids = pids[:(len(pids) + 1) // 2]
    if "skiplast" in muts:      # the API makes all but the last, and says so
        pids = pids[:-1]
    data = [st.item(st.create(p)) for p in pids]
    if "dropone" in muts:       # the reply forgets the last permission it created
        data = data[:-1]
    return page_obj(data, False, muts & {"wrongtypes", "missingfields", "notarray", "nohasmore", "nonlatin1"})


def delete(st, pid, muts):
    serial = st.pos.get(pid)
    if serial is None or not st.alive[serial]:
        return error_body("Permission %s not found." % pid, "invalid_request_error", None, "not_found"), 404
    if "notdeleted" in muts:    # the API keeps it, and says so
        return {"id": pid, "object": "checkpoint.permission", "deleted": False}, 200
    st.alive[serial] = 0
    obj = {"id": pid, "object": "checkpoint.permission", "deleted": True}
    if "nonlatin1" in muts:
        obj["id"] += NON_LATIN1
    if "wrongtypes" in muts:
        obj["deleted"] = "true"
    if "missingfields" in muts:
        del obj["deleted"]
    return obj, 200


def fault_headers(faults):
    h = []
    for _, _, kind, arg in faults:
        if kind == "retry_after":
            h.append(("retry-after", arg))
        elif kind == "retry_after_ms":
            h.append(("retry-after-ms", arg))
        elif kind == "retry_after_date":
            h.append(("retry-after", email.utils.formatdate(time.time() + arg, usegmt=True)))
        elif kind == "should_retry":
            h.append(("x-should-retry", arg))
    return h


def unauthorized(shown, **kw):
    return json_reply(401, error_body(
        "Incorrect API key provided: %s. You can find your API key at "
        "https://platform.openai.com/account/api-keys." % shown,
        "invalid_request_error", None, "invalid_api_key"), **kw)


def handle(mock, req):
    """req: dict with method, target, segs (decoded, dot segments removed), ckpt, pid, query, body,
    bearer, auth_ok, content_type.  Returns (Reply, slow seconds)."""
    method, ckpt = req["method"], req["ckpt"]
    if ckpt is None:
        return json_reply(404, error_body("Invalid URL (%s %s)" % (method, req["path"]))), 0.0
    tokens = mock.tokens(ckpt)
    faults = tokens.applicable(method)
    slow = sum(f[3] for f in faults if f[2] == "slow") / 1000.0
    kinds = [f[2] for f in faults]
    if not req["auth_ok"]:
        if "echo-key" in kinds:
            return unauthorized(req["bearer"] or "", fault="echo-key"), slow
        return unauthorized(mask_key(req["bearer"])), slow
    if not tokens.exists:
        return json_reply(404, error_body("Fine-tuned checkpoint %s not found." % ckpt, "invalid_request_error",
                                          "fine_tuned_model_checkpoint", "model_not_found")), slow
    st = mock.state(ckpt, tokens)

    limits = [f[3] for f in faults if f[2] == "inflight"]
    if limits:
        if st.inflight >= min(limits):
            return json_reply(429, status_fault_body(429), headers=[("retry-after-ms", "50")],
                              fault="inflight-%d" % min(limits)), 0.0
        st.inflight += 1
        r, slow = handle_admitted(mock, req, st, faults, slow, kinds)
        r.admitted = st
        return r, slow
    return handle_admitted(mock, req, st, faults, slow, kinds)


def project_of_request(st, req):
    """The projects a request is about: its ?project_id=, the project of the permission it
    deletes, or the project_ids of its body."""
    if req["method"] == "GET":
        return {req["query"].get("project_id")}
    if req["method"] == "DELETE":
        serial = st.pos.get(req["pid"])
        return {st.project_of(serial)} if serial is not None else set()
    try:
        pids = json.loads((req["body"] or b"").decode("utf-8")).get("project_ids")
        return set(p for p in pids if isinstance(p, str))
    except (ValueError, UnicodeDecodeError, AttributeError, TypeError):
        return set()


def handle_admitted(mock, req, st, faults, slow, kinds):
    """handle() for a request that passed authentication and the inflight-N limit."""
    method = req["method"]
    # The first reply-replacing fault wins; every applicable fail counter advances.
    chosen = None
    for idx, _, kind, arg in faults:
        if kind == "project":
            if chosen is None and arg[0] in project_of_request(st, req):
                chosen = ("status", arg[1], "project-%s-%d" % arg)
        elif kind in ("fail", "after"):
            n = st.fail_counts[idx] = st.fail_counts.get(idx, 0) + 1
            if (n <= arg[0] if kind == "fail" else n > arg[0]) and chosen is None:
                what = arg[1]
                chosen = ("status", what) if isinstance(what, int) else (what, None)
                chosen += ("%s-%d-%s" % ((kind,) + arg),)
        elif kind in _REPLACING and chosen is None:
            chosen = (kind, arg, kind if kind != "status" else "status-%d" % arg)
    mode, marg, fname = chosen if chosen else (None, None, None)

    if mode == "status":
        return json_reply(marg, status_fault_body(marg), headers=fault_headers(faults), fault=fname), slow
    if mode == "hangup":
        return Reply(0, mode="hangup", fault=fname), slow
    if mode == "echo-key":
        return unauthorized(req["bearer"] or "", fault=fname), slow
    if mode == "redirect":
        return Reply(302, b"", ctype=None, headers=[("location", "http://elsewhere.example" + req["target"])],
                     fault=fname), slow

    if mode == "echo-key-late":
        body = ("<html>" + "x" * 184 + (req["bearer"] or "") + "</html>").encode()
        return Reply(502, body, ctype="text/html", fault=fname), slow
    if mode == "echo-key-header":
        key = req["bearer"] or ""
        r = Reply(200 if method == "GET" else 502, ("not json " + key).encode(), ctype="text/plain; key=" + key,
                  fault=fname)
        r.rid = "Bearer " + key
        return r, slow
    if mode == "hostile-error":
        err = error_body("bad\r\nX-Injected: 1\x1b[31m " + (req["bearer"] or ""),
                         "type\x01" + (req["bearer"] or "") + BAD_UTF8_MARK, "p" * 5000, "code\x7f")
        return Reply(400, dumps(err).replace(BAD_UTF8_MARK.encode(), b"\xff\xfe"), fault=fname), slow

    muts = set(k for k in kinds if k in _MUTATING)
    try:
        if method == "GET":
            obj, status = list_page(mock, st, req["query"], muts), 200
        elif method == "POST":
            obj, status = create(st, req["body"], req["content_type"], muts,
                                 half=mode == "partial-hangup"), 200
        else:
            obj, status = delete(st, req["pid"], muts)
    except BadRequest as e:
        return e.reply, slow

    if status != 200 or mode is None:
        r = json_reply(status, obj, fault=", ".join(sorted(muts)) or None)
        r.body = r.body.replace(BAD_UTF8_MARK.encode(), b"\xff\xfe")
        return r, slow
    if mode in ("applied-hangup", "partial-hangup"):
        return Reply(0, mode="hangup", fault=fname), slow
    if mode == "stall":
        return Reply(0, mode="hangup", fault=fname), slow + STALL_SECONDS
    if mode == "nobody":
        return Reply(204, b"", ctype=None, fault=fname), slow
    if mode == "garbage":
        return Reply(200, b"<html>upstream error</html>", ctype="text/html", fault=fname), slow
    body = dumps(obj)
    if mode == "truncated":
        return Reply(200, body[:len(body) // 2], fault=fname), slow
    if mode == "cut":
        return Reply(200, body, mode="cut", fault=fname), slow
    # oversized
    r = Reply(200, body, mode="oversized", fault=fname)
    r.pad_to = marg
    return r, slow


def remove_dot_segments(segs):
    """RFC 3986 5.2.4 on raw (still encoded) segments, as a proxy in front of the API would do."""
    out = []
    last = len(segs) - 1
    for i, s in enumerate(segs[1:], 1):
        if s == ".":
            if i == last:
                out.append("")
        elif s == "..":
            if out:
                out.pop()
            if i == last:
                out.append("")
        else:
            out.append(s)
    return [""] + out


# ---------------------------------------------------------------------------------------------------
# HTTP


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "mock-openai/1.0"
    sys_version = ""
    mock = None     # set on the subclass

    def setup(self):
        super().setup()
        with self.mock.lock:
            self.mock.conns += 1
            self.conn_id = self.mock.conns
        self.conn_seq = 0

    def log_message(self, fmt, *args):     # quiet
        pass

    def _next_seq(self):
        with self.mock.lock:
            self.mock.seq += 1
            return self.mock.seq

    def _read_body(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if te == "chunked":
            chunks, total = [], 0
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";")[0].strip() or b"x", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                total += size
                if total > MAX_REQUEST_BODY:
                    raise OverflowError
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)
        cl = self.headers.get("Content-Length")
        if cl is None:
            return None
        n = int(cl)
        if n < 0:
            raise ValueError
        if n > MAX_REQUEST_BODY:
            raise OverflowError
        body = self.rfile.read(n)
        if len(body) != n:
            raise ConnectionError
        return body

    def _write_reply(self, seq, r, rid=None):
        h = ["HTTP/1.1 %d %s" % (r.status, self.responses.get(r.status, ("",))[0]),
             "Date: " + email.utils.formatdate(usegmt=True),
             "x-request-id: " + (r.rid or rid or "req_%d" % seq)]
        if r.ctype:
            h.append("Content-Type: " + r.ctype)
        h += ["%s: %s" % kv for kv in r.headers]
        body = r.body
        if r.mode == "cut":
            h.append("Content-Length: 1000")
            body = body[:20].ljust(20)
            self.close_connection = True
        elif r.mode == "oversized":
            prefix = body[:-1] + b',"padding":"'
            npad = max(0, r.pad_to - len(prefix) - 2)
            h.append("Content-Length: %d" % (len(prefix) + npad + 2))
        else:
            h.append("Content-Length: %d" % len(body))
        if self.close_connection and r.mode != "cut":
            h.append("Connection: close")
        head = ("\r\n".join(h) + "\r\n\r\n").encode("latin-1", "replace")
        if self.command == "HEAD":
            self.wfile.write(head)
        elif r.mode == "oversized":
            self.wfile.write(head + prefix)
            chunk = b"x" * (1 << 20)
            while npad > 0:
                self.wfile.write(chunk[:npad])
                npad -= len(chunk)
            self.wfile.write(b'"}')
        else:
            self.wfile.write(head + body)

    def _log(self, seq, t0, method, raw_path, raw_query, ckpt, pid, query, status, body, auth_ok, fault):
        if body is None or body == b"":
            logged_body = None
        else:
            text = body.decode("utf-8", "replace")
            try:
                logged_body = json.loads(text)
            except ValueError:
                logged_body = text
        g = self.headers.get if self.headers is not None else (lambda k: None)
        self.mock.log({
            "seq": seq, "ts": round(t0, 6), "conn": self.conn_id, "conn_seq": self.conn_seq,
            "method": method, "path": raw_path, "raw_query": raw_query,
            "checkpoint": ckpt, "permission_id": pid, "query": query, "status": status,
            "body": logged_body, "auth_ok": auth_ok, "user_agent": g("User-Agent"), "accept": g("Accept"),
            "content_type": g("Content-Type"), "organization": g("OpenAI-Organization"),
            "project": g("OpenAI-Project"), "fault": fault,
            "header_names": sorted(k.lower() for k in self.headers.keys()) if self.headers is not None else None})

    def _dispatch(self):
        t0 = time.time()
        self.conn_seq += 1
        seq = self._next_seq()
        method = self.command
        raw_path, _, raw_query = self.path.partition("?")
        try:
            body = self._read_body()
        except OverflowError:
            self.close_connection = True
            r = json_reply(413, error_body("Request body too large."))
            self._log(seq, t0, method, raw_path, raw_query, None, None, {}, 413, None, None, None)
            self._write_reply(seq, r)
            return
        except (ValueError, ConnectionError):
            self.close_connection = True
            r = json_reply(400, error_body("Malformed request body framing."))
            self._log(seq, t0, method, raw_path, raw_query, None, None, {}, 400, None, None, None)
            self._write_reply(seq, r)
            return

        segs = [urllib.parse.unquote(s) for s in remove_dot_segments(raw_path.split("/"))]
        ckpt = pid = None
        if (len(segs) in (6, 7) and segs[:4] == ["", "v1", "fine_tuning", "checkpoints"]
                and segs[5] == "permissions"):
            if len(segs) == 6 and method in ("GET", "POST"):
                ckpt = segs[4]
            elif len(segs) == 7 and method == "DELETE" and segs[6] != "":
                ckpt, pid = segs[4], segs[6]

        query, dup = {}, None
        for k, v in urllib.parse.parse_qsl(raw_query, keep_blank_values=True):
            if k in query:
                dup = k
            query[k] = v

        auth = self.headers.get("Authorization")
        bearer = None
        if auth is not None:
            scheme, _, rest = auth.partition(" ")
            bearer = rest if scheme.lower() == "bearer" else auth
        auth_ok = bearer is not None and bearer == self.mock.key

        req = {"method": method, "path": raw_path, "target": self.path, "ckpt": ckpt, "pid": pid,
               "query": query, "body": body, "bearer": bearer, "auth_ok": auth_ok,
               "content_type": self.headers.get("Content-Type")}
        with self.mock.lock:
            if dup is not None and ckpt is not None and auth_ok:
                r, slow = json_reply(400, error_body("Query parameter '%s' given more than once." % dup, param=dup)), 0.0
            else:
                r, slow = handle(self.mock, req)
            self._log(seq, t0, method, raw_path, raw_query, ckpt, pid, query,
                      r.status if r.mode != "hangup" else None, body, auth_ok, r.fault)
            # request ids count per checkpoint, so a test's expected output does not
            # depend on what the tests before it sent
            rid = None
            if ckpt is not None:
                n = self.mock.ckpt_requests.get(ckpt, 0) + 1
                self.mock.ckpt_requests[ckpt] = n
                rid = "req_%s_%d" % (hashlib.sha256(ckpt.encode()).hexdigest()[:8], n)
        delay = self.mock.latency + slow
        if delay > 0:
            time.sleep(delay)
        if r.admitted is not None:
            # released before the reply is written: a client that has the reply may
            # send its next request at once and must not find this one still counted
            with self.mock.lock:
                r.admitted.inflight -= 1
        if r.mode == "hangup":
            self.close_connection = True
            return
        self._write_reply(seq, r, rid)

    def handle_one_request(self):
        try:
            super().handle_one_request()
        except (ConnectionError, TimeoutError):     # the client went away, e.g. during oversized
            self.close_connection = True

    def send_error(self, code, message=None, explain=None):
        """Protocol-level errors raised by http.server itself (bad request line, unknown method...)."""
        self.close_connection = True
        seq = self._next_seq()
        msg = message or self.responses.get(code, ("Error",))[0]
        self.mock.log({"seq": seq, "ts": round(time.time(), 6), "conn": self.conn_id,
                       "conn_seq": self.conn_seq, "method": getattr(self, "command", None),
                       "path": getattr(self, "path", None), "status": code, "error": msg})
        if not hasattr(self, "command") or self.command is None:
            self.command = ""
        if self.mock.latency:
            time.sleep(self.mock.latency)
        try:
            self._write_reply(seq, json_reply(code, error_body(msg)))
        except OSError:
            pass

    do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = do_HEAD = do_OPTIONS = _dispatch


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 128
    allow_reuse_address = True

    def get_request(self):
        sock, addr = super().get_request()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock, addr


class Server6(Server):
    address_family = socket.AF_INET6


def main(argv=None):
    ap = argparse.ArgumentParser(description="Mock of the OpenAI checkpoint-permissions API.")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0, help="0 picks a free port")
    ap.add_argument("--port-file", help="write the chosen port here (atomically) once listening")
    ap.add_argument("--key", required=True, help="the only accepted bearer key")
    ap.add_argument("--page-cap", type=int, default=100, help="largest page ever returned")
    ap.add_argument("--latency-ms", type=int, default=0, help="sleep before every reply")
    ap.add_argument("--log", help="append one JSON object per request to this file")
    args = ap.parse_args(argv)
    if args.page_cap < 1:
        ap.error("--page-cap must be >= 1")
    if args.latency_ms < 0:
        ap.error("--latency-ms must be >= 0")

    mock = Mock(args.key, args.page_cap, args.latency_ms, args.log)
    handler = type("BoundHandler", (Handler,), {"mock": mock})
    server = (Server6 if ":" in args.host else Server)((args.host, args.port), handler)
    port = server.server_address[1]

    if args.port_file:
        tmp = "%s.tmp.%d" % (args.port_file, os.getpid())
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.replace(tmp, args.port_file)
    host = "[%s]" % args.host if ":" in args.host else args.host
    print("mock listening on http://%s:%d/v1" % (host, port), flush=True)

    def stop(signum, frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        if args.port_file:
            try:
                with open(args.port_file) as f:
                    mine = f.read().strip() == str(port)
                if mine:
                    os.unlink(args.port_file)
            except OSError:
                pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
