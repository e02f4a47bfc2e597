"""
mdp01.py - an independent MDP/0.1 (ZeroMQ RFC 7, Majordomo Protocol) client
and worker in Python, written from the specification, to test the chuang
broker against a second implementation.

Wire format (RFC 7/MDP, every frame a ZeroMQ message part):

  Client -> broker  (REQUEST):  [empty] "MDPC01" service body...
  Broker -> client  (REPLY):    [empty] "MDPC01" service body...
     On a REQ socket the socket itself adds and strips the empty frame; on a
     DEALER the application sends and receives it.

  Worker <-> broker (on the worker's DEALER): [empty] "MDPW01" command ...
     0x01 READY       worker -> broker   service name
     0x02 REQUEST     broker -> worker   client address, empty, body...
     0x03 REPLY       worker -> broker   client address, empty, body...
     0x04 HEARTBEAT   either way         (nothing else)
     0x05 DISCONNECT  either way         (nothing else)

  The worker opens the conversation with READY and sends no further READY;
  any command from the broker counts as a heartbeat; HEARTBEATs are sent at an
  agreed interval, and a peer silent for `liveness` intervals is taken as
  gone: the worker then reconnects (new socket, READY again). A DISCONNECT
  from the broker also makes the worker reconnect.

  RFC 8/MMI: the service "mmi.service" takes a service name as body and
  answers "200" when the service has workers, "404" when not.

Run as a program, this module is a worker process:
  python3 mdp01.py worker ENDPOINT SERVICE [HEARTBEAT_MS]
which echoes every request until killed (used to test worker death).
"""
import os
import sys
import threading
import time
import collections

import zmq

C_CLIENT = b"MDPC01"
W_WORKER = b"MDPW01"

W_READY = b"\x01"
W_REQUEST = b"\x02"
W_REPLY = b"\x03"
W_HEARTBEAT = b"\x04"
W_DISCONNECT = b"\x05"

# A send that cannot even be queued (no connection) fails after this.
SEND_TIMEOUT_MS = 1000

COMMAND_NAMES = {
    W_READY: "READY",
    W_REQUEST: "REQUEST",
    W_REPLY: "REPLY",
    W_HEARTBEAT: "HEARTBEAT",
    W_DISCONNECT: "DISCONNECT",
}


class ProtocolError(Exception):
    """The broker sent something that is not MDP/0.1."""


def _now_ms():
    return time.monotonic() * 1000.0


def apply_curve(sock, curve):
    """curve: None for plain, or (public_z85, secret_z85, server_public_z85)."""
    if curve is None:
        return
    public, secret, server_public = curve
    sock.curve_publickey = public
    sock.curve_secretkey = secret
    sock.curve_serverkey = server_public


def recv_timeout(sock, timeout_ms):
    """A whole multipart message, or None when none arrives in time."""
    if sock.poll(timeout_ms, zmq.POLLIN):
        return sock.recv_multipart()
    return None


