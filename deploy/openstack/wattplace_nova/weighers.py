"""WattplaceWeigher: the lowest marginal-watt host weighs most, one call per pass."""

from nova.scheduler import utils
from nova.scheduler import weights

from wattplace_nova import conf as wconf
from wattplace_nova import evaluation


class WattplaceWeigher(weights.BaseHostWeigher):
    """Raw weight = wattplace's score (-marginal watts; -g CO2/h when the
    service weighs carbon) minus rank x 1e-6, so the order after Nova's min-max
    normalization is exactly wattplace's order: its best host gets 1.0 x the
    multiplier, its worst (and hosts it did not rank) 0.
    """

    # Nova normalizes over the weighed hosts' own min and max.
    minval = None
    maxval = None

    def weight_multiplier(self, host_state):
        value = evaluation.CONF.wattplace.weight_multiplier
        if not host_state.aggregates:
            # what get_weight_multiplier returns for a host in no aggregate,
            # without its per-host work (Nova calls this once per host)
            return value
        return utils.get_weight_multiplier(host_state, wconf.METADATA_MULTIPLIER, value)

    def weigh_objects(self, weighed_obj_list, weight_properties):
        return evaluation.weigh_hosts([w.obj for w in weighed_obj_list], weight_properties)

    def _weigh_object(self, host_state, weight_properties):
        return evaluation.weigh_hosts([host_state], weight_properties)[0]
