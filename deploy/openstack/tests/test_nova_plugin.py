"""WattplaceFilter and WattplaceWeigher inside Nova's real scheduler code,
against a running wattplace (scenario fixtures/mixed-fleet.json; the expected
arithmetic is worked out in its _comment).

Run: /usr/bin/python3 -m unittest discover -s deploy/openstack/tests -t deploy/openstack
(needs `npm run build`; the vitest suite test/nova.test.ts runs it).
"""

import json
import logging
import os
import signal
import threading
import time
import unittest
import uuid

from tests import support

CONF = support.configure()

from nova import context as nova_context  # noqa: E402
from nova import exception  # noqa: E402
from nova.scheduler import filters as nova_filters  # noqa: E402
from nova.scheduler import weights as nova_weights  # noqa: E402

from wattplace_nova import evaluation  # noqa: E402
from wattplace_nova.client import pb  # noqa: E402
from wattplace_nova.filters import WattplaceFilter  # noqa: E402
from wattplace_nova.weighers import WattplaceWeigher  # noqa: E402

with open(os.path.join(support.FIXTURES, "mixed-fleet.json")) as f:
    FLEET = json.load(f)
EXPECT = FLEET["expect"]
WP = None  # the wattplace every test shares (telemetry registered once)


def setUpModule():
    global WP
    WP = support.Wattplace()
    WP.register(FLEET["hosts"])
    WP.report(FLEET["samples"])


def tearDownModule():
    if WP is not None:
        WP.stop()


def hosts(**changes):
    """Fresh HostStates of the scenario; changes = {name: {field: value}}."""
    out = []
    for h in FLEET["nova"]:
        kw = dict(h)
        name = kw.pop("name")
        kw.update(changes.get(name, {}))
        out.append(support.host_state(name, **kw))
    return out


def spec(**kw):
    f = FLEET["flavor"]
    kw.setdefault("vcpus", f["vcpus"])
    kw.setdefault("memory_mb", f["memory_mb"])
    return support.request_spec(**kw)


def names(hs):
    return [getattr(h, "obj", h).host for h in hs]


class PluginTestCase(unittest.TestCase):
    def setUp(self):
        support.reset_plugin_state()
        CONF.set_override("endpoint", WP.grpc, group="wattplace")
        self.addCleanup(CONF.clear_override, "endpoint", group="wattplace")
        self.sm = support.scheduler()
        self.hm = self.sm.host_manager

    def override(self, name, value):
        CONF.set_override(name, value, group="wattplace")
        self.addCleanup(CONF.clear_override, name, group="wattplace")

    def rpcs(self, server=None):
        return (server or WP).evaluate_calls()

    def direct_evaluate(self, host_states, s):
        """wattplace's own ranking of the same request, asked directly."""
        views = [evaluation.candidate_view(h, CONF.wattplace.host_id_mapping) for h in host_states]
        req = evaluation.build_request(s, views, evaluation.workload_of(s))
        return WP.placement.Evaluate(req, timeout=10)