class Client:
    """An MDP/0.1 client on a REQ socket (strict send/receive alternation,
    the socket handles the empty delimiter) or a DEALER socket (the client
    sends and checks the empty delimiter itself, and may pipeline)."""

    def __init__(self, ctx, endpoint, kind=zmq.REQ, curve=None, identity=None):
        if kind not in (zmq.REQ, zmq.DEALER):
            raise ValueError("an MDP client uses REQ or DEALER")
        self.ctx = ctx
        self.endpoint = endpoint
        self.kind = kind
        self.curve = curve
        self.identity = identity
        self.sock = None
        self._connect()

    def _connect(self):
        if self.sock is not None:
            self.sock.close(linger=0)
        self.sock = self.ctx.socket(self.kind)
        self.sock.linger = 0
        self.sock.sndtimeo = SEND_TIMEOUT_MS
        if self.identity is not None:
            self.sock.setsockopt(zmq.IDENTITY, self.identity)
        apply_curve(self.sock, self.curve)
        self.sock.connect(self.endpoint)

    def send(self, service, body):
        """Sends a request; body is bytes or a list of frames (at least one)."""
        if isinstance(service, str):
            service = service.encode()
        frames = [body] if isinstance(body, (bytes, bytearray)) else list(body)
        if not frames:
            raise ValueError("RFC 7: a request has at least one body frame")
        msg = [C_CLIENT, service] + frames
        if self.kind == zmq.DEALER:
            msg = [b""] + msg
        self.sock.send_multipart(msg)

    def recv(self, timeout_ms):
        """(service, body frames) of the next reply, or None on timeout.
        Raises ProtocolError when the reply is not MDP/0.1. A REQ socket that
        timed out is reconnected, since it cannot send again otherwise."""
        msg = recv_timeout(self.sock, timeout_ms)
        if msg is None:
            if self.kind == zmq.REQ:
                self._connect()
            return None
        return self.parse_reply(msg)

    def parse_reply(self, msg):
        frames = list(msg)
        if self.kind == zmq.DEALER:
            if not frames or frames[0] != b"":
                raise ProtocolError("reply without the empty delimiter frame: %r" % (frames[:4],))
            frames = frames[1:]
        if len(frames) < 3:
            raise ProtocolError("reply has %d frames after the delimiter, needs >= 3: %r"
                                % (len(frames), frames))
        if frames[0] != C_CLIENT:
            raise ProtocolError("reply header is %r, not %r" % (frames[0], C_CLIENT))
        return frames[1], frames[2:]

    def request(self, service, body, timeout_ms):
        self.send(service, body)
        return self.recv(timeout_ms)

    def close(self):
        if self.sock is not None:
            self.sock.close(linger=0)
            self.sock = None


def echo_handler(body):
    return list(body)


