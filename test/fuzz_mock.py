#!/usr/bin/python3
"""A hostile companion of mock_openai.py for test/t_fuzz.sh: it answers every request with a random,
mostly broken reply, written byte by byte on a raw socket so that nothing about HTTP is assumed.

Reply n (counting from 1 across the run) is drawn from random.Random("<seed>:<n>"), so a run with the
same seed and the same statements gets the same replies, and a failing reply can be replayed alone
with --only N (every request then gets reply N).  Each reply appends a line "n kind method target" to
--log, so that a failure can be traced to the reply that caused it.

Kinds: a valid page, list or delete reply (so that deeper code runs: rows stored, RETURNING, revokes);
wrong JSON types; huge and deeply nested JSON; bodies cut short or promised and never sent; wrong
content types; odd statuses (1xx, 204, 3xx with and without Location, 4xx, 5xx, 600, 999) and odd
headers (retry-after and x-should-retry values of every shape, huge and binary headers, a bad
status line, bad chunked encoding); ids with /, .., control characters, \\u0000, bytes that are not
UTF-8, 10 kB ids, duplicates and pages larger than their limit; slow, dripping and silent replies.

Standard library only.  Usage:
    fuzz_mock.py --seed S [--port 0] [--port-file FILE] [--log FILE] [--only N]
"""

import argparse
import os
import json
import random
import socket
import socketserver
import threading
import time
import urllib.parse

BASE_CREATED_AT = 1721764867

HOSTILE_IDS = ["cp_a/b", "..", ".", "cp_q?x=1", "cp_h#f", "cp_p%41", "cp_s p", " cp_lead", "cp_trail ",
               "cp_\r\nX-Smuggled: 1", "cp_\x00nul", "cp_\x7f", "cp_\x1b[31m", "cp_\u00e9t\u00e9",
               "cp_" + "x" * 300, "cp_" + "y" * 10000, "", "cp_\ud800"]


class Fuzz:
    def __init__(self, seed, log_path, only):
        self.seed = seed
        self.only = only
        self.lock = threading.Lock()
        self.n = 0
        self.log = open(log_path, "a") if log_path else None

    def next(self):
        with self.lock:
            self.n += 1
            return self.n

    def note(self, n, kind, method, target):
        if self.log:
            with self.lock:
                self.log.write("%d %s %s %s\n" % (n, kind, method, target[:200]))
                self.log.flush()


def rand_id(rng):
    if rng.random() < 0.6:
        return "cp_" + "".join(rng.choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
                               for _ in range(24))
    return rng.choice(HOSTILE_IDS)


