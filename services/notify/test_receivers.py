#!/usr/bin/env python3
"""test_receivers.py - the far ends that test_channel.c delivers to.

Starts, on free loopback ports, an SMTP server (aiosmtpd) and an HTTP
receiver (http.server, one thread per request), both recording what they get
into a fresh temporary folder, then prints one line

    SMTP <port> HTTP <port> DIR <folder>

and serves until its stdin closes or it gets SIGTERM, when it removes the
folder and exits.

SMTP: recipients at the domain unknown.test are refused with 550; every
message accepted is stored as mail-<id>-<n>.eml (the bytes received) and
mail-<id>-<n>.txt (decoded by Python's email package: envelope and headers
as "name: value" lines, a blank line, then the body text with LF line
breaks), where <id> is the left part of its Message-ID and <n> counts
messages.

HTTP: every POST is stored as http-<delivery>-<n>.body (the body bytes) and
http-<delivery>-<n>.json ({"path", "headers", "body"}), where <delivery> is
its X-Chuang-Delivery header, before it is answered by path:

    /ok          200
    /fail3       503 for the first 3 requests, then 200
    /always503   503
    /gone        410
    /throttled   429
    /moved       302 to /ok
    /big         200 with 1 MiB of body
    /slow        200 after 5 seconds
    /slowfirst   200 after 5 seconds for a delivery's first request, at once
                 for its later ones
    anything else 404

Each .txt and .json file appears whole (written aside, then renamed) and
after the file beside it, so a reader that finds it finds both complete.

Run with the system Python (python3-aiosmtpd): under another Python without
aiosmtpd (a pyenv one first on PATH) the script runs itself again with
/usr/bin/python3.
"""
import os
import sys

try:
    from aiosmtpd.controller import Controller
except ImportError:
    if os.path.exists("/usr/bin/python3") and not os.environ.get("CHUANG_RECEIVERS_REEXEC"):
        os.environ["CHUANG_RECEIVERS_REEXEC"] = "1"
        os.execv("/usr/bin/python3", ["/usr/bin/python3", os.path.abspath(__file__)] + sys.argv[1:])
    sys.stderr.write("test_receivers: aiosmtpd is missing (apt-get install python3-aiosmtpd)\n")
    sys.exit(2)

import email
import email.policy
import http.server
import json
import logging
import re
import shutil
import signal
import socket
import tempfile
import threading
import time

_lock = threading.Lock()
_counters = {}


def _next(name):
    """Returns 1, 2, ... for successive calls with the same name."""
    with _lock:
        _counters[name] = _counters.get(name, 0) + 1
        return _counters[name]


def _safe(text):
    """text reduced to characters safe in a file name."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", text or "none")[:128] or "none"


def _write(path, data):
    """Writes data to path whole: aside first, then renamed."""
    aside = path + ".part"
    with open(aside, "wb") as f:
        f.write(data)
    os.replace(aside, path)


class MailHandler:
    """aiosmtpd handler: refuses unknown.test, stores every message."""

    def __init__(self, directory):
        self.directory = directory

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower().endswith("@unknown.test"):
            return "550 5.1.1 no such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        message = email.message_from_bytes(raw, policy=email.policy.default)
        message_id = (message.get("Message-ID") or "").strip().strip("<>").split("@")[0]
        name = "mail-%s-%04d" % (_safe(message_id), _next("mail"))
        base = os.path.join(self.directory, name)
        _write(base + ".eml", raw)
        try:
            body = message.get_content()
        except Exception as error:  # noqa: BLE001 - recorded for the test to see
            body = "undecodable body: %s" % error
        lines = [
            "mail_from: %s" % envelope.mail_from,
            "rcpt_to: %s" % ",".join(envelope.rcpt_tos),
            "from: %s" % message.get("From", ""),
            "to: %s" % message.get("To", ""),
            "subject: %s" % message.get("Subject", ""),
            "message_id: %s" % message.get("Message-ID", ""),
            "date: %s" % message.get("Date", ""),
            "content_type: %s" % message.get("Content-Type", ""),
            "transfer_encoding: %s" % message.get("Content-Transfer-Encoding", ""),
            "",
            body.replace("\r\n", "\n"),
        ]
        _write(base + ".txt", "\n".join(lines).encode("utf-8"))
        return "250 OK queued as %s" % name


class Receiver(http.server.BaseHTTPRequestHandler):
    """Records each POST, then answers it by path."""

    def log_message(self, format, *args):
        pass

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        path = self.path.split("?")[0]
        name = "http-%s-%04d" % (_safe(self.headers.get("X-Chuang-Delivery")), _next("http"))
        base = os.path.join(self.server.directory, name)
        _write(base + ".body", body)
        record = {
            "path": self.path,
            "headers": dict(self.headers.items()),
            "body": body.decode("utf-8", "replace"),
        }
        _write(base + ".json", json.dumps(record, ensure_ascii=False, indent=1).encode("utf-8"))

        payload = b"ok\n"
        headers = {}
        if path == "/ok":
            status = 200
        elif path == "/fail3":
            status = 503 if _next("/fail3") <= 3 else 200
        elif path == "/always503":
            status = 503
        elif path == "/gone":
            status = 410
        elif path == "/throttled":
            status = 429
        elif path == "/moved":
            status, headers = 302, {"Location": "/ok"}
        elif path == "/big":
            status, payload = 200, b"x" * (1024 * 1024)
        elif path == "/slow":
            time.sleep(5)
            status = 200
        elif path == "/slowfirst":
            if _next("/slowfirst " + str(self.headers.get("X-Chuang-Delivery"))) == 1:
                time.sleep(5)
            status = 200
        else:
            status = 404
        try:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the sender stopped reading (a timeout or the 64 KiB cap)


def _start_smtp(directory):
    """Starts the SMTP server on a free port; returns (controller, port)."""
    last = None
    for _ in range(10):
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        controller = Controller(MailHandler(directory), hostname="127.0.0.1", port=port)
        try:
            controller.start()
            return controller, port
        except Exception as error:  # noqa: BLE001 - the port was taken meanwhile
            last = error
    raise RuntimeError("cannot start the smtp server: %s" % last)


def main():
    logging.getLogger("mail.log").setLevel(logging.ERROR)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    directory = tempfile.mkdtemp(prefix="chuang-receivers-")
    controller, smtp_port = _start_smtp(directory)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    httpd.daemon_threads = True
    httpd.directory = directory
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        print("SMTP %d HTTP %d DIR %s" % (smtp_port, httpd.server_address[1], directory), flush=True)
        while sys.stdin.buffer.read(4096):
            pass
    except (SystemExit, KeyboardInterrupt):
        pass
    finally:
        httpd.shutdown()
        controller.stop()
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