class ConfigurationTest(PluginTestCase):
    def test_nova_conf_loads_the_plugin(self):
        # Nova's own loader resolved both dotted paths from the fixture nova.conf
        self.assertEqual([type(f).__name__ for f in self.hm.enabled_filters][-1], "WattplaceFilter")
        self.assertEqual([type(w) for w in self.hm.weighers], [WattplaceWeigher])
        self.assertIsInstance(self.hm.enabled_filters[-1], WattplaceFilter)

    def test_option_group_registered_with_defaults(self):
        w = CONF.wattplace
        self.assertEqual(w.endpoint, WP.grpc)  # overridden per test
        self.assertEqual(w.deadline, 0.3)
        self.assertTrue(w.fail_open)
        self.assertEqual(w.unknown_hosts, "pass")
        self.assertEqual(w.host_id_mapping, "hypervisor_hostname")
        self.assertEqual(w.weight_multiplier, 1.0)
        self.assertGreater(w.cache_ttl, 0)
        from wattplace_nova import conf as wconf

        [(group, opts)] = wconf.list_opts()  # oslo-config-generator's shape
        self.assertEqual(group.name, "wattplace")
        for name in ["endpoint", "ca_file", "cert_file", "key_file", "deadline", "fail_open", "weight_multiplier",
                     "host_id_mapping", "unknown_hosts"]:
            self.assertIn(name, [o.name for o in opts])

    def test_candidate_carries_novas_allocation_view(self):
        # node-a: 8 vCPUs used -> 8 x 1000 = 8000 millicores; 26214 MiB used
        # -> 26214 x 1048576 = 27487371264 bytes; ratios from the ComputeNode.
        h = support.host_state("node-a", vcpus_used=8, memory_mb_used=26214, cpu_ratio=4.0, ram_ratio=1.5)
        self.assertEqual(evaluation.candidate_view(h, "hypervisor_hostname"), ("node-a", 8000, 27487371264, 4.0, 1.5))

    def test_host_id_mapping_rules(self):
        h = support.host_state("cmp1", hypervisor_hostname="cmp1.dc1.example")
        table = [
            ("hypervisor_hostname", "cmp1.dc1.example"),
            ("host", "cmp1"),
            ("nodename", "cmp1.dc1.example"),
            ("uuid", h.uuid),
            ("dc1/{host}", "dc1/cmp1"),
        ]
        for mapping, want in table:
            self.assertEqual(evaluation.host_id(h, mapping), want, mapping)
        with self.assertRaisesRegex(ValueError, "host_id_mapping"):
            evaluation.host_id(h, "serial_number")


class FilterTest(PluginTestCase):
    def test_rejected_hosts_removed_unknown_pass_one_rpc(self):
        before = self.rpcs()
        got = self.hm.filter_handler.get_filtered_objects(self.hm.enabled_filters, hosts(), spec())
        self.assertEqual(self.rpcs() - before, 1)
        # node-d (maintenance) and node-f (full in Nova's view) removed; node-e unknown passes
        self.assertEqual(sorted(names(got)), sorted(EXPECT["ranked"] + EXPECT["unknown"]))

    def test_rejection_reasons_match_scenario(self):
        res = self.direct_evaluate(hosts(), spec())
        reasons = {r.host_id: r.reason for r in res.rejected}
        for host, fragment in EXPECT["rejected"].items():
            self.assertIn(fragment, reasons[host].lower())
        self.assertTrue(reasons["node-e"].startswith("unknown host"))

    def test_unknown_hosts_reject(self):
        self.override("unknown_hosts", "reject")
        got = self.hm.filter_handler.get_filtered_objects(self.hm.enabled_filters, hosts(), spec())
        self.assertEqual(sorted(names(got)), sorted(EXPECT["ranked"]))

    def test_selector_from_flavor_extra_specs(self):
        got = self.hm.filter_handler.get_filtered_objects(
            self.hm.enabled_filters, hosts(), spec(extra_specs={"wattplace:zone": "a", "hw:cpu_policy": "shared"})
        )
        self.assertEqual(sorted(names(got)), ["node-a", "node-e"])

    def test_stale_telemetry_rejected_unless_allowed(self):
        # node-s last reported 120 s ago; wattplace's staleAfterMs is 60 s
        WP.register([{"id": "node-s", "cores": 16, "mem_gib": 64, "power": ["linear", 50, 150]}])
        WP.report([("node-s", 80, 0.3, 0.3)], age_s=120)
        hs = [support.host_state("node-s"), support.host_state("node-b", vcpus_used=5)]
        # wattplace's snapshot takes the sample within snapshotRefreshMs (50 ms)
        deadline = time.monotonic() + 5
        while True:
            reasons = {r.host_id: r.reason for r in self.direct_evaluate(hs, spec()).rejected}
            if "node-s" in reasons or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.assertIn("stale telemetry", reasons.get("node-s", "(passed)"))
        got = self.hm.filter_handler.get_filtered_objects([WattplaceFilter()], hs, spec())
        self.assertEqual(names(got), ["node-b"])
        self.override("allow_stale", True)
        got = self.hm.filter_handler.get_filtered_objects([WattplaceFilter()], hs, spec())
        self.assertEqual(sorted(names(got)), ["node-b", "node-s"])

    def test_rebuild_passes_without_call(self):
        before = self.rpcs()
        hs = hosts()
        got = self.hm.filter_handler.get_filtered_objects([WattplaceFilter()], hs, spec(rebuild=True))
        self.assertEqual(names(got), names(hs))
        self.assertEqual(self.rpcs() - before, 0)
        self.assertFalse(WattplaceFilter.RUN_ON_REBUILD)

    def test_host_passes_single_host_path(self):
        f = WattplaceFilter()
        s = spec()
        self.assertTrue(f.host_passes(support.host_state("node-b", vcpus_used=5), s))
        self.assertFalse(f.host_passes(support.host_state("node-d"), s))


