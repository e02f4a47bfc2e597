#!/usr/bin/env python3
"""
test_mdp_interop.py - runs the chuang broker binary against an independent
MDP/0.1 client and worker (mdp01.py, written from ZeroMQ RFC 7 and RFC 8)
over real sockets, in plain mode and with CURVE.

  python3 test_mdp_interop.py PATH/TO/chuang-broker

Prints one line per check and a closing "N passed, M failed" line; exits 0
only when every check passed. Every receive has a timeout; the brokers and
worker processes it starts are always killed at the end.

Needs pyzmq (Debian: python3-zmq). When the python3 that runs it has no zmq
module (a pyenv or venv interpreter first on PATH), it re-runs itself with
the system /usr/bin/python3.
"""
import os
import sys


def _ensure_zmq():
    try:
        import zmq  # noqa: F401
        return
    except ImportError:
        pass
    if not os.environ.get("MDP_INTEROP_REEXEC"):
        here = os.path.realpath(sys.executable or "")
        for candidate in ("/usr/bin/python3", "/usr/local/bin/python3", "/bin/python3"):
            if os.path.exists(candidate) and os.path.realpath(candidate) != here:
                env = dict(os.environ, MDP_INTEROP_REEXEC="1")
                os.execve(candidate, [candidate] + sys.argv, env)
    sys.stderr.write("FAIL: the Python module zmq (pyzmq) is not importable by %s; "
                     "install python3-zmq\n" % sys.executable)
    print("0 passed, 1 failed")
    sys.exit(2)


_ensure_zmq()

import shutil  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402

import zmq  # noqa: E402
import zmq.auth  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, HERE)
import mdp01  # noqa: E402
from mdp01 import C_CLIENT, W_WORKER, W_READY, W_REPLY, W_DISCONNECT  # noqa: E402

HEARTBEAT_MS = 250
LIVENESS = 3
WAIT_DEFAULT_MS = 1000
MAX_MSG_BYTES = 65536
SILENCE_MS = 1200       # how long "nothing comes back" is watched
REPLY_MS = 3000         # how long a reply that should come is waited for
READY_MS = 5000         # how long a starting broker has to answer
STATUS_UNAVAILABLE = 8  # chuang.Status.UNAVAILABLE (proto/chuang.proto)


class CheckFailed(Exception):
    pass


def require(cond, message):
    if not cond:
        raise CheckFailed(message)


def now_ms():
    return time.monotonic() * 1000.0


# -- a minimal protobuf wire-format reader ----------------------------------
def _varint(buf, i):
    shift = 0
    value = 0
    while True:
        if i >= len(buf):
            raise ValueError("truncated varint")
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, i
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def pb_fields(buf):
    """[(field number, wire type, value)] of a serialized protobuf message:
    ints for varints, bytes for the other wire types."""
    fields = []
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise ValueError("field number 0 at offset %d" % i)
        if wire == 0:
            value, i = _varint(buf, i)
        elif wire == 1:
            value, i = buf[i:i + 8], i + 8
        elif wire == 2:
            n, i = _varint(buf, i)
            value, i = buf[i:i + n], i + n
        elif wire == 5:
            value, i = buf[i:i + 4], i + 4
        else:
            raise ValueError("unsupported wire type %d" % wire)
        if i > len(buf):
            raise ValueError("field %d runs past the end" % number)
        fields.append((number, wire, value))
    return fields


# -- processes -----------------------------------------------------------------
def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Broker:
    def __init__(self, binary, workdir, name, settings):
        self.binary = binary
        self.workdir = workdir
        self.name = name
        self.settings = settings
        self.proc = None
        self.endpoint = None
        self.log_path = os.path.join(workdir, name + ".log")
        self.log_file = None
        self.start_offset = 0

    def start(self):
        port = free_port()
        self.endpoint = "tcp://127.0.0.1:%d" % port
        settings = dict(self.settings)
        settings["broker.endpoint"] = self.endpoint
        config_path = os.path.join(self.workdir, self.name + ".conf")
        with open(config_path, "w") as f:
            f.write("# written by test_mdp_interop.py\n")
            for key, value in settings.items():
                f.write("%s = %s\n" % (key, value))
        # The environment wins over the file: keep the caller's CHUANG_* out.
        env = {k: v for k, v in os.environ.items() if not k.startswith("CHUANG_")}
        self.start_offset = self.log_offset()
        self.log_file = open(self.log_path, "ab")
        self.proc = subprocess.Popen([self.binary, "-c", config_path], stdin=subprocess.DEVNULL,
                                     stdout=self.log_file, stderr=self.log_file, env=env)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log_offset(self):
        try:
            return os.path.getsize(self.log_path)
        except OSError:
            return 0

    def log_since(self, offset=0):
        try:
            with open(self.log_path, "rb") as f:
                f.seek(offset)
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(3)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(3)
        if self.log_file is not None:
            self.log_file.close()
            self.log_file = None


