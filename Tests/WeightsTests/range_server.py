"""Loopback HTTP server with Range support for the downloader tests.

Usage: range_server.py DIR PORTFILE [--cut-first N]
Serves DIR on 127.0.0.1 (ephemeral port, written to PORTFILE). With --cut-first N the first
GET stops after N bytes (simulating a dropped connection). Sends X-Linked-Etag = sha256, as the hub does.
Stops by itself after 60 s."""
import hashlib, http.server, os, sys, threading

root, portfile = sys.argv[1], sys.argv[2]
cut = int(sys.argv[4]) if len(sys.argv) > 4 and sys.argv[3] == "--cut-first" else None
state = {"first": True}

class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        path = os.path.join(root, os.path.basename(self.path.split("?")[0]))
        if not os.path.isfile(path):
            self.send_response(404); self.end_headers(); return
        data = open(path, "rb").read()
        start = 0
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes="):
            start = int(rng[6:].split("-")[0])
            self.send_response(206)
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, len(data) - 1, len(data)))
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Linked-Etag", '"%s"' % hashlib.sha256(data).hexdigest())
        self.end_headers()
        if cut is not None and state["first"]:
            state["first"] = False
            self.wfile.write(body[:cut]); self.wfile.flush()
            self.connection.shutdown(2)
            return
        self.wfile.write(body)

srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
with open(portfile + ".tmp", "w") as f: f.write(str(srv.server_address[1]))
os.rename(portfile + ".tmp", portfile)
threading.Timer(60, srv.shutdown).start()
srv.serve_forever()
