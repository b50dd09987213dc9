#!/usr/bin/python3
"""Raw capacity of the mock API from a plain keep-alive client: N sequential
GETs of a full page (100 permissions) on one connection.  Prints one JSON
line: {"requests", "seconds", "per_second", "ms_per_request"}.
Usage: mock_capacity.py BASE_URL KEY CHECKPOINT [N]"""
import http.client
import json
import sys
import time
import urllib.parse

base, key, checkpoint = sys.argv[1:4]
n = int(sys.argv[4]) if len(sys.argv) > 4 else 500
url = urllib.parse.urlsplit(base)
path = "%s/fine_tuning/checkpoints/%s/permissions?limit=100" % (
    url.path, urllib.parse.quote(checkpoint, safe=":"))
conn = http.client.HTTPConnection(url.hostname, url.port)
headers = {"Authorization": "Bearer " + key}
t0 = time.perf_counter()
for _ in range(n):
    conn.request("GET", path, headers=headers)
    reply = conn.getresponse()
    body = reply.read()
    assert reply.status == 200 and len(json.loads(body)["data"]) == 100
seconds = time.perf_counter() - t0
print(json.dumps({"requests": n, "seconds": round(seconds, 3),
                  "per_second": round(n / seconds, 1),
                  "ms_per_request": round(seconds * 1000 / n, 2)}))
