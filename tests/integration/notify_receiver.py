#!/usr/bin/env python3
"""Loopback receivers for test_notify.sh (not a test itself).

  notify_receiver.py webhook PORT_FILE OUT SECRET [FAIL_FIRST]
      An HTTP server on a free loopback port (written to PORT_FILE) that records every POST as
      a JSON line in OUT: the X-Tsloop-* headers, whether the signature is the HMAC-SHA256 of
      the body under SECRET (computed here with Python's hmac, independently of tsloop), and
      the body. It answers 500 to the first FAIL_FIRST requests, then 204.
  notify_receiver.py smtp PORT_FILE OUT
      A minimal SMTP server (enough of RFC 5321 for one client at a time: EHLO/HELO, MAIL,
      RCPT, DATA, RSET, NOOP, QUIT) that appends each message as a JSON line in OUT: sender,
      recipients and the message text.
"""
import hashlib, hmac, http.server, json, socket, socketserver, sys, threading


def webhook(port_file, out, secret, fail_first):
    lock = threading.Lock()
    count = [0]

    class H(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            want = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
            rec = {"event": self.headers.get("X-Tsloop-Event"),
                   "delivery": self.headers.get("X-Tsloop-Delivery"),
                   "signature_ok": hmac.compare_digest(self.headers.get("X-Tsloop-Signature", ""), want),
                   "body": json.loads(body)}
            with lock:
                count[0] += 1
                failing = count[0] <= fail_first
                rec["answered"] = 500 if failing else 204
                with open(out, "a") as f:
                    f.write(json.dumps(rec) + "\n")
            self.send_response(500 if failing else 204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    open(port_file, "w").write(str(srv.server_address[1]))
    srv.serve_forever()


def smtp(port_file, out):
    class H(socketserver.StreamRequestHandler):
        def handle(self):
            w = lambda s: self.wfile.write((s + "\r\n").encode())
            w("220 localhost test SMTP")
            sender, rcpts = None, []
            while True:
                line = self.rfile.readline()
                if not line:
                    return
                cmd = line.decode(errors="replace").strip()
                up = cmd.upper()
                if up.startswith("EHLO") or up.startswith("HELO"):
                    w("250 localhost")
                elif up.startswith("MAIL FROM:"):
                    sender, rcpts = cmd[10:].strip(" <>"), []
                    w("250 OK")
                elif up.startswith("RCPT TO:"):
                    rcpts.append(cmd[8:].strip(" <>"))
                    w("250 OK")
                elif up == "DATA":
                    w("354 end with .")
                    data = []
                    while True:
                        l = self.rfile.readline()
                        if not l or l == b".\r\n":
                            break
                        data.append(l[1:] if l.startswith(b"..") else l)
                    with open(out, "a") as f:
                        f.write(json.dumps({"from": sender, "to": rcpts,
                                            "message": b"".join(data).decode()}) + "\n")
                    w("250 queued")
                elif up == "QUIT":
                    w("221 bye")
                    return
                else:
                    w("250 OK")

    srv = socketserver.ThreadingTCPServer(("127.0.0.1", 0), H)
    open(port_file, "w").write(str(srv.server_address[1]))
    srv.serve_forever()


if __name__ == "__main__":
    if sys.argv[1] == "webhook":
        webhook(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]) if len(sys.argv) > 5 else 0)
    else:
        smtp(sys.argv[2], sys.argv[3])
