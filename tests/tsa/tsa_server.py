#!/usr/bin/env python3
"""A local RFC 3161 time-stamping authority for the tests: `openssl ts -reply` behind HTTP.

usage: tsa_server.py WORKDIR [MODE]
Creates a CA and a TSA certificate it issued in WORKDIR (ca.pem, tsa.pem, other-ca.pem), serves
POST / on a free port of 127.0.0.1 and prints that port on its first line of output. MODE:
  ok          answer each request (default)
  error       answer HTTP 500
  other-hash  answer with a valid token over another hash than the one asked for
It exits when its standard input closes (the test that started it ended).
"""
import http.server
import os
import subprocess
import sys
import tempfile
import threading

work = sys.argv[1]
mode = sys.argv[2] if len(sys.argv) > 2 else "ok"


def sh(*args):
    subprocess.run(args, check=True, cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def setup():
    if os.path.exists(os.path.join(work, "tsa.pem")):
        return
    for name in ("ca", "other-ca"):
        sh("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key",
           "-out", f"{name}.pem", "-subj", f"/CN=auditpack test {name}", "-days", "30")
    with open(os.path.join(work, "ext.cnf"), "w") as f:
        f.write("extendedKeyUsage = critical,timeStamping\n")
    sh("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "tsa.key", "-out", "tsa.csr",
       "-subj", "/CN=auditpack test TSA")
    sh("openssl", "x509", "-req", "-in", "tsa.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
       "-CAcreateserial", "-out", "tsa.pem", "-days", "30", "-extfile", "ext.cnf")
    with open(os.path.join(work, "serial"), "w") as f:
        f.write("01\n")
    with open(os.path.join(work, "tsa.cnf"), "w") as f:
        f.write(f"""[ tsa ]
default_tsa = tsa_config1
[ tsa_config1 ]
dir = {work}
serial = $dir/serial
crypto_device = builtin
signer_cert = $dir/tsa.pem
certs = $dir/tsa.pem
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = yes
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
""")


lock = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if mode == "error":
            self.send_response(500)
            self.end_headers()
            self.wfile.write(b"the TSA is down")
            return
        with lock, tempfile.TemporaryDirectory() as tmp:
            query = os.path.join(tmp, "q.tsq")
            if mode == "other-hash":
                sh("openssl", "ts", "-query", "-digest", "11" * 32, "-sha256", "-cert", "-out", query)
            else:
                with open(query, "wb") as f:
                    f.write(body)
            reply = os.path.join(tmp, "r.tsr")
            sh("openssl", "ts", "-reply", "-config", os.path.join(work, "tsa.cnf"), "-queryfile", query,
               "-out", reply)
            with open(reply, "rb") as f:
                out = f.read()
        self.send_response(200)
        self.send_header("Content-Type", "application/timestamp-reply")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)


setup()
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
threading.Thread(target=server.serve_forever, daemon=True).start()
sys.stdin.read()
