"""Runs the Nova plugin's unittest suite and reports each test as JSON, for
test/nova.test.ts (which turns every Python test into a vitest test).

  /usr/bin/python3 tests/run_json.py --list        test ids, one JSON list
  /usr/bin/python3 tests/run_json.py OUT.json      run all, results to OUT.json

Run from deploy/openstack. Exit status 0 when every test passed.
"""

import io
import json
import os
import sys
import time
import traceback
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)


def iter_tests(suite):
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            yield from iter_tests(t)
        else:
            yield t


class JsonResult(unittest.TextTestResult):
    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.records = {}
        self._t0 = {}

    def startTest(self, test):
        self._t0[test.id()] = time.monotonic()
        super().startTest(test)

    def _rec(self, test, status, err=None):
        self.records[test.id()] = {
            "status": status,
            "seconds": round(time.monotonic() - self._t0.get(test.id(), time.monotonic()), 3),
            "detail": self._exc_info_to_string(err, test) if err else "",
        }

    def addSuccess(self, test):
        super().addSuccess(test)
        self._rec(test, "passed")

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._rec(test, "failed", err)

    def addError(self, test, err):
        super().addError(test, err)
        # errors in setUpModule/setUpClass arrive with a _ErrorHolder "test"
        self._rec(test, "failed", err)

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self.records[test.id()] = {"status": "skipped", "seconds": 0, "detail": reason}

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self._rec(test, "passed")

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self.records[test.id()] = {"status": "failed", "seconds": 0, "detail": "unexpected success"}


def main(argv):
    os.chdir(TOP)
    sys.path.insert(0, TOP)
    try:
        suite = unittest.defaultTestLoader.discover("tests", top_level_dir=TOP)
    except Exception:
        print(json.dumps({"error": traceback.format_exc()}))
        return 2
    ids = [t.id() for t in iter_tests(suite)]
    broken = [i for i in ids if i.startswith("unittest.loader._FailedTest")]
    if argv[1:2] == ["--list"]:
        print(json.dumps({"tests": ids}))
        return 0 if not broken else 2
    out = argv[1]
    stream = io.StringIO()
    runner = unittest.TextTestRunner(stream=stream, resultclass=JsonResult, verbosity=2)
    result = runner.run(suite)
    with open(out, "w") as f:
        json.dump({"tests": result.records, "log": stream.getvalue(), "ok": result.wasSuccessful()}, f)
    sys.stderr.write(stream.getvalue())
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
