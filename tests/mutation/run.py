#!/usr/bin/env python3
"""run.py [BUILD_DIR] - a mutation pass over the framework's retry,
idempotency, relay ordering, stream append and consumer inbox.

Each mutation replaces one piece of code (the line or condition a test must
guard) in the source tree, rebuilds BUILD_DIR (default build-test, which must
be configured), runs the ctest entries that should notice, records whether
one failed, and puts the source back, also when interrupted. Prints one line
per mutation: caught, NOT CAUGHT (a test gap, or a second layer that covers
it), NOT APPLIED (the code moved: update the list) or BUILD FAILED. Takes
about ten minutes. Not part of the test run: it edits the tree while it runs.
"""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# (what the code guarantees, file, text, replacement, ctest -R pattern)
MUTATIONS = [
    ("the framework retries a deadlock", "common/service_call.c",
     "        call->retry = true;\n", "", "registry"),
    ("a key seen before gets its reply", "common/service_worker.c",
     "            if (claim == IDEMPOTENCY_REPLAY) {",
     "            if (claim == IDEMPOTENCY_REPLAY && 0) {", "framework"),
    ("a reused key is refused", "common/service_worker.c",
     "                if (claim == IDEMPOTENCY_CONFLICT) {",
     "                if (claim == IDEMPOTENCY_CONFLICT && 0) {", "framework"),
    ("keys belong to their caller", "common/service_worker.c",
     "        s_idempotency_scope(call, &scope, &identity);",
     "        { s_idempotency_scope(call, &scope, &identity); scope[0] = 0; }", "trust|framework"),
    ("the inbox skips what was applied", "common/consumer.c",
     "    bool fresh = PQntuples(res) > 0;", "    bool fresh = true; (void)PQntuples(res);",
     "consumer"),
    ("an applied entry is acknowledged", "common/consumer.c",
     "            s_ack(self, id);\n            applied += rc == 1;",
     "            applied += rc == 1;", "consumer"),
    ("a failed event holds back its aggregate", "common/consumer.c",
     "    bool behind = res && PQntuples(res) > 0;", "    bool behind = false;", "consumer"),
    ("the relay numbers in sequence order", "common/relay.c",
     "row_number() OVER (ORDER BY sequence)", "row_number() OVER (ORDER BY id)", "relay"),
    ("the relay stops on a refused append", "common/relay.c",
     "        s_stop(self, why);\n    } else if", "        (void)why;\n    } else if", "relay"),
    ("the relay checks the stream on sync", "common/relay.c",
     "    if (!comparison.agree && comparison.stream_last > 0) {",
     "    if (0 && !comparison.agree && comparison.stream_last > 0) {", "relay"),
    ("an append over another event is refused", "common/event_stream.c",
     "        return {done, 'diverged', position}\\n", "        done = done\\n", "relay"),
    ("notify's full rebuild requeues lost deliveries", "services/notify/sender.c",
     "    bool full = zclock_mono() - s_rebuilt_at >= REBUILD_MS;",
     "    bool full = false;", "notify"),
]


def main():
    build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build-test"))
    results = []
    for what, path, old, new, tests in MUTATIONS:
        full = os.path.join(ROOT, path)
        with open(full) as f:
            original = f.read()
        if old not in original:
            results.append((what, "NOT APPLIED"))
            continue
        try:
            with open(full, "w") as f:
                f.write(original.replace(old, new, 1))
            built = subprocess.run(["cmake", "--build", build, "-j2"], capture_output=True)
            if built.returncode != 0:
                results.append((what, "BUILD FAILED"))
                continue
            run = subprocess.run(["ctest", "-R", "harness|" + tests, "--timeout", "300"],
                                 cwd=build, capture_output=True, text=True)
            failed = any(("Failed" in line or "Timeout" in line) and "integration." in line
                         for line in run.stdout.splitlines())
            results.append((what, "caught" if failed else "NOT CAUGHT"))
        finally:
            with open(full, "w") as f:
                f.write(original)
        print("%-48s %s" % results[-1], flush=True)
    subprocess.run(["cmake", "--build", build, "-j2"], capture_output=True)
    print()
    for what, outcome in results:
        print("%-48s %s" % (what, outcome))
    return 0


if __name__ == "__main__":
    sys.exit(main())
