"""The ``[wattplace]`` option group of nova.conf.

Registered on nova's global ``CONF`` when this module is imported, which the
filter and weigher modules do: enabling either in nova.conf is enough.
"""

from oslo_config import cfg

GROUP = "wattplace"

wattplace_group = cfg.OptGroup(
    GROUP,
    title="wattplace energy-aware placement",
    help="How the WattplaceFilter and WattplaceWeigher reach the wattplace service.",
)

HOST_ID_ATTRIBUTES = ("hypervisor_hostname", "host", "nodename", "uuid")

opts = [
    cfg.StrOpt(
        "endpoint",
        default="127.0.0.1:50051",
        help="gRPC target of wattplace's PlacementService, host:port.",
    ),
    cfg.StrOpt(
        "ca_file",
        help="PEM CA bundle to verify wattplace's certificate. Setting it "
        "(or cert_file/key_file) switches the channel to TLS.",
    ),
    cfg.StrOpt("cert_file", help="PEM client certificate for mutual TLS (with key_file)."),
    cfg.StrOpt("key_file", help="PEM private key of cert_file."),
    cfg.StrOpt(
        "token_file",
        help="File holding the bearer token wattplace requires (its authTokenFile); "
        "sent as 'authorization: Bearer <token>'. Needs TLS unless the endpoint "
        "is on loopback.",
    ),
    cfg.FloatOpt(
        "deadline",
        default=0.3,
        min=0.01,
        max=10.0,
        help="Seconds one Evaluate call may take. Zed's scheduler runs under "
        "eventlet, where the synchronous call blocks every green thread while "
        "it waits: keep this well under a second.",
    ),
    cfg.BoolOpt(
        "fail_open",
        default=True,
        help="When wattplace is unreachable, slow or answers with an error: "
        "True lets the filter pass every host and the weigher weigh them all "
        "equally (a warning is logged at most once per warn_interval); False "
        "makes the filter remove every host and the weigher fail the request "
        "with NoValidHost.",
    ),
    cfg.IntOpt(
        "warn_interval",
        default=60,
        min=0,
        help="Seconds between two fail-open warnings in the log.",
    ),
    cfg.FloatOpt(
        "weight_multiplier",
        default=1.0,
        help="Multiplier of the WattplaceWeigher (after Nova's 0..1 "
        "normalization the lowest-watt host contributes this much, the "
        "highest 0). An aggregate's 'wattplace_weight_multiplier' metadata "
        "overrides it for the hosts in that aggregate.",
    ),
    cfg.StrOpt(
        "host_id_mapping",
        default="hypervisor_hostname",
        help="How a Nova host becomes a wattplace host id: one of "
        "hypervisor_hostname, host, nodename, uuid (the compute node UUID), "
        "or a Python format template over those names, e.g. "
        "'{host}.example.org' or 'az1/{nodename}'.",
    ),
    cfg.StrOpt(
        "unknown_hosts",
        default="pass",
        choices=[
            ("pass", "hosts wattplace does not know pass the filter (gradual roll-out)"),
            ("reject", "hosts wattplace does not know are removed"),
        ],
        help="What the filter does with hosts that are not registered with wattplace.",
    ),
    cfg.BoolOpt(
        "allow_stale",
        default=False,
        help="Also consider hosts whose telemetry is older than wattplace's "
        "staleAfterMs (priced from their last sample / allocation). False: "
        "wattplace rejects them, so the filter removes them.",
    ),
    cfg.FloatOpt(
        "cache_ttl",
        default=5.0,
        min=0.0,
        help="Seconds a wattplace answer is kept for the same request, so that "
        "the filter and the weigher of one scheduling pass share one call. "
        "0 disables sharing (then each makes its own call).",
    ),
    cfg.IntOpt(
        "cache_size",
        default=64,
        min=1,
        help="Most answers kept (least recently used dropped first; expired "
        "ones are dropped as new ones arrive). An answer holds one entry per "
        "candidate host, about 200 bytes each.",
    ),
    cfg.StrOpt(
        "selector_prefix",
        default="wattplace:",
        help="Flavor extra specs with this prefix become the workload's "
        "label selector, e.g. 'wattplace:zone=a' asks for hosts labelled zone=a.",
    ),
]

METADATA_MULTIPLIER = "wattplace_weight_multiplier"


def register_opts(conf):
    conf.register_group(wattplace_group)
    conf.register_opts(opts, group=wattplace_group)


def list_opts():
    """For oslo-config-generator (entry point oslo.config.opts: wattplace_nova)."""
    return [(wattplace_group, opts)]
