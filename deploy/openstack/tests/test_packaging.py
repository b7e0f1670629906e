"""The package installs with pip (no network, no build isolation: Debian's
setuptools) and its fixed nova.conf import paths resolve from the install."""

import os
import shutil
import subprocess
import sys
import tempfile
import unittest

from tests import support


class PackagingTest(unittest.TestCase):
    def test_pip_installs_and_import_paths_resolve(self):
        with tempfile.TemporaryDirectory() as tmp:
            # build from a copy: pip's in-tree build leaves build/ and *.egg-info behind
            src, target = os.path.join(tmp, "src"), os.path.join(tmp, "site")
            shutil.copytree(support.PKG_ROOT, src,
                            ignore=shutil.ignore_patterns("tests", "build", "*.egg-info", "__pycache__"))
            r = subprocess.run(
                [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                 "--no-index", "--target", target, src],
                capture_output=True, text=True, timeout=300,
            )
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            check = (
                "import nova.objects; nova.objects.register_all()\n"
                "import wattplace_nova, nova.scheduler.filters as f, nova.scheduler.weights as w\n"
                "from wattplace_nova.filters import WattplaceFilter\n"
                "from wattplace_nova.weighers import WattplaceWeigher\n"
                "assert issubclass(WattplaceFilter, f.BaseHostFilter)\n"
                "assert issubclass(WattplaceWeigher, w.BaseHostWeigher)\n"
                "import nova.conf; nova.conf.CONF([], project='nova', default_config_files=[])\n"
                "print(wattplace_nova.__file__, nova.conf.CONF.wattplace.deadline)\n"
            )
            env = dict(os.environ, PYTHONPATH=target)
            r = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, env=env, cwd=target,
                               timeout=120)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            path, deadline = r.stdout.split()
            self.assertTrue(path.startswith(target), path)  # the installed copy, not the source tree
            self.assertEqual(float(deadline), 0.3)
