"""One Evaluate call per scheduling pass, shared by the filter and the weigher.

Nova instantiates filters and weighers once and calls them from many (green)
threads, so nothing per request lives on ``self``: a request's answer is kept in
a module-level, lock-protected, bounded LRU cache with a short TTL, keyed by the
request (RequestSpec identity, instance uuid, demand) and valid only for the
exact candidate view it was computed for. Within one ``_get_sorted_hosts`` pass
the filter makes the call and the weigher (which sees a subset of the same,
unchanged hosts) reuses it; when Nova has consumed resources on a host since
(multi-create), the view differs and a new call is made.
"""

import collections
import threading
import time

import grpc
from oslo_log import log as logging

import nova.conf

from wattplace_nova import client
from wattplace_nova import conf as wconf
from wattplace_nova.client import pb

LOG = logging.getLogger(__name__)
CONF = nova.conf.CONF
wconf.register_opts(CONF)

MIB = 1024 * 1024
CPU_MILLIS_PER_VCPU = 1000
# Tie-break step between consecutive ranks (watts). Makes the raw weights
# strictly decreasing in wattplace's rank even when two scores are equal (where
# wattplace orders by tighter fit), so Nova's sort reproduces wattplace's order.
RANK_EPSILON = 1e-6
UNKNOWN_PREFIX = "unknown host"


class Answer(object):
    """wattplace's verdict for one request (immutable once built)."""

    __slots__ = ("ok", "weights", "rejected", "unknown", "error", "worst")

    def __init__(self, ok, weights=None, rejected=None, unknown=None, error=None):
        self.ok = ok
        self.weights = weights or {}  # host id -> raw weight (higher is better)
        self.rejected = rejected or {}  # host id -> reason
        self.unknown = unknown or frozenset()  # host ids wattplace does not know
        self.error = error
        self.worst = min(self.weights.values()) if self.weights else 0.0


# ------------------------------------------------------------ request building


def host_id(host_state, mapping=None):
    """The wattplace host id of a Nova HostState under [wattplace] host_id_mapping."""
    mapping = mapping or CONF.wattplace.host_id_mapping
    if mapping == "hypervisor_hostname":
        return host_state.hypervisor_hostname or host_state.nodename or host_state.host
    if mapping in wconf.HOST_ID_ATTRIBUTES:
        v = getattr(host_state, mapping, None)
        if not v:
            raise ValueError("[wattplace] host_id_mapping=%s: host %s has no %s" % (mapping, host_state.host, mapping))
        return str(v)
    if "{" in mapping:
        return mapping.format(
            host=host_state.host,
            nodename=host_state.nodename,
            hypervisor_hostname=host_state.hypervisor_hostname or host_state.nodename,
            uuid=host_state.uuid,
            cell_uuid=host_state.cell_uuid,
        )
    raise ValueError(
        "[wattplace] host_id_mapping: %r is neither one of %s nor a {template}"
        % (mapping, ", ".join(wconf.HOST_ID_ATTRIBUTES))
    )


def candidate_view(host_state, mapping):
    """(host id, allocated cpu millis, allocated bytes, cpu ratio, mem ratio):
    Nova's own view of the host, as wattplace's Candidate carries it. Values
    Nova does not know yet (None) or that are negative become 0 (for ratios:
    wattplace's configured ratio)."""
    h = host_state
    if mapping == "hypervisor_hostname":
        hid = h.hypervisor_hostname or h.nodename or h.host
    else:
        hid = host_id(h, mapping)
    vcpus = h.vcpus_used
    cpu = int(vcpus * CPU_MILLIS_PER_VCPU + 0.5) if vcpus and vcpus > 0 else 0
    total, free = h.total_usable_ram_mb, h.free_ram_mb
    used_mb = (total or 0) - (free or 0)
    mem = int(used_mb) * MIB if used_mb > 0 else 0
    r1, r2 = h.cpu_allocation_ratio, h.ram_allocation_ratio
    return (
        hid,
        cpu,
        mem,
        r1 if r1 is not None and r1 > 0 else 0.0,
        r2 if r2 is not None and r2 > 0 else 0.0,
    )


def workload_of(spec_obj):
    """(cpu millis, bytes, selector items) the flavor asks for."""
    flavor = spec_obj.flavor
    cpu = int(flavor.vcpus) * CPU_MILLIS_PER_VCPU
    mem = int(flavor.memory_mb) * MIB
    prefix = CONF.wattplace.selector_prefix
    selector = ()
    specs = flavor.extra_specs if "extra_specs" in flavor and flavor.extra_specs else {}
    if prefix and specs:
        selector = tuple(sorted((k[len(prefix):], str(v)) for k, v in specs.items() if k.startswith(prefix)))
    return cpu, mem, selector


def _instance_uuid(spec_obj):
    return spec_obj.instance_uuid if "instance_uuid" in spec_obj else None


def build_request(spec_obj, views, workload, allow_stale=False):
    cpu, mem, selector = workload
    req = pb.EvaluateRequest(allow_stale=allow_stale)
    w = req.workload
    w.id = _instance_uuid(spec_obj) or "nova-request"
    w.demand.cpu_millis = cpu
    w.demand.mem_bytes = mem
    for k, v in selector:
        w.selector[k] = v
    add = req.candidates.add
    for v in views:
        c = add(host_id=v[0], cpu_allocation_ratio=v[3], mem_allocation_ratio=v[4])
        a = c.allocated
        a.cpu_millis = v[1]
        a.mem_bytes = v[2]
    return req


def answer_from(res):
    weights = {}
    for rank, s in enumerate(res.feasible):
        # score = -marginal watts (or -g CO2/h when wattplace weighs carbon)
        weights[s.host_id] = s.score - rank * RANK_EPSILON
    rejected = {}
    unknown = set()
    for r in res.rejected:
        if r.reason.startswith(UNKNOWN_PREFIX):
            unknown.add(r.host_id)
        else:
            rejected[r.host_id] = r.reason
    return Answer(True, weights, rejected, frozenset(unknown))


