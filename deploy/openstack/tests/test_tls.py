"""[wattplace] ca_file / cert_file / key_file / token_file against a wattplace
that requires mutual TLS and a bearer token (PKI made with openssl at test time)."""

import json
import os
import tempfile
import unittest

from tests import support

CONF = support.configure()

from wattplace_nova.filters import WattplaceFilter  # noqa: E402

with open(os.path.join(support.FIXTURES, "mixed-fleet.json")) as f:
    FLEET = json.load(f)

TMP = None
PKI = None
WP = None


def setUpModule():
    global TMP, PKI, WP
    TMP = tempfile.TemporaryDirectory()
    PKI = support.make_pki(TMP.name)
    WP = support.Wattplace(
        "--tls-cert", PKI["server_cert"], "--tls-key", PKI["server_key"],
        "--tls-client-ca", PKI["ca"], "--auth-token-file", PKI["token"],
        tls={"ca": PKI["ca"], "cert": PKI["cert"], "key": PKI["key"], "token": PKI["token"]},
    )
    WP.register(FLEET["hosts"])
    WP.report(FLEET["samples"])


def tearDownModule():
    if WP is not None:
        WP.stop()
    if TMP is not None:
        TMP.cleanup()


class TlsTest(unittest.TestCase):
    def setUp(self):
        support.reset_plugin_state()
        self.addCleanup(support.reset_plugin_state)
        self.set(endpoint=WP.grpc, ca_file=PKI["ca"], cert_file=PKI["cert"], key_file=PKI["key"],
                 token_file=PKI["token"], deadline=2.0)

    def set(self, **kw):
        for k, v in kw.items():
            CONF.set_override(k, v, group="wattplace")
            self.addCleanup(CONF.clear_override, k, group="wattplace")

    def run_filter(self):
        hs = [support.host_state(h["name"], vcpus_used=h["vcpus_used"], memory_mb_used=h["memory_mb_used"])
              for h in FLEET["nova"]]
        return sorted(h.host for h in WattplaceFilter().filter_all(hs, support.request_spec()))

    def test_mutual_tls_and_token(self):
        before = WP.evaluate_calls()
        # wattplace answered: node-d (maintenance) and node-f (full) removed
        self.assertEqual(self.run_filter(), ["node-a", "node-b", "node-c", "node-e"])
        self.assertEqual(WP.evaluate_calls() - before, 1)

    def test_without_client_certificate_fails_open(self):
        self.set(cert_file=None, key_file=None)
        with self.assertLogs("wattplace_nova.evaluation", level="WARNING") as logs:
            self.assertEqual(len(self.run_filter()), len(FLEET["nova"]))
        self.assertIn("UNAVAILABLE", logs.records[0].getMessage())

    def test_wrong_token_fails_open(self):
        self.set(token_file=PKI["wrong_token"])
        with self.assertLogs("wattplace_nova.evaluation", level="WARNING") as logs:
            self.assertEqual(len(self.run_filter()), len(FLEET["nova"]))
        self.assertIn("UNAUTHENTICATED", logs.records[0].getMessage())

    def test_plaintext_to_tls_server_fails_open(self):
        self.set(ca_file=None, cert_file=None, key_file=None)
        with self.assertLogs("wattplace_nova.evaluation", level="WARNING"):
            self.assertEqual(len(self.run_filter()), len(FLEET["nova"]))
