"""WattplaceFilter: removes the hosts wattplace rejects, with one call per pass."""

from nova.scheduler import filters
from nova.scheduler import utils

from wattplace_nova import evaluation


class WattplaceFilter(filters.BaseHostFilter):
    """Drops hosts wattplace rejects (power state, stale telemetry, labels,
    capacity under Nova's own allocation view, power ceiling).

    One Evaluate call for all hosts of a scheduling pass (``filter_all`` is
    overridden; ``host_passes`` is only the single-host fallback). Hosts
    unknown to wattplace pass or not per ``[wattplace] unknown_hosts``.
    """

    # A rebuild keeps the instance on its host with the same flavor: its
    # energy cost does not change, so wattplace has nothing to decide and the
    # host passes without a call (Nova's own rule for non-policy filters).
    RUN_ON_REBUILD = False

    # The verdict depends on the host's allocation, which Nova changes between
    # the instances of a multi-create (consume_from_request): run for every
    # instance, like Nova's resource filters. Each pass still costs one call,
    # shared with the weigher.
    run_filter_once_per_request = False

    def filter_all(self, filter_obj_list, spec_obj):
        hosts = list(filter_obj_list)
        if not hosts:
            return hosts
        if not self.RUN_ON_REBUILD and utils.request_is_rebuild(spec_obj):
            return hosts
        return evaluation.filter_hosts(hosts, spec_obj)

    def host_passes(self, host_state, spec_obj):
        return bool(self.filter_all([host_state], spec_obj))