class Worker:
    """An MDP/0.1 worker for one service. run() serves until stop() (in a
    thread, see start()) or forever (a worker process).

    handler(body frames) -> reply frames. delay_ms > 0 makes the worker take
    that long over every request while it goes on heartbeating, as a worker
    busy with slow work in another thread would."""

    def __init__(self, ctx, endpoint, service, handler=echo_handler, heartbeat_ms=2500,
                 liveness=5, curve=None, identity=None, delay_ms=0):
        self.ctx = ctx
        self.endpoint = endpoint
        self.service = service.encode() if isinstance(service, str) else service
        self.handler = handler
        self.heartbeat_ms = heartbeat_ms
        self.liveness = liveness
        self.curve = curve
        self.identity = identity
        self.delay_ms = delay_ms
        self.lock = threading.Lock()
        self.stats = collections.Counter()
        self.events = []  # (monotonic ms, text), for reports
        self.errors = []  # protocol violations seen from the broker
        self._stop = threading.Event()
        self._stop_disconnect = True
        self._thread = None
        self.sock = None

    # -- bookkeeping -------------------------------------------------------
    def _count(self, what, n=1):
        with self.lock:
            self.stats[what] += n

    def _event(self, text):
        with self.lock:
            self.events.append((_now_ms(), text))

    def _error(self, text):
        with self.lock:
            self.errors.append(text)
        self._event("protocol error: " + text)

    def snapshot(self):
        with self.lock:
            return dict(self.stats), list(self.events), list(self.errors)

    # -- wire ---------------------------------------------------------------
    def _send(self, command, *frames):
        try:
            self.sock.send_multipart([b"", W_WORKER, command] + list(frames))
        except zmq.Again:
            # No connection to queue it on (e.g. the broker refused our key).
            self._count("send timed out")
            return
        self._count("sent " + COMMAND_NAMES[command])

    def _connect(self):
        if self.sock is not None:
            self.sock.close(linger=0)
            self._count("reconnects")
        self.sock = self.ctx.socket(zmq.DEALER)
        self.sock.linger = 0
        self.sock.sndtimeo = SEND_TIMEOUT_MS
        if self.identity is not None:
            self.sock.setsockopt(zmq.IDENTITY, self.identity)
        apply_curve(self.sock, self.curve)
        self.sock.connect(self.endpoint)
        self._send(W_READY, self.service)
        self._event("READY sent")
        self.broker_seen = _now_ms()
        self.heartbeat_at = _now_ms() + self.heartbeat_ms

    def run(self):
        pending = collections.deque()  # (due ms, client address, reply frames)
        self._connect()
        try:
            while not self._stop.is_set():
                now = _now_ms()
                wake = self.heartbeat_at
                if pending:
                    wake = min(wake, pending[0][0])
                timeout = max(0, min(wake - now, 100))  # 100 ms: notice stop()
                msg = recv_timeout(self.sock, int(timeout))
                now = _now_ms()
                if msg is not None:
                    self.broker_seen = now
                    self._handle(msg, pending, now)
                while pending and pending[0][0] <= now:
                    _, client, reply = pending.popleft()
                    self._send(W_REPLY, client, b"", *reply)
                    self._count("replies")
                    if self.delay_ms:
                        self._event("REPLY sent")
                    self.heartbeat_at = now + self.heartbeat_ms
                    # The broker owes no heartbeats to a busy worker; count
                    # its silence from the end of the work.
                    self.broker_seen = max(self.broker_seen, now)
                if now >= self.heartbeat_at:
                    self._send(W_HEARTBEAT)
                    if pending:
                        self._count("HEARTBEATs sent while busy")
                    self.heartbeat_at = now + self.heartbeat_ms
                if not pending and now - self.broker_seen > self.heartbeat_ms * self.liveness:
                    self._event("broker silent; reconnecting")
                    self._count("broker silent")
                    pending.clear()
                    self._connect()
        finally:
            if self._stop_disconnect and self.sock is not None:
                try:
                    self._send(W_DISCONNECT)
                    time.sleep(0.05)
                except zmq.ZMQError:
                    pass
            if self.sock is not None:
                self.sock.close(linger=0)
                self.sock = None

    def _handle(self, msg, pending, now):
        if len(msg) < 3 or msg[0] != b"" or msg[1] != W_WORKER:
            self._error("not an MDPW01 message: %r" % (msg[:4],))
            return
        command = msg[2]
        rest = msg[3:]
        name = COMMAND_NAMES.get(command, repr(command))
        self._count("got " + name)
        if command == W_REQUEST:
            if len(rest) < 3 or rest[1] != b"":
                self._error("REQUEST needs client address, empty, body: %r" % (rest[:4],))
                return
            client, body = rest[0], rest[2:]
            self._count("requests")
            self._event("REQUEST received")
            reply = self.handler(body)
            pending.append((now + self.delay_ms, client, reply))
        elif command == W_HEARTBEAT:
            if rest:
                self._error("HEARTBEAT with %d extra frames" % len(rest))
        elif command == W_DISCONNECT:
            if rest:
                self._error("DISCONNECT with %d extra frames" % len(rest))
            self._event("DISCONNECT received%s" % (
                " while busy with %d request(s); reply not sent" % len(pending) if pending else ""))
            pending.clear()
            # RFC 7: the worker opens a new conversation.
            self._connect()
        else:
            self._error("command %s is not for a worker" % name)

    # -- threads --------------------------------------------------------------
    def start(self):
        self._thread = threading.Thread(target=self.run, name="mdp-worker", daemon=True)
        self._thread.start()
        return self

    def stop(self, disconnect=True, timeout=5.0):
        """Stops the thread; with disconnect=False the worker just goes
        silent and closes its socket, as a dead worker would."""
        self._stop_disconnect = disconnect
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            alive = self._thread.is_alive()
            self._thread = None
            if alive:
                raise RuntimeError("worker thread did not stop within %.1f s" % timeout)


def main(argv):
    if len(argv) < 4 or argv[1] != "worker":
        sys.stderr.write("usage: mdp01.py worker ENDPOINT SERVICE [HEARTBEAT_MS]\n")
        return 2
    heartbeat_ms = int(argv[4]) if len(argv) > 4 else 2500
    ctx = zmq.Context()
    worker = Worker(ctx, argv[2], argv[3], heartbeat_ms=heartbeat_ms)
    try:
        worker.run()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