def port_clash(broker):
    """The broker exited because the free port was taken in between."""
    return "cannot bind" in broker.log_since(broker.start_offset)


def last_log_line(broker):
    lines = broker.log_since(broker.start_offset).strip().splitlines()
    return lines[-1] if lines else "(empty)"


def wait_ready(broker, ctx, curve=None, timeout_ms=None):
    timeout_ms = timeout_ms or READY_MS
    """Waits until the broker answers an MMI request; False if it exits or
    stays silent."""
    client = mdp01.Client(ctx, broker.endpoint, zmq.DEALER, curve=curve)
    try:
        client.send("mmi.service", b"probe")
        deadline = now_ms() + timeout_ms
        while now_ms() < deadline:
            if not broker.alive():
                return False
            reply = client.recv(100)
            if reply is not None:
                return True
        return False
    finally:
        client.close()


# -- the check runner ------------------------------------------------------------
class Runner:
    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.brokers = []

    def check(self, name, fn):
        offsets = [(b, b.log_offset()) for b in self.brokers]
        try:
            detail = fn()
        except CheckFailed as e:
            self._fail(name, str(e), offsets)
            return False
        except Exception as e:  # a bug in the check or an unexpected reply
            tb = traceback.format_exc(limit=3).strip().splitlines()
            self._fail(name, "%s: %s [%s]" % (type(e).__name__, e, tb[-3] if len(tb) > 2 else ""),
                       offsets)
            return False
        self.passed += 1
        print("PASS  %s%s" % (name, " (%s)" % detail if detail else ""), flush=True)
        return True

    def _fail(self, name, message, offsets):
        self.failed += 1
        print("FAIL  %s: %s" % (name, message), flush=True)
        for broker, offset in offsets:
            lines = [ln for ln in broker.log_since(offset).splitlines() if ln.strip()]
            if not broker.alive():
                print("      %s broker is not running (exit code %s)"
                      % (broker.name, broker.proc.poll() if broker.proc else "-"), flush=True)
            if lines:
                print("      %s broker log during the check (last %d of %d lines):"
                      % (broker.name, min(len(lines), 15), len(lines)), flush=True)
                for ln in lines[-15:]:
                    print("        " + ln, flush=True)


# -- helpers used by the checks --------------------------------------------------
def raw_dealer(ctx, endpoint, identity=None, curve=None):
    sock = ctx.socket(zmq.DEALER)
    sock.linger = 0
    sock.setsockopt(zmq.IMMEDIATE, 0)
    if identity is not None:
        sock.setsockopt(zmq.IDENTITY, identity)
    mdp01.apply_curve(sock, curve)
    sock.connect(endpoint)
    return sock


def mmi(ctx, endpoint, service, curve=None, timeout_ms=REPLY_MS):
    client = mdp01.Client(ctx, endpoint, zmq.REQ, curve=curve)
    try:
        reply = client.request("mmi.service", service.encode(), timeout_ms)
    finally:
        client.close()
    require(reply is not None, "no answer from mmi.service about %r within %d ms"
            % (service, timeout_ms))
    got_service, body = reply
    require(got_service == b"mmi.service",
            "mmi reply names service %r, not b'mmi.service'" % got_service)
    require(len(body) == 1, "mmi reply has %d body frames: %r" % (len(body), body))
    return body[0]


def wait_mmi(ctx, endpoint, service, code, timeout_ms, curve=None):
    """Polls mmi.service until it answers code; returns ms taken, or raises."""
    start = now_ms()
    last = None
    while True:
        last = mmi(ctx, endpoint, service, curve=curve)
        if last == code:
            return now_ms() - start
        if now_ms() - start > timeout_ms:
            raise CheckFailed("mmi.service for %r still answers %r after %d ms (wanted %r)"
                              % (service, last, timeout_ms, code))
        time.sleep(0.05)