def rand_value(rng, depth=0):
    r = rng.random()
    if r < 0.15:
        return None
    if r < 0.3:
        return rng.choice([True, False])
    if r < 0.45:
        return rng.choice([0, -1, 1.5, 2 ** 63, -2 ** 63, 1e308, BASE_CREATED_AT, 253402300800])
    if r < 0.75 or depth > 3:
        return rand_id(rng)
    if r < 0.87:
        return [rand_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {rng.choice(["id", "object", "data", "x"]): rand_value(rng, depth + 1) for _ in range(3)}


def permission(rng, project=None, wrong=False):
    item = {"id": rand_id(rng), "object": "checkpoint.permission",
            "created_at": BASE_CREATED_AT + rng.randint(0, 10 ** 6),
            "project_id": project or rng.choice(["proj_a", "proj_b", "proj_c", rand_id(rng)])}
    if wrong:
        for k in rng.sample(list(item), rng.randint(1, 4)):
            if rng.random() < 0.3:
                del item[k]
            else:
                item[k] = rand_value(rng)
    return item


def page(rng, limit, projects=None, wrong=False):
    if projects is not None:        # a reply to a grant
        data = [permission(rng, p, wrong) for p in projects]
        if rng.random() < 0.3:
            rng.shuffle(data)
        if rng.random() < 0.2 and data:
            data.pop()
    else:
        n = rng.choice([0, 1, limit, limit, max(0, limit - 1), limit + 1, 2 * limit])
        data = [permission(rng, wrong=wrong and rng.random() < 0.5) for _ in range(min(n, 2000))]
        if data and rng.random() < 0.15:
            data.append(dict(data[0]))  # an id twice
    body = {"object": "list", "data": data,
            "first_id": data[0].get("id") if data and isinstance(data[0], dict) else None,
            "last_id": data[-1].get("id") if data and isinstance(data[-1], dict) else None,
            "has_more": rng.random() < 0.5}
    if wrong:
        for k in rng.sample(list(body), rng.randint(1, 3)):
            if rng.random() < 0.3:
                del body[k]
            else:
                body[k] = rand_value(rng)
    return body


def status_line(code):
    return b"HTTP/1.1 %d X\r\n" % code


def reply(rng, method, target, body):
    """(kind, bytes to send, seconds to wait first, close after)."""
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(target).query)
    try:
        limit = int(query.get("limit", ["10"])[0])
    except ValueError:
        limit = 10
    projects = None
    if method == "POST":
        try:
            projects = json.loads(body.decode("utf-8"))["project_ids"]
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            projects = ["proj_a"]

    def json_reply(obj, code=200, ctype=b"application/json", extra=b""):
        text = json.dumps(obj).encode("utf-8", "surrogatepass")
        return (status_line(code) + b"Content-Type: " + ctype + b"\r\nContent-Length: %d\r\n" % len(text)
                + extra + b"Connection: close\r\n\r\n" + text)

    def valid():
        if method == "DELETE":
            pid = urllib.parse.unquote(target.rsplit("/", 1)[-1])
            return json_reply({"id": pid, "object": "checkpoint.permission", "deleted": True})
        return json_reply(page(rng, limit, projects))

    # the kinds that take time (a time-out, a drip, a big body) are rarer, so
    # that a few hundred statements run in seconds
    kinds = {"valid": 8, "wrongtypes": 3, "hostileids": 3, "huge": 0.7, "deep": 2, "cut": 2, "promised": 2,
             "ctype": 2, "status": 3, "headers": 3, "badline": 2, "chunked": 2, "slow": 0.5, "drip": 0.5,
             "silent": 0.4, "empty": 2, "nobody": 2, "badutf8": 2, "nul": 2, "garbage": 2, "delete": 2}
    kind = rng.choices(list(kinds), weights=list(kinds.values()))[0]
    wait = 0.0
    if kind == "valid":
        data = valid()
    elif kind == "wrongtypes":
        data = json_reply(page(rng, limit, projects, wrong=True) if rng.random() < 0.8 else rand_value(rng))
    elif kind == "hostileids":
        p = page(rng, limit, projects)
        for it in p["data"]:
            it["id"] = rng.choice(HOSTILE_IDS)
        p["last_id"] = rng.choice(HOSTILE_IDS + [None])
        data = json_reply(p)
    elif kind == "huge":
        r = rng.random()
        if r < 0.4:
            p = {"object": "list", "data": [permission(rng) for _ in range(rng.choice([2000, 8000]))],
                 "has_more": False}
        elif r < 0.7:
            p = {"object": "list", "data": [], "has_more": False, "padding": "x" * rng.choice([10 ** 5, 3 * 10 ** 6])}
        else:
            p = {"error": {"message": "m" * rng.choice([10 ** 4, 10 ** 6]), "type": "t" * 10 ** 4,
                           "code": None, "param": "p" * 10 ** 4}}
        data = json_reply(p, 200 if r < 0.7 else rng.choice([400, 500]))
    elif kind == "deep":
        depth = rng.choice([100, 999, 1001, 5000, 50000])
        text = b'{"object":"list","data":' + b"[" * depth + b"]" * depth + b',"has_more":false}'
        if rng.random() < 0.5:
            text = b"{\"a\":" * depth + b"1" + b"}" * depth
        data = status_line(200) + b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(text) + text
    elif kind == "cut":
        full = valid()
        data = full[:rng.randint(1, max(1, len(full) - 1))]
    elif kind == "promised":
        data = (status_line(200) + b"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
                + b'{"object":"list","data":[')
    elif kind == "ctype":
        ct = rng.choice([b"text/html", b"application/jsonx", b"application/json\x01", b"", b"json",
                         b"application/json; charset=latin1", b"\xff\xfe"])
        data = json_reply(page(rng, limit, projects), ctype=ct)
    elif kind == "status":
        code = rng.choice([100, 101, 102, 199, 201, 202, 204, 205, 206, 226, 299, 300, 301, 302, 303, 304,
                           307, 308, 399, 400, 401, 403, 404, 405, 408, 409, 410, 413, 414, 418, 422, 429,
                           431, 499, 500, 501, 502, 503, 504, 599, 600, 999])
        extra = b""
        if 300 <= code < 400 and rng.random() < 0.7:
            extra = b"Location: " + rng.choice([b"http://169.254.169.254/latest", b"/v1/x",
                                                b"file:///etc/passwd", b"\x01\xff", b"x" * 5000]) + b"\r\n"
        if rng.random() < 0.5:
            obj = {"error": {"message": rand_value(rng), "type": rand_value(rng), "code": rand_value(rng),
                             "param": rand_value(rng)}}
        else:
            obj = rand_value(rng)
        data = json_reply(obj, code, extra=extra)
        if code < 200 and rng.random() < 0.5:   # an interim reply, then a real one
            data = status_line(code) + b"\r\n" + valid()
    elif kind == "headers":
        extra = b""
        for _ in range(rng.randint(1, 4)):
            extra += rng.choice([
                b"retry-after: " + rng.choice([b"0", b"1", b"-1", b"abc", b"99999", b"0.2", b"1e309", b"nan",
                                               b"Wed, 21 Oct 2015 07:28:00 GMT", b"Fri, 31 Dec 9999 23:59:59 GMT"]),
                b"retry-after-ms: " + rng.choice([b"10", b"-5", b"1e9", b"nan", b"inf", b"", b"0x10"]),
                b"x-should-retry: " + rng.choice([b"true", b"false", b"maybe", b""]),
                b"x-request-id: " + rng.choice([b"req_\x01\x02", b"\xff\xfe", b"r" * 10000, b""]),
                b"content-type: " + rng.choice([b"text/plain", b"application/json"]),
                b"x-long: " + b"h" * rng.choice([1000, 100000]),
                b"no colon here",
                b"x-nul: a\x00b",
            ]) + b"\r\n"
        code = rng.choice([200, 200, 429, 500, 503, 408])
        text = json.dumps(page(rng, limit, projects) if code == 200 else {"error": {"message": "busy"}}).encode()
        data = (status_line(code) + b"Content-Type: application/json\r\n" + extra
                + b"Content-Length: %d\r\n\r\n" % len(text) + text)
    elif kind == "badline":
        data = rng.choice([b"hello\r\n\r\n", b"HTTP/1.1 abc OK\r\n\r\n", b"HTTP/9.9 200 OK\r\n\r\n{}",
                           b"\x00\x01\x02\x03", b"HTTP/1.1 200\r\nContent-Length: -5\r\n\r\n",
                           b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}"])
    elif kind == "chunked":
        data = (status_line(200) + b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                + rng.choice([b"zz\r\n{}\r\n0\r\n\r\n", b"ffffffffffffffff\r\n{", b"2\r\n{}\r\n",
                              b"2\r\n{}\r\n0\r\n\r\n"]))
    elif kind == "slow":
        wait = rng.choice([0.05, 0.2, 0.6])
        data = valid()
    elif kind == "drip":
        data = ("drip", valid())
    elif kind == "silent":
        wait = 1.0          # past timeout_ms: the extension gives up first
        data = b""
    elif kind == "empty":
        data = b""
    elif kind == "nobody":
        data = status_line(rng.choice([200, 201, 204])) + b"Content-Length: 0\r\n\r\n"
    elif kind == "badutf8":
        text = json.dumps(page(rng, limit, projects)).encode().replace(b"cp_", b"cp_\xff\xfe\xc0", 1)
        data = (status_line(200) + b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(text)
                + text)
    elif kind == "nul":
        text = json.dumps(page(rng, limit, projects)).encode().replace(b"cp_", b"cp_\\u0000", 1)
        data = (status_line(200) + b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(text)
                + text)
    elif kind == "garbage":
        data = (status_line(200) + b"Content-Type: application/json\r\n\r\n"
                + bytes(rng.randrange(256) for _ in range(rng.choice([1, 100, 5000]))))
    else:  # delete-shaped replies to anything
        data = json_reply({"id": rand_value(rng), "object": rand_value(rng), "deleted": rand_value(rng)})
    return kind, data, wait


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        fuzz = self.server.fuzz
        sock = self.request
        sock.settimeout(10)
        buf = b""
        try:
            while b"\r\n\r\n" not in buf and len(buf) < 1 << 16:
                chunk = sock.recv(65536)
                if not chunk:
                    return
                buf += chunk
            head, _, body = buf.partition(b"\r\n\r\n")
            lines = head.split(b"\r\n")
            method, target = (lines[0].split(b" ") + [b"", b""])[:2]
            length = 0
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip() or 0)
            while len(body) < length:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                body += chunk
            n = fuzz.next()
            rng = random.Random("%d:%d" % (fuzz.seed, fuzz.only or n))
            method, target = method.decode("latin-1"), target.decode("latin-1")
            kind, data, wait = reply(rng, method, target, body)
            fuzz.note(n, kind, method, target)
            if wait:
                time.sleep(wait)
            if isinstance(data, tuple):     # drip: a byte at a time
                for i in range(0, len(data[1]), 64):
                    sock.sendall(data[1][i:i + 64])
                    time.sleep(0.002)
            else:
                sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--log")
    ap.add_argument("--only", type=int, default=0)
    args = ap.parse_args()
    srv = Server(("127.0.0.1", args.port), Handler)
    srv.fuzz = Fuzz(args.seed, args.log, args.only)
    port = srv.server_address[1]
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write(str(port))
        os.rename(args.port_file + ".tmp", args.port_file)
    print("fuzz mock listening on http://127.0.0.1:%d/v1" % port, flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