# ------------------------------------------------------------ cache


class AnswerCache(object):
    """Bounded LRU of answers with a TTL, safe across threads."""

    def __init__(self):
        self._lock = threading.Lock()
        self._entries = collections.OrderedDict()  # key -> (expires, views dict, answer)

    def get(self, key, views, now):
        with self._lock:
            e = self._entries.get(key)
            if e is None:
                return None
            expires, seen, answer = e
            if now > expires:
                del self._entries[key]
                return None
            for v in views:
                if seen.get(v[0]) != v:
                    return None
            self._entries.move_to_end(key)
            return answer

    def put(self, key, views, answer, now, ttl, size):
        if ttl <= 0:
            return
        seen = {v[0]: v for v in views}
        with self._lock:
            self._entries[key] = (now + ttl, seen, answer)
            self._entries.move_to_end(key)
            entries = self._entries
            # drop the least recently used beyond the bound, and expired ones
            # from the old end (an entry holds one view per host: keep few)
            while len(entries) > size:
                entries.popitem(last=False)
            while entries:
                oldest = next(iter(entries.values()))
                if oldest[0] >= now:
                    break
                entries.popitem(last=False)

    def __len__(self):
        with self._lock:
            return len(self._entries)

    def clear(self):
        with self._lock:
            self._entries.clear()


CACHE = AnswerCache()


# ------------------------------------------------------------ warnings


class _Throttle(object):
    def __init__(self):
        self._lock = threading.Lock()
        self._last = None
        self.suppressed = 0

    def warn(self, msg, *args):
        now = time.monotonic()
        with self._lock:
            if self._last is not None and now - self._last < CONF.wattplace.warn_interval:
                self.suppressed += 1
                return
            suppressed, self.suppressed, self._last = self.suppressed, 0, now
        if suppressed:
            msg += " (%d similar failures since the last warning)" % suppressed
        LOG.warning(msg, *args)

    def reset(self):
        with self._lock:
            self._last = None
            self.suppressed = 0


THROTTLE = _Throttle()


# ------------------------------------------------------------ the call


def _metadata():
    path = CONF.wattplace.token_file
    if not path:
        return None
    with open(path) as f:
        return (("authorization", "Bearer " + f.read().strip()),)


def _call(req):
    c = CONF.wattplace
    ch = client.channel_for(c.endpoint, c.ca_file, c.cert_file, c.key_file)
    return client.PlacementStub(ch).Evaluate(req, timeout=c.deadline, metadata=_metadata())


def _warn(answer):
    c = CONF.wattplace
    THROTTLE.warn(
        "wattplace at %s failed (%s); %s",
        c.endpoint,
        answer.error,
        "failing open: hosts pass unweighed" if c.fail_open else "failing closed: no host passes",
    )


def evaluate(spec_obj, host_states):
    """wattplace's answer for these hosts and the ids they map to; never raises
    for transport errors (the answer says ok=False)."""
    c = CONF.wattplace
    now = time.monotonic()
    try:
        views = [candidate_view(h, c.host_id_mapping) for h in host_states]
        workload = workload_of(spec_obj)
    except Exception as e:  # a bad host_id_mapping or an odd host view must not break scheduling
        answer = Answer(False, error="%s: %s" % (type(e).__name__, e))
        _warn(answer)
        return answer, [None] * len(host_states)
    ids = [v[0] for v in views]
    key = (id(spec_obj), _instance_uuid(spec_obj), workload, c.allow_stale)
    answer = CACHE.get(key, views, now)
    if answer is not None:
        return answer, ids
    try:
        res = _call(build_request(spec_obj, views, workload, c.allow_stale))
        answer = answer_from(res)
    except grpc.RpcError as e:
        code = e.code() if hasattr(e, "code") else None
        detail = e.details() if hasattr(e, "details") else str(e)
        answer = Answer(False, error="%s: %s" % (getattr(code, "name", code), detail))
    except Exception as e:  # a bad config value or host view must not break scheduling
        answer = Answer(False, error="%s: %s" % (type(e).__name__, e))
    if not answer.ok:
        _warn(answer)
    CACHE.put(key, views, answer, now, c.cache_ttl, c.cache_size)
    return answer, ids


def filter_hosts(host_states, spec_obj):
    answer, ids = evaluate(spec_obj, host_states)
    if not answer.ok:
        return list(host_states) if CONF.wattplace.fail_open else []
    keep_unknown = CONF.wattplace.unknown_hosts == "pass"
    w, unknown = answer.weights, answer.unknown
    out = [h for h, i in zip(host_states, ids) if i in w or (keep_unknown and i in unknown)]
    if len(out) < len(host_states):
        LOG.debug(
            "WattplaceFilter removed %d of %d hosts, e.g. %s",
            len(host_states) - len(out),
            len(host_states),
            next(iter(answer.rejected.items()), None),
        )
    return out


def weigh_hosts(host_states, spec_obj):
    """Raw weights (higher is better), one per host, for Nova to normalize."""
    answer, ids = evaluate(spec_obj, host_states)
    if not answer.ok:
        if CONF.wattplace.fail_open:
            return [0.0] * len(host_states)
        from nova import exception

        raise exception.NoValidHost(reason="wattplace unavailable and [wattplace] fail_open is False")
    # Hosts wattplace did not rank (unknown or rejected) weigh just below its
    # worst ranked host: after normalization they add 0, like the least
    # efficient known host.
    floor = answer.worst - RANK_EPSILON
    w = answer.weights
    return [w.get(i, floor) for i in ids]