def echo_round_trip(ctx, endpoint, text, curve=None, kind=zmq.REQ):
    client = mdp01.Client(ctx, endpoint, kind, curve=curve)
    try:
        body = [text.encode()]
        reply = client.request("echo", body, REPLY_MS)
    finally:
        client.close()
    require(reply is not None, "no echo reply within %d ms" % REPLY_MS)
    require(reply == (b"echo", body), "echo reply %r, wanted %r" % (reply, (b"echo", body)))


def still_serving(ctx, broker, what, curve=None):
    require(broker.alive(), "broker process exited (code %s) after %s"
            % (broker.proc.poll(), what))
    echo_round_trip(ctx, broker.endpoint, "still there after " + what, curve=curve)
    require(broker.alive(), "broker process exited after %s" % what)


def silence(sock, timeout_ms=SILENCE_MS):
    """Nothing at all on sock for timeout_ms, or raises with what came."""
    msg = mdp01.recv_timeout(sock, timeout_ms)
    require(msg is None, "expected no message, got %r" % (msg,))


def expect_disconnect(sock, timeout_ms=SILENCE_MS):
    msg = mdp01.recv_timeout(sock, timeout_ms)
    require(msg is not None, "no DISCONNECT within %d ms" % timeout_ms)
    require(msg == [b"", W_WORKER, W_DISCONNECT], "expected DISCONNECT, got %r" % (msg,))


