#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# A Kubernetes API server for the pods resource only, over HTTPS on loopback, speaking the real
# wire format: GET /api/v1/pods (PodList, fieldSelector spec.nodeName=...), and the watch
# (?watch=1&resourceVersion=N&allowWatchBookmarks=true): a chunked stream of one JSON event per
# line, ADDED / MODIFIED / DELETED / BOOKMARK, and ERROR with a 410 Status when N was compacted.
# Bearer tokens are checked against a file read for every request (rotation). The test drives it
# through POST /control (JSON): {"op": "put", "pod": {...}} (ADDED or MODIFIED), {"op": "delete",
# "uid": U}, {"op": "bookmark"}, {"op": "close"} (ends every open watch, as the server's
# timeoutSeconds does), {"op": "compact"} (forgets history up to now and ends every watch, so a
# client's next watch gets 410). Every API request is appended to --log as one line.
import argparse
import json
import ssl
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

lock = threading.Condition()
state = {"rv": 100, "pods": {}, "events": [], "compacted": 0, "generation": 0}


def bump():
    state["rv"] += 1
    return str(state["rv"])


def status(code, reason, message):
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}


def node_of(pod):
    return pod.get("spec", {}).get("nodeName", "")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def send_json(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def chunk(self, obj):
        data = (json.dumps(obj) + "\n").encode()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def authorized(self):
        with open(self.server.args.token_file) as f:
            want = f.read().strip()
        return self.headers.get("Authorization", "") == "Bearer " + want

    def do_POST(self):
        if self.path != "/control":
            return self.send_json(404, status(404, "NotFound", "no such path"))
        cmd = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
        with lock:
            op = cmd["op"]
            if op == "put":
                pod = cmd["pod"]
                uid = pod["metadata"]["uid"]
                kind = "MODIFIED" if uid in state["pods"] else "ADDED"
                pod["metadata"]["resourceVersion"] = bump()
                state["pods"][uid] = pod
                state["events"].append((state["rv"], kind, pod))
            elif op == "delete":
                pod = state["pods"].pop(cmd["uid"])
                pod["metadata"]["resourceVersion"] = bump()
                state["events"].append((state["rv"], "DELETED", pod))
            elif op == "bookmark":
                state["events"].append((int(bump()), "BOOKMARK", None))
            elif op in ("close", "compact"):
                if op == "compact":  # an event nobody saw, compacted with the rest
                    bump()
                    state["compacted"] = state["rv"]
                    state["events"] = []
                state["generation"] += 1
            lock.notify_all()
            rv = state["rv"]
        self.send_json(200, {"resourceVersion": str(rv)})

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        with open(self.server.args.log, "a") as f:
            f.write(self.path + "\n")
        if url.path != "/api/v1/pods":
            return self.send_json(404, status(404, "NotFound", "no such path"))
        if not self.authorized():
            return self.send_json(401, status(401, "Unauthorized", "Unauthorized"))
        node = None
        for sel in query.get("fieldSelector", [""])[0].split(","):
            if sel.startswith("spec.nodeName="):
                node = sel[len("spec.nodeName="):]
        wanted = lambda pod: node is None or node_of(pod) == node
        if query.get("watch", ["0"])[0] not in ("1", "true"):
            with lock:
                items = [p for p in state["pods"].values() if wanted(p)]
                return self.send_json(200, {"kind": "PodList", "apiVersion": "v1",
                                            "metadata": {"resourceVersion": str(state["rv"])},
                                            "items": items})
        self.watch(query, wanted)

    def watch(self, query, wanted):
        since = int(query.get("resourceVersion", ["0"])[0] or 0)
        bookmarks = query.get("allowWatchBookmarks", ["false"])[0] == "true"
        deadline = time.monotonic() + int(query.get("timeoutSeconds", ["1800"])[0])
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        with lock:
            generation = state["generation"]
            if since < state["compacted"]:
                msg = "too old resource version: %d (%d)" % (since, state["compacted"])
                self.chunk({"type": "ERROR", "object": status(410, "Expired", msg)})
                return self.finish_stream()
            while time.monotonic() < deadline and state["generation"] == generation:
                for rv, kind, pod in state["events"]:
                    if rv <= since:
                        continue
                    since = rv
                    if kind == "BOOKMARK":
                        if bookmarks:
                            self.chunk({"type": "BOOKMARK", "object": {
                                "kind": "Pod", "apiVersion": "v1",
                                "metadata": {"resourceVersion": str(rv)}}})
                    elif wanted(pod):
                        self.chunk({"type": kind, "object": pod})
                lock.wait(0.2)
        self.finish_stream()

    def finish_stream(self):
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()
        self.close_connection = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--token-file", required=True)
    ap.add_argument("--log", required=True)
    args = ap.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.args = args
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    print("serving", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
