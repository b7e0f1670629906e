"""Scheduling passes under eventlet, the way Zed's nova-scheduler runs: nova's
monkey patching first, then concurrent green threads. Run as a script by
test_eventlet.py (monkey patching is process-wide); prints one JSON line."""

import nova.monkey_patch  # noqa: F401  (nova.cmd imports it before anything else)

import json  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import eventlet  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tests import support  # noqa: E402

CONF = support.configure()


def main():
    out = {"patched": eventlet.patcher.is_monkey_patched("thread")}
    with open(os.path.join(support.FIXTURES, "mixed-fleet.json")) as f:
        fleet = json.load(f)
    wp = support.Wattplace()
    try:
        wp.register(fleet["hosts"])
        wp.report(fleet["samples"])
        CONF.set_override("endpoint", wp.grpc, group="wattplace")
        CONF.set_override("deadline", 0.25, group="wattplace")
        sm = support.scheduler()
        hs = [support.host_state(h["name"], vcpus_used=h["vcpus_used"], memory_mb_used=h["memory_mb_used"])
              for h in fleet["nova"]]

        def one(_):
            return sm._get_sorted_hosts(support.request_spec(), hs, 0)[0].host

        before = wp.evaluate_calls()
        out["best"] = list(eventlet.GreenPool(8).imap(one, range(8)))
        out["calls"] = wp.evaluate_calls() - before
        s = support.request_spec()
        os.kill(wp.proc.pid, signal.SIGSTOP)
        try:
            t0 = time.monotonic()
            out["paused_hosts"] = len(sm._get_sorted_hosts(s, hs, 0))
            out["paused_seconds"] = time.monotonic() - t0
        finally:
            os.kill(wp.proc.pid, signal.SIGCONT)
        out["hosts"] = len(hs)
    finally:
        wp.stop()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