def spawn_worker_process(endpoint, service):
    return subprocess.Popen([sys.executable, os.path.join(HERE, "mdp01.py"), "worker", endpoint,
                             service, str(HEARTBEAT_MS)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


# -- plain mode ------------------------------------------------------------------
def plain_checks(run, ctx, binary, workdir, procs):
    broker = Broker(binary, workdir, "plain", {
        "broker.heartbeat_ms": HEARTBEAT_MS,
        "broker.liveness": LIVENESS,
        "broker.max_msg_bytes": MAX_MSG_BYTES,
        "broker.queue_max": 100,
        "broker.wait_default_ms": WAIT_DEFAULT_MS,
        "broker.wait_max_ms": 10000,
        "security.plain": "yes",
        "log.level": "debug",
    })
    run.brokers.append(broker)

    def start():
        for attempt in range(3):
            broker.start()
            if wait_ready(broker, ctx):
                return "%s, attempt %d" % (broker.endpoint, attempt + 1)
            broker.stop()
            if not port_clash(broker):
                break
        raise CheckFailed("the broker did not answer within %d ms; log: %s"
                          % (READY_MS, last_log_line(broker)))

    if not run.check("plain broker starts and answers", start):
        return
    ep = broker.endpoint

    run.check("mmi.service: 'echo' is 404 before any worker",
              lambda: require(mmi(ctx, ep, "echo") == b"404", "not 404"))

    worker = mdp01.Worker(ctx, ep, "echo", heartbeat_ms=HEARTBEAT_MS, liveness=5)
    procs.append(worker)
    worker.start()

    def registered():
        ms = wait_mmi(ctx, ep, "echo", b"200", 3000)
        return "after %d ms" % ms

    run.check("worker READY 'echo' registers it (mmi.service 200)", registered)

    def req_single():
        client = mdp01.Client(ctx, ep, zmq.REQ)
        try:
            reply = client.request("echo", b"hello", REPLY_MS)
        finally:
            client.close()
        require(reply is not None, "no reply within %d ms" % REPLY_MS)
        require(reply == (b"echo", [b"hello"]), "got %r" % (reply,))

    run.check("REQ client: one-frame request echoed, header MDPC01 and service 'echo'",
              req_single)

    def req_multi():
        body = [b"part-1", b"", b"\x00\xff binary \x01", b"x" * 1000]
        client = mdp01.Client(ctx, ep, zmq.REQ)
        try:
            replies = []
            for i in range(3):
                reply = client.request("echo", body + [str(i).encode()], REPLY_MS)
                require(reply is not None, "no reply to request %d within %d ms" % (i, REPLY_MS))
                replies.append(reply)
        finally:
            client.close()
        for i, reply in enumerate(replies):
            require(reply == (b"echo", body + [str(i).encode()]),
                    "request %d: got %r" % (i, reply))
        return "3 requests of 5 frames, one of them empty"

    run.check("REQ client: multi-frame bodies echoed frame for frame", req_multi)

    def dealer_pipeline():
        client = mdp01.Client(ctx, ep, zmq.DEALER)
        n = 20
        try:
            for i in range(n):
                client.send("echo", [b"seq", str(i).encode(), b"tail-%d" % i])
            got = []
            for i in range(n):
                # Client.parse_reply checks the empty frame and MDPC01.
                reply = client.recv(REPLY_MS)
                require(reply is not None, "reply %d of %d missing after %d ms"
                        % (i, n, REPLY_MS))
                got.append(reply)
        finally:
            client.close()
        for i, reply in enumerate(got):
            want = (b"echo", [b"seq", str(i).encode(), b"tail-%d" % i])
            require(reply == want, "reply %d is %r, wanted %r (out of order?)" % (i, reply, want))
        return "%d pipelined requests, replies in order" % n

    run.check("DEALER client with explicit empty frame: pipelined requests, replies in order",
              dealer_pipeline)

    run.check("mmi.service answers 200 for 'echo'",
              lambda: require(mmi(ctx, ep, "echo") == b"200", "not 200"))
    run.check("mmi.service answers 404 for 'nosuch'",
              lambda: require(mmi(ctx, ep, "nosuch") == b"404", "not 404"))

    def mmi_unknown():
        client = mdp01.Client(ctx, ep, zmq.REQ)
        try:
            reply = client.request("mmi.nosuch", b"echo", REPLY_MS)
        finally:
            client.close()
        require(reply is not None, "no answer within %d ms" % REPLY_MS)
        require(reply == (b"mmi.nosuch", [b"501"]), "got %r" % (reply,))

    run.check("an unknown mmi.* service answers 501 (RFC 8)", mmi_unknown)

    def heartbeats():
        stats0, _, _ = worker.snapshot()
        time.sleep(1.5)
        stats1, _, errors = worker.snapshot()
        got = stats1.get("got HEARTBEAT", 0) - stats0.get("got HEARTBEAT", 0)
        sent = stats1.get("sent HEARTBEAT", 0) - stats0.get("sent HEARTBEAT", 0)
        require(got >= 3, "the idle worker got %d broker HEARTBEATs in 1.5 s (every %d ms "
                "expected)" % (got, HEARTBEAT_MS))
        require(stats1.get("broker silent", 0) == 0, "the worker found the broker silent")
        require(not errors, "protocol errors seen by the worker: %r" % errors)
        require(mmi(ctx, ep, "echo") == b"200",
                "the heartbeating worker was forgotten (mmi.service 404)")
        return "in 1.5 s idle: %d HEARTBEATs from the broker, %d sent" % (got, sent)

    run.check("heartbeats both ways keep an idle worker registered", heartbeats)

    def unavailable():
        client = mdp01.Client(ctx, ep, zmq.DEALER)
        try:
            start = now_ms()
            client.send("noworker", b"anyone?")
            reply = client.recv(WAIT_DEFAULT_MS + 3000)
            elapsed = now_ms() - start
        finally:
            client.close()
        require(reply is not None, "no reply within %d ms: the request vanished"
                % (WAIT_DEFAULT_MS + 3000))
        service, body = reply
        require(service == b"noworker", "reply names service %r" % service)
        require(len(body) == 1, "reply body has %d frames, wanted 1 (a chuang.Reply)" % len(body))
        fields = pb_fields(body[0])
        status = [v for n, w, v in fields if n == 2 and w == 0]
        require(status == [STATUS_UNAVAILABLE], "status field(s) %r, wanted [8] (UNAVAILABLE); "
                "fields %r" % (status, fields))
        require(elapsed >= WAIT_DEFAULT_MS * 0.8, "answered after %d ms, before the %d ms wait"
                % (elapsed, WAIT_DEFAULT_MS))
        message = [v for n, w, v in fields if n == 3 and w == 2]
        return "after %d ms, message %r" % (elapsed, message[0].decode() if message else "")

    run.check("request for a service with no worker: UNAVAILABLE reply after wait_default_ms",
              unavailable)

    # -- malformed messages ----------------------------------------------------
    def dropped(frames, what, worker_must_not_see=True):
        def body():
            stats0, _, _ = worker.snapshot()
            sock = raw_dealer(ctx, ep)
            try:
                sock.send_multipart(frames)
                silence(sock)
            finally:
                sock.close(linger=0)
            if worker_must_not_see:
                stats1, _, _ = worker.snapshot()
                require(stats1.get("requests", 0) == stats0.get("requests", 0),
                        "the broker passed it on to the worker")
            still_serving(ctx, broker, what)
        return body

    run.check("malformed: client message without the empty frame is dropped, broker serves on",
              dropped([C_CLIENT, b"echo", b"no delimiter"], "a missing empty frame"))
    run.check("malformed: unknown header MDPX01 is dropped, broker serves on",
              dropped([b"", b"MDPX01", b"echo", b"x"], "an unknown header"))
    run.check("malformed: client request with no body is dropped, broker serves on",
              dropped([b"", C_CLIENT, b"echo"], "a request without body"))
    run.check("malformed: header only / empty frame only are dropped, broker serves on",
              lambda: (dropped([b"", C_CLIENT], "a header-only message")(),
                       dropped([b""], "an empty-frame-only message")()) and None)

    def worker_without_delimiter():
        sock = raw_dealer(ctx, ep)
        try:
            sock.send_multipart([W_WORKER, W_READY, b"nodelim"])
            silence(sock, 500)
        finally:
            sock.close(linger=0)
        require(mmi(ctx, ep, "nodelim") == b"404", "a READY without empty frame registered")
        still_serving(ctx, broker, "a READY without the empty frame")

    run.check("malformed: worker READY without the empty frame registers nothing",
              worker_without_delimiter)

    def unknown_command():
        sock = raw_dealer(ctx, ep)
        notes = []
        try:
            sock.send_multipart([b"", W_WORKER, W_READY, b"rogue"])
            wait_mmi(ctx, ep, "rogue", b"200", 3000)
            sock.send_multipart([b"", W_WORKER, b"\x09", b"junk"])
            deadline = now_ms() + SILENCE_MS
            while now_ms() < deadline:
                msg = mdp01.recv_timeout(sock, 100)
                if msg is None:
                    continue
                require(msg[:2] == [b"", W_WORKER] and msg[2:3] in ([b"\x04"], [b"\x05"]),
                        "the rogue worker got %r" % (msg,))
                if msg[2] == W_DISCONNECT:
                    notes.append("rogue got DISCONNECT")
        finally:
            sock.close(linger=0)
        notes.append("mmi 'rogue' now %s" % mmi(ctx, ep, "rogue").decode())
        still_serving(ctx, broker, "an unknown worker command")
        # The same from a peer that never sent READY.
        sock = raw_dealer(ctx, ep)
        try:
            sock.send_multipart([b"", W_WORKER, b"\x09"])
            msg = mdp01.recv_timeout(sock, SILENCE_MS)
            require(msg in (None, [b"", W_WORKER, W_DISCONNECT]),
                    "a stranger's unknown command got %r" % (msg,))
        finally:
            sock.close(linger=0)
        still_serving(ctx, broker, "an unknown command from a stranger")
        return ", ".join(notes)

    run.check("malformed: worker command 0x09 is dropped, broker serves on", unknown_command)

    victim_id = b"victim-%d" % os.getpid()
    forged = {}

    def forged_reply():
        victim = mdp01.Client(ctx, ep, zmq.DEALER, identity=victim_id)
        rogue = raw_dealer(ctx, ep)
        try:
            # The broker's ROUTER knows the victim once it has spoken.
            reply = victim.request("echo", b"me first", REPLY_MS)
            require(reply == (b"echo", [b"me first"]), "victim's own request got %r" % (reply,))
            rogue.send_multipart([b"", W_WORKER, W_REPLY, victim_id, b"", b"forged reply"])
            msg = mdp01.recv_timeout(victim.sock, SILENCE_MS)
            require(msg is None, "the client got a REPLY from a worker that never sent READY: "
                    "%r" % (msg,))
            forged["rogue_got"] = mdp01.recv_timeout(rogue, 500)
        finally:
            victim.close()
            rogue.close(linger=0)
        still_serving(ctx, broker, "a REPLY from an unregistered worker")

    run.check("malformed: REPLY from a worker that never sent READY is not delivered",
              forged_reply)

    def forged_disconnect():
        got = forged.get("rogue_got", "not run")
        require(got == [b"", W_WORKER, W_DISCONNECT],
                "the unregistered peer got %r within 1.7 s, not DISCONNECT" % (got,))

    run.check("RFC 7: that unexpected REPLY is answered with DISCONNECT", forged_disconnect)

    def double_ready():
        sock = raw_dealer(ctx, ep)
        try:
            sock.send_multipart([b"", W_WORKER, W_READY, b"twice"])
            wait_mmi(ctx, ep, "twice", b"200", 3000)
            sock.send_multipart([b"", W_WORKER, W_READY, b"twice"])
            deadline = now_ms() + SILENCE_MS
            got = None
            while now_ms() < deadline and got is None:
                msg = mdp01.recv_timeout(sock, 100)
                if msg is not None and msg != [b"", W_WORKER, b"\x04"]:
                    got = msg
        finally:
            sock.close(linger=0)
        require(got == [b"", W_WORKER, W_DISCONNECT], "second READY got %r, not DISCONNECT"
                % (got,))
        still_serving(ctx, broker, "a second READY")

    run.check("RFC 7: a second READY is answered with DISCONNECT", double_ready)

    def oversized():
        big = raw_dealer(ctx, ep)
        try:
            big.send_multipart([b"", C_CLIENT, b"echo", b"B" * (MAX_MSG_BYTES + 4096)])
            silence(big)
        finally:
            big.close(linger=0)
        # A body just under the limit still goes through.
        client = mdp01.Client(ctx, ep, zmq.DEALER)
        try:
            body = [b"S" * (MAX_MSG_BYTES - 4096)]
            reply = client.request("echo", body, REPLY_MS)
            require(reply == (b"echo", body), "a %d-byte body: got %r"
                    % (len(body[0]), None if reply is None else (reply[0], len(reply[1]))))
        finally:
            client.close()
        still_serving(ctx, broker, "an oversized message")
        return "%d-byte frame dropped, %d-byte frame echoed" % (MAX_MSG_BYTES + 4096,
                                                              MAX_MSG_BYTES - 4096)

    run.check("oversized message (> broker.max_msg_bytes) is dropped, others served", oversized)

    # -- worker lifecycle --------------------------------------------------------
    def polite():
        w = mdp01.Worker(ctx, ep, "polite", heartbeat_ms=HEARTBEAT_MS)
        procs.append(w)
        w.start()
        wait_mmi(ctx, ep, "polite", b"200", 3000)
        w.stop(disconnect=True)
        ms = wait_mmi(ctx, ep, "polite", b"404", 500)
        return "forgotten %d ms after DISCONNECT" % ms

    run.check("worker DISCONNECT: the broker forgets it at once", polite)

    def death(sig, service):
        def body():
            p = spawn_worker_process(ep, service)
            procs.append(p)
            wait_mmi(ctx, ep, service, b"200", 5000)
            os.kill(p.pid, sig)
            ms = wait_mmi(ctx, ep, service, b"404", HEARTBEAT_MS * LIVENESS + 3000)
            require(broker.alive(), "broker exited")
            os.kill(p.pid, signal.SIGKILL)
            p.wait(5)
            return "forgotten %d ms after %s (heartbeat %d ms x liveness %d)" % (
                ms, signal.Signals(sig).name, HEARTBEAT_MS, LIVENESS)
        return body

    run.check("worker process frozen (SIGSTOP): forgotten after heartbeat x liveness",
              death(signal.SIGSTOP, "frozen"))
    run.check("worker process killed (SIGKILL, no DISCONNECT): forgotten after heartbeat x "
              "liveness", death(signal.SIGKILL, "mortal"))

    def slow_worker():
        delay = 2 * WAIT_DEFAULT_MS + HEARTBEAT_MS * LIVENESS  # well past the request's wait
        offset = broker.log_offset()
        w = mdp01.Worker(ctx, ep, "slow", heartbeat_ms=HEARTBEAT_MS, delay_ms=delay)
        procs.append(w)
        w.start()
        client = mdp01.Client(ctx, ep, zmq.DEALER)
        try:
            wait_mmi(ctx, ep, "slow", b"200", 3000)
            start = now_ms()
            client.send("slow", b"take your time")
            reply = client.recv(delay + REPLY_MS)
            elapsed = now_ms() - start
        finally:
            client.close()
            w.stop()
        stats, events, errors = w.snapshot()
        t0 = events[0][0] if events else 0
        story = "; ".join("%+d ms %s" % (t - t0, e) for t, e in events)
        removed = [ln for ln in broker.log_since(offset).splitlines() if "worker removed" in ln]
        require(not any("DISCONNECT received" in e for _, e in events),
                "the broker sent DISCONNECT to the worker while it was busy, after it had sent "
                "%d HEARTBEATs while busy (one every %d ms); worker's view: %s; broker: %s; "
                "the client got %s" % (
                    stats.get("HEARTBEATs sent while busy", 0), HEARTBEAT_MS, story,
                    " | ".join(removed) or "-",
                    "no reply within %d ms" % (delay + REPLY_MS) if reply is None
                    else "%r" % (reply,)))
        require(reply is not None, "no reply within %d ms; worker's view: %s"
                % (delay + REPLY_MS, story))
        require(reply == (b"slow", [b"take your time"]), "got %r" % (reply,))
        return "reply after %d ms, %d HEARTBEATs sent while busy" % (
            elapsed, stats.get("HEARTBEATs sent while busy", 0))

    run.check("a busy worker that keeps heartbeating is not forgotten; its late reply arrives",
              slow_worker)

    run.check("plain broker still running at the end",
              lambda: require(broker.alive(), "exit code %s" % broker.proc.poll()))
    worker.stop()
    _, _, errors = worker.snapshot()
    run.check("the echo worker saw only valid MDP/0.1 from the broker",
              lambda: require(not errors, "; ".join(errors)))


# -- CURVE ---------------------------------------------------------------------------
CZMQ_SECRET = """#   ****  Generated on {date} by test_mdp_interop.py (CZMQ zcert format)  ****
#   ZeroMQ CURVE **Secret** Certificate
#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.

metadata
    name = "{name}"
curve
    public-key = "{public}"
    secret-key = "{secret}"
"""
CZMQ_PUBLIC = """#   ****  Generated on {date} by test_mdp_interop.py (CZMQ zcert format)  ****
#   ZeroMQ CURVE Public Certificate
#   Exchange securely, or use a secure mechanism to verify the contents
#   of this file after exchange. Store public certificates in your home
#   directory, in the .curve subdirectory.

metadata
    name = "{name}"
curve
    public-key = "{public}"
"""


def make_certs(base, fmt):
    """Certificates for broker, client, worker and stranger under base/fmt;
    returns ({name: (public, secret)}, broker secret file, allow dir)."""
    root = os.path.join(base, "certs-" + fmt)
    keys_dir = os.path.join(root, "keys")
    allow = os.path.join(root, "allow")
    os.makedirs(keys_dir)
    os.makedirs(allow)
    keys = {}
    files = {}
    for name in ("broker", "client", "worker", "stranger"):
        if fmt == "pyzmq":
            public_file, secret_file = zmq.auth.create_certificates(keys_dir, name)
            keys[name] = zmq.auth.load_certificate(secret_file)
        else:
            public, secret = zmq.curve_keypair()
            keys[name] = (public, secret)
            public_file = os.path.join(keys_dir, name + ".cert")
            secret_file = public_file + "_secret"
            date = time.strftime("%Y-%m-%d %H:%M:%S")
            with open(public_file, "w") as f:
                f.write(CZMQ_PUBLIC.format(date=date, name=name, public=public.decode()))
            with open(secret_file, "w") as f:
                f.write(CZMQ_SECRET.format(date=date, name=name, public=public.decode(),
                                           secret=secret.decode()))
            os.chmod(secret_file, 0o600)
        files[name] = (public_file, secret_file)
    for name in ("client", "worker"):
        shutil.copy(files[name][0], allow)
    return keys, files["broker"][1], allow


def curve_checks(run, ctx, binary, workdir, procs):
    state = {}

    def start():
        notes = []
        for fmt in ("pyzmq", "czmq"):
            keys, cert, allow = make_certs(workdir, fmt)
            broker = Broker(binary, workdir, "curve-" + fmt, {
                "broker.heartbeat_ms": HEARTBEAT_MS,
                "broker.liveness": LIVENESS,
                "broker.max_msg_bytes": MAX_MSG_BYTES,
                "broker.wait_default_ms": WAIT_DEFAULT_MS,
                "security.plain": "no",
                "security.cert": cert,
                "security.allow_dir": allow,
                "log.level": "debug",
            })
            run.brokers.append(broker)
            known = (keys["client"][0], keys["client"][1], keys["broker"][0])
            for attempt in range(3):
                broker.start()
                if wait_ready(broker, ctx, curve=known):
                    state.update(broker=broker, keys=keys, known=known)
                    notes.append("%s-format certificates load, %s" % (fmt, broker.endpoint))
                    return "; ".join(notes)
                broker.stop()
                if not port_clash(broker):
                    break
            notes.append("%s-format certificates failed (%s)" % (fmt, last_log_line(broker)))
        raise CheckFailed("; ".join(notes))

    if not run.check("CURVE broker starts with generated certificates, known client answered",
                     start):
        return
    broker = state["broker"]
    keys = state["keys"]
    known = state["known"]
    ep = broker.endpoint
    broker_public = keys["broker"][0]

    worker = mdp01.Worker(ctx, ep, "echo", heartbeat_ms=HEARTBEAT_MS,
                          curve=(keys["worker"][0], keys["worker"][1], broker_public))
    procs.append(worker)
    worker.start()

    def exchange():
        ms = wait_mmi(ctx, ep, "echo", b"200", 5000, curve=known)
        echo_round_trip(ctx, ep, "over curve", curve=known)
        echo_round_trip(ctx, ep, "over curve, dealer", curve=known, kind=zmq.DEALER)
        return "worker registered after %d ms" % ms

    run.check("CURVE: known worker registers, known client's requests are echoed", exchange)

    def stranger():
        offset = broker.log_offset()
        curve = (keys["stranger"][0], keys["stranger"][1], broker_public)
        sock = raw_dealer(ctx, ep, curve=curve)
        try:
            sock.send_multipart([b"", C_CLIENT, b"echo", b"let me in"])
            sock.send_multipart([b"", C_CLIENT, b"mmi.service", b"echo"])
            silence(sock, 2000)
        finally:
            sock.close(linger=0)
        refused = "HANDSHAKE_FAILED" in broker.log_since(offset)
        still_serving(ctx, broker, "an unknown key", curve=known)
        return "broker logged the refused handshake" if refused else "no handshake log line"

    run.check("CURVE: a client with an unknown key gets nothing; known client served after",
              stranger)

    def plain_client():
        sock = raw_dealer(ctx, ep)
        try:
            sock.send_multipart([b"", C_CLIENT, b"echo", b"no curve"])
            silence(sock)
        finally:
            sock.close(linger=0)
        still_serving(ctx, broker, "a plain client", curve=known)

    run.check("CURVE: a plain (non-CURVE) client gets nothing", plain_client)

    def stranger_worker():
        curve = (keys["stranger"][0], keys["stranger"][1], broker_public)
        w = mdp01.Worker(ctx, ep, "sneaky", heartbeat_ms=HEARTBEAT_MS, curve=curve)
        procs.append(w)
        w.start()
        time.sleep(1.0)
        w.stop()
        require(mmi(ctx, ep, "sneaky", curve=known) == b"404",
                "a worker with an unknown key registered")
        still_serving(ctx, broker, "a worker with an unknown key", curve=known)

    run.check("CURVE: a worker with an unknown key cannot register", stranger_worker)

    run.check("CURVE broker still running at the end",
              lambda: require(broker.alive(), "exit code %s" % broker.proc.poll()))
    worker.stop()


def main(argv):
    if len(argv) != 2:
        sys.stderr.write("usage: test_mdp_interop.py PATH/TO/chuang-broker\n")
        return 2
    binary = os.path.abspath(argv[1])
    if not os.access(binary, os.X_OK):
        print("FAIL  broker binary %s is not an executable file" % binary)
        print("0 passed, 1 failed")
        return 1

    def on_signal(signum, frame):
        raise SystemExit("interrupted by signal %d" % signum)

    signal.signal(signal.SIGTERM, on_signal)
    workdir = tempfile.mkdtemp(prefix="mdp-interop-")
    run = Runner()
    procs = []
    ctx = zmq.Context()
    start = time.monotonic()
    print("MDP/0.1 interop test: broker %s, pyzmq %s, libzmq %s, work dir %s"
          % (binary, zmq.__version__, zmq.zmq_version(), workdir), flush=True)
    try:
        plain_checks(run, ctx, binary, workdir, procs)
        curve_checks(run, ctx, binary, workdir, procs)
    except SystemExit as e:
        run.failed += 1
        print("FAIL  run aborted: %s" % e, flush=True)
    except Exception:
        run.failed += 1
        print("FAIL  run aborted by an error in the test:\n" + traceback.format_exc(), flush=True)
    finally:
        for p in procs:
            try:
                if isinstance(p, subprocess.Popen):
                    if p.poll() is None:
                        p.kill()
                        p.wait(5)
                else:
                    p.stop(disconnect=False, timeout=2)
            except Exception:
                pass
        for broker in run.brokers:
            broker.stop()
        ctx.destroy(linger=0)
        if run.failed == 0:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print("broker logs and certificates kept in %s" % workdir, flush=True)
    print("time: %.1f s" % (time.monotonic() - start))
    print("%d passed, %d failed" % (run.passed, run.failed), flush=True)
    return 0 if run.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
