"""The plugin under eventlet monkey patching (Zed's nova-scheduler): concurrent
green threads get wattplace's answer, one call each, and a paused wattplace
costs one deadline, then the pass fails open."""

import json
import os
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))


class EventletTest(unittest.TestCase):
    def test_green_threads_and_deadline(self):
        r = subprocess.run([sys.executable, os.path.join(HERE, "eventlet_pass.py")], capture_output=True, text=True,
                           timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        out = json.loads(r.stdout.strip().splitlines()[-1])
        self.assertTrue(out["patched"])
        self.assertEqual(out["best"], ["node-b"] * 8)  # scenario mixed-fleet: node-b 12.5 W is best
        self.assertEqual(out["calls"], 8)
        self.assertEqual(out["paused_hosts"], out["hosts"])  # failed open: every host kept
        self.assertGreaterEqual(out["paused_seconds"], 0.25)
        self.assertLess(out["paused_seconds"], 0.25 * 2)  # one deadline for filter + weigher
