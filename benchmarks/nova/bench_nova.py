"""bench:nova — time Nova spends in the wattplace plugin per scheduling request,
next to Nova's own filter+weigh time on the same hosts.

For N = 100, 1,000, 5,000 compute hosts (all registered with a running
wattplace, each with a linear power model and a fresh sample):
  nova-default   SchedulerManager._get_sorted_hosts with Nova's default
                 enabled_filters and all_weighers (no plugin)
  nova+plugin    the same plus WattplaceFilter and WattplaceWeigher
  plugin         WattplaceFilter.filter_all + WattplaceWeigher.weigh_objects
                 alone, through Nova's handlers (one Evaluate call, shared)
  rpc            of which the Evaluate round trip (request prebuilt)
Each request uses a fresh RequestSpec (new instance uuid), so every plugin
request makes its own call. Figures: median and p90 milliseconds.

Run: npm run bench:nova   (builds first; /usr/bin/python3, Debian python3-nova)
"""

import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "deploy", "openstack"))

from tests import support  # noqa: E402

CONF = support.configure()

from nova.scheduler import weights as nova_weights  # noqa: E402

from wattplace_nova import evaluation  # noqa: E402
from wattplace_nova.filters import WattplaceFilter  # noqa: E402
from wattplace_nova.weighers import WattplaceWeigher  # noqa: E402

NOVA_FILTERS = [
    "ComputeFilter",
    "ComputeCapabilitiesFilter",
    "ImagePropertiesFilter",
    "ServerGroupAntiAffinityFilter",
    "ServerGroupAffinityFilter",
]
SIZES = [int(x) for x in os.environ.get("BENCH_NOVA_SIZES", "100,1000,5000").split(",")]
REPS = {100: 40, 1000: 15, 5000: 8}


def fleet(n):
    hosts, samples, nova = [], [], []
    for i in range(n):
        name = "cmp%05d" % i
        idle = 60 + (i * 37) % 90  # 60..149 W
        peak = idle + 120 + (i * 53) % 180  # +120..299 W
        util = ((i * 7) % 50) / 100.0  # 0.00..0.49
        hosts.append({"id": name, "cores": 32, "mem_gib": 256, "power": ["linear", idle, peak]})
        samples.append((name, idle + (peak - idle) * util, util, 0.3))
        nova.append((name, int(util * 32), int(0.3 * 262144)))
    return hosts, samples, nova


def timed(fns, reps):
    """Median and p90 ms of each function, run round-robin so that load from
    elsewhere on the machine hits every variant alike."""
    out = [[] for _ in fns]
    for _ in range(reps):
        for i, fn in enumerate(fns):
            t0 = time.perf_counter()
            fn()
            out[i].append((time.perf_counter() - t0) * 1000.0)
    res = []
    for xs in out:
        xs.sort()
        res.append((statistics.median(xs), xs[min(len(xs) - 1, int(round(0.9 * (len(xs) - 1))))]))
    return res


def with_filters(filters, weighers):
    CONF.set_override("enabled_filters", filters, group="filter_scheduler")
    CONF.set_override("weight_classes", weighers, group="filter_scheduler")
    return support.scheduler()


def main():
    wp = support.Wattplace()
    rows = []
    try:
        CONF.set_override("endpoint", wp.grpc, group="wattplace")
        CONF.set_override("deadline", 5.0, group="wattplace")  # measure, do not fail open
        for n in SIZES:
            hosts, samples, nova = fleet(n)
            wp.register(hosts)
            wp.report(samples)
            hs = [
                support.host_state(name, vcpus=32, vcpus_used=used, memory_mb=262144, memory_mb_used=mem)
                for name, used, mem in nova
            ]
            reps = REPS.get(n, 5)
            support.reset_plugin_state()
            base = with_filters(NOVA_FILTERS, ["nova.scheduler.weights.all_weighers"])
            plug = with_filters(
                NOVA_FILTERS + ["WattplaceFilter"],
                ["nova.scheduler.weights.all_weighers", "wattplace_nova.weighers.WattplaceWeigher"],
            )
            fh = base.host_manager.filter_handler
            wh = base.host_manager.weight_handler
            flt, wgt = [WattplaceFilter()], [WattplaceWeigher()]

            def plugin_only():
                s = support.request_spec()
                passed = fh.get_filtered_objects(flt, hs, s)
                wh.get_weighed_objects(wgt, passed, s)

            s0 = support.request_spec()
            views = [evaluation.candidate_view(h, "hypervisor_hostname") for h in hs]
            req = evaluation.build_request(s0, views, evaluation.workload_of(s0))

            # warm up every path once (channel, caches of Nova's loaders)
            base._get_sorted_hosts(support.request_spec(), hs, 0)
            plug._get_sorted_hosts(support.request_spec(), hs, 0)
            plugin_only()

            calls0 = wp.evaluate_calls()
            nova_default, nova_plugin, plugin, rpc = timed(
                [
                    lambda: base._get_sorted_hosts(support.request_spec(), hs, 0),
                    lambda: plug._get_sorted_hosts(support.request_spec(), hs, 0),
                    plugin_only,
                    lambda: evaluation._call(req),
                ],
                reps,
            )
            calls = wp.evaluate_calls() - calls0
            # nova+plugin: one call per request; plugin: one; rpc: one
            assert calls == 3 * reps, "expected %d Evaluate calls, saw %d" % (3 * reps, calls)
            first = plug._get_sorted_hosts(support.request_spec(), hs, 0)[0].host
            rows.append((n, reps, nova_default, nova_plugin, plugin, rpc, first))
            print(
                "N=%5d reps=%2d  nova-default %7.1f ms (p90 %7.1f)  nova+plugin %7.1f (p90 %7.1f)  "
                "plugin %6.1f (p90 %6.1f)  rpc %6.1f (p90 %6.1f)  best=%s"
                % (n, reps, nova_default[0], nova_default[1], nova_plugin[0], nova_plugin[1], plugin[0], plugin[1],
                   rpc[0], rpc[1], first),
                flush=True,
            )
    finally:
        wp.stop()
    print()
    print("| hosts | Nova default filters+weighers | Nova + wattplace plugin | plugin alone (filter+weigher, 1 RPC) | of which Evaluate RPC |")
    print("|------:|------:|------:|------:|------:|")
    for n, reps, a, b, c, d, _ in rows:
        print("| %s | %.1f ms (p90 %.1f) | %.1f ms (p90 %.1f) | %.1f ms (p90 %.1f) | %.1f ms (p90 %.1f) |"
              % ("{:,}".format(n), a[0], a[1], b[0], b[1], c[0], c[1], d[0], d[1]))


if __name__ == "__main__":
    main()
