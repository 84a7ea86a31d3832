#!/usr/bin/env python3
"""A minimal local stand-in for the two Heroku endpoints a backup download uses, plus the
storage URL itself, for the download benchmark. Serves one backup (num 1) of app `bench`
whose bytes are the file given on the command line; honours Range requests.

    backup_server.py FILE PORT_FILE
"""
import http.server
import json
import os
import sys

FILE = sys.argv[1]
PORT_FILE = sys.argv[2]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send_json(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        if self.path == "/client/v11/apps/bench/transfers/1/actions/public-url":
            port = self.server.server_address[1]
            self.send_json(200, {"url": f"http://127.0.0.1:{port}/blob/b001.dump?sig=bench"})
        else:
            self.send_json(404, {"id": "not_found", "message": "not found"})

    def do_GET(self):
        if self.path == "/client/v11/apps/bench/transfers":
            self.send_json(200, [{"uuid": "u-1", "num": 1, "from_type": "pg_dump", "to_type": "gof3r",
                                  "succeeded": True, "created_at": "2026-01-01T00:00:00Z",
                                  "finished_at": "2026-01-01T00:01:00Z"}])
            return
        if not self.path.startswith("/blob/"):
            self.send_json(404, {"id": "not_found", "message": "not found"})
            return
        if self.headers.get("Authorization"):
            self.send_json(400, {"id": "bad_request", "message": "storage URLs take no token"})
            return
        size = os.path.getsize(FILE)
        start = 0
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes="):
            start = int(rng[6:].split("-")[0])
            if start >= size:
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{size}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(size - start))
        self.send_header("Content-Type", "application/octet-stream")
        self.end_headers()
        with open(FILE, "rb") as f:
            f.seek(start)
            while True:
                chunk = f.read(1 << 20)
                if not chunk:
                    break
                try:
                    self.wfile.write(chunk)
                except (BrokenPipeError, ConnectionResetError):
                    return


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(PORT_FILE, "w") as f:
    f.write(str(server.server_address[1]))
server.serve_forever()