class WeigherTest(PluginTestCase):
    def test_lowest_watt_host_weighs_most(self):
        s = spec()
        hs = [h for h in hosts() if h.host in EXPECT["ranked"] + EXPECT["unknown"]]
        before = self.rpcs()
        weighed = self.hm.weight_handler.get_weighed_objects(self.hm.weighers, hs, s)
        self.assertEqual(self.rpcs() - before, 1)
        # order: wattplace's ranking, then the unknown host (weighed like its worst)
        self.assertEqual(names(weighed), EXPECT["ranked"] + EXPECT["unknown"])
        w = {x.obj.host: x.weight for x in weighed}
        # raw weights -12.5, -25 - 1e-6, -85 - 2e-6, unknown -85 - 3e-6; min-max
        # normalized: node-b (−12.5 − (−85−3e-6)) / (72.5+3e-6) = 1.0, node-a 60/72.5 = 0.8276,
        # node-c ~ 4e-8, node-e 0.
        self.assertAlmostEqual(w["node-b"], 1.0, places=6)
        self.assertAlmostEqual(w["node-a"], 60.0 / 72.5, places=5)
        self.assertAlmostEqual(w["node-c"], 0.0, places=5)
        self.assertEqual(w["node-e"], 0.0)
        # the same order wattplace gives when asked directly, with the scenario's watts
        res = self.direct_evaluate(hs, s)
        self.assertEqual([x.host_id for x in res.feasible], EXPECT["ranked"])
        for x in res.feasible:
            self.assertAlmostEqual(x.marginal_watts, EXPECT["marginal_watts"][x.host_id], places=6)

    def test_weight_multiplier_from_config_and_aggregate(self):
        self.override("weight_multiplier", 2.5)
        support.create_aggregate("green-%s" % uuid.uuid4().hex[:8], ["node-a"], {"wattplace_weight_multiplier": "10"})
        hm = support.scheduler().host_manager  # loads the aggregate from the API database
        a = support.host_state("node-a", aggregates=hm._get_aggregates_info("node-a"))
        b = support.host_state("node-b", aggregates=hm._get_aggregates_info("node-b"))
        self.assertEqual(len(a.aggregates), 1)
        wg = WattplaceWeigher()
        self.assertEqual(wg.weight_multiplier(a), 10.0)
        self.assertEqual(wg.weight_multiplier(b), 2.5)

    def test_weigher_alone_makes_one_call(self):
        before = self.rpcs()
        hs = hosts()
        ws = WattplaceWeigher().weigh_objects([nova_weights.WeighedHost(h, 0.0) for h in hs], spec())
        self.assertEqual(self.rpcs() - before, 1)
        self.assertEqual(len(ws), len(hs))
        best = hs[ws.index(max(ws))].host
        self.assertEqual(best, EXPECT["ranked"][0])


