"""Self-test of test/mock_openai.py (standard library only).

Run from the repository root:  /usr/bin/python3 -m unittest test/test_mock.py -v
"""

import http.client
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
MOCK = os.path.join(HERE, "mock_openai.py")
KEY = "sk-admin-test-0123456789"
BASE = "/v1/fine_tuning/checkpoints/"


def perms_path(ckpt, pid=None, **query):
    p = BASE + urllib.parse.quote(ckpt, safe=":") + "/permissions"
    if pid is not None:
        p += "/" + urllib.parse.quote(pid, safe="").replace(".", "%2E")   # never a bare . or .. segment
    if query:
        p += "?" + urllib.parse.urlencode(query)
    return p


class MockTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.log_path = os.path.join(cls.tmp.name, "requests.jsonl")
        cls.port_file = os.path.join(cls.tmp.name, "port")
        cls.proc = subprocess.Popen(
            [sys.executable, MOCK, "--key", KEY, "--port", "0", "--port-file", cls.port_file,
             "--log", cls.log_path, "--page-cap", "100"],
            stdout=subprocess.PIPE, text=True)
        line = cls.proc.stdout.readline()
        if not line.startswith("mock listening on http://127.0.0.1:"):
            cls.proc.kill()
            raise RuntimeError("mock did not start: %r" % line)
        with open(cls.port_file) as f:
            cls.port = int(f.read())
        assert line.strip() == "mock listening on http://127.0.0.1:%d/v1" % cls.port

    @classmethod
    def tearDownClass(cls):
        cls.proc.send_signal(signal.SIGTERM)
        try:
            cls.proc.wait(timeout=5)
        finally:
            if cls.proc.poll() is None:
                cls.proc.kill()
            cls.proc.stdout.close()
            cls.tmp.cleanup()

    def request(self, method, path, body=None, key=KEY, conn=None, headers=None):
        own = conn is None
        c = conn or http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        h = {"User-Agent": "test_mock/1"}
        if key is not None:
            h["Authorization"] = "Bearer " + key
        if body is not None:
            body = json.dumps(body)
            h["Content-Type"] = "application/json"
        h.update(headers or {})
        try:
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            raw = r.read()
            self.assertEqual(int(r.getheader("Content-Length")), len(raw))
            self.assertRegex(r.getheader("x-request-id"), r"^req_(\d+|[0-9a-f]{8}_\d+)$")
            return r.status, json.loads(raw), r
        finally:
            if own:
                c.close()

    def list_all(self, ckpt, **query):
        pages, items, after = 0, [], None
        while True:
            q = dict(query)
            if after:
                q["after"] = after
            status, page, _ = self.request("GET", perms_path(ckpt, **q))
            self.assertEqual(status, 200, page)
            pages += 1
            items += page["data"]
            if page["data"]:
                self.assertEqual(page["first_id"], page["data"][0]["id"])
                self.assertEqual(page["last_id"], page["data"][-1]["id"])
            if not page["has_more"]:
                return pages, items
            after = page["last_id"]

    def test_paging(self):
        ckpt = "ft:gpt-4o-mini-2024-07-18:org:paging:seed-250"
        pages, asc = self.list_all(ckpt, limit=1000, order="ascending")
        self.assertEqual(pages, 3)
        self.assertEqual(len(asc), 250)
        self.assertEqual(len({p["id"] for p in asc}), 250)
        self.assertEqual([p["created_at"] for p in asc], list(range(1721764867, 1721764867 + 250)))
        self.assertEqual([p["project_id"] for p in asc[:2]], ["proj_0001", "proj_0002"])
        for p in asc:
            self.assertRegex(p["id"], r"^cp_[A-Za-z0-9]{24}$")
            self.assertEqual(p["object"], "checkpoint.permission")
        pages, desc = self.list_all(ckpt, limit=100)         # default order: descending
        self.assertEqual(pages, 3)
        self.assertEqual(desc, asc[::-1])
        status, page, _ = self.request("GET", perms_path(ckpt))  # default limit 10
        self.assertEqual(len(page["data"]), 10)
        self.assertEqual(page["data"], desc[:10])
        # deterministic across checkpoints' first access
        _, again, _ = self.request("GET", perms_path(ckpt, limit=3, order="ascending"))
        self.assertEqual(again["data"], asc[:3])

    def test_bad_list_params(self):
        ckpt = "ft:m:org:params:seed-5"
        for q, param in (({"limit": "0"}, "limit"), ({"limit": "x"}, "limit"),
                         ({"order": "asc"}, "order"), ({"after": "cp_nope"}, "after")):
            status, body, _ = self.request("GET", perms_path(ckpt, **q))
            self.assertEqual(status, 400, q)
            self.assertEqual(body["error"]["param"], param)
            self.assertEqual(set(body["error"]), {"message", "type", "param", "code"})

    def test_project_filter(self):
        ckpt = "ft:m:org:filter:seed-250:proj-7"
        pages, items = self.list_all(ckpt, project_id="proj_0003", limit=10, order="ascending")
        self.assertEqual(len(items), len(range(2, 250, 7)))
        self.assertEqual(pages, 4)
        self.assertTrue(all(p["project_id"] == "proj_0003" for p in items))
        self.assertEqual([p["created_at"] - 1721764867 for p in items], list(range(2, 250, 7)))
        _, none = self.list_all(ckpt, project_id="proj_0008")
        self.assertEqual(none, [])

    def test_create_list_delete(self):
        ckpt = "ft:m:org:roundtrip"
        status, body, _ = self.request("POST", perms_path(ckpt), {"project_ids": ["proj_a", "proj_b", "proj_a"]})
        self.assertEqual(status, 200, body)
        self.assertEqual(body["object"], "list")
        self.assertFalse(body["has_more"])
        created = body["data"]
        self.assertEqual([p["project_id"] for p in created], ["proj_a", "proj_b", "proj_a"])
        _, listed = self.list_all(ckpt, order="ascending")
        self.assertEqual(listed, created)
        _, only_a = self.list_all(ckpt, project_id="proj_a")
        self.assertEqual(only_a, [created[2], created[0]])

        status, body, _ = self.request("DELETE", perms_path(ckpt, created[0]["id"]))
        self.assertEqual((status, body), (200, {"id": created[0]["id"], "object": "checkpoint.permission",
                                                "deleted": True}))
        status, body, _ = self.request("DELETE", perms_path(ckpt, created[0]["id"]))
        self.assertEqual(status, 404)
        self.assertEqual(body["error"]["code"], "not_found")
        _, listed = self.list_all(ckpt, order="ascending")
        self.assertEqual(listed, created[1:])
        # a revoked id is no longer a cursor (a strict API may refuse it)...
        status, page, _ = self.request("GET", perms_path(ckpt, after=created[0]["id"], order="ascending"))
        self.assertEqual((status, page["error"]["param"]), (400, "after"))
        # ...unless the checkpoint asks for a lenient mock
        lenient = "ft:m:org:lenient-cursor:seed-3"
        _, items = self.list_all(lenient, order="ascending")
        status, _, _ = self.request("DELETE", perms_path(lenient, items[0]["id"]))
        self.assertEqual(status, 200)
        status, page, _ = self.request("GET", perms_path(lenient, after=items[0]["id"], order="ascending"))
        self.assertEqual((status, page["data"]), (200, items[1:]))

        for bad in ({}, {"project_ids": []}, {"project_ids": [""]}, {"project_ids": "p"},
                    {"project_ids": ["p"], "x": 1}):
            status, body, _ = self.request("POST", perms_path(ckpt), bad)
            self.assertEqual(status, 400, bad)
            self.assertEqual(body["error"]["param"], "project_ids")

    def test_hostile_ids(self):
        ckpt = "ft:m:org:hostile-ids:seed-9"
        _, items = self.list_all(ckpt, order="ascending")
        ids = [p["id"] for p in items]
        self.assertEqual(ids[:7], ["cp_a/b", "cp_q?x=1", "cp_h#f", "cp_p%41", "cp_s p", "..", "."])
        for pid in ids[:7]:
            status, body, _ = self.request("DELETE", perms_path(ckpt, pid))
            self.assertEqual((status, body["id"]), (200, pid))
        _, items = self.list_all(ckpt)
        self.assertEqual(len(items), 2)
        # a bare ".." is normalised away like a proxy would, so it never reaches the permission
        status, _, _ = self.request("DELETE", BASE + urllib.parse.quote(ckpt, safe=":") + "/permissions/..")
        self.assertEqual(status, 404)

    def test_unauthorized(self):
        ckpt = "ft:m:org:auth"
        status, body, _ = self.request("GET", perms_path(ckpt), key="sk-wrong-key-xyz")
        self.assertEqual(status, 401)
        self.assertEqual(body["error"]["code"], "invalid_api_key")
        self.assertIn("Incorrect API key provided: sk-***yz.", body["error"]["message"])
        self.assertNotIn("wrong", json.dumps(body))
        status, body, _ = self.request("GET", perms_path(ckpt), key=None)
        self.assertEqual(status, 401)
        self.assertIn("Incorrect API key provided: .", body["error"]["message"])

    def test_unknown_checkpoint_and_route(self):
        for ckpt in ("ft:m:org:missing:x", "gpt-4o"):
            status, body, _ = self.request("GET", perms_path(ckpt))
            self.assertEqual(status, 404)
            self.assertEqual(body["error"]["code"], "model_not_found")
            self.assertEqual(body["error"]["param"], "fine_tuned_model_checkpoint")
        status, body, _ = self.request("GET", "/v1/models")
        self.assertEqual(status, 404)
        self.assertIsNone(body["error"]["code"])

    def test_fail_then_succeed(self):
        ckpt = "ft:m:org:flaky:seed-3:fail-1-429:retry-after-2:no-retry"
        status, body, r = self.request("GET", perms_path(ckpt))
        self.assertEqual(status, 429)
        self.assertEqual(body["error"]["code"], "rate_limit_exceeded")
        self.assertEqual(r.getheader("retry-after"), "2")
        self.assertEqual(r.getheader("x-should-retry"), "false")
        status, body, _ = self.request("GET", perms_path(ckpt))
        self.assertEqual(status, 200)
        self.assertEqual(len(body["data"]), 3)

    def post_without_reply(self, ckpt, pids, timeout=5):
        """POST and expect the connection to close without a status line."""
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            c.request("POST", perms_path(ckpt), body=json.dumps({"project_ids": pids}),
                      headers={"Authorization": "Bearer " + KEY, "Content-Type": "application/json"})
            with self.assertRaises((http.client.RemoteDisconnected, ConnectionError)):
                c.getresponse()
        finally:
            c.close()

    def test_applied_then_no_reply(self):
        # applied-hangup: every grant is made, no reply; partial-hangup: the first half
        ckpt = "ft:m:org:lost:post-fail-1-applied-hangup"
        self.post_without_reply(ckpt, ["proj_a", "proj_b"])
        _, items = self.list_all(ckpt)
        self.assertEqual(sorted(i["project_id"] for i in items), ["proj_a", "proj_b"])
        status, body, _ = self.request("POST", perms_path(ckpt), {"project_ids": ["proj_c"]})
        self.assertEqual((status, len(body["data"])), (200, 1))
        ckpt = "ft:m:org:half:post-partial-hangup"
        self.post_without_reply(ckpt, ["proj_a", "proj_b", "proj_c"])
        _, items = self.list_all(ckpt)
        self.assertEqual(sorted(i["project_id"] for i in items), ["proj_a", "proj_b"])
        log = [e for e in self.log_entries() if e.get("checkpoint") == ckpt]
        self.assertEqual([(e["method"], e["status"], e["fault"]) for e in log],
                         [("POST", None, "partial-hangup"), ("GET", 200, None)])

    def test_stall(self):
        ckpt = "ft:m:org:stalled:post-stall"
        self.post_without_reply(ckpt, ["proj_a"], timeout=5)
        _, items = self.list_all(ckpt)
        self.assertEqual([i["project_id"] for i in items], ["proj_a"])
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=0.3)
        try:
            c.request("POST", perms_path(ckpt), body=json.dumps({"project_ids": ["proj_b"]}),
                      headers={"Authorization": "Bearer " + KEY, "Content-Type": "application/json"})
            with self.assertRaises(TimeoutError):
                c.getresponse()
        finally:
            c.close()

    def test_keep_alive(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            ckpt = "ft:m:org:keepalive:seed-2"
            self.request("GET", perms_path(ckpt), conn=conn)
            sock = conn.sock
            self.assertIsNotNone(sock)
            status, _, _ = self.request("GET", perms_path(ckpt), conn=conn)
            self.assertEqual(status, 200)
            self.assertIs(conn.sock, sock)
        finally:
            conn.close()
        lines = [e for e in self.log_entries() if e.get("checkpoint") == ckpt]
        self.assertEqual(len(lines), 2)
        self.assertEqual(lines[0]["conn"], lines[1]["conn"])
        self.assertEqual([e["conn_seq"] for e in lines], [1, 2])

    def log_entries(self):
        with open(self.log_path) as f:
            return [json.loads(line) for line in f]

    def test_log(self):
        ckpt = "ft:m:org:logged"
        self.request("POST", perms_path(ckpt, x="1"), {"project_ids": ["proj_z"]},
                     headers={"OpenAI-Organization": "org_1", "OpenAI-Project": "proj_p"})
        self.request("GET", perms_path(ckpt), key="sk-bad-000000")
        entries = [e for e in self.log_entries() if e.get("checkpoint") == ckpt]
        self.assertEqual(len(entries), 2)
        post, get = entries
        self.assertEqual(post["method"], "POST")
        self.assertEqual(post["path"], BASE + "ft:m:org:logged/permissions")
        self.assertEqual(post["query"], {"x": "1"})
        self.assertEqual(post["body"], {"project_ids": ["proj_z"]})
        self.assertEqual(post["status"], 200)
        self.assertTrue(post["auth_ok"])
        self.assertEqual(post["user_agent"], "test_mock/1")
        self.assertEqual(post["content_type"], "application/json")
        self.assertEqual((post["organization"], post["project"]), ("org_1", "proj_p"))
        self.assertIsNone(post["permission_id"])
        self.assertEqual((get["status"], get["auth_ok"]), (401, False))
        self.assertGreater(get["seq"], post["seq"])
        with open(self.log_path) as f:
            text = f.read()
        self.assertNotIn(KEY, text)
        self.assertNotIn("sk-bad", text)
        self.assertEqual(os.stat(self.log_path).st_mode & 0o777, 0o644)
        self.assertIn("openai-organization", post["header_names"])
        self.assertIn("authorization", post["header_names"])

    def raw_get(self, path):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            c.request("GET", path, headers={"Authorization": "Bearer " + KEY})
            r = c.getresponse()
            return r.status, r.read(), r
        finally:
            c.close()

    def test_contract_breaking_pages(self):
        _, page, _ = self.request("GET", perms_path("ft:t:overfull:seed-30", limit=5))
        self.assertEqual(len(page["data"]), 10)
        _, page, _ = self.request("GET", perms_path("ft:t:dupids:seed-30", limit=5))
        self.assertEqual(page["data"][0], page["data"][-1])
        _, p1, _ = self.request("GET", perms_path("ft:t:dupnext:seed-30", limit=5))
        _, p2, _ = self.request("GET", perms_path("ft:t:dupnext:seed-30", limit=5, after=p1["last_id"]))
        self.assertEqual(p2["data"][0], p1["data"][-1])
        self.assertNotEqual(p2["last_id"], p1["last_id"])
        status, raw, r = self.raw_get(perms_path("ft:t:nobody:seed-1"))
        self.assertEqual((status, raw, r.getheader("Content-Type")), (204, b"", None))

    def test_hostile_reply_ids(self):
        for token, check in [("ctrlid", lambda i: "\r\nX-Smuggled: 1" in i),
                             ("nulid", lambda i: "\x00" in i),
                             ("longid", lambda i: len(i) == 300),
                             ("spaceid", lambda i: i.startswith(" "))]:
            _, page, _ = self.request("GET", perms_path("ft:t:%s:seed-2" % token))
            self.assertTrue(check(page["data"][0]["id"]), token)
            self.assertRegex(page["data"][1]["id"], r"^cp_[A-Za-z0-9]{24}$")
        _, raw, _ = self.raw_get(perms_path("ft:t:badutf8:seed-2"))
        self.assertIn(b"\xff\xfe", raw)
        status, raw, _ = self.raw_get(perms_path("ft:t:hostile-error"))
        self.assertEqual(status, 400)
        self.assertIn(b"\xff\xfe", raw)
        self.assertIn(KEY.encode(), raw)

    def concurrently(self, paths):
        """GET every path at once, each on its own connection; returns [(status, body, headers)]."""
        results = [None] * len(paths)

        def get(i):
            status, body, r = self.request("GET", paths[i])
            results[i] = (status, body, r)
        threads = [threading.Thread(target=get, args=(i,)) for i in range(len(paths))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return results

    def test_slow_replies_overlap(self):
        # ThreadingHTTPServer: a slow reply does not hold up the others
        ckpt = "ft:m:org:overlap:seed-3:slow-300"
        t0 = time.monotonic()
        results = self.concurrently([perms_path(ckpt, project_id="proj_%04d" % i) for i in (1, 2, 3)])
        elapsed = time.monotonic() - t0
        self.assertEqual([r[0] for r in results], [200, 200, 200])
        self.assertLess(elapsed, 0.85)
        entries = [e for e in self.log_entries() if e.get("checkpoint") == ckpt]
        self.assertEqual(len({e["conn"] for e in entries}), 3)
        self.assertLess(max(e["ts"] for e in entries) - min(e["ts"] for e in entries), 0.3)

    def test_inflight_limit(self):
        ckpt = "ft:m:org:inflight-2:slow-300:seed-3"
        results = self.concurrently([perms_path(ckpt)] * 4)
        self.assertEqual(sorted(r[0] for r in results), [200, 200, 429, 429])
        for status, body, r in results:
            if status == 429:
                self.assertEqual(body["error"]["code"], "rate_limit_exceeded")
                self.assertEqual(set(body["error"]), {"message", "type", "param", "code"})
                self.assertEqual(r.getheader("retry-after-ms"), "50")
        # the refused ones held nothing: once the two are done, two more get in
        results = self.concurrently([perms_path(ckpt)] * 2)
        self.assertEqual([r[0] for r in results], [200, 200])
        # one after the other never meets the limit, on one keep-alive connection or many
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            for _ in range(3):
                self.assertEqual(self.request("GET", perms_path("ft:m:org:inflight-1:seed-1"), conn=conn)[0], 200)
        finally:
            conn.close()
        for _ in range(3):
            self.assertEqual(self.request("GET", perms_path("ft:m:org:inflight-1:seed-1"))[0], 200)
        # scoped to a method, it leaves the others alone
        ckpt = "ft:m:org:delete-inflight-1:slow-300:seed-3"
        self.assertEqual([r[0] for r in self.concurrently([perms_path(ckpt)] * 2)], [200, 200])
        entries = [e for e in self.log_entries() if e.get("checkpoint") == "ft:m:org:inflight-2:slow-300:seed-3"]
        self.assertEqual(sorted(e["fault"] or "" for e in entries)[-2:], ["inflight-2", "inflight-2"])

    def test_project_fault(self):
        ckpt = "ft:m:org:seed-6:proj-3:project-proj_0002-400"
        status, body, _ = self.request("GET", perms_path(ckpt, project_id="proj_0002"))
        self.assertEqual((status, body["error"]["message"]), (400, "Mock fault: HTTP 400."))
        status, body, _ = self.request("GET", perms_path(ckpt, project_id="proj_0002"))
        self.assertEqual(status, 400)
        status, body, _ = self.request("GET", perms_path(ckpt, project_id="proj_0001"))
        self.assertEqual((status, len(body["data"])), (200, 2))
        status, body, _ = self.request("GET", perms_path(ckpt))
        self.assertEqual((status, len(body["data"])), (200, 6))
        by_project = {p["project_id"]: p["id"] for p in body["data"]}
        self.assertEqual(self.request("DELETE", perms_path(ckpt, by_project["proj_0002"]))[0], 400)
        self.assertEqual(self.request("DELETE", perms_path(ckpt, by_project["proj_0003"]))[0], 200)
        self.assertEqual(self.request("POST", perms_path(ckpt), {"project_ids": ["proj_9", "proj_0002"]})[0], 400)
        self.assertEqual(self.request("POST", perms_path(ckpt), {"project_ids": ["proj_9"]})[0], 200)
        _, items = self.list_all(ckpt)
        self.assertEqual(len(items), 6)     # one revoked, one granted; the refused did nothing

    def test_truthful_faults(self):
        # skiplast: a short reply that tells the truth; the list agrees
        ckpt = "ft:m:org:skiplast"
        status, body, _ = self.request("POST", perms_path(ckpt), {"project_ids": ["proj_a", "proj_b", "proj_c"]})
        self.assertEqual((status, [p["project_id"] for p in body["data"]]), (200, ["proj_a", "proj_b"]))
        self.assertEqual(sorted(p["project_id"] for p in self.list_all(ckpt)[1]), ["proj_a", "proj_b"])
        # notdeleted: the permission stays
        ckpt = "ft:m:org:seed-1:notdeleted"
        pid = self.list_all(ckpt)[1][0]["id"]
        status, body, _ = self.request("DELETE", perms_path(ckpt, pid))
        self.assertEqual((status, body), (200, {"id": pid, "object": "checkpoint.permission", "deleted": False}))
        self.assertEqual(len(self.list_all(ckpt)[1]), 1)
        # nofilter: every project's permissions, whatever ?project_id= says
        _, page, _ = self.request("GET", perms_path("ft:m:org:seed-4:proj-2:nofilter", project_id="proj_0001"))
        self.assertEqual(sorted(p["project_id"] for p in page["data"]), ["proj_0001", "proj_0001", "proj_0002", "proj_0002"])
        # nonlatin1: a snowman in what the reply holds, after the work is done
        ckpt = "ft:m:org:seed-1:nonlatin1"
        _, page, _ = self.request("GET", perms_path(ckpt))
        self.assertEqual(page["data"][0]["object"], "checkpoint.permission\u2603")
        status, body, _ = self.request("POST", perms_path(ckpt), {"project_ids": ["proj_x"]})
        self.assertEqual((status, body["data"][0]["object"]), (200, "checkpoint.permission\u2603"))
        status, body, _ = self.request("DELETE", perms_path(ckpt, page["data"][0]["id"]))
        self.assertEqual((status, body["id"]), (200, page["data"][0]["id"] + "\u2603"))
        self.assertEqual([p["project_id"] for p in self.list_all(ckpt)[1]], ["proj_x"])


if __name__ == "__main__":
    unittest.main()
