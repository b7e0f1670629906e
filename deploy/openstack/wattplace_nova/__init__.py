"""wattplace energy-aware placement for OpenStack Nova's scheduler.

nova.conf paths: ``wattplace_nova.filters.WattplaceFilter`` and
``wattplace_nova.weighers.WattplaceWeigher``; options in ``[wattplace]``.
"""

__version__ = "0.1.0"