class SchedulerPathTest(PluginTestCase):
    def test_sorted_hosts_choose_wattplace_first_one_rpc(self):
        before = self.rpcs()
        got = self.sm._get_sorted_hosts(spec(), hosts(), 0)
        # filter and weigher of one pass share one Evaluate call
        self.assertEqual(self.rpcs() - before, 1)
        self.assertEqual(names(got)[0], EXPECT["ranked"][0])
        self.assertEqual(names(got), EXPECT["ranked"] + EXPECT["unknown"])

    def test_with_novas_weighers_the_multiplier_decides(self):
        # Nova's all_weighers next to wattplace's. Nova's RAM/CPU weighers
        # spread onto the emptiest host: node-c (nothing used), while
        # wattplace's best is node-b (12.5 W vs node-c 85 W). With wattplace's
        # multiplier at 10 its 0..1 weight outweighs the others.
        CONF.set_override("weight_classes", ["nova.scheduler.weights.all_weighers",
                                             "wattplace_nova.weighers.WattplaceWeigher"], group="filter_scheduler")
        self.addCleanup(CONF.clear_override, "weight_classes", group="filter_scheduler")
        sm = support.scheduler()
        self.assertIn(WattplaceWeigher, [type(w) for w in sm.host_manager.weighers])
        self.override("weight_multiplier", 0.0)
        self.assertEqual(names(sm._get_sorted_hosts(spec(), hosts(), 0))[0], "node-c")
        self.override("weight_multiplier", 10.0)
        self.assertEqual(names(sm._get_sorted_hosts(spec(), hosts(), 0))[0], "node-b")

    def test_each_request_makes_its_own_call(self):
        before = self.rpcs()
        for _ in range(3):
            self.assertEqual(names(self.sm._get_sorted_hosts(spec(), hosts(), 0))[0], EXPECT["ranked"][0])
        self.assertEqual(self.rpcs() - before, 3)

    def test_multi_create_reevaluates_after_consume(self):
        # node-b has 9 of 16 vCPUs used in Nova's view. wattplace's CPU ceiling
        # (0.8) takes the larger of measured and allocated utilization after
        # placement: first instance (9 + 2) / 16 = 0.6875 (measured 0.3 + 0.125)
        # -> fits, node-b (12.5 W) wins; Nova then consumes 2 vCPUs on its
        # HostState, so for the second (11 + 2) / 16 = 0.8125 > 0.8 -> wattplace
        # rejects node-b and node-a (25 W) is next.
        hs = hosts(**{"node-b": {"vcpus_used": 9}})
        uuids = [str(uuid.uuid4()), str(uuid.uuid4())]
        s = spec(num_instances=2)
        before = self.rpcs()
        selections = self.sm._legacy_find_hosts(
            nova_context.get_admin_context(), 2, s, hs, 0, instance_uuids=uuids
        )
        self.assertEqual([sel[0].service_host for sel in selections], ["node-b", "node-a"])
        # one call per instance (filter runs for every instance, weigher shares it)
        self.assertEqual(self.rpcs() - before, 2)
        self.assertFalse(WattplaceFilter.run_filter_once_per_request)

    def test_without_sharing_filter_and_weigher_call_separately(self):
        self.override("cache_ttl", 0.0)
        before = self.rpcs()
        self.assertEqual(names(self.sm._get_sorted_hosts(spec(), hosts(), 0))[0], EXPECT["ranked"][0])
        self.assertEqual(self.rpcs() - before, 2)

    def test_answer_cache_is_bounded_and_expires(self):
        c = evaluation.AnswerCache()
        view = [("h", 0, 0, 0.0, 0.0)]
        ans = evaluation.Answer(True, {"h": -1.0})
        for i in range(5):
            c.put(("k", i), view, ans, now=100.0, ttl=5.0, size=3)
        self.assertEqual(len(c), 3)  # bounded: the 2 least recent dropped
        self.assertIsNone(c.get(("k", 0), view, now=101.0))
        self.assertIs(c.get(("k", 4), view, now=101.0), ans)
        # a different view of the same host (Nova consumed resources) misses
        self.assertIsNone(c.get(("k", 4), [("h", 2000, 0, 0.0, 0.0)], now=101.0))
        c.put(("k", 9), view, ans, now=106.0, ttl=5.0, size=3)  # the others expired at 105
        self.assertEqual(len(c), 1)

    def test_concurrent_requests_do_not_mix(self):
        # 8 threads, alternating an unconstrained flavor (best node-b) and a
        # zone=a flavor (only node-a, plus unknown node-e): shared instances,
        # no per-request state on self.
        results = {}

        def run(i):
            extra = {"wattplace:zone": "a"} if i % 2 else {}
            results[i] = names(self.sm._get_sorted_hosts(spec(extra_specs=extra), hosts(), 0))[0]

        before = self.rpcs()
        ts = [threading.Thread(target=run, args=(i,)) for i in range(8)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        self.assertEqual(results, {i: ("node-a" if i % 2 else "node-b") for i in range(8)})
        self.assertEqual(self.rpcs() - before, 8)


class FailureTest(PluginTestCase):
    def stopped_endpoint(self):
        down = support.Wattplace()
        endpoint = down.grpc
        down.stop()
        self.override("endpoint", endpoint)
        return endpoint

    def test_fail_open_with_wattplace_stopped(self):
        self.stopped_endpoint()
        hs = hosts()
        with self.assertLogs("wattplace_nova.evaluation", level="WARNING") as logs:
            for _ in range(3):
                got = self.sm._get_sorted_hosts(spec(), hs, 0)
                # every host passes (node-d and node-f included), weighed equally
                self.assertEqual(sorted(names(got)), sorted(names(hs)))
        # one warning for three failing requests (warn_interval 60 s)
        self.assertEqual(len(logs.records), 1, [r.getMessage() for r in logs.records])
        self.assertIn("failing open", logs.records[0].getMessage())
        ws = WattplaceWeigher().weigh_objects([nova_weights.WeighedHost(h, 0.0) for h in hs], spec())
        self.assertEqual(ws, [0.0] * len(hs))

    def test_fail_closed_when_configured(self):
        self.stopped_endpoint()
        self.override("fail_open", False)
        with self.assertLogs("wattplace_nova.evaluation", level="WARNING"):
            got = self.hm.filter_handler.get_filtered_objects(self.hm.enabled_filters, hosts(), spec())
        self.assertEqual(got, [])
        with self.assertRaises(exception.NoValidHost):
            self.sm._legacy_find_hosts(nova_context.get_admin_context(), 1, spec(), hosts(), 0)
        with self.assertRaises(exception.NoValidHost):
            WattplaceWeigher().weigh_objects([nova_weights.WeighedHost(h, 0.0) for h in hosts()], spec())

    def test_slow_wattplace_hits_the_deadline(self):
        # a real wattplace, paused (SIGSTOP): the call waits for the deadline, then fails open
        slow = support.Wattplace()
        self.addCleanup(slow.stop)
        slow.register(FLEET["hosts"])
        self.override("endpoint", slow.grpc)
        self.override("deadline", 0.2)
        hs = hosts()
        # warm the channel while it answers
        self.assertEqual(names(self.sm._get_sorted_hosts(spec(), hs, 0))[0], "node-b")
        s, hs2 = spec(), hosts()
        os.kill(slow.proc.pid, signal.SIGSTOP)
        try:
            t0 = time.monotonic()
            with self.assertLogs("wattplace_nova.evaluation", level="WARNING") as logs:
                got = self.sm._get_sorted_hosts(s, hs2, 0)
            took = time.monotonic() - t0
        finally:
            os.kill(slow.proc.pid, signal.SIGCONT)
        self.assertEqual(len(got), len(hs))
        self.assertIn("DEADLINE_EXCEEDED", logs.records[0].getMessage())
        # one deadline for the whole pass (the weigher reuses the failed answer)
        self.assertGreaterEqual(took, 0.2)
        self.assertLess(took, 0.2 * 2)

    def test_bad_host_view_fails_open_not_crash(self):
        self.override("host_id_mapping", "{rack}")  # unknown template field
        with self.assertLogs("wattplace_nova.evaluation", level="WARNING") as logs:
            got = self.sm._get_sorted_hosts(spec(), hosts(), 0)
        self.assertEqual(len(got), len(FLEET["nova"]))
        self.assertIn("KeyError", logs.records[0].getMessage())


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    unittest.main()
